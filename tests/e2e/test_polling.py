"""Polling that respects the user: nothing is polled while the tab is hidden (one catch-up when it shows again), and
the connector list asks for its running rows in one request every 2 s (one per request that loaded their cells: one
for a page of UUID-named rows), until none runs."""

import copy
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from connectors.models import ApiKey
from sandbox import DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID

SET_VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def start_syncs(console, *connector_ids: str) -> None:
    state = console.sandbox.state
    with state.lock:
        for connector_id in connector_ids:
            state.start_sync(state.connectors[connector_id])


def htmx_requests(page: Page, part: str) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.headers.get("hx-request") and part in r.url else None)
    return seen


def test_no_polling_while_the_tab_is_hidden_and_one_refresh_when_it_shows(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name=re.compile("Sync now")).first.click()
    expect(page.locator("#sync-status .badge").first).to_have_text("running")
    polls = htmx_requests(page, "/syncs/")
    page.wait_for_timeout(2500)
    assert polls, "the running sync's status polls while the tab is shown"

    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_timeout(300)  # a request already in flight may end
    polls.clear()
    page.wait_for_timeout(5000)  # two and a half intervals
    assert polls == []

    with page.expect_request(lambda r: "/syncs/" in r.url and r.headers.get("hx-request") == "true", timeout=1000):
        page.evaluate(SET_VISIBILITY, "visible")  # at once, not at the next tick
    page.wait_for_timeout(2500)
    assert len(polls) >= 2  # and polling goes on


def test_the_list_loads_its_cells_in_one_request_then_refreshes_its_running_rows_in_one(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=6, fail_rate=0)
    start_syncs(console, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID)
    cells = htmx_requests(page, "/sync/latest/")
    batches = htmx_requests(page, "/latest-syncs/")
    page.goto(console.collection_url())
    running = page.locator(".latest-sync .badge", has_text="running")
    expect(running).to_have_count(2)
    expect(page.locator(".latest-sync[aria-busy]")).to_have_count(0)  # every row's cell was filled
    first = parse_qs(urlsplit(batches[0]).query)["row"]
    assert len(first) == page.locator("td[data-label='Latest sync']").count() >= 4  # all rows, one request

    expect(running).to_have_count(0, timeout=15_000)
    expect(page.locator(".latest-sync input[name=row]")).to_have_count(0)
    assert cells == []  # no row asks on its own
    polls = [parse_qs(urlsplit(u).query).get("row", []) for u in batches[1:]]
    assert polls, "the running rows were refreshed"
    assert [DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID] in [sorted(p) for p in polls], "one request asks for both"
    assert all(set(p) <= {DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID} for p in polls)  # only the running rows
    assert len(polls) <= 6  # every 2 s for about 6 s, not one per row

    batches.clear()
    page.wait_for_timeout(4500)
    assert batches == []  # nothing runs: the poller stopped for good (286)


def test_the_list_does_not_poll_while_hidden(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    start_syncs(console, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID)
    batches = htmx_requests(page, "/latest-syncs/")
    page.goto(console.collection_url())
    expect(page.locator(".latest-sync .badge", has_text="running")).to_have_count(2)
    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_timeout(300)
    batches.clear()
    page.wait_for_timeout(4500)
    assert batches == []
    with page.expect_request(lambda r: "/latest-syncs/" in r.url, timeout=1000) as shown:
        page.evaluate(SET_VISIBILITY, "visible")
    assert DRIVE_CONNECTOR_ID in shown.value.url and SLACK_CONNECTOR_ID in shown.value.url


def test_when_the_cells_request_fails_the_list_says_why(signed_in: Page, console, user):
    """The cells' one request is refused as a whole (the key removed meanwhile, in another tab): the page shows the
    error where the request was, instead of cells that wait for ever."""
    page = signed_in

    def key_removed_first(route):
        ApiKey.objects.filter(user=user).delete()
        route.continue_()

    page.route(re.compile(r".*/latest-syncs/\?row=.*"), key_removed_first)
    page.goto(console.collection_url())
    expect(page.get_by_text("No API key stored")).to_be_visible()
    expect(page.locator(".latest-sync .loading-hint:visible")).to_have_count(0)
    expect(page.locator(".latest-sync[aria-busy]")).to_have_count(0)  # no cell goes on spinning


def test_a_full_page_of_long_ids_running_is_polled_in_requests_no_longer_than_its_loads(signed_in: Page, console):
    """100 running rows whose ids are 128 characters long: one poll for them all would be a request line of ~13 KB,
    which gunicorn refuses (its largest limit is 8,190 bytes). Each load's running rows are polled by a poller of
    their own, every request under gunicorn's default limit (4,094 bytes)."""
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    state = console.sandbox.state
    long_ids = [f"{n:03d}-" + "x" * 124 for n in range(100)]
    with state.lock:
        template = state.connectors[DRIVE_CONNECTOR_ID]
        for connector in [c for c in state.connectors.values() if c["collection_id"] == DEMO_COLLECTION_ID]:
            del state.connectors[connector["id"]]  # the page: the long-named rows only
        for connector_id in long_ids:
            state.connectors[connector_id] = {**copy.deepcopy(template), "id": connector_id}
            state.start_sync(state.connectors[connector_id])
    batches = htmx_requests(page, "/latest-syncs/")
    failed = []
    page.on("response", lambda r: failed.append(r.status) if "/latest-syncs/" in r.url and r.status >= 400 else None)
    page.goto(console.collection_url() + "?limit=100")
    expect(page.locator(".latest-sync .badge", has_text="running")).to_have_count(100)
    loads = len(batches)
    page.wait_for_timeout(4500)
    polls = batches[loads:]
    latest_poll = {parse_qs(urlsplit(u).query)["group"][0]: parse_qs(urlsplit(u).query)["row"] for u in polls}
    assert loads == 5 and set(latest_poll) == {"0", "1", "2", "3", "4"}  # each load's rows, by a poller of their own
    assert sorted(i for rows in latest_poll.values() for i in rows) == long_ids  # every running row, in one group
    assert max(len(urlsplit(u).path) + len(urlsplit(u).query) for u in batches) < 4094 - len("GET ? HTTP/1.1")
    assert failed == []
