"""Watching syncs in a real browser: htmx polling brings the status in without a reload, and stops."""

import re

from playwright.sync_api import Page, expect

from sandbox import DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID


def test_trigger_and_watch_a_sync_reach_completed_without_a_reload(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=4, fail_rate=0)
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    expect(page.get_by_text("Sync started.")).to_be_visible()
    status = page.locator("#sync-status")
    expect(status.locator(".badge").first).to_have_text("running")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    expect(status.locator(".badge").first).to_have_text("completed", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    expect(status).to_contain_text("Took")
    expect(status.get_by_role("button", name="Cancel sync")).to_have_count(0)

    # Polling stopped for good: no more status requests once it completed.
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.headers.get("hx-request") and "/syncs/" in r.url else None)
    page.wait_for_timeout(4500)
    assert requests == []


def test_cancel_a_long_sync_and_see_cancelled(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(SLACK_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    status = page.locator("#sync-status")
    expect(status.locator(".badge").first).to_have_text("running")
    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel this sync?"
    status.get_by_role("button", name="Cancel sync").click()
    expect(page.locator("#sync-status .badge").first).to_have_text("cancelled")
    expect(page.locator("#sync-status")).to_contain_text("Sync cancelled.")
    with console.sandbox.state.lock:
        statuses = [
            s["status"] for s in console.sandbox.state.syncs.values() if s["connector_id"] == SLACK_CONNECTOR_ID
        ]
    assert "running" not in statuses


def test_the_connector_list_fills_in_latest_syncs_after_the_page(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=3, fail_rate=0)
    page.goto(console.collection_url())
    cells = page.locator(".latest-sync:not([aria-busy])")  # filled in: no longer waiting for the cells' request
    expect(cells).to_have_count(4)
    row = page.locator("tr", has=page.get_by_role("link", name=re.compile("Slack")))
    row.get_by_role("button", name=re.compile(r"^Sync .+ now$")).click()  # each names its connector
    expect(page.locator("#sync-status .badge").first).to_have_text("running")
    page.goto(console.collection_url())
    slack = page.locator("tr", has=page.get_by_role("link", name=re.compile("Slack"))).locator(".latest-sync")
    expect(slack.locator(".badge")).to_have_text("running")
    expect(slack.locator(".badge")).to_have_text("completed", timeout=15_000)


def test_page_through_the_sync_history(signed_in: Page, console):
    page = signed_in
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID, "syncs/") + "?limit=1")
    first = page.locator("tbody tr").first.inner_text()
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    second = page.locator("tbody tr").first.inner_text()
    assert first != second
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("tbody tr").first).to_have_text(first)
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody .badge").first).to_have_text("failed")
