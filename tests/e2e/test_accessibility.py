"""Accessibility in a real browser: axe-core (bundled by axe-playwright-python, used only by these tests) on every
main page, in the light and the dark theme, finds no "serious" or "critical" violation.

Each (page, theme) is its own test. The theme is the system's (emulated); the user keeps the default "Auto", so the
console's and Pico's dark colours come from prefers-color-scheme, as for most users. A failure lists every violation
with the CSS targets of its nodes.
"""

from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import Page, expect

from connectors import bulk
from connectors.alerts import channels
from connectors.alerts.models import Alert, Channel
from connectors.alerts.services import watch_add
from connectors.models import AuditEvent, BulkAction
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    GITHUB_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
)

from .conftest import Console

THEMES = ("light", "dark")
BLOCKING = ("serious", "critical")
axe = Axe()


def settle(page: Page) -> None:
    """Wait for what htmx loads after the page (the overview's rows, the list's cells, the syncs panel, the chart)."""
    page.wait_for_load_state("networkidle")
    # A folder's children load when it is opened: a closed one keeps its (hidden) "Loading…" placeholder.
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.htmx-request, [aria-busy=true]')].some((e) => e.checkVisibility())"
    )


def run_worker_once() -> None:
    """The worker's task runner in this thread (see test_bulk: the live server shares this SQLite connection)."""
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def some_history(user) -> None:
    """Something on the Notifications page and in the audit log: a channel, a watch with an unread alert, and a
    change that worked and one that failed."""
    channels.channel_add(user=user, kind=Channel.Kind.EMAIL, target="ops@example.com")
    watch = watch_add(
        user=user,
        scope="connector",
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        label="Google Drive connector",
    )
    Alert.objects.create(
        user=user,
        watch=watch,
        kind=Alert.Kind.SYNC_FAILED,
        dedupe_key="a11y",
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        label="Google Drive connector",
        reason="invalid_grant",
        message="The Google Drive connector's sync failed.",
    )
    common = {"user": user, "username": user.username, "space_id": DEMO_SPACE_ID, "collection_id": DEMO_COLLECTION_ID}
    AuditEvent.objects.create(
        **common,
        action=AuditEvent.Action.CONNECTOR_UPDATE,
        connector_id=DRIVE_CONNECTOR_ID,
        provider_slug="google-drive",
        changes={"name": {"from": "Drive", "to": "Team Drive"}},
    )
    AuditEvent.objects.create(
        **common,
        action=AuditEvent.Action.SYNC_TRIGGER,
        connector_id=GITHUB_CONNECTOR_ID,
        provider_slug="github",
        outcome=AuditEvent.Outcome.ERROR,
        error="Connector is paused",
    )


def open_sign_in(page: Page, console: Console, user) -> None:
    page.goto(console.url("/accounts/login/"))


def open_new_connector(page: Page, console: Console, user) -> None:
    page.goto(console.create_url())
    page.get_by_role("button", name="Create connector").click()  # nothing filled in: errors
    expect(page.locator(".field-error").first).to_be_visible()


def open_sync(page: Page, console: Console, user) -> None:
    with console.sandbox.state.lock:
        syncs = sorted(console.sandbox.state.syncs_of(DRIVE_CONNECTOR_ID), key=lambda s: s["status"] != "failed")
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID, f"syncs/{syncs[0]['id']}/"))


def open_bulk_action(page: Page, console: Console, user) -> None:
    targets = [
        bulk.Target(DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id)
        for connector_id in (DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID, GITHUB_CONNECTOR_ID)
    ]
    action = bulk.bulk_start(user=user, kind=BulkAction.Kind.SYNC, items=targets)
    run_worker_once()
    page.goto(console.url(f"/connectors/bulk/{action.pk}/"))
    expect(page.locator("#bulk-progress")).to_contain_text("3 of 3")


def goto(path: str | Callable[[Console], str]) -> Callable[[Page, Console, object], None]:
    def open_page(page: Page, console: Console, user) -> None:
        page.goto(path(console) if callable(path) else console.url(path))

    return open_page


PAGES: dict[str, Callable[[Page, Console, object], None]] = {
    "sign-in": open_sign_in,
    "home": goto("/"),
    "all-connectors": goto("/connectors/"),
    "connector-list": goto(lambda c: c.collection_url()),
    "connector": goto(lambda c: c.connector_url(DRIVE_CONNECTOR_ID)),
    "connector-disconnected": goto(lambda c: c.connector_url(DISCONNECTED_CONNECTOR_ID)),
    "new-connector-with-errors": open_new_connector,
    "edit": goto(lambda c: c.connector_url(DRIVE_CONNECTOR_ID, "edit/")),
    "delete": goto(lambda c: c.connector_url(DRIVE_CONNECTOR_ID, "delete/")),
    "browse": goto(lambda c: c.connector_url(DRIVE_CONNECTOR_ID, "browse/")),
    "sync-history": goto(lambda c: c.connector_url(DRIVE_CONNECTOR_ID, "syncs/")),
    "sync": open_sync,
    "audit-log": goto("/audit/"),
    "api-key": goto("/settings/api-keys/"),
    "notifications": goto("/notifications/"),
    "team": goto("/team/"),
    "bulk-action": open_bulk_action,
    "password": goto("/accounts/password/"),
}


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} nodes)")
        for node in v["nodes"][:8]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:240]
            lines.append(f"    {node['target']}  {summary}")
    return "\n".join(lines)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("page_name", list(PAGES))
def test_no_serious_or_critical_axe_violations(
    request, page: Page, console: Console, user, other_user, page_name, theme
):
    """other_user is there for the Team page: a second member, with its role and Deactivate controls."""
    page.emulate_media(color_scheme=theme)
    if page_name != "sign-in":
        user.is_staff = True  # the Team page is for staff
        user.save(update_fields=["is_staff"])
        some_history(user)
        page = request.getfixturevalue("signed_in")
    PAGES[page_name](page, console, user)
    settle(page)

    results = axe.run(page).response
    violations = results["violations"]
    # What axe could not decide counts too (an aria-describedby naming a missing id lands there), except colour
    # contrast, which it cannot compute over Pico's select arrows and input backgrounds (background images).
    unsure = [r for r in results["incomplete"] if r["id"] != "color-contrast"]
    blocking = [v for v in violations + unsure if v["impact"] in BLOCKING]
    assert not blocking, f"{page_name} ({theme}):\n{describe(blocking)}\n\nall:\n{describe(violations)}"
