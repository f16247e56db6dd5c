"""Bulk actions in a real browser: select three connectors on the overview, "Sync selected", and watch the progress
page fill in the per-item results without a reload."""

from django.core.management import call_command
from playwright.sync_api import Page, expect

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, GITHUB_CONNECTOR_ID, SLACK_CONNECTOR_ID


def run_worker_once():
    """The worker's task runner (django-tasks-db's, batch mode), in this thread. The live server shares this thread's
    in-memory SQLite connection; a worker thread with its own connection would meet "table is locked" there."""
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def test_select_three_sync_selected_and_watch_the_results(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=30, fail_rate=0)
    page.goto(console.url("/connectors/"))
    for connector_id in (DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID, GITHUB_CONNECTOR_ID):
        page.locator(f'input[name="item"][value="{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{connector_id}"]').check()
    page.get_by_role("button", name="Sync selected").click()

    expect(page.get_by_role("heading", name="Sync 3 connectors")).to_be_visible()
    progress = page.locator("#bulk-progress")
    expect(progress).to_contain_text("0 of 3")
    expect(progress.locator("progress")).to_have_attribute("max", "3")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    run_worker_once()  # meanwhile the page polls every second

    expect(progress).to_contain_text("3 of 3")
    expect(progress.locator("progress")).to_have_attribute("value", "3")
    rows = progress.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(progress.locator(".badge", has_text="started")).to_have_count(2)
    expect(progress).to_contain_text("Connector is paused")  # GitHub is paused: Aimable's reason
    assert page.evaluate("window.__sameDocument") is True

    # Polling stopped once it finished.
    polls = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("hx-request") and "/bulk/" in r.url else None)
    page.wait_for_timeout(2500)
    assert polls == []

    # Coming back later shows the result.
    page.goto(console.url("/connectors/bulk/"))
    page.get_by_role("link", name="Sync 3 connectors").click()
    expect(page.locator("#bulk-progress")).to_contain_text("3 of 3")
