"""Dark mode and phones in a real browser: "Auto" follows the system, the top bar's Theme button keeps a choice per
user (across pages and sign-ins), and at 390 px no main page scrolls sideways and the main tables become cards.

``SCREENSHOTS=1`` also writes the light and dark screenshots of the main pages into docs/screenshots/.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sandbox import DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID
from tests.conftest import store_key

from .conftest import sign_in

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DARK_BACKGROUND = "rgb(19, 23, 31)"  # Pico's dark --pico-background-color
LIGHT_BACKGROUND = "rgb(255, 255, 255)"


def background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).backgroundColor")


def theme_attribute(page: Page):
    return page.evaluate("document.documentElement.getAttribute('data-theme')")


def main_pages(console) -> dict[str, str]:
    return {
        "home": console.url("/"),
        "overview": console.url("/connectors/"),
        "connector-list": console.collection_url(),
        "connector": console.connector_url(DRIVE_CONNECTOR_ID),
        "sync-history": console.connector_url(DRIVE_CONNECTOR_ID, "syncs/"),
        "notifications": console.url("/notifications/"),
        "audit-log": console.url("/audit/"),
        "api-key": console.url("/settings/api-keys/"),
        "password": console.url("/accounts/password/"),
    }


# What sticks out past the right edge: named in the failure message.
WIDE = """() => Array.from(document.querySelectorAll('body *'))
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .slice(0, 5).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def settle(page: Page) -> None:
    """Wait for the parts htmx loads after the page (the overview's rows, the list's cells, the syncs panel)."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('.htmx-request, [aria-busy=true]')")


def test_auto_follows_the_system_setting(signed_in: Page, console):
    page = signed_in
    page.emulate_media(color_scheme="dark")
    page.goto(console.url("/"))
    assert theme_attribute(page) is None  # no data-theme: Pico follows prefers-color-scheme
    assert background(page) == DARK_BACKGROUND
    expect(page.get_by_role("button", name="Theme: Auto")).to_be_visible()
    page.emulate_media(color_scheme="light")
    assert background(page) == LIGHT_BACKGROUND


def test_the_theme_is_kept_per_user_across_pages_and_sign_ins(signed_in: Page, console, user, other_user):
    page = signed_in
    page.emulate_media(color_scheme="dark")
    page.goto(console.collection_url())
    page.get_by_role("button", name="Theme: Auto").click()
    expect(page.get_by_role("button", name="Theme: Light")).to_be_visible()
    assert page.url == console.collection_url()  # back on the page the button was pressed on
    assert theme_attribute(page) == "light" and background(page) == LIGHT_BACKGROUND  # the choice beats the system
    page.get_by_role("button", name="Theme: Light").click()
    expect(page.get_by_role("button", name="Theme: Dark")).to_be_visible()

    page.emulate_media(color_scheme="light")
    page.goto(console.url("/audit/"))
    assert theme_attribute(page) == "dark" and background(page) == DARK_BACKGROUND

    page.get_by_role("button", name=re.compile("Sign out")).click()
    sign_in(page, console, user.username)
    assert theme_attribute(page) == "dark"

    # Another user in the same browser keeps their own (none yet: Auto).
    page.get_by_role("button", name=re.compile("Sign out")).click()
    store_key(other_user, console.sandbox.admin_key)
    sign_in(page, console, other_user.username)
    assert theme_attribute(page) is None
    expect(page.get_by_role("button", name="Theme: Auto")).to_be_visible()


def test_no_main_page_scrolls_sideways_on_a_phone(signed_in: Page, console):
    page = signed_in
    page.set_viewport_size(PHONE)
    for name, url in main_pages(console).items():
        page.goto(url)
        settle(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} is {width} px wide: {page.evaluate(WIDE)}"
        sign_out = page.get_by_role("button", name=re.compile("Sign out"))
        expect(sign_out).to_be_in_viewport()
        box = sign_out.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
        expect(page.get_by_role("link", name="Password")).to_be_in_viewport()


@pytest.mark.parametrize(
    ("page_name", "label"),
    [("connector-list", "Latest sync"), ("overview", "Latest sync"), ("sync-history", "Records"), ("audit-log", "Who")],
)
def test_the_main_tables_become_cards_on_a_phone(signed_in: Page, console, page_name, label):
    page = signed_in
    if page_name == "audit-log":  # something to show
        page.goto(console.connector_url(SLACK_CONNECTOR_ID))
        page.get_by_role("button", name=re.compile("Sync now")).first.click()
        expect(page.locator("#sync-status")).to_be_visible()
    page.set_viewport_size(PHONE)
    page.goto(main_pages(console)[page_name])
    settle(page)
    table = page.locator("table.cards")
    row = table.locator("tbody tr").first
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
    expect(table.locator("thead")).not_to_be_in_viewport()
    cell = row.locator(f"td[data-label='{label}']")
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") == f'"{label}"'

    page.set_viewport_size({"width": 1280, "height": 900})
    assert row.evaluate("tr => getComputedStyle(tr).display") == "table-row"
    expect(table.locator("thead th").first).to_be_visible()


@pytest.mark.skipif(not os.environ.get("SCREENSHOTS"), reason="SCREENSHOTS=1 writes docs/screenshots/")
def test_screenshots_of_the_main_pages_in_both_themes(signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(SLACK_CONNECTOR_ID))
    page.get_by_role("button", name=re.compile("Sync now")).first.click()  # a running sync on the list
    shots = {
        "home": console.url("/"),
        "connector-list": console.collection_url(),
        "connector": console.connector_url(DRIVE_CONNECTOR_ID),
        "notifications": console.url("/notifications/"),
        "audit-log": console.url("/audit/"),
    }
    for number, scheme in ((60, "light"), (61, "dark")):
        page.emulate_media(color_scheme=scheme)  # the user keeps "Auto": the system's setting decides
        for name, url in shots.items():
            page.goto(url)
            settle(page)
            page.screenshot(path=str(SHOTS / f"{number}-{name}-{scheme}.png"), full_page=True)
    page.set_viewport_size(PHONE)
    for number, scheme in ((62, "light"), (63, "dark")):
        page.emulate_media(color_scheme=scheme)
        for name in ("connector-list", "audit-log"):
            page.goto(shots[name])
            settle(page)
            page.screenshot(path=str(SHOTS / f"{number}-{name}-phone-{scheme}.png"), full_page=True)
