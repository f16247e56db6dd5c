"""The alerts benchmark: `make bench-alerts`. Measures the background checks and alerts of issue 11 and prints the
pass criteria, met or not; exits 1 when a correctness criterion is not met.

Phase 1, on PostgreSQL and Redis with --workers `manage.py alerts_worker` processes for --duration seconds: the
sandbox (20 ms latency, short syncs, 30 % of them failing) holds 200 connectors in 20 collections; three admins,
each with their own key and one signed webhook channel, watch them with overlaps (A: the space; B: 10 collections;
C: 100 connectors one by one, 5 in each collection). A driver keeps starting syncs on random connectors, so their
states change. Then it checks:

- every change of state was alerted exactly once per watch: for each (watch, connector) health row, its state alerts
  equal its number of changes of state (``episode``), alerts of one bad kind never follow each other without a
  change in between, and the final health matches Aimable's latest sync;
- every alert was delivered once per channel: each webhook-id arrived (signature verified), none twice;
- upstream reads per round, counted by the sandbox per key, stay within one collections list per watched space, one
  connectors list per covered collection and one syncs read per covered connector, per key.

Phase 2: 1,000 connectors (50 collections x 20) watched by one admin's space watch; the time of a check round
against its 60 s interval.

Everything runs on 127.0.0.1; every wait is bounded; processes, the database and the Redis db are cleaned up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import requests
from standardwebhooks import Webhook

# bench/bench.py, beside this file (the script's folder comes first on sys.path)
import bench

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET_KEY = "alerts-bench-secret-key-" + "b" * 40
FIELD_KEY = "YWxlcnRzLWJlbmNoLWZpZWxkLWtleS0wMTIzNDU2Nzg="  # 32 bytes, base64
SHELL_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")
DRIVER_KEY = bench.DEMO_ADMIN_KEY  # the sandbox's admin key: starts syncs, watches nothing
PROVIDERS = [
    ("google-drive", "folder_ids", "folder"),
    ("slack", "channel_ids", "C0"),
    ("github", "repositories", "acme-corp/repo-"),
]
STATE_KINDS = {"sync_failed", "stalled", "needs_reauth", "stale", "recovered"}
BAD_KINDS = STATE_KINDS - {"recovered"}


# ----- plumbing ----------------------------------------------------------------------------------------------------


def wait_until(predicate, timeout: float, what: str, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def percentile(values, p):
    return bench.percentile(values, p) if values else float("nan")  # a phase that ran no round has no figure


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def fresh_database(server_url: str):
    """A new database on the machine's PostgreSQL (trust auth), dropped after."""
    admin = psycopg.connect(server_url, autocommit=True, connect_timeout=3)
    name = f"alerts_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


