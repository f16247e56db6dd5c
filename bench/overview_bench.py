"""The overview benchmark: `make bench-overview`. Measures the "All connectors" page of issue 12 and prints its pass
criteria, met or not; exits 1 when one is not met.

It starts the sandbox with 20 ms latency and the console under gunicorn as the Procfile runs it (bench/bench.py's
Stack: Redis when BENCH_REDIS_URL, or redis://127.0.0.1:6379/15, answers; PostgreSQL with BENCH_DATABASE_URL), adds a
space of --collections x --per-collection connectors (50 x 20) beside the demo data, signs in and measures:

1. time to first byte of /connectors/ against one upstream list call (a collection's connectors, limit 100) made
   directly: within 2x;
2. the time from asking for the page until every latest-sync cell is filled: the page, its rows request and its one
   cells request, as the browser makes them, each with cold caches (a new credential version): within 3 s;
3. that no upstream read is repeated during that journey (the sandbox's request log: every GET path and query once).

Everything runs on 127.0.0.1, bounded in time and count.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only: no proxy in between

# bench/bench.py, beside this file (the script's folder comes first on sys.path)
from bench import Stack, backends_from_env, percentile  # noqa: E402

HTMX = {"HX-Request": "true"}
PROVIDERS = [
    ("google-drive", "folder_ids", "folder"),
    ("slack", "channel_ids", "C0"),
    ("github", "repositories", "o/r"),
]


def build_space(stack: Stack, collections: int, per_collection: int, running: int) -> tuple[str, list[str]]:
    control = requests.Session()
    control.trust_env = False
    space = control.post(stack.sandbox + "/_sandbox/spaces", json={"name": "Bench Space"}, timeout=10).json()["data"]
    space_id = space["space_id"]
    colls = [
        control.post(
            stack.sandbox + "/_sandbox/collections",
            json={"space_id": space_id, "name": f"Bench {i + 1:02d}"},
            timeout=10,
        ).json()["data"]["collection_id"]
        for i in range(collections)
    ]
    upstream = stack.upstream()

    def create(job):
        coll, i = job
        slug, field, prefix = PROVIDERS[i % len(PROVIDERS)]
        response = upstream.post(
            f"{stack.sandbox}/v1/spaces/{space_id}/collections/{coll}/connectors",
            json={
                "provider_slug": slug,
                "credential": {"access_token": f"t-{i}"},
                "scope_config": {field: [f"{prefix}{i}"]},
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
            timeout=10,
        )
        response.raise_for_status()
        return coll, response.json()["data"]["id"]

    jobs = [(coll, c * per_collection + i) for c, coll in enumerate(colls) for i in range(per_collection)]
    with ThreadPoolExecutor(16) as pool:
        made = list(pool.map(create, jobs))
        # Some syncs, so that cells show more than "Never synced" (they run for an hour: "running").
        list(
            pool.map(
                lambda pair: upstream.post(
                    f"{stack.sandbox}/v1/spaces/{space_id}/collections/{pair[0]}/connectors/{pair[1]}/sync", timeout=10
                ),
                made[:: max(1, len(made) // running)] if running else [],
            )
        )
    return space_id, colls


def ttfb_samples(session: requests.Session, url: str, samples: int) -> list[float]:
    """Time to first byte (until the headers) of ``samples`` GETs of ``url``, after three to warm up."""
    for _ in range(3):
        session.get(url, timeout=10).raise_for_status()
    times = []
    for _ in range(samples):
        with session.get(url, timeout=10, stream=True) as response:
            response.raise_for_status()
            times.append(response.elapsed.total_seconds())
    return times


def new_credential_version(stack: Stack) -> None:
    """Saving the stored key again changes its fingerprint: every cache of the console starts cold."""
    stack.manage(
        "shell",
        "-c",
        "from connectors.models import ApiKey; k = ApiKey.objects.get(user__username='bench'); k.save()",
    )


def journey(stack: Stack, session: requests.Session) -> dict:
    """The page, its rows and its cells, as the browser asks for them; cold caches; the upstream reads it made."""
    new_credential_version(stack)
    stack.clear_sandbox_requests()
    started = time.perf_counter()
    with session.get(stack.console + "/connectors/", timeout=30, stream=True) as response:
        response.raise_for_status()
        ttfb = response.elapsed.total_seconds()
        page = response.text
    rows_url = re.search(r'hx-get="(/connectors/rows/[^"]*)"', page).group(1)
    rows = session.get(stack.console + rows_url, headers=HTMX, timeout=30)
    rows.raise_for_status()
    rows_at = time.perf_counter() - started
    shown = len(re.findall(r'<tr id="ov-', rows.text))
    cells_url = re.search(r'hx-get="(/connectors/cells/[^"]*)"', rows.text).group(1).replace("&amp;", "&")
    cells = session.get(stack.console + cells_url, headers=HTMX, timeout=30)
    cells.raise_for_status()
    filled_at = time.perf_counter() - started
    filled = cells.text.count('-sync" hx-swap-oob="true"')
    reads = [
        (r["path"], tuple(sorted(r["query"].items())))
        for r in stack.sandbox_requests()
        if r["method"] == "GET" and r["path"].startswith("/v1/")
    ]
    repeated = {read: n for read, n in Counter(reads).items() if n > 1}
    return {
        "ttfb": ttfb,
        "rows_at": rows_at,
        "filled_at": filled_at,
        "shown": shown,
        "filled": filled,
        "loading_left": cells.text.count("Loading…"),
        "reads": len(reads),
        "repeated": repeated,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--collections", type=int, default=50)
    parser.add_argument("--per-collection", type=int, default=20)
    parser.add_argument("--running", type=int, default=100, help="connectors with a running sync")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--journeys", type=int, default=3)
    args = parser.parse_args()

    database_url, redis_url = backends_from_env()
    with tempfile.TemporaryDirectory() as workdir:
        stack = Stack(
            latency_ms=args.latency_ms,
            cache_seconds=1.8,
            database_url=database_url,
            redis_url=redis_url,
            workdir=workdir,
        ).start(floor=False)
        try:
            space_id, colls = build_space(stack, args.collections, args.per_collection, args.running)
            one_list = f"{stack.sandbox}/v1/spaces/{space_id}/collections/{colls[0]}/connectors?limit=100"
            direct = ttfb_samples(stack.upstream(), one_list, args.samples)
            session = stack.signed_in()
            ttfb = ttfb_samples(session, stack.console + "/connectors/", args.samples)
            journeys = [journey(stack, session) for _ in range(args.journeys)]
        finally:
            stack.stop()

    env = stack.env
    direct_p50, ttfb_p50 = percentile(direct, 50), percentile(ttfb, 50)
    worst = max(journeys, key=lambda j: j["filled_at"])
    repeated = sum(len(j["repeated"]) for j in journeys)
    all_filled = all(j["filled"] == j["shown"] and not j["loading_left"] for j in journeys)
    print()
    print(
        f"Machine: {platform.node()} · {platform.platform()} · {os.cpu_count()} cores · "
        f"Python {platform.python_version()}"
    )
    print(
        f"Sandbox latency {args.latency_ms} ms · {args.collections} collections x {args.per_collection} connectors "
        f"(+6 demo) · gunicorn workers={env['WEB_CONCURRENCY']} (gthread) · "
        f"database {'PostgreSQL' if database_url else 'SQLite'} · cache {'Redis' if redis_url else 'local memory'}"
    )
    print()
    for i, j in enumerate(journeys, 1):
        print(
            f"journey {i} (cold caches): page TTFB {j['ttfb'] * 1000:.0f} ms · rows in {j['rows_at'] * 1000:.0f} ms "
            f"({j['shown']} rows) · all cells filled in {j['filled_at'] * 1000:.0f} ms ({j['filled']} cells) · "
            f"{j['reads']} upstream reads, {len(j['repeated'])} repeated"
        )
    print()
    criteria = [
        (
            "first byte of /connectors/ within 2x one upstream list call",
            f"p50 {ttfb_p50 * 1000:.1f} ms vs {direct_p50 * 1000:.1f} ms direct "
            f"(x{ttfb_p50 / direct_p50:.2f}; p95 {percentile(ttfb, 95) * 1000:.1f} ms)",
            ttfb_p50 <= 2 * direct_p50,
        ),
        (
            "all cells filled within 3 s (page + rows + cells, cold)",
            f"worst {worst['filled_at']:.2f} s, median {statistics.median(j['filled_at'] for j in journeys):.2f} s"
            f"{'' if all_filled else ', some cells not filled'}",
            worst["filled_at"] <= 3.0 and all_filled,
        ),
        (
            "no upstream read repeated",
            f"{repeated} repeated of {sum(j['reads'] for j in journeys)} reads"
            + (f": {next(iter(journeys[0]['repeated']), '')}" if repeated else ""),
            repeated == 0,
        ),
    ]
    for label, figure, met in criteria:
        print(f"{'met    ' if met else 'NOT MET'}  {label}: {figure}")
    return 0 if all(met for _, _, met in criteria) else 1


if __name__ == "__main__":
    sys.exit(main())
