"""The strict Content Security Policy in a real browser: no page reports a violation, and htmx still works
(swapping the provider's fields, polling a sync, expanding a folder, the scope diff, hx-confirm); "Connect" posts
a form that redirects to the provider, which form-action allows for the configured provider only."""

import pytest
from playwright.sync_api import Page, expect

from sandbox import DRIVE_CONNECTOR_ID
from tests.e2e.conftest import sign_in
from tests.oauth.conftest import sandbox_oauth_settings

REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCsp(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} on ${e.documentURI}`);
});
"""


@pytest.fixture
def violations(page: Page) -> list[str]:
    """Every CSP violation any document reports, through the event and through Chromium's console message."""
    found: list[str] = []
    page.expose_function("reportCsp", lambda text: found.append(text))
    page.add_init_script(REPORTER)
    page.on(
        "console",
        lambda message: found.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return found


def test_every_page_under_the_policy_with_htmx_working(violations, signed_in: Page, console, settings):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=3, fail_rate=0)
    response = page.goto(console.url("/"))
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp

    for path in ("/", "/audit/", "/settings/api-keys/", "/settings/oauth/", "/accounts/password/", "/no-such-page/"):
        page.goto(console.url(path))
        expect(page.locator("main")).to_be_visible()

    # The list: each row's latest sync comes in by htmx after the page.
    page.goto(console.collection_url())
    expect(page.locator(".latest-sync:not([aria-busy])")).to_have_count(4)

    # The create form: switching the provider swaps its fields (hx-get) without a reload.
    page.goto(console.create_url())
    page.get_by_label("Provider").select_option(label="Slack")
    expect(page.get_by_label("Channel IDs")).to_be_visible()

    # Browse: a folder opens by htmx, ticking a box shows the diff (hx-post).
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID, "browse/"))
    page.locator("details.tree-children summary").first.click()
    expect(page.locator("details.tree-children[open] ul li").first).to_be_visible()
    page.locator("#scope-form input[type=checkbox]").first.click()
    expect(page.locator("#scope-diff")).to_contain_text("Changes to save")

    # A sync: the detail page's panel loads, Sync now, the status polls to completed, no reload.
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    status = page.locator("#sync-status")
    expect(status.locator(".badge").first).to_have_text("running")
    page.evaluate("window.__sameDocument = true")
    expect(status.locator(".badge").first).to_have_text("completed", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True

    assert violations == []


def test_hx_confirm_needs_no_eval(violations, signed_in: Page, console):
    page = signed_in
    console.sandbox.set_faults(sync_seconds=600, fail_rate=0)
    page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
    page.get_by_role("button", name="Sync now").first.click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#sync-status").get_by_role("button", name="Cancel sync").click()
    expect(page.locator("#sync-status .badge").first).to_have_text("cancelled")
    assert violations == []


def test_connect_redirects_to_the_configured_provider_under_form_action(violations, signed_in: Page, console, settings):
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(console.sandbox.url)
    console.sandbox.register_oauth_client("console-google-drive", console.url("/oauth/google-drive/callback/"))
    page = signed_in
    response = page.goto(console.create_url())
    assert console.sandbox.url in response.headers["content-security-policy"]
    page.get_by_role("button", name="Connect Google Drive").click()
    # The sandbox's consent page: another origin, reached through the console's redirect.
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    assert page.url.startswith(console.sandbox.url)
    page.get_by_role("button", name="Allow").click()
    expect(page.locator("#oauth-connected")).to_contain_text("Connected")
    assert violations == []


def test_a_form_posting_elsewhere_is_blocked(violations, page: Page, console, user):
    """The policy is enforced: a form that redirects to an origin not in form-action goes nowhere."""
    sign_in(page, console, user.username)
    page.goto(console.url("/accounts/password/"))
    page.evaluate(
        "(url) => { const f = document.querySelector('main form'); f.action = url; f.requestSubmit(); }",
        console.sandbox.url + "/healthz",
    )
    page.wait_for_timeout(500)
    assert any("form-action" in v for v in violations), violations
    assert page.evaluate("location.pathname") == "/accounts/password/"