class Procs:
    """Subprocesses started here, each logging to a file; stopped with SIGINT, then killed."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        with open(self.workdir / f"{name}.log", "wb") as out:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def output(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self, *names: str) -> None:
        chosen = [(n, p) for n, p in self.procs.items() if not names or n in names]
        for _, proc in chosen:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for name, proc in chosen:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            self.procs.pop(name, None)


def manage(env: dict, *args: str, timeout: float = 180, extra_env: dict | None = None) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


# ----- the sandbox -------------------------------------------------------------------------------------------------


class Sandbox:
    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def control(self, method: str, path: str, body=None):
        response = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=15)
        response.raise_for_status()
        return response.json().get("data") if response.content else None

    def v1(self, method: str, path: str, key: str, **kwargs):
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return self.http.request(method, self.url + path, headers=headers, timeout=15, **kwargs)

    def build_space(self, name: str, collections: int, per_collection: int) -> dict:
        """A space with its collections and connectors (created through /v1, as a client does)."""
        space = self.control("POST", "spaces", {"name": name})["space_id"]
        colls = [
            self.control("POST", "collections", {"space_id": space, "name": f"{name} {i + 1:02d}"})["collection_id"]
            for i in range(collections)
        ]

        def create(args):
            coll, i = args
            slug, field, prefix = PROVIDERS[i % len(PROVIDERS)]
            body = {
                "provider_slug": slug,
                "credential": {"access_token": f"bench-token-{uuid.uuid4().hex[:8]}"},
                "scope_config": {field: [f"{prefix}{i}"]},
            }
            path = f"/v1/spaces/{space}/collections/{coll}/connectors"
            response = self.v1("POST", path, DRIVER_KEY, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            response.raise_for_status()
            return coll, response.json()["data"]["id"]

        jobs = [(coll, c * per_collection + i) for c, coll in enumerate(colls) for i in range(per_collection)]
        with ThreadPoolExecutor(8) as pool:
            connectors = list(pool.map(create, jobs))
        return {"space": space, "collections": colls, "connectors": connectors}

    def trigger(self, space: str, coll: str, cid: str) -> int:
        return self.v1("POST", f"/v1/spaces/{space}/collections/{coll}/connectors/{cid}/sync", DRIVER_KEY).status_code

    def latest_sync(self, space: str, coll: str, cid: str) -> dict | None:
        path = f"/v1/spaces/{space}/collections/{coll}/connectors/{cid}/sync"
        response = self.v1("GET", path, DRIVER_KEY, params={"limit": 1})
        response.raise_for_status()
        items = response.json()["data"]
        return items[0] if items else None


class RequestLog(threading.Thread):
    """Reads the sandbox's request log (a ring of 2,000) often enough to miss nothing; keeps every /v1 GET."""

    def __init__(self, sandbox: Sandbox, every: float = 0.25):
        super().__init__(daemon=True, name="request-log")
        self.sandbox, self.every = sandbox, every
        self.entries: dict[tuple, dict] = {}
        self.stop_event = threading.Event()
        self.overflowed = False
        self.seen: set[tuple] = set()

    def poll(self) -> None:
        data = self.sandbox.control("GET", "requests")
        keys = [(e["ts"], e["method"], e["path"], json.dumps(e["query"], sort_keys=True)) for e in data]
        if len(data) >= 2000 and self.seen and keys[0] not in self.seen:
            self.overflowed = True  # the ring turned over between two reads: some requests were not seen
        self.seen.update(keys)
        for key, e in zip(keys, data, strict=True):
            if e["method"] == "GET" and e["path"].startswith("/v1/"):
                self.entries[key] = e

    def run(self) -> None:
        while not self.stop_event.is_set():
            with contextlib.suppress(requests.RequestException):
                self.poll()
            self.stop_event.wait(self.every)

    def finish(self) -> list[dict]:
        self.stop_event.set()
        self.join(10)
        self.poll()
        return list(self.entries.values())


# ----- the webhook receiver ----------------------------------------------------------------------------------------


class Receiver:
    """One signed-webhook endpoint per admin (/<username>): verifies each signature, counts each webhook-id."""

    def __init__(self):
        self.secrets: dict[str, str] = {}
        self.receipts: Counter = Counter()
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                secret = receiver.secrets.get(self.path.strip("/"))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    if secret is None:
                        raise ValueError("unknown endpoint")
                    Webhook(secret).verify(body, headers)
                except Exception:  # noqa: BLE001 - any failure to verify is a bad signature
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(400)
                    return
                with receiver.lock:
                    receiver.receipts[headers.get("webhook-id", "")] += 1
                self._answer(204)

            def _answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ----- the console side --------------------------------------------------------------------------------------------

SETUP_SCRIPT = """
import json, os
from django.contrib.auth import get_user_model
from connectors.models import ApiKey
from connectors.alerts.channels import channel_add
from connectors.alerts.models import Watch
plan = json.loads(os.environ["BENCH_PLAN"])
User = get_user_model()
User.objects.filter(username__in=plan.get("deactivate", [])).update(is_active=False)
out = {}
for admin in plan.get("admins", []):
    user = User.objects.create_user(admin["username"], email=admin["username"] + "@example.com")
    ApiKey.objects.create(user=user, secret=admin["key"])
    channel, secret = channel_add(user=user, kind="webhook", target=admin["url"])
    for fields in admin["watches"]:
        watch = Watch.objects.create(user=user, **fields)
        watch.channels.add(channel)
    out[admin["username"]] = secret
print("BENCH_RESULT " + json.dumps(out))
"""


