"""All connectors in a real browser: search across collections by a Slack channel's name, the cells fill in from one
request, and the summary counts."""

import re

import pytest
from playwright.sync_api import Page, expect

from connectors import naming
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, SALES_COLLECTION_ID, SALES_SLACK_CONNECTOR_ID, SLACK_CONNECTOR_ID
from sandbox.tree import slack_channel_id

pytestmark = pytest.mark.django_db(transaction=True)


def remember_channel_names():
    for connector_id, collection_id, names in (
        (SLACK_CONNECTOR_ID, DEMO_COLLECTION_ID, ("engineering", "incidents")),
        (SALES_SLACK_CONNECTOR_ID, SALES_COLLECTION_ID, ("sales", "sales-emea")),
    ):
        naming.scope_names_remember(
            space_id=DEMO_SPACE_ID,
            collection_id=collection_id,
            connector_id=connector_id,
            names={slack_channel_id(n): f"#{n}" for n in names},
        )


def summary_count(page: Page, label: str):
    return page.locator("#overview-summary a", has_text=label).locator("strong")


def test_search_by_a_slack_channel_name_across_collections(signed_in: Page, console):
    remember_channel_names()
    page = signed_in
    cells = []
    page.on("request", lambda r: cells.append(r.url) if "/connectors/cells/" in r.url else None)
    page.get_by_role("link", name="All connectors").click()

    table = page.locator("table.overview-table")
    expect(table.locator("tbody tr")).to_have_count(6)  # every collection of both spaces
    expect(page.get_by_text("Loading…")).to_have_count(0)  # the cells filled in
    expect(summary_count(page, "Healthy")).to_have_text("4")
    expect(summary_count(page, "Needs re-auth")).to_have_text("1")
    expect(summary_count(page, "Paused")).to_have_text("1")
    assert len(cells) == 1  # one request for all rows

    # "/" focuses the search field; the channel's name finds its connector, in another collection than the first.
    page.locator("body").press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    search.fill("#sales-emea")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/connectors/\?q=%23sales-emea&"))  # the search is in the URL
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Acme Corp / Sales Playbooks")
    expect(rows.first).to_contain_text("#sales-emea")
    expect(rows.first.locator("td").nth(5)).to_contain_text("completed")  # its latest sync
    expect(rows.first.locator("td").nth(7)).to_have_text("On time")
    expect(summary_count(page, "Healthy")).to_have_text("1")

    # And the other one, by a channel of the first collection; a count filters the table.
    search.fill("#incidents")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Acme Corp / Engineering Wiki")
    page.goto(console.url("/connectors/"))
    page.locator("#overview-summary a", has_text="Paused").click()
    expect(page).to_have_url(re.compile(r"health=paused"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("GitHub")
