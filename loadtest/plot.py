"""The load test's picture: latency percentiles, request rates, and gunicorn's workers' RSS, PSS and memory per worker
over the run (a PNG)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen: write files only
import matplotlib.pyplot as plt  # noqa: E402

from .measure import MB, MEMORY_BUDGET_MB, STATUS_PARTIAL  # noqa: E402


def _series(history: list[dict], name: str, column: str, start: float):
    points = [(row["Timestamp"] - start, row[column]) for row in history if row["Name"] == name]
    points = [(t, v) for t, v in points if v is not None and v > 0]
    return [t for t, _ in points], [v for _, v in points]


def write(
    path: Path,
    *,
    history: list[dict],
    console_per_second: dict[int, int],
    rss: list[tuple[float, dict[int, int]]],
    upstream_ts: list[float],
    pss: list[tuple[float, dict[int, int]]],
    workers: int,
    start: float,
    end: float,
    title: str,
) -> Path:
    """``history``: Locust's stats history rows (with --csv-full-history); ``console_per_second``: requests answered
    in each second (unix time); ``rss``: (time, {worker pid: KiB}); ``pss``: the same, the master's pid too (drawn
    as the memory per worker: all of them together, divided by ``workers``); ``upstream_ts``: the time of each
    upstream request (the sandbox's log); ``start``/``end``: the load's window."""
    fig, (lat, rate, mem) = plt.subplots(3, 1, figsize=(10, 10), sharex=True, height_ratios=[3, 2, 2])
    fig.suptitle(title, fontsize=10)

    for name, column, style in (
        ("Aggregated", "50%", dict(color="tab:blue", lw=1.2)),
        ("Aggregated", "95%", dict(color="tab:blue", lw=1.2, ls="--")),
        ("Aggregated", "99%", dict(color="tab:blue", lw=1, ls=":")),
        (STATUS_PARTIAL, "50%", dict(color="tab:orange", lw=1.2)),
        (STATUS_PARTIAL, "95%", dict(color="tab:orange", lw=1.2, ls="--")),
    ):
        t, v = _series(history, name, column, start)
        label = f"{'all requests' if name == 'Aggregated' else name} p{column.rstrip('%')}"
        lat.plot(t, v, label=label, **style)
    lat.set_ylabel("latency, ms (percentiles of the last 10 s)")
    lat.set_ylim(0, lat.get_ylim()[1] * 1.25)  # room for the legend
    lat.grid(alpha=0.3)
    lat.legend(loc="upper right", fontsize=8, ncol=3)

    console = sorted((int(second) - int(start), n) for second, n in console_per_second.items())
    rate.plot([t for t, _ in console], [n for _, n in console], color="tab:blue", lw=1, label="console requests/s")
    upstream = Counter(int(ts) - int(start) for ts in upstream_ts if start <= ts <= end)
    seconds = sorted(upstream)
    rate.plot(seconds, [upstream[s] for s in seconds], color="tab:green", lw=1, label="upstream requests/s")
    rate.set_ylabel("requests/s")
    rate.set_ylim(0, rate.get_ylim()[1] * 1.25)
    rate.grid(alpha=0.3)
    users = rate.twinx()
    t, v = _series(history, "Aggregated", "User Count", start)
    users.plot(t, v, color="grey", lw=0.8, ls="-.", label="admins (right axis)")
    users.set_ylabel("admins")
    users.set_ylim(0, max(v, default=1) * 1.25)
    lines, labels = rate.get_legend_handles_labels()
    more, more_labels = users.get_legend_handles_labels()
    rate.legend(lines + more, labels + more_labels, loc="upper right", fontsize=8, ncol=3)

    pids = sorted({pid for _, workers in rss for pid in workers})
    for i, pid in enumerate(pids):
        points = [(t - start, workers[pid] * 1024 / MB) for t, workers in rss if pid in workers]
        line = mem.plot([p[0] for p in points], [p[1] for p in points], lw=1.2, label=f"worker {i + 1} (pid {pid})")
        # Its PSS, dotted in the same colour: the pages it shares with the master and the other workers count 1/n.
        points = [(t - start, processes[pid] * 1024 / MB) for t, processes in pss if pid in processes]
        label = "PSS (dotted)" if i == 0 else None
        mem.plot([p[0] for p in points], [p[1] for p in points], lw=1, ls=":", color=line[0].get_color(), label=label)
    # What the budget judges: the master's and the workers' PSS together (each page once), per worker.
    points = [(t - start, sum(processes.values()) / workers * 1024 / MB) for t, processes in pss if workers]
    mem.plot([p[0] for p in points], [p[1] for p in points], color="black", lw=1.5, label="memory per worker")
    mem.axhline(MEMORY_BUDGET_MB, color="tab:red", lw=1, ls="--", label=f"budget {MEMORY_BUDGET_MB} MB")
    mem.axvspan(0, end - start, color="grey", alpha=0.08, label="load")
    mem.set_ylabel("worker RSS and PSS, MB")
    mem.set_ylim(0, max([MEMORY_BUDGET_MB * 1.15, *(kib * 1024 / MB * 1.1 for _, w in rss for kib in w.values())]))
    mem.set_xlabel("seconds since the load started")
    mem.grid(alpha=0.3)
    mem.legend(loc="lower right", fontsize=8, ncol=2)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
