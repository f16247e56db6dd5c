"""The load test's own arithmetic (loadtest/measure.py, loadtest/plot.py): what it counts and how it judges.

The load itself runs in `make loadtest` and in CI's short run, not here.
"""

import os
import subprocess
import sys
from collections import Counter

import pytest

from loadtest import measure
from loadtest import run as loadtest

SYNC_A = "0b3f6d1e-0000-4000-8000-00000000000a"
SYNC_B = "0b3f6d1e-0000-4000-8000-00000000000b"
CONNECTOR = "/v1/spaces/s/collections/c/connectors/k"


def entry(method, path, ts=100.0):
    return {"method": method, "path": path, "ts": ts}


def stats(*, requests=100, failures=0, p50=30.0, p95=45.0):
    return {
        "Aggregated": {"Request Count": requests, "Failure Count": failures},
        measure.STATUS_PARTIAL: {"Request Count": requests, "50%": p50, "95%": p95},
    }


def judge(**overrides):
    kwargs = {
        "stats": stats(),
        "statuses": {"200": 90, "286": 10},
        "rates": {SYNC_A: {"reads": 50, "seconds": 100.0, "rate": 0.5}},
        "rss_before_kib": [60_000, 61_000],
        "rss_after_kib": [62_000, 50_000],
        "rss_peak_kib": 63_000,
        "together_pss_kib": 200_000,
        "workers": 4,
    }
    return {c.name: c.met for c in measure.evaluate(**{**kwargs, **overrides})}


def test_every_criterion_met():
    assert all(judge().values())


MEMORY = "memory per worker: the master and its workers together (PSS, peak) / workers"


def test_memory_per_worker_is_the_master_and_workers_pss_divided_by_the_workers():
    """80 MB a worker: 4 workers and their master may hold 320 MB between them, each page counted once."""
    budget_kib = 80 * 1_000_000 // 1024
    assert judge(together_pss_kib=4 * budget_kib, workers=4)[MEMORY]
    assert not judge(together_pss_kib=4 * budget_kib + 4, workers=4)[MEMORY]
    assert not judge(together_pss_kib=budget_kib + 1, workers=1)[MEMORY]