def console_setup(env: dict, plan: dict) -> dict:
    out = manage(env, "shell", "-c", SETUP_SCRIPT, extra_env={"BENCH_PLAN": json.dumps(plan)})
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    return json.loads(line.split(" ", 1)[1])


def query(database_url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def start_workers(procs: Procs, env: dict, count: int, tag: str) -> list[str]:
    names = []
    for i in range(count):
        name = f"{tag}-worker-{i + 1}"
        argv = [PYTHON, "manage.py", "alerts_worker", "--interval", "0.2", "--worker-id", name]
        procs.start(name, argv, env)
        names.append(name)
    return names


def rounds_since(database_url: str, since: float) -> list[dict]:
    rows = query(
        database_url,
        "SELECT slot, extract(epoch from started_at), extract(epoch from finished_at), watches, connectors,"
        " upstream_reads, alerts, error FROM connectors_checkround"
        " WHERE created_at >= to_timestamp(%s) ORDER BY slot",
        (since,),
    )
    keys = ("slot", "started", "finished", "watches", "connectors", "reads", "alerts", "error")
    return [
        dict(zip(keys, (r[0], *(float(x) if x is not None else None for x in r[1:3]), *r[3:]), strict=True))
        for r in rows
    ]


def open_deliveries(database_url: str) -> int:
    return query(database_url, "SELECT count(*) FROM connectors_delivery WHERE state IN ('pending', 'retrying')")[0][0]


# ----- phase 1 -----------------------------------------------------------------------------------------------------


def watches_plan(world: dict, receiver: Receiver, keys: dict[str, str]) -> tuple[list[dict], dict[str, int]]:
    """Admins A, B and C with overlapping watches; and the bound of their upstream reads per round, per principal."""
    space, colls, connectors = world["space"], world["collections"], world["connectors"]
    by_coll = defaultdict(list)
    for coll, cid in connectors:
        by_coll[coll].append(cid)
    picked = [(coll, cid) for coll in colls for cid in by_coll[coll][:5]]  # C: 5 of each collection's 10
    admins = [
        {
            "username": "bench-a",
            "watches": [{"scope": "space", "space_id": space, "label": "Bench"}],
        },
        {
            "username": "bench-b",
            "watches": [
                {"scope": "collection", "space_id": space, "collection_id": coll, "label": f"Bench / {i + 1:02d}"}
                for i, coll in enumerate(colls[:10])
            ],
        },
        {
            "username": "bench-c",
            "watches": [
                {
                    "scope": "connector",
                    "space_id": space,
                    "collection_id": coll,
                    "connector_id": cid,
                    "label": f"Bench / {cid[:8]}",
                }
                for coll, cid in picked[:100]
            ],
        },
    ]
    for admin in admins:
        admin["key"] = keys[admin["username"]]
        admin["url"] = f"{receiver.url}/{admin['username']}"
    per_coll = {coll: len(by_coll[coll]) for coll in colls}
    bound = {
        "bench-a": 1 + len(colls) + len(connectors),
        "bench-b": 10 + sum(per_coll[c] for c in colls[:10]),
        "bench-c": len({coll for coll, _ in picked[:100]}) + 100,
    }
    return admins, bound


class Driver(threading.Thread):
    """Starts syncs on random connectors at a steady rate (a 409 "already running" is counted, not an error)."""

    def __init__(self, sandbox: Sandbox, world: dict, rate: float):
        super().__init__(daemon=True, name="driver")
        self.sandbox, self.world, self.rate = sandbox, world, rate
        self.stop_event = threading.Event()
        self.statuses: Counter = Counter()

    def run(self) -> None:
        rng = random.Random(11)
        space = self.world["space"]
        while not self.stop_event.is_set():
            started = time.monotonic()
            coll, cid = rng.choice(self.world["connectors"])
            try:
                self.statuses[self.sandbox.trigger(space, coll, cid)] += 1
            except requests.RequestException:
                self.statuses["error"] += 1
            self.stop_event.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))


