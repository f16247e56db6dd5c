"""gunicorn loads the console once, in its master (``preload_app``), and forks the workers from it. Nothing loaded
there may hold a connection: a socket opened before the fork would be shared by every worker, their replies mixed.
On the machine's PostgreSQL and Redis, as in production, with two workers."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from loadtest.measure import children
from tests.processes import (  # noqa: F401 - fixtures
    Browser,
    collected_static,
    free_port,
    processes,
    production_stack,
    store_api_key,
)

pytestmark = pytest.mark.slow

PASSWORD = "a-long-test-password-42"  # prepare_database's
PROC = Path("/proc")


def remote_ports(pid: int) -> set[int]:
    """The remote TCP ports of the sockets a process holds open (its fds, matched in /proc/net/tcp and tcp6)."""
    inodes = set()
    for fd in (PROC / str(pid) / "fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in (PROC / str(pid) / "net" / table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not (PROC / "self" / "net" / "tcp").exists(), reason="reads Linux's /proc")
def test_the_master_loads_the_console_and_holds_no_connection_of_the_workers(processes, collected_static):  # noqa: F811
    stack = production_stack(
        processes,
        collected_static,
        name="preload",
        redis_db=12,
        username="preload",
        PORT=free_port(),
        WEB_CONCURRENCY="2",
    )
    with stack as env:
        browser = Browser(processes.gunicorn("console", env))
        master = processes.pid("console")
        browser.sign_in("preload", PASSWORD)
        store_api_key(browser, "aim_demo_admin_4f7c2a9e1b6d")
        for _ in range(6):  # keep-alive off: each request may go to either worker
            assert browser.get("/", headers={"Connection": "close"}).status_code == 200
            assert browser.get("/connectors/", headers={"Connection": "close"}).status_code == 200

        services = {urlsplit(env["DATABASE_URL"]).port or 5432, urlsplit(env["REDIS_URL"]).port or 6379}
        assert remote_ports(master) & services == set()
        workers = children(master)
        assert len(workers) == 2
        assert any(remote_ports(pid) & services == services for pid in workers)  # a worker reached both itself
        log = processes.output("console")
        assert "Traceback" not in log, log[-3000:]
