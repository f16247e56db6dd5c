"""Scaling out: two console processes (gunicorn, as the Procfile runs it) that share nothing but one PostgreSQL
database and one Redis. A user's session, stored API key and the sync poll cache work across both.

Needs the machine's PostgreSQL and Redis: skipped without them, failed when CI is set.
"""

import re
import time

from sandbox import DEMO_ADMIN_KEY, DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID
from tests.processes import (  # noqa: F401 - fixtures
    Browser,
    collected_static,
    free_port,
    processes,
    production_stack,
    sandbox_control,
    store_api_key,
)

COLLECTION = f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/"
CONNECTOR = f"{COLLECTION}{DRIVE_CONNECTOR_ID}/"
CACHE_SECONDS = 3.0  # how long one upstream read of a sync is reused (SYNC_CACHE_SECONDS)


def test_two_processes_share_sessions_keys_and_the_poll_cache(processes, collected_static):  # noqa: F811
    stack = production_stack(
        processes, collected_static, name="twoproc", redis_db=14, username="scaler", SYNC_CACHE_SECONDS=CACHE_SECONDS
    )
    with stack as env:
        sandbox = env["AIMABLE_API_URL"]
        a = processes.gunicorn("console-a", {**env, "PORT": str(free_port())})
        b = processes.gunicorn("console-b", {**env, "PORT": str(free_port())})

        # Signed in on A, key stored on A ...
        browser = Browser(a)
        browser.sign_in("scaler", "a-long-test-password-42")
        store_api_key(browser, DEMO_ADMIN_KEY)

        # ... and B knows the session and uses the key: the connector list.
        listed = browser.get(COLLECTION, base_url=b)
        assert listed.status_code == 200, listed.text[:2000]
        assert "Engineering Wiki" in listed.text and DRIVE_CONNECTOR_ID in listed.text

        # "Sync now" on A (its CSRF token was issued by B's page: one secret, one session).
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', listed.text).group(1)
        started = browser.post(CONNECTOR + "sync/", {"csrfmiddlewaretoken": csrf})
        assert started.status_code == 302, started.text[:2000]
        sync_id = started.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        status_path = f"{CONNECTOR}syncs/{sync_id}/"

        # Ten polls of the status partial, alternately on A and B, within about 2 s: one upstream read.
        sandbox_control(sandbox, "DELETE", "requests")
        first = time.monotonic()
        for i in range(10):
            poll = browser.get(status_path, base_url=(a, b)[i % 2], headers={"HX-Request": "true"})
            assert poll.status_code == 200 and "sync-status" in poll.text, poll.text[:2000]
            time.sleep(0.15)
        elapsed = time.monotonic() - first
        reads = [
            r
            for r in sandbox_control(sandbox, "GET", "requests")
            if r["method"] == "GET" and r["path"].endswith(f"/sync/{sync_id}")
        ]
        assert elapsed < CACHE_SECONDS, f"the polls took {elapsed:.1f} s: too slow to judge the cache"
        assert len(reads) == 1, reads  # with a cache per process it would be 2

        # Signing out on B ends the session on A too.
        home = browser.get("/", base_url=b)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', home.text).group(1)
        assert browser.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf}, base_url=b).status_code == 302
        assert browser.get(COLLECTION, base_url=a).status_code == 302  # to the login page
