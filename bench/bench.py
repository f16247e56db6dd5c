"""The console's benchmark: `make bench`. Not a test: it measures and prints a table.

It starts the sandbox with added latency, the console under gunicorn exactly as the Procfile runs it (with
production settings, PostgreSQL/Redis when BENCH_DATABASE_URL/BENCH_REDIS_URL are given), signs in, and measures:

1. p50/p95 of the sync status partial through the console vs. the same upstream GET made directly
   (console cache off, so every request goes upstream: this is the console's own overhead);
2. upstream reads per second caused by 20 concurrent pollers (one request every 2 s each) of one running sync;
3. time to first byte of the connector list with 100 connectors vs. one upstream list call;
4. the same status partial read again at once, served from the poll cache (no upstream call).

Then it prints issue 14's targets, met or not, and exits 1 when one is not met.
Everything runs on 127.0.0.1, bounded in time and count.
"""

import argparse
import contextlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FIELD_KEY = "YmVuY2gtZmllbGQta2V5LTAxMjM0NTY3ODlhYmNkZWY="

sys.path.insert(0, str(ROOT))
from sandbox import DEMO_ADMIN_KEY, DEMO_SPACE_ID, EMPTY_COLLECTION_ID  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout} s")


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def compare(label, through, straight, p, note=""):
    """A table row: the p-th percentile through the console against the same call made directly."""
    console, direct = percentile(through, p), percentile(straight, p)
    return (label, ms(console), ms(direct), f"{console / direct:.2f}", note)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