def check_alerts(database_url: str) -> dict:
    """Exactly once per watch and change: state alerts per (watch, connector) == its health's episode; alternation."""
    health = query(
        database_url, "SELECT watch_id, connector_id, episode, state, latest_sync_id FROM connectors_connectorhealth"
    )
    alerts = query(
        database_url,
        "SELECT watch_id, connector_id, kind, created_at, id FROM connectors_alert"
        " WHERE watch_id IS NOT NULL ORDER BY created_at, id",
    )
    per_pair: dict[tuple, list[str]] = defaultdict(list)
    for watch_id, cid, kind, _, _ in alerts:
        per_pair[(watch_id, cid)].append(kind)
    episode_mismatch, repeated, streak_repeated = [], 0, 0
    for watch_id, cid, episode, _, _ in health:
        kinds = per_pair.get((watch_id, cid), [])
        states = [k for k in kinds if k in STATE_KINDS]
        if len(states) != episode:
            episode_mismatch.append((watch_id, cid, episode, len(states)))
        repeated += sum(1 for a, b in zip(states, states[1:], strict=False) if a == b)
        since_recovery = 0
        for k in kinds:
            if k == "recovered":
                since_recovery = 0
            elif k == "failure_streak":
                since_recovery += 1
                streak_repeated += since_recovery > 1
    orphans = sum(1 for pair in per_pair if pair not in {(h[0], h[1]) for h in health})
    kinds = Counter(k for _, _, k, _, _ in alerts)
    return {
        "health_rows": len(health),
        "episodes": sum(h[2] for h in health),
        "episode_mismatch": episode_mismatch,
        "repeated": repeated,
        "streak_repeated": streak_repeated,
        "orphans": orphans,
        "kinds": kinds,
        "health": health,
    }


