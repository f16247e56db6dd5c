"""What a team admin does in the console, in a real browser, against the sandbox."""

import re

from playwright.sync_api import Page, expect

from sandbox import (
    ARCHIVE_SIZE,
    DEMO_COLLECTION_ID,
    DESIGN_FOLDER_ID,
    DRIVE_CONNECTOR_ID,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    ONBOARDING_FOLDER_ID,
    SLACK_CONNECTOR_ID,
    drive_id,
)
from tests.e2e.conftest import sign_in

CAMPAIGNS_FOLDER_ID = drive_id("Marketing/Campaigns")


def open_create_form(page: Page, console) -> None:
    page.goto(console.collection_url())
    page.get_by_role("button", name="New connector").click()
    expect(page.get_by_role("heading", name="New connector")).to_be_visible()


def create_button(page: Page):
    return page.get_by_role("button", name="Create connector")


def new_ids(console, provider_slug, before) -> list[str]:
    return [c["id"] for c in console.connectors(provider_slug) if c["id"] not in before]


def ids_of(console, provider_slug) -> set[str]:
    return {c["id"] for c in console.connectors(provider_slug)}


def test_sign_in_store_key_and_open_a_collection(page: Page, console, user):
    sign_in(page, console, user.username)

    # No key yet: every page that needs Aimable sends the user to the key page first.
    expect(page).to_have_url(re.compile(r"/settings/api-keys/"))
    expect(page.get_by_role("heading", name="Your Aimable API key")).to_be_visible()
    page.get_by_label("API key").fill(console.sandbox.admin_key)
    page.get_by_role("button", name="Check and save key").click()
    expect(page.get_by_text("Your API key was checked with Aimable and saved.")).to_be_visible()

    page.get_by_role("link", name="Engineering Wiki").click()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(len(console.connectors()))
    for name in ("Google Drive", "Slack", "GitHub"):
        expect(rows.filter(has_text=name).first).to_be_visible()
    # Unnamed, a connector is its provider and the start of its id; the whole id is on hover.
    expect(page.locator(f'[title="{DRIVE_CONNECTOR_ID}"]').first).to_be_visible()

    # The live server used the sandbox (the settings override reached it) with the key just stored.
    calls = console.sandbox.requests()
    assert any(c["path"].endswith(f"/collections/{DEMO_COLLECTION_ID}/connectors") for c in calls)
    assert {c["auth"] for c in calls} == {"bearer"}