class Stack:
    """The sandbox and one gunicorn console, torn down on exit."""

    def __init__(self, *, latency_ms, cache_seconds, database_url, redis_url, workdir):
        self.sandbox_port, self.console_port = free_port(), free_port()
        self.sandbox = f"http://127.0.0.1:{self.sandbox_port}"
        self.console = f"http://127.0.0.1:{self.console_port}"
        self.latency_ms = latency_ms
        self.env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key-" + "x" * 40,
            "FIELD_ENCRYPTION_KEYS": FIELD_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "AIMABLE_API_URL": self.sandbox,
            "DATABASE_URL": database_url or f"sqlite:///{workdir}/bench.sqlite3",
            "SYNC_CACHE_SECONDS": str(cache_seconds),
            "PORT": str(self.console_port),
            "LOG_LEVEL": "WARNING",
            # Plain HTTP on loopback, no proxy in front: as docs/deployment.md "Try the production setup" does.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "TRUSTED_PROXY_COUNT": "0",
            "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2" if redis_url else "1"),
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.procs = []

    def manage(self, *args, **kwargs):
        return subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, **kwargs
        )

    def start(self):
        self.procs.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "sandbox",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.sandbox_port),
                    "--latency-ms",
                    str(self.latency_ms),
                    "--sync-seconds",
                    "3600",
                    "--fail-rate",
                    "0",
                    "--quiet",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(self.sandbox + "/health")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; from connectors.models import ApiKey;"
            "u, _ = get_user_model().objects.get_or_create(username='bench');"
            "u.set_password('bench-password'); u.save();"
            f"ApiKey.objects.update_or_create(user=u, defaults={{'secret': '{DEMO_ADMIN_KEY}'}})",
        )
        gunicorn = shutil.which("gunicorn", path=str(Path(PYTHON).parent)) or "gunicorn"
        # As the Procfile runs it.
        self.procs.append(
            subprocess.Popen(
                [gunicorn, "console.wsgi", "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(self.console + "/healthz")
        return self

    def stop(self):
        for proc in reversed(self.procs):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)

    def signed_in(self) -> requests.Session:
        session = requests.Session()
        login = self.console + "/accounts/login/"
        page = session.get(login, timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = session.post(
            login,
            data={"username": "bench", "password": "bench-password", "csrfmiddlewaretoken": token},
            headers={"Referer": login},
            timeout=10,
        )
        response.raise_for_status()
        assert "sessionid" in session.cookies, "sign-in failed"
        return session

    def upstream(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {DEMO_ADMIN_KEY}"
        return session

    def sandbox_requests(self):
        return requests.get(self.sandbox + "/_sandbox/requests", timeout=10).json()["data"]

    def clear_sandbox_requests(self):
        requests.delete(self.sandbox + "/_sandbox/requests", timeout=10)


def connectors_path(collection=EMPTY_COLLECTION_ID):
    return f"/v1/spaces/{DEMO_SPACE_ID}/collections/{collection}/connectors"


def console_connectors_path(collection=EMPTY_COLLECTION_ID):
    return f"/spaces/{DEMO_SPACE_ID}/collections/{collection}/connectors/"


def seed_connectors(stack, count):
    upstream = stack.upstream()
    ids = []
    for i in range(count):
        response = upstream.post(
            stack.sandbox + connectors_path(),
            json={
                "provider_slug": "google-drive",
                "credential": {"access_token": f"bench-token-{i}"},
                "scope_config": {"folder_ids": [f"folder{i}"]},
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        response.raise_for_status()
        ids.append(response.json()["data"]["id"])
    return ids


def start_sync(stack, connector_id):
    response = stack.upstream().post(stack.sandbox + connectors_path() + f"/{connector_id}/sync", timeout=10)
    response.raise_for_status()
    return response.json()["data"]["id"]


def measure_status_partial(stack, connector_id, sync_id, samples):
    console, upstream = stack.signed_in(), stack.upstream()
    partial = stack.console + console_connectors_path() + f"{connector_id}/syncs/{sync_id}/"
    direct = stack.sandbox + connectors_path() + f"/{connector_id}/sync/{sync_id}"
    for _ in range(10):  # warm up connections and caches of templates
        console.get(partial, headers={"HX-Request": "true"}, timeout=10).raise_for_status()
        upstream.get(direct, timeout=10).raise_for_status()
    through, straight = [], []
    for _ in range(samples):
        t = time.perf_counter()
        console.get(partial, headers={"HX-Request": "true"}, timeout=10).raise_for_status()
        through.append(time.perf_counter() - t)
        t = time.perf_counter()
        upstream.get(direct, timeout=10).raise_for_status()
        straight.append(time.perf_counter() - t)
    return through, straight


def measure_pollers(stack, connector_id, sync_id, pollers, seconds):
    partial = stack.console + console_connectors_path() + f"{connector_id}/syncs/{sync_id}/"
    sessions = [stack.signed_in() for _ in range(pollers)]
    stack.clear_sandbox_requests()
    stop_at = time.monotonic() + seconds
    errors = []

    def poll(session, offset):
        time.sleep(offset)  # tabs are not opened in the same millisecond
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                session.get(partial, headers={"HX-Request": "true"}, timeout=10).raise_for_status()
            except requests.RequestException as exc:
                errors.append(exc)
            time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))

    threads = [threading.Thread(target=poll, args=(s, i * 2.0 / pollers)) for i, s in enumerate(sessions)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    reads = [r for r in stack.sandbox_requests() if r["method"] == "GET" and r["path"].endswith("/sync/" + sync_id)]
    return len(reads) / elapsed, len(errors), elapsed


def measure_list_ttfb(stack, samples):
    console, upstream = stack.signed_in(), stack.upstream()
    page = stack.console + console_connectors_path() + "?limit=100"
    direct = stack.sandbox + connectors_path() + "?limit=100"
    for _ in range(3):
        console.get(page, timeout=10).raise_for_status()
        upstream.get(direct, timeout=10).raise_for_status()
    through, straight = [], []
    for _ in range(samples):
        with console.get(page, timeout=10, stream=True) as response:
            response.raise_for_status()
            through.append(response.elapsed.total_seconds())  # until the headers: the first byte
        with upstream.get(direct, timeout=10, stream=True) as response:
            straight.append(response.elapsed.total_seconds())
    return through, straight


def redis_reachable(url):
    if not url:
        return False
    try:
        import redis

        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001
        return False


def backends_from_env() -> tuple[str, str]:
    """(database URL, Redis URL) for a bench: PostgreSQL with BENCH_DATABASE_URL, else SQLite (""); Redis when
    BENCH_REDIS_URL, by default db 15 on 127.0.0.1, answers, else the local-memory cache ("")."""
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    return os.environ.get("BENCH_DATABASE_URL", ""), (redis_url if redis_reachable(redis_url) else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--poll-seconds", type=int, default=20)
    args = parser.parse_args()

    database_url, redis_url = backends_from_env()
    rows, measured = [], {}
    with tempfile.TemporaryDirectory() as workdir:

        def started(cache_seconds):
            return Stack(
                latency_ms=args.latency_ms,
                cache_seconds=cache_seconds,
                database_url=database_url,
                redis_url=redis_url,
                workdir=workdir,
            ).start()

        # 1 and 3: the console's own overhead, every request going upstream (poll cache off).
        stack = started(0)
        try:
            connector_ids = seed_connectors(stack, 100)
            sync_id = start_sync(stack, connector_ids[0])
            through, straight = measure_status_partial(stack, connector_ids[0], sync_id, args.samples)
            measured["miss"] = (through, straight)
            rows.append(
                compare(
                    "status partial p50 (cache off)",
                    through,
                    straight,
                    50,
                    f"overhead {ms(percentile(through, 50) - percentile(straight, 50))}",
                )
            )
            rows.append(compare("status partial p95 (cache off)", through, straight, 95, ""))
            through, straight = measure_list_ttfb(stack, max(args.samples // 4, 20))
            measured["list"] = (through, straight)
            rows.append(compare("list of 100 connectors, TTFB p50", through, straight, 50, "statuses load after"))
        finally:
            stack.stop()

        # 2: many tabs polling one running sync, poll cache on (the default).
        stack = started(1.8)
        try:
            connector_ids = seed_connectors(stack, 1)
            sync_id = start_sync(stack, connector_ids[0])
            through, straight = measure_status_partial(stack, connector_ids[0], sync_id, max(args.samples // 2, 50))
            measured["hit"] = through
            rows.append(compare("status partial p50 (cache on)", through, straight, 50, "served from the poll cache"))
            rate, errors, elapsed = measure_pollers(stack, connector_ids[0], sync_id, args.pollers, args.poll_seconds)
            measured["pollers"] = (rate, errors)
            rows.append(
                (
                    f"{args.pollers} pollers of one sync, upstream reads/s",
                    f"{rate:.2f}/s",
                    f"{args.pollers / 2:.1f}/s uncached",
                    f"{rate / (args.pollers / 2):.2f}",
                    f"{elapsed:.0f} s, {errors} errors",
                )
            )
        finally:
            stack.stop()

    env = stack.env
    print()
    print(
        f"Machine: {platform.node()} · {platform.platform()} · {os.cpu_count()} cores · "
        f"Python {platform.python_version()}"
    )
    print(
        f"Sandbox latency {args.latency_ms} ms · gunicorn workers={env['WEB_CONCURRENCY']} (gthread) · "
        f"database {'PostgreSQL' if database_url else 'SQLite'} · cache {'Redis' if redis_url else 'local memory'}"
    )
    print()
    header = ("measure", "console", "direct upstream", "ratio", "note")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print()
    return print_targets(measured, args.pollers)


def print_targets(measured, pollers) -> int:
    """Issue 14's targets for this run, met or not; 1 when one is not."""
    through, straight = measured["miss"]
    miss50, direct50 = percentile(through, 50), percentile(straight, 50)
    miss95, direct95 = percentile(through, 95), percentile(straight, 95)
    hit50 = percentile(measured["hit"], 50)
    list_through, list_straight = measured["list"]
    list_ratio = percentile(list_through, 50) / percentile(list_straight, 50)
    rate, errors = measured["pollers"]
    targets = [
        (
            "status partial, cache miss, p50: ratio (overhead)",
            "<= 1.15 (<= 3 ms)",
            f"{miss50 / direct50:.2f} ({ms(miss50 - direct50)})",
            miss50 / direct50 <= 1.15 and miss50 - direct50 <= 0.003,
        ),
        ("status partial, cache miss, p95: ratio", "<= 1.5", f"{miss95 / direct95:.2f}", miss95 / direct95 <= 1.5),
        ("status partial, cache hit, p50", "<= 4 ms", ms(hit50), hit50 <= 0.004),
        ("list of 100 connectors, first byte, p50: ratio", "<= 1.3", f"{list_ratio:.2f}", list_ratio <= 1.3),
        (
            f"{pollers} pollers of one sync: upstream reads",
            "<= 0.6/s, no error",
            f"{rate:.2f}/s, {errors} errors",
            rate <= 0.6 and not errors,
        ),
    ]
    header = ("target", "wanted", "measured", "")
    cells = [(name, wanted, got, "met" if ok else "NOT MET") for name, wanted, got, ok in targets]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    missed = [name for name, _, _, ok in targets if not ok]
    print()
    print("NOT MET: " + "; ".join(missed) if missed else "All targets met.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