def phase_one(args, env, database_url, procs, sandbox, receiver, reqlog) -> dict:
    log(f"Phase 1: {args.connectors} connectors in {args.collections} collections")
    world = sandbox.build_space("Bench", args.collections, args.connectors // args.collections)
    keys = {}
    for username in ("bench-a", "bench-b", "bench-c"):
        keys[username] = f"aim_bench_{username[-1]}_{uuid.uuid4().hex[:12]}"
        sandbox.control("POST", "keys", {"key": keys[username], "principal": username, "spaces": [world["space"]]})
    admins, bound = watches_plan(world, receiver, keys)
    receiver.secrets.update(console_setup(env, {"admins": admins}))
    watch_count = sum(len(a["watches"]) for a in admins)
    # Were nothing shared between one key's watches: C's 100 connector watches would read one list each.
    naive = bound["bench-a"] + bound["bench-b"] + 2 * 100
    log(f"3 admins, {watch_count} watches; bound of upstream reads per round: {bound} = {sum(bound.values())}")

    run_env = {**env, "ALERTS_CHECK_SECONDS": str(args.check_seconds)}
    t0 = time.time()
    start_workers(procs, run_env, args.workers, "p1")
    driver = Driver(sandbox, world, args.trigger_rate)
    driver.start()
    log(f"{args.workers} workers and the driver ({args.trigger_rate}/s syncs, fail rate {args.fail_rate}) running")
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        time.sleep(min(15, max(0.1, deadline - time.monotonic())))
        for name, proc in list(procs.procs.items()):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.output(name)[-3000:]}")
        done = [r for r in rounds_since(database_url, t0) if r["finished"]]
        log(f"  {len(done)} rounds done, {sum(r['alerts'] for r in done)} alerts so far")
    driver.stop_event.set()
    driver.join(10)
    t_end = time.time()
    log("Driver stopped; waiting for the running syncs to end, one more round, and the deliveries")
    settled = t_end + args.sync_seconds + 1
    wait_until(
        lambda: [
            r for r in rounds_since(database_url, t0) if r["started"] and r["started"] > settled and r["finished"]
        ],
        args.check_seconds * 3 + 60,
        "a round after the last sync ended",
    )
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: open_deliveries(database_url) == 0, 90, "deliveries")
    time.sleep(1)
    entries = reqlog.finish()
    procs.stop(*[n for n in list(procs.procs) if n.startswith("p1-")])
    log("Workers stopped; checking")

    rounds = [r for r in rounds_since(database_url, t0) if r["finished"]]
    ran = [r for r in rounds if r["watches"]]
    # Upstream reads per round and key, from the sandbox's own log.
    per_round: list[dict[str, int]] = []
    inside = 0
    for r in ran:
        counts = Counter(
            e.get("principal") or "?" for e in entries if r["started"] - 0.05 <= e["ts"] <= r["finished"] + 0.05
        )
        inside += sum(counts.values())
        per_round.append(counts)
    worker_gets = [e for e in entries if e["ts"] >= t0 and e.get("principal") in bound]
    outside = len(worker_gets) - inside
    over = [c for c in per_round if any(c.get(p, 0) > b for p, b in bound.items())]
    db_over = [r for r in ran if r["reads"] > sum(bound.values())]

    # Alerts, deliveries and webhooks.
    checked = check_alerts(database_url)
    alert_ids = [
        f"msg_{row[0].hex}"
        for row in query(database_url, "SELECT id FROM connectors_alert WHERE kind <> 'test' AND watch_id IS NOT NULL")
    ]
    deliveries = dict(query(database_url, "SELECT state, count(*) FROM connectors_delivery GROUP BY state"))
    per_alert = query(
        database_url,
        "SELECT count(*) FROM connectors_alert a LEFT JOIN connectors_delivery d ON d.alert_id = a.id"
        " WHERE a.watch_id IS NOT NULL GROUP BY a.id HAVING count(d.id) <> 1",
    )
    receipts = dict(receiver.receipts)
    doubled = {k: v for k, v in receipts.items() if v > 1}
    missing = [a for a in alert_ids if a not in receipts]
    unexpected = [k for k in receipts if k not in set(alert_ids)]

    # The final health against Aimable's latest sync of each connector.
    latest = {}
    with ThreadPoolExecutor(8) as pool:
        for (_, cid), sync in zip(
            world["connectors"],
            pool.map(lambda pair: sandbox.latest_sync(world["space"], *pair), world["connectors"]),
            strict=True,
        ):
            latest[cid] = sync
    wrong_final = 0
    for _, cid, _, state, latest_sync_id in checked["health"]:
        sync = latest.get(cid)
        bad_expected = bool(sync and sync["status"] == "failed")
        if (state in ("failing", "needs_reauth")) != bad_expected or (sync and latest_sync_id != sync["id"]):
            wrong_final += 1
    tasks = query(
        database_url,
        "SELECT task_path, status, worker_ids->>0, count(*) FROM django_tasks_database_dbtaskresult GROUP BY 1, 2, 3",
    )
    durations = [r["finished"] - r["started"] for r in ran]
    return {
        "world": world,
        "bound": bound,
        "naive": naive,
        "watch_count": watch_count,
        "elapsed": t_end - t0,
        "slots": (max(r["slot"] for r in rounds) - min(r["slot"] for r in rounds) + 1) if rounds else 0,
        "rounds": rounds,
        "ran": ran,
        "errors": [r for r in rounds if r["error"]],
        "durations": durations,
        "per_round": per_round,
        "over": over,
        "db_over": db_over,
        "outside": outside,
        "log_overflowed": reqlog.overflowed,
        "checked": checked,
        "alerts": len(alert_ids),
        "deliveries": deliveries,
        "per_alert_bad": len(per_alert),
        "receipts_total": sum(receipts.values()),
        "receipts_distinct": len(receipts),
        "doubled": doubled,
        "missing": missing,
        "unexpected": unexpected,
        "bad_signatures": receiver.bad_signatures,
        "wrong_final": wrong_final,
        "expected_pairs": len(world["connectors"]) + (bound["bench-b"] - 10) + 100,  # A all, B 10 colls, C 100
        "driver": dict(driver.statuses),
        "tasks": tasks,
    }


# ----- phase 2 -----------------------------------------------------------------------------------------------------