def test_create_google_drive_connector_switching_provider_without_reload(signed_in: Page, console):
    page = signed_in
    before = ids_of(console, "google-drive")
    open_create_form(page, console)

    page.get_by_label("Refresh token").fill("1//refresh-survives-the-swap")
    page.get_by_text("Advanced scope settings").click()
    page.get_by_label("Other scope settings (JSON)").fill('{"include_shared": true}')
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    provider = page.get_by_label("Provider")
    provider.select_option(label="Slack")
    expect(page.get_by_label("Channel IDs")).to_be_visible()
    expect(page.get_by_label("Folder IDs")).to_have_count(0)
    provider.select_option(label="Google Drive")
    expect(page.get_by_label("Folder IDs")).to_be_visible()
    expect(page.get_by_label("Channel IDs")).to_have_count(0)

    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_label("Refresh token")).to_have_value("1//refresh-survives-the-swap")
    expect(page.get_by_label("Other scope settings (JSON)")).to_have_value('{"include_shared": true}')

    page.get_by_label("Access token").fill("ya29.drive-access-0001")
    page.get_by_label("Folder IDs").fill(f"{FINANCE_FOLDER_ID}\n{ONBOARDING_FOLDER_ID}")
    create_button(page).click()

    expect(page.get_by_text("Google Drive connector created.")).to_be_visible()
    expect(page.get_by_role("button", name="Browse and choose scope")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Google Drive"))).to_be_visible()
    (created,) = new_ids(console, "google-drive", before)
    expect(page).to_have_url(re.compile(re.escape(created)))
    connector = console.sandbox.state.connectors[created]
    assert connector["scope_config"] == {
        "folder_ids": [FINANCE_FOLDER_ID, ONBOARDING_FOLDER_ID],
        "include_shared": True,
    }
    assert console.sandbox.credential(created) == {
        "access_token": "ya29.drive-access-0001",
        "refresh_token": "1//refresh-survives-the-swap",
    }


def test_rejected_field_keeps_input_and_token(signed_in: Page, console):
    page = signed_in
    before = ids_of(console, "github")
    open_create_form(page, console)
    page.get_by_label("Provider").select_option(label="GitHub")
    page.get_by_label("Repositories").fill("not-a-repo")
    page.get_by_label("Access token").fill("ghp_secretvalue1234")
    create_button(page).click()

    repositories = page.get_by_label("Repositories")
    expect(repositories).to_have_value("not-a-repo")
    expect(page.locator("#id_scope_repositories ~ small.field-error")).to_contain_text("Item 1")
    expect(page.get_by_role("alert").filter(has_text="Please correct the fields marked below.")).to_be_visible()
    expect(page.get_by_label("Access token")).to_have_value("")  # secrets are never sent back to the browser
    assert "ghp_secretvalue1234" not in page.content()
    expect(page.get_by_text(re.compile(r"The access token you entered before \(••••1234\) is kept"))).to_be_visible()
    assert new_ids(console, "github", before) == []

    repositories.fill("acme-corp/web-console")
    create_button(page).click()
    expect(page.get_by_text("GitHub connector created.")).to_be_visible()
    (created,) = new_ids(console, "github", before)
    assert console.sandbox.credential(created) == {"access_token": "ghp_secretvalue1234"}
    assert console.sandbox.state.connectors[created]["scope_config"] == {"repositories": ["acme-corp/web-console"]}


def creates_sent(console) -> list[dict]:
    return [r for r in console.sandbox.requests() if r["method"] == "POST" and r["path"].endswith("/connectors")]


def fill_slack_form(page: Page, console, token: str) -> None:
    open_create_form(page, console)
    page.get_by_label("Provider").select_option(label="Slack")
    page.get_by_label("Channel IDs").fill("C0123ABCD")
    page.get_by_label("Access token").fill(token)


def test_double_click_on_a_slow_create_makes_one_connector(signed_in: Page, console):
    page = signed_in
    before = ids_of(console, "slack")
    fill_slack_form(page, console, "xoxb-slow-double-click")
    console.sandbox.set_faults(latency_ms=800)

    create_button(page).dblclick()
    expect(page.get_by_text("Slack connector created.")).to_be_visible()
    assert len(new_ids(console, "slack", before)) == 1
    assert len(creates_sent(console)) == 1  # console.js sent the form once


def test_the_same_form_sent_twice_at_once_makes_one_connector(signed_in: Page, console):
    """Without the JavaScript guard (no JS, a flaky network, a retry), the form's idempotency key makes it one."""
    page = signed_in
    before = ids_of(console, "slack")
    fill_slack_form(page, console, "xoxb-sent-twice")
    console.sandbox.set_faults(latency_ms=800)

    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById("connector-form");
            const send = () => fetch(form.action, {method: "POST", body: new FormData(form), redirect: "manual"});
            // The second starts while the first waits on the slow upstream. (Not at the very same instant: the
            // test database, in-memory SQLite, refuses two writes at once with "table is locked".)
            const first = send();
            await new Promise((resolve) => setTimeout(resolve, 300));
            const answers = await Promise.all([first, send()]);
            return answers.map((a) => a.type === "opaqueredirect" ? "redirect" : a.status);
        }"""
    )
    assert statuses == ["redirect", "redirect"]
    sent = creates_sent(console)
    assert len(sent) == 2 and len({r["idempotency_key"] for r in sent}) == 1
    assert sent[1]["ts"] < sent[0]["ts"] + sent[0]["ms"] / 1000  # both were in flight together
    assert len(new_ids(console, "slack", before)) == 1

    page.goto(console.collection_url() + "?provider=slack")
    expect(page.locator("table tbody tr")).to_have_count(len(before) + 1)


def test_create_answer_lost_after_commit_then_retry_makes_one_connector(signed_in: Page, console):
    page = signed_in
    before = ids_of(console, "google-drive")
    open_create_form(page, console)
    page.get_by_label("Folder IDs").fill(FINANCE_FOLDER_ID)
    page.get_by_label("Access token").fill("ya29.lost-answer-5678")
    console.sandbox.add_rule(method="POST", path_contains="/connectors", status=504, after_commit=True)
    create_button(page).click()

    error = page.get_by_role("alert").filter(has_text="The connector could not be created")
    expect(error).to_contain_text("it will not create a duplicate")
    expect(page.get_by_label("Folder IDs")).to_have_value(FINANCE_FOLDER_ID)
    expect(page.get_by_label("Access token")).to_have_value("")
    expect(page.get_by_text(re.compile(r"\(••••5678\) is kept"))).to_be_visible()
    assert len(new_ids(console, "google-drive", before)) == 1  # Aimable did create it

    create_button(page).click()
    expect(page.get_by_text("Google Drive connector created.")).to_be_visible()
    (created,) = new_ids(console, "google-drive", before)
    expect(page).to_have_url(re.compile(re.escape(created)))
    assert console.sandbox.credential(created) == {"access_token": "ya29.lost-answer-5678"}


def test_choose_scope_in_the_tree(signed_in: Page, console):
    page = signed_in
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name="Browse and choose scope").click()
    expect(page.get_by_role("heading", name="Choose what to sync")).to_be_visible()
    tree = page.get_by_role("tree")

    # Open Engineering: its children come from the server (htmx) into the same page. Engineering is ticked, so
    # they are synced with it: shown ticked, "included with Engineering" (issue 13), not as choices of their own.
    runbooks = tree.get_by_role("checkbox", name="Runbooks", exact=True)
    expect(runbooks).to_have_count(0)
    tree.get_by_text("Contents of Engineering", exact=True).click()
    expect(runbooks).to_be_visible()
    expect(runbooks).to_be_checked()
    expect(runbooks).to_be_disabled()
    expect(tree).to_contain_text("included with Engineering")

    # Open Marketing (not ticked): its folders are choices.
    campaigns = tree.get_by_role("checkbox", name="Campaigns", exact=True)
    tree.get_by_text("Contents of Marketing", exact=True).click()
    expect(campaigns).not_to_be_checked()

    diff = page.locator("#scope-diff")
    campaigns.check()
    expect(diff).to_contain_text("+ Campaigns")
    design = tree.get_by_role("checkbox", name="Design", exact=True)
    expect(design).to_be_checked()
    design.uncheck()
    expect(diff).to_contain_text("− Design")
    expect(diff).to_contain_text("3 folders after saving")

    page.get_by_role("button", name="Save scope").click()
    expect(page.get_by_text(re.compile(r"Scope saved: 3 folders"))).to_be_visible()
    scope = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Scope"))
    expect(scope.get_by_text(CAMPAIGNS_FOLDER_ID)).to_be_visible()
    expect(scope.get_by_text(DESIGN_FOLDER_ID)).to_have_count(0)
    assert console.sandbox.state.connectors[DRIVE_CONNECTOR_ID]["scope_config"] == {
        "folder_ids": [ENGINEERING_FOLDER_ID, ONBOARDING_FOLDER_ID, CAMPAIGNS_FOLDER_ID]
    }


def test_load_more_in_a_large_folder(signed_in: Page, console):
    page = signed_in
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID, "browse/"))
    archive = page.locator("details.tree-children").filter(has=page.get_by_text("Contents of Archive", exact=True))
    archive.get_by_text("Contents of Archive", exact=True).click()
    items = archive.get_by_role("treeitem")
    load_more = archive.get_by_role("button", name="Load more")
    expect(items).to_have_count(50)
    for shown in range(100, ARCHIVE_SIZE + 1, 50):
        load_more.click()
        expect(items).to_have_count(shown)
    expect(load_more).to_have_count(0)
    expect(items.first).to_contain_text("Weekly status 2021-01-04")
    expect(items.last).to_contain_text("Retrospective 2025-10-13")  # the 250th, 7 days apart


def test_pause_delete_and_see_it_in_the_audit_log(signed_in: Page, console):
    page = signed_in
    page.goto(console.connector_url(SLACK_CONNECTOR_ID))
    page.get_by_role("button", name="Edit connector").click()
    page.get_by_label("Paused").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("paused")
    assert console.sandbox.state.connectors[SLACK_CONNECTOR_ID]["status"] == "paused"

    page.get_by_role("button", name="Delete connector").click()
    expect(page.get_by_role("heading", name="Delete this Slack connector?")).to_be_visible()
    page.get_by_role("button", name="Delete connector").click()
    expect(page.get_by_text("Slack connector deleted.")).to_be_visible()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    expect(page.get_by_text(SLACK_CONNECTOR_ID)).to_have_count(0)
    assert SLACK_CONNECTOR_ID not in console.sandbox.state.connectors

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Connector ID").fill(SLACK_CONNECTOR_ID)
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Delete connector")  # newest first
    expect(rows.nth(1)).to_contain_text("Edit connector")
    for i in range(2):
        expect(rows.nth(i)).to_contain_text("alice")
        expect(rows.nth(i)).to_contain_text("OK")


def test_create_form_with_the_keyboard_only(signed_in: Page, console):
    page = signed_in
    before = ids_of(console, "google-drive")
    page.goto(console.create_url())
    expect(page.get_by_role("heading", name="New connector")).to_be_visible()

    def focused_id() -> str:
        return page.evaluate("document.activeElement && document.activeElement.id")

    for _ in range(40):  # Tab through the header and breadcrumbs to the first scope field
        page.keyboard.press("Tab")
        if focused_id() == "id_scope_folder_ids":
            break
    assert focused_id() == "id_scope_folder_ids"
    page.keyboard.type(FINANCE_FOLDER_ID)
    page.keyboard.press("Tab")
    assert focused_id() == "id_access_token"
    page.keyboard.type("ya29.keyboard-only")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Google Drive connector created.")).to_be_visible()
    (created,) = new_ids(console, "google-drive", before)
    assert console.sandbox.state.connectors[created]["scope_config"] == {"folder_ids": [FINANCE_FOLDER_ID]}
