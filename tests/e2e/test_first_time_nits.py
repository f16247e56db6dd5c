"""What a first-time admin tripped over (issue 13, item 8), in a real browser: the browser's Back on the scope
tree, messages that go stale after htmx swaps, one way of confirming, the focus ring."""

import re

from playwright.sync_api import Page, expect

from sandbox import DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID, drive_id

MARKETING_FOLDER_ID = drive_id("Marketing")


def tick_marketing(page: Page, console):
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID, "browse/"))
    diff = page.locator("#scope-diff")
    expect(diff).to_contain_text("No changes yet")
    page.locator(f"input[type=checkbox][value='{MARKETING_FOLDER_ID}']").check()
    expect(diff).to_contain_text("Changes to save")
    expect(diff).to_contain_text("Marketing")


def test_the_browsers_back_from_review_keeps_the_ticks_and_the_panel_tells_the_truth(signed_in: Page, console):
    page = signed_in
    tick_marketing(page, console)
    page.get_by_role("button", name="Review changes").click()
    expect(page.get_by_role("heading", name="Review the change")).to_be_visible()
    page.go_back()
    expect(page.locator(f"input[type=checkbox][value='{MARKETING_FOLDER_ID}']")).to_be_checked()
    expect(page.locator("#scope-diff")).to_contain_text("Changes to save")
    expect(page.locator("#scope-diff")).not_to_contain_text("No changes yet")


def test_back_to_the_tree_keeps_the_ticks_and_save_saves_what_the_panel_said(signed_in: Page, console):
    page = signed_in
    tick_marketing(page, console)
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("button", name="Back to the tree").click()
    expect(page.locator(f"input[type=checkbox][value='{MARKETING_FOLDER_ID}']")).to_be_checked()
    expect(page.locator("#scope-diff")).to_contain_text("Marketing")
    page.get_by_role("button", name="Save scope").click()
    expect(page.get_by_text(re.compile("Scope saved"))).to_be_visible()
    [drive] = [c for c in console.connectors("google-drive") if c["id"] == DRIVE_CONNECTOR_ID]
    assert MARKETING_FOLDER_ID in drive["scope_config"]["folder_ids"]


def test_sync_started_goes_when_the_sync_completes(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=3, fail_rate=0)
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    expect(page.get_by_text("Sync started.")).to_be_visible()
    expect(page.locator("#sync-status .badge").first).to_have_text("completed", timeout=15_000)
    expect(page.get_by_text("Sync started.")).to_have_count(0)


def test_sync_started_goes_when_the_sync_is_cancelled(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(SLACK_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    expect(page.get_by_text("Sync started.")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel sync").click()
    expect(page.locator("#sync-status")).to_contain_text("Sync cancelled.")
    expect(page.get_by_text("Sync started.")).to_have_count(0)


def test_cancel_sync_and_remove_key_both_ask_first(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(SLACK_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Cancel sync").click()
    expect(page.locator("#sync-status .badge").first).to_have_text("running")  # dismissed: not cancelled

    page.goto(console.url("/settings/api-keys/"))
    page.get_by_role("button", name="Remove my API key").click()
    expect(page.get_by_role("heading", name="Stored key")).to_be_visible()  # dismissed: still stored
    assert [q.split("?")[0] for q in questions] == ["Cancel this sync", "Remove your API key"]


def test_a_changed_provider_drops_the_old_error_banner(signed_in: Page, console):
    page = signed_in
    page.goto(console.create_url())
    page.get_by_role("button", name="Create connector").click()  # no token: the form comes back with a banner
    banner = page.locator("[data-stale-on-provider-change]")
    expect(banner).to_be_visible()
    page.get_by_label("Provider").select_option("slack")
    expect(page.locator("#provider-fields")).to_contain_text("Slack")
    expect(banner).to_have_count(0)


def test_the_focus_ring_on_a_blue_button_is_clear(signed_in: Page, console):
    page = signed_in
    page.goto(console.collection_url())
    button = page.get_by_role("button", name="New connector")
    button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    style = button.evaluate("e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth]; }")
    assert style == ["solid", "3px"]
    color = "e => getComputedStyle(e).outlineColor"
    assert button.evaluate(color) == "rgb(30, 58, 138)"  # dark blue on the light page
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert button.evaluate(color) == "rgb(253, 230, 138)"  # light yellow on the dark one


def test_the_list_rows_sync_buttons_name_their_connector(signed_in: Page, console):
    page = signed_in
    page.goto(console.collection_url())
    expect(page.get_by_role("button", name=re.compile(r"^Sync .+ now$"))).not_to_have_count(0)
    expect(page.get_by_role("button", name="Sync now", exact=True)).to_have_count(0)