def phase_two(args, env, database_url, procs, sandbox, receiver) -> dict:
    per = args.big_connectors // args.big_collections
    log(f"Phase 2: {per * args.big_collections} connectors in {args.big_collections} collections, one space watch")
    world = sandbox.build_space("Bench large", args.big_collections, per)
    key = f"aim_bench_d_{uuid.uuid4().hex[:12]}"
    sandbox.control("POST", "keys", {"key": key, "principal": "bench-d", "spaces": [world["space"]]})
    admin = {
        "username": "bench-d",
        "key": key,
        "url": f"{receiver.url}/bench-d",
        "watches": [{"scope": "space", "space_id": world["space"], "label": "Bench large"}],
    }
    receiver.secrets.update(console_setup(env, {"admins": [admin], "deactivate": ["bench-a", "bench-b", "bench-c"]}))
    with ThreadPoolExecutor(8) as pool:  # every connector with a sync, 30 % of them failing
        list(pool.map(lambda pair: sandbox.trigger(world["space"], *pair), world["connectors"]))
    time.sleep(args.sync_seconds + 1)
    reqlog = RequestLog(sandbox)
    reqlog.start()
    t0 = time.time()
    run_env = {**env, "ALERTS_CHECK_SECONDS": "60"}
    start_workers(procs, run_env, args.workers, "p2")
    log(f"{args.workers} workers, a round every 60 s; waiting for {args.big_rounds} round(s)")
    try:
        rounds = wait_until(
            lambda: (
                (r := [x for x in rounds_since(database_url, t0) if x["finished"] and x["watches"]])
                and len(r) >= args.big_rounds
                and r
            ),
            60 * args.big_rounds + 120,
            "the large rounds",
            step=1,
        )
    finally:
        entries = reqlog.finish()
        procs.stop(*[n for n in list(procs.procs) if n.startswith("p2-")])
    reads = [
        sum(1 for e in entries if r["started"] - 0.05 <= e["ts"] <= r["finished"] + 0.05 and e.get("principal"))
        for r in rounds
    ]
    return {
        "rounds": rounds,
        "reads": reads,
        "bound": 1 + args.big_collections + per * args.big_collections,
        "connectors": per * args.big_collections,
    }


# ----- the report --------------------------------------------------------------------------------------------------