def test_rss_as_filed_is_printed_but_never_gates():
    criteria = measure.evaluate(
        stats=stats(),
        statuses={"200": 1},
        rates={SYNC_A: {"reads": 1, "seconds": 10.0, "rate": 0.1}},
        rss_before_kib=[84_000],
        rss_after_kib=[84_000],
        rss_peak_kib=84_000,
        together_pss_kib=213_000,
        workers=4,
    )
    (filed,) = [c for c in criteria if c.kind == measure.AS_FILED]
    assert filed.name.startswith("worker RSS, peak") and filed.measured == "86.0 MB" and not filed.met
    assert all(c.met for c in criteria if c.kind != measure.AS_FILED)


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        ({"stats": stats(failures=1)}, "failed requests"),
        ({"statuses": {"200": 99, "502": 1}}, "5xx answers"),
        ({"stats": stats(p50=30.0, p95=60.0)}, "status partial p95 / p50"),
        ({"rates": {SYNC_A: {"reads": 61, "seconds": 100.0, "rate": 0.61}}}, "upstream reads"),
        ({"rss_after_kib": [68_000]}, "worker RSS after"),
        ({"rss_peak_kib": 80 * 1_000_000 // 1024 + 1}, "worker RSS, peak"),
        ({"together_pss_kib": 4 * (80 * 1_000_000 // 1024) + 4}, "memory per worker"),
    ],
)
def test_each_criterion_fails_alone(overrides, failing):
    results = judge(**overrides)
    assert [name for name, met in results.items() if not met] == [n for n in results if n.startswith(failing)]


def test_ci_gates_on_correctness_only():
    """The latency tail and memory are performance: `--fail-on correctness` (CI) does not fail on them alone."""
    criteria = measure.evaluate(
        stats=stats(),
        statuses={},
        rates={},
        rss_before_kib=[1],
        rss_after_kib=[1],
        rss_peak_kib=1,
        together_pss_kib=1,
        workers=1,
    )
    assert [c.name for c in criteria if c.kind == "performance"] == [
        "status partial p95 / p50",
        "worker RSS after the run vs before (largest worker)",
        MEMORY,
    ]


def test_nothing_measured_is_not_met():
    results = judge(
        stats={"Aggregated": {"Request Count": 0, "Failure Count": 0}},
        rates={},
        rss_before_kib=[],
        rss_after_kib=[],
        rss_peak_kib=0,
        together_pss_kib=0,
    )
    assert not any(results.values())


def test_a_replaced_worker_being_smaller_is_not_growth():
    assert judge(rss_before_kib=[88_000, 89_000], rss_after_kib=[89_500, 74_000])[
        "worker RSS after the run vs before (largest worker)"
    ]


def test_upstream_reads_are_counted_per_sync_and_per_second_watched():
    log = [
        entry("GET", f"{CONNECTOR}/sync/{SYNC_A}"),
        entry("GET", f"{CONNECTOR}/sync/{SYNC_A}"),
        entry("GET", f"{CONNECTOR}/sync/{SYNC_B}"),
        entry("GET", f"{CONNECTOR}/sync"),  # the list of syncs: not a read of one
        entry("POST", f"{CONNECTOR}/sync/cancel"),
        entry("GET", f"{CONNECTOR}/sync/another-sync"),
    ]
    reads = measure.sync_reads(log, [SYNC_A, SYNC_B])
    assert reads == Counter({SYNC_A: 2, SYNC_B: 1})
    rates = measure.watch_rates(reads, [{"sync_id": SYNC_A, "seconds": 3.0}, {"sync_id": SYNC_A, "seconds": 1.0}])
    assert rates == {SYNC_A: {"reads": 2, "seconds": 4.0, "rate": 0.5}}


def test_upstream_calls_by_kind_and_window():
    log = [
        entry("GET", "/v1/spaces", 1),
        entry("GET", "/v1/spaces/s/collections", 2),
        entry("GET", "/v1/spaces/s/collections/c/connectors", 3),
        entry("GET", CONNECTOR, 4),
        entry("GET", f"{CONNECTOR}/sync", 5),
        entry("GET", f"{CONNECTOR}/sync/{SYNC_A}", 6),
        entry("POST", f"{CONNECTOR}/sync", 7),
    ]
    kinds = measure.upstream_by_kind(log)
    assert kinds == Counter(
        {
            "list spaces": 1,
            "list collections": 1,
            "list connectors": 1,
            "get connector": 1,
            "list syncs": 1,
            "get sync": 1,
            "POST other": 1,
        }
    )
    assert [e["ts"] for e in measure.in_window(log, 2, 4)] == [2, 3, 4]


def test_redis_monitor_lines():
    assert measure.parse_monitor_line(b'1796156638.241557 [11 127.0.0.1:37578] "GET" "console:1:k"') == (
        1796156638,
        "11",
        "get",
    )
    assert measure.parse_monitor_line('1796156638.1 [0 lua] "SET" "a" "b"') == (1796156638, "0", "set")
    assert measure.parse_monitor_line("OK") is None


def test_locust_csv_files(tmp_path):
    stats_csv = tmp_path / "run_stats.csv"
    stats_csv.write_text(
        "Type,Name,Request Count,Failure Count,50%,95%\nGET,status partial,10,0,33,41\n,Aggregated,12,1,35,N/A\n"
    )
    parsed = measure.read_stats(stats_csv)
    assert parsed["status partial"]["95%"] == 41.0
    assert parsed["Aggregated"]["Failure Count"] == 1.0
    assert parsed["Aggregated"]["95%"] is None


def test_locust_failures_file(tmp_path):
    failures = tmp_path / "run_failures.csv"
    failures.write_text('Method,Name,Error,Occurrences\nGET,status partial,"status 302",3\n')
    assert measure.read_failures(failures) == [("GET", "status partial", "status 302", 3)]
    assert measure.read_failures(tmp_path / "missing.csv") == []


def test_percentiles_and_the_second_half():
    timings = [(10.0, "a", 100.0), (20.0, "a", 10.0), (21.0, "b", 20.0), (22.0, "a", 30.0)]
    by_name = measure.timings_by_name(timings, since=20.0)
    assert by_name == {"Aggregated": [10.0, 20.0, 30.0], "a": [10.0, 30.0], "b": [20.0]}
    assert measure.percentile(by_name["Aggregated"], 50) == 20.0
    assert measure.percentile([], 95) is None


def test_proc_readings_of_a_child_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in measure.children(os.getpid())
        assert measure.rss_kib(child.pid) is not None
        assert measure.rss_kib(os.getpid()) > 10_000  # this Python, Django loaded: more than 10 MiB
        assert 0 < measure.pss_kib(child.pid) <= measure.rss_kib(child.pid)  # it shares libpython's pages, at least
        assert 0 < measure.rss_file_kib(child.pid) < measure.rss_kib(child.pid)  # libpython's code, its own heap
        assert measure.cpu_ticks(os.getpid()) > 0
        busy, total = measure.machine_cpu()
        assert 0 < busy <= total
    finally:
        child.kill()
        child.wait()
    assert measure.rss_kib(child.pid) is None
    assert measure.pss_kib(child.pid) is None
    assert measure.rss_file_kib(child.pid) is None


def test_the_rss_peak_and_how_much_of_it_is_files_mapped():
    rss = [(1.0, {11: 99_000}), (2.0, {11: 80_000, 12: 85_000}), (3.0, {11: 84_000, 13: 70_000}), (9.0, {11: 1})]
    files = [(1.0, {11: 1}), (2.0, {11: 15_000, 12: 16_000}), (3.0, {11: 17_000, 13: 9_000}), (9.0, {11: 1})]
    summary = measure.rss_summary(rss, 2.0, 3.0, files)
    assert summary == {"peak_kib": 85_000, "peak_file_kib": 16_000, "workers_seen": 3}  # worker 12's, at 2.0
    assert measure.rss_summary(rss, 2.0, 3.0)["peak_file_kib"] is None  # not sampled
    assert measure.rss_summary(rss, 5.0, 6.0) == {"peak_kib": 0, "peak_file_kib": None, "workers_seen": 0}


def test_pss_peaks_of_a_worker_and_of_the_master_with_its_workers_in_one_sample():
    master = 10
    samples = [
        (1.0, {master: 40_000, 11: 90_000, 12: 5_000}),  # before the window: not counted
        (2.0, {master: 40_000, 11: 30_000, 12: 35_000}),  # together 105,000
        (3.0, {master: 39_000, 11: 36_000, 13: 20_000}),  # 12 replaced by 13; the master alone is no worker
        (9.0, {master: 1, 11: 99_000}),  # after the window
    ]
    assert measure.pss_summary(samples, master, 2.0, 3.0) == {"worker_peak_kib": 36_000, "together_peak_kib": 105_000}
    assert measure.pss_summary(samples, master, 5.0, 6.0) == {"worker_peak_kib": 0, "together_peak_kib": 0}


def test_the_sampler_counts_a_replaced_process_until_its_last_sample():
    pids = {"now": [1]}
    sampler = measure.Sampler(999_999_999, {"g": lambda: pids["now"]})
    sampler._ticks.update({1: ("g", 500), 2: ("g", 100)})  # pid 1 gone, pid 2 its successor
    assert sampler.cpu_mark()["g"] == 600 / measure.TICKS


def test_the_sandbox_log_can_hold_a_whole_run(monkeypatch):
    """run.py starts the sandbox with a longer request log by setting sandbox.state.LOG_SIZE first."""
    import sandbox.state

    monkeypatch.setattr(sandbox.state, "LOG_SIZE", 12_345)
    assert sandbox.state.SandboxState(seed_data=False).log.maxlen == 12_345


def test_the_plot_is_written(tmp_path):
    from loadtest import plot

    history = [
        {"Timestamp": 101.0 + i, "Name": name, "User Count": 5.0, "50%": 30.0 + i, "95%": 40.0 + i, "99%": 50.0}
        for i in range(5)
        for name in ("Aggregated", measure.STATUS_PARTIAL)
    ]
    path = plot.write(
        tmp_path / "loadtest.png",
        history=history,
        console_per_second={100 + i: 10 for i in range(6)},
        rss=[(99.0 + i, {11: 60_000 + i, 12: 61_000}) for i in range(8)],
        pss=[(99.0 + i, {10: 30_000, 11: 40_000 + i, 12: 41_000}) for i in range(8)],
        workers=2,
        upstream_ts=[100.5, 101.5, 101.7],
        start=100.0,
        end=105.0,
        title="test",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def criterion(name, met, kind="correctness"):
    return measure.Criterion(name, "target", "measured", met, kind)


def test_the_verdict_says_the_rss_as_filed_but_does_not_gate_on_it(capsys):
    criteria = [
        criterion("failed requests", True),
        criterion("memory per worker", True, "performance"),
        criterion("worker RSS, peak", False, measure.AS_FILED),
    ]
    assert loadtest.conclude(criteria, "all") == 0
    out = capsys.readouterr().out
    assert "All criteria met." in out
    assert "As filed, not met: worker RSS, peak, measured" in out


@pytest.mark.parametrize(
    ("kind", "fail_on", "status"),
    [("performance", "all", 1), ("performance", "correctness", 0), ("correctness", "correctness", 1)],
)
def test_the_verdict_gates_on_the_others(kind, fail_on, status, capsys):
    assert loadtest.conclude([criterion("x", False, kind), criterion("y", True)], fail_on) == status
    assert "NOT MET: x" in capsys.readouterr().out
