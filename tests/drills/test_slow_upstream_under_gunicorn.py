"""A slow upstream never makes the console stop answering: the console as the Procfile runs it (gunicorn, one worker
with four threads), an upstream that trickles every answer in one byte at a time (each would take 30 s), and three
slow page loads in flight at once. Each ends at AIMABLE_DEADLINE (2 s here) plus a margin with a readable page, and
/healthz answers meanwhile from the thread left free.
"""

import html
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.hostile_upstream import HostileUpstream
from tests.processes import (  # noqa: F401 - fixtures
    Browser,
    collected_static,
    free_port,
    prepare_database,
    processes,
    production_env,
    store_api_key,
)

pytestmark = pytest.mark.slow

DEADLINE = 2.0
THREADS = 4
SLOW_PAGES = 3  # fewer than the threads: the console must keep answering everyone else
MARGIN = 6.0  # generous: a busy machine; without the budget a page takes 30 s
PASSWORD = "a-long-test-password-42"


def test_slow_pages_end_at_the_deadline_and_healthz_answers_meanwhile(processes, collected_static, tmp_path):  # noqa: F811
    with HostileUpstream(interval=0.5, trickle_bytes=60) as upstream:
        env = production_env(
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            STATIC_ROOT=collected_static,
            AIMABLE_API_URL=upstream.url,
            AIMABLE_DEADLINE=DEADLINE,
            GUNICORN_THREADS=THREADS,
            PORT=free_port(),
        )
        prepare_database(env, "patient", PASSWORD)
        base = processes.gunicorn("console", env)
        browser = Browser(base)
        browser.sign_in("patient", PASSWORD)
        store_api_key(browser, "sk-trickled-upstream-key")  # the upstream still answers at once

        upstream.behaviour = "trickle_body"
        seen = len(upstream.paths)

        def slow_page():
            own = Browser(base)  # one HTTP session per thread, the same signed-in user
            own.cookies = dict(browser.cookies)
            started = time.monotonic()
            response = own.get("/", timeout=40)
            return response, time.monotonic() - started

        with ThreadPoolExecutor(SLOW_PAGES) as pool:
            pages = [pool.submit(slow_page) for _ in range(SLOW_PAGES)]
            # Every slow page is waiting on the upstream before the health check is asked.
            wait_until = time.monotonic() + 10
            while len(upstream.paths) < seen + SLOW_PAGES and time.monotonic() < wait_until:
                time.sleep(0.05)
            assert len(upstream.paths) >= seen + SLOW_PAGES, upstream.paths
            started = time.monotonic()
            health = requests.get(base + "/healthz", timeout=40)
            health_seconds = time.monotonic() - started
            results = [page.result() for page in pages]

    assert health_seconds < 2.0 + MARGIN, health_seconds
    assert health.status_code == 200, health.text[:2000]
    assert health.json()["checks"]["upstream"] == "error"  # its own 2 s probe met the trickle too
    for response, seconds in results:
        assert seconds < DEADLINE + MARGIN, seconds
        assert response.status_code == 200, response.text[:2000]
        page = html.unescape(response.text)
        assert "Could not list your spaces" in page and "did not answer in time" in page and "Try again" in page