def table(rows, header) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def report(args, one: dict | None, two: dict | None) -> bool:
    print()
    print(
        f"Machine: {platform.node()} · {platform.platform()} · {os.cpu_count()} cores · "
        f"Python {platform.python_version()}"
    )
    print(
        f"PostgreSQL + Redis · {args.workers} alerts_worker processes · sandbox latency {args.latency_ms} ms, "
        f"syncs of {args.sync_seconds:g} s, fail rate {args.fail_rate:g}"
    )
    rows, ok = [], True

    def criterion(name, value, target, met, correctness=True):
        nonlocal ok
        ok &= met or not correctness
        rows.append((name, value, target, "met" if met else "NOT MET"))

    if one:
        ran, durations, c = one["ran"], one["durations"], one["checked"]
        print()
        print(
            f"Phase 1: {args.connectors} connectors, {args.collections} collections, 3 admins, {one['watch_count']} "
            f"watches (A: the space; B: 10 collections; C: 100 connectors), {one['elapsed']:.0f} s of syncs "
            f"({one['driver']}), a round every {args.check_seconds} s"
        )
        facts = [
            (
                "check rounds: with checks / created / slots first to last",
                f"{len(ran)} / {len(one['rounds'])} / {one['slots']}",
            ),
            ("rounds with an error", len(one["errors"])),
            ("round duration p50 / max", f"{percentile(durations, 50):.2f} s / {max(durations, default=0):.2f} s"),
            ("alerts created", f"{one['alerts']}  {dict(c['kinds'])}"),
            ("health rows (watch x connector) / expected", f"{c['health_rows']} / {one['expected_pairs']}"),
            ("changes of state recorded (sum of episodes)", c["episodes"]),
            ("deliveries", ", ".join(f"{k} {v}" for k, v in sorted(one["deliveries"].items())) or "none"),
            ("webhooks received / distinct webhook-ids", f"{one['receipts_total']} / {one['receipts_distinct']}"),
            ("bad signatures", one["bad_signatures"]),
            (
                "upstream reads per round (sandbox log) p50 / max",
                f"{percentile([sum(x.values()) for x in one['per_round']], 50):.0f} / "
                f"{max((sum(x.values()) for x in one['per_round']), default=0)}",
            ),
            (
                "  per key, max over rounds (bound)",
                ", ".join(
                    f"{p[-1].upper()} {max((x.get(p, 0) for x in one['per_round']), default=0)} ({b})"
                    for p, b in one["bound"].items()
                ),
            ),
            (
                "upstream reads per round (CheckRound) p50 / max",
                f"{percentile([r['reads'] for r in ran], 50):.0f} / {max((r['reads'] for r in ran), default=0)}",
            ),
            ("reads if one list per watch (not shared)", one["naive"]),
            ("worker reads outside any round", one["outside"]),
        ]
        if one["tasks"]:
            done = defaultdict(list)
            for path, status, worker, count in sorted(one["tasks"], key=lambda t: (t[0], str(t[2]), t[1])):
                done[path.rsplit(".", 1)[-1]].append(
                    f"{worker} {count}" + ("" if status == "SUCCESSFUL" else f" {status}")
                )
            facts.append(("tasks run, per worker", "; ".join(f"{k}: {', '.join(v)}" for k, v in done.items())))
        table(facts, ("figure", "value"))
        print()
        total_bound = sum(one["bound"].values())
        criterion(
            "every change of state alerted once per watch (alerts == episodes)",
            f"{len(c['episode_mismatch'])} of {c['health_rows']} pairs differ",
            "0",
            not c["episode_mismatch"] and c["health_rows"] == one["expected_pairs"],
        )
        criterion(
            "no alert repeated without a change between",
            f"{c['repeated']} state, {c['streak_repeated']} streak",
            "0",
            c["repeated"] == 0 and c["streak_repeated"] == 0,
        )
        criterion(
            "final health matches Aimable's latest sync",
            f"{c['health_rows'] - one['wrong_final']} of {c['health_rows']}",
            "all",
            one["wrong_final"] == 0 and c["health_rows"] > 0,
        )
        criterion(
            "one delivery per alert and channel",
            f"{one['per_alert_bad']} alerts differ",
            "0",
            one["per_alert_bad"] == 0,
        )
        criterion("webhooks missing (alert never arrived)", len(one["missing"]), "0", not one["missing"])
        criterion(
            "webhooks doubled (an id received twice)",
            f"{len(one['doubled'])}" + (f" {list(one['doubled'].items())[:5]}" if one["doubled"] else ""),
            "0 (no worker died)",
            not one["doubled"],
        )
        criterion(
            "webhooks with a bad signature or unknown id",
            one["bad_signatures"] + len(one["unexpected"]),
            "0",
            one["bad_signatures"] == 0 and not one["unexpected"],
        )
        criterion(
            "upstream reads per round and key within the bound (sandbox log)",
            f"{len(one['over'])} of {len(ran)} rounds over",
            f"<= {total_bound} ({', '.join(f'{p[-1].upper()} {b}' for p, b in one['bound'].items())})",
            not one["over"] and one["outside"] == 0 and not one["log_overflowed"] and bool(ran),
        )
        criterion(
            "upstream reads per round within the bound (CheckRound)",
            f"{len(one['db_over'])} of {len(ran)} rounds over",
            f"<= {total_bound}",
            not one["db_over"],
        )
        criterion(
            "rounds finish within their interval",
            f"max {max(durations, default=0):.2f} s",
            f"< {args.check_seconds} s",
            bool(durations) and max(durations) < args.check_seconds,
        )
    if two:
        rounds = two["rounds"]
        print()
        print(f"Phase 2: {two['connectors']} connectors, one space watch, a round every 60 s")
        table(
            [
                (
                    r["slot"],
                    f"{r['finished'] - r['started']:.2f} s",
                    r["connectors"],
                    f"{reads} (CheckRound {r['reads']}; bound {two['bound']})",
                    r["alerts"],
                )
                for r, reads in zip(rounds, two["reads"], strict=True)
            ],
            ("round", "duration", "connectors checked", "upstream reads", "alerts"),
        )
        print()
        longest = max(r["finished"] - r["started"] for r in rounds)
        criterion(
            f"a round over {two['connectors']} connectors within its 60 s interval",
            f"{longest:.2f} s",
            "< 60 s",
            longest < 60 and all(r["connectors"] == two["connectors"] for r in rounds),
            correctness=False,
        )
        criterion(
            f"upstream reads of the {two['connectors']}-connector round within the bound",
            f"max {max(two['reads'])}",
            f"<= {two['bound']}",
            max(two["reads"]) <= two["bound"],
        )
    print()
    table(rows, ("criterion", "measured", "target", "result"))
    return ok


