"""Locust users for the load test: each is one signed-in admin, with a key of their own, in one browser tab.

Run by loadtest/run.py, which prepares everything this file reads from $LOADTEST_PLAN (a JSON file): the
collection, its connectors and running syncs, and one session cookie per admin (signed in before the load: see
run.py). At the end it writes what Locust's CSV files do not hold to $LOADTEST_RESULTS: the status code of every
request, when each was answered and how long it took, and how long each admin watched each sync (for upstream
reads per watched sync).

One visit, every step 2 s after the one before, as a person clicking through:
  the connector list (and the request that fills in every row's latest-sync cell, which htmx sends once the page is
  there: its address read from the page, as htmx reads it),
  a connector with a running sync (the page, then its syncs panel),
  that sync's page, then its status partial polled every 2 s (as the page's htmx does) for --watch-seconds on
  average (half to one and a half times it: with one length for all, the admins, who start within seconds of each
  other, would open their lists in the same few seconds of every cycle, for the whole run).
"""

import html
import json
import os
import random
import re
import time
from collections import Counter
from pathlib import Path

import gevent
from gevent.pool import Pool
from locust import HttpUser, events, task
from locust.exception import StopUser

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text())
RESULTS = Path(os.environ["LOADTEST_RESULTS"])
STEP_SECONDS = PLAN["poll_seconds"]
HTMX = {"HX-Request": "true"}
BROWSER_PARALLEL = 6  # a browser opens about six connections to one host

# The list's requests for its latest-sync cells (connector_list.html: a hidden element fired on load).
_LOADERS = re.compile(r'hx-get="([^"]*/latest-syncs/\?[^"]*)" hx-trigger="load"')

_admins = iter(PLAN["admins"])
_statuses: Counter = Counter()
_per_second: Counter = Counter()  # requests answered in each second (Locust's own rate is a 10 s average)
_timings: list[tuple[float, str, float]] = []  # (answered at, name, ms), for percentiles over part of the run
_watches: list[dict] = []


@events.request.add_listener
def _count(name, response_time, response=None, exception=None, **kwargs):
    now = time.time()
    _statuses[getattr(response, "status_code", 0) or 0] += 1
    _per_second[int(now)] += 1
    _timings.append((round(now, 3), name, round(response_time, 1)))


@events.test_stop.add_listener
def _write_results(**kwargs):
    results = {"statuses": _statuses, "per_second": _per_second, "timings": _timings, "watches": _watches}
    RESULTS.write_text(json.dumps(results))


class Admin(HttpUser):
    def wait_time(self):
        return 0  # each visit paces its own steps

    def on_start(self):
        try:
            admin = next(_admins)
        except StopIteration:
            raise StopUser() from None  # more users than admins prepared: run.py makes one per user
        self.client.cookies.set(PLAN["cookie_name"], admin["session"])
        self.base = f"/spaces/{PLAN['space_id']}/collections/{PLAN['collection_id']}/connectors/"
        self.next_step = time.monotonic() + random.uniform(0, STEP_SECONDS)  # noqa: S311 - spread the first steps

    def step(self):
        """Waits for this admin's next step, 2 s after the last one."""
        gevent.sleep(max(0.0, self.next_step - time.monotonic()))
        self.next_step = max(self.next_step + STEP_SECONDS, time.monotonic())

    def get(self, url, name, *, htmx=False, ok=(200,), holds=None):
        """A GET that fails unless its status is one of `ok` (no redirect is followed: a lost session would
        otherwise look like a page), and its body matches `holds` when given."""
        with self.client.get(
            url, name=name, headers=HTMX if htmx else None, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code not in ok:
                response.failure(f"status {response.status_code}")
            elif holds is not None and not holds.search(response.text):
                response.failure(f"no match for {holds.pattern}")
            return response

    @task
    def visit(self):
        connector_id, sync_id = random.choice(PLAN["running"])  # noqa: S311
        self.step()
        listed = self.get(self.base, "connector list", holds=_LOADERS)
        pool = Pool(BROWSER_PARALLEL)
        for url in _LOADERS.findall(listed.text):  # 200 while a row runs (its poller starts), else 286
            pool.spawn(self.get, html.unescape(url), "list: latest syncs", htmx=True, ok=(200, 286))
        pool.join()

        self.step()
        self.get(f"{self.base}{connector_id}/", "connector page")
        self.get(f"{self.base}{connector_id}/", "connector page: syncs panel", htmx=True)

        self.step()
        opened = time.time()
        last = opened
        sync_url = f"{self.base}{connector_id}/syncs/{sync_id}/"
        try:
            self.get(sync_url, "sync page")
            polls = round(random.uniform(0.5, 1.5) * PLAN["watch_seconds"] / STEP_SECONDS)  # noqa: S311
            for _ in range(max(polls, 1)):
                self.step()
                last = time.time()  # before the request: a poll cut short by the end of the run was watched too
                self.get(sync_url, "status partial", htmx=True)
        finally:  # also when Locust stops this user in the middle of a watch
            _watches.append({"sync_id": sync_id, "seconds": last - opened + STEP_SECONDS})
