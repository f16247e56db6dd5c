"""Issue 12's journey in a real browser: search all connectors by a Slack channel's name across collections, select
three, "Sync selected", watch the progress finish with per-item results, and see the summary counts change."""

import uuid

import pytest
import requests
from django.core.management import call_command
from playwright.sync_api import Page, expect

from connectors import naming
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    EMPTY_COLLECTION_ID,
    SALES_COLLECTION_ID,
    SALES_SLACK_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
)
from sandbox.tree import slack_channel_id

pytestmark = pytest.mark.django_db(transaction=True)
INCIDENTS = slack_channel_id("incidents")


def v1(console, method, path, **kwargs):
    url = f"{console.sandbox.url}/v1/spaces/{DEMO_SPACE_ID}/collections/{path}"
    headers = {"Authorization": f"Bearer {console.sandbox.admin_key}", "Idempotency-Key": str(uuid.uuid4())}
    response = requests.request(method, url, headers=headers, timeout=5, **kwargs)
    assert response.status_code < 300, response.text
    return response.json().get("data") if response.content else None


def three_collections_sync_incidents(console) -> list[tuple[str, str]]:
    """#incidents is synced into Engineering Wiki (seeded), Sales Playbooks and a third collection."""
    v1(
        console,
        "PATCH",
        f"{SALES_COLLECTION_ID}/connectors/{SALES_SLACK_CONNECTOR_ID}",
        json={"scope_config": {"channel_ids": [slack_channel_id("sales"), INCIDENTS]}},
    )
    created = v1(
        console,
        "POST",
        f"{EMPTY_COLLECTION_ID}/connectors",
        json={
            "provider_slug": "slack",
            "credential": {"access_token": "xoxb-x"},
            "scope_config": {"channel_ids": [INCIDENTS]},
        },
    )
    found = [
        (DEMO_COLLECTION_ID, SLACK_CONNECTOR_ID),
        (SALES_COLLECTION_ID, SALES_SLACK_CONNECTOR_ID),
        (EMPTY_COLLECTION_ID, created["id"]),
    ]
    for collection_id, connector_id in found:  # as a browse of each connector's channels would have
        naming.scope_names_remember(
            space_id=DEMO_SPACE_ID,
            collection_id=collection_id,
            connector_id=connector_id,
            names={INCIDENTS: "#incidents"},
        )
    return found


def count(page: Page, label: str):
    return page.locator("#overview-summary a", has_text=label).locator("strong")


def test_search_select_three_sync_selected_and_the_summary_changes(signed_in: Page, console):
    console.sandbox.set_faults(sync_seconds=60, fail_rate=0)
    found = three_collections_sync_incidents(console)
    page = signed_in
    page.get_by_role("link", name="All connectors").click()
    expect(count(page, "Running")).to_have_text("0")

    search = page.get_by_role("searchbox", name="Search")
    search.fill("#incidents")
    search.press("Enter")
    rows = page.locator("table.overview-table tbody tr")
    expect(rows).to_have_count(3)
    for collection in ("Engineering Wiki", "Sales Playbooks", "Empty Collection"):
        expect(page.locator("table.overview-table")).to_contain_text(collection)

    for collection_id, connector_id in found:
        page.locator(f'input[name="item"][value="{DEMO_SPACE_ID}:{collection_id}:{connector_id}"]').check()
    page.get_by_role("button", name="Sync selected").click()
    progress = page.locator("#bulk-progress")
    expect(progress).to_contain_text("0 of 3")

    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)  # the worker's run

    expect(progress).to_contain_text("3 of 3")
    expect(progress.locator(".badge", has_text="started")).to_have_count(3)

    page.goto(console.url("/connectors/"))
    expect(page.get_by_text("Loading…")).to_have_count(0)
    expect(count(page, "Running")).to_have_text("3")