# ----- main --------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=150, help="seconds of syncs in phase 1 (default 150)")
    parser.add_argument("--workers", type=int, default=2, help="alerts_worker processes (default 2)")
    parser.add_argument("--check-seconds", type=int, default=10, help="ALERTS_CHECK_SECONDS of phase 1 (default 10)")
    parser.add_argument("--latency-ms", type=int, default=20, help="sandbox latency per /v1 request (default 20)")
    parser.add_argument("--sync-seconds", type=float, default=4, help="how long a sandbox sync runs (default 4)")
    parser.add_argument("--fail-rate", type=float, default=0.3, help="fraction of syncs that fail (default 0.3)")
    parser.add_argument("--trigger-rate", type=float, default=8, help="syncs started per second (default 8)")
    parser.add_argument("--connectors", type=int, default=200)
    parser.add_argument("--collections", type=int, default=20)
    parser.add_argument("--big-connectors", type=int, default=1000)
    parser.add_argument("--big-collections", type=int, default=50)
    parser.add_argument("--big-rounds", type=int, default=2, help="large rounds timed in phase 2 (default 2)")
    parser.add_argument("--skip-phase-1", action="store_true")
    parser.add_argument("--skip-phase-2", action="store_true")
    args = parser.parse_args()
    if args.connectors != 200 or args.collections != 20:
        parser.error("phase 1's watches are laid out for 200 connectors in 20 collections")

    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_ALERTS_REDIS_URL", "redis://127.0.0.1:6379/12")  # tests 13/14, bench 15
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).flushdb()
        psycopg.connect(postgres, connect_timeout=3).close()
    except (redis.RedisError, psycopg.Error) as exc:
        print(f"PostgreSQL ({postgres}) and Redis ({redis_url}) are needed: {exc}", file=sys.stderr)
        return 2

    one = two = None
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as tmp, fresh_database(postgres) as database_url:
        workdir = Path(tmp)
        procs = Procs(workdir)
        receiver = Receiver()
        try:
            port = bench.free_port()
            sandbox_argv = [PYTHON, "-m", "sandbox", "--port", str(port), "--quiet", "--no-seed"]
            sandbox_argv += ["--latency-ms", str(args.latency_ms), "--sync-seconds", str(args.sync_seconds)]
            sandbox_argv += ["--fail-rate", str(args.fail_rate)]
            hermetic = {k: os.environ[k] for k in SHELL_VARIABLES if k in os.environ}
            procs.start("sandbox", sandbox_argv, hermetic)
            sandbox = Sandbox(f"http://127.0.0.1:{port}")
            wait_until(lambda: _up(sandbox.url + "/health"), 30, "the sandbox", step=0.2)
            env = {
                **hermetic,
                "ENV_FILE": "",
                "DEBUG": "false",
                "SECRET_KEY": SECRET_KEY,
                "FIELD_ENCRYPTION_KEYS": FIELD_KEY,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "AIMABLE_API_URL": sandbox.url,
                "SYNC_STALL_SECONDS": "300",
                "ALERTS_ALLOW_PRIVATE_URLS": "true",
                "CONSOLE_URL": "https://console.example.com",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
            log("migrate")
            manage(env, "migrate", "--noinput")
            if not args.skip_phase_1:
                reqlog = RequestLog(sandbox)
                reqlog.start()
                one = phase_one(args, env, database_url, procs, sandbox, receiver, reqlog)
            if not args.skip_phase_2:
                two = phase_two(args, env, database_url, procs, sandbox, receiver)
        except Exception:
            for name in list(procs.procs):
                if name != "sandbox":
                    print(f"--- {name} (last lines) ---\n{procs.output(name)[-3000:]}", file=sys.stderr)
            raise
        finally:
            procs.stop()
            receiver.close()
            with contextlib.suppress(redis.RedisError):
                redis.Redis.from_url(redis_url, socket_connect_timeout=3).flushdb()
    return 0 if report(args, one, two) else 1


def _up(url: str) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=1).status_code == 200
    return False


if __name__ == "__main__":
    sys.exit(main())
