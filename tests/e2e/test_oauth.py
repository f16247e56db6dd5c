"""Connect and Reconnect in a real browser.

Connect runs against an independent OAuth server, oauth2-mock-server (npm, installed by `make test` into .tools/):
New connector -> "Connect Google Drive" -> (the mock approves at once) -> back on the form, Connected, input kept ->
"Create connector" -> the sandbox received the access token the mock issued (a JWT signed by the mock).
Reconnect runs against the sandbox's own consent page ("Allow"), as in `make run`.
Without npm or the package the first test is skipped, except when CI is set: there it fails.
"""

import base64
import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from sandbox import DISCONNECTED_CONNECTOR_ID, FINANCE_FOLDER_ID
from tests.e2e.conftest import in_ci

ROOT = Path(__file__).resolve().parents[2]
MOCK_BIN = ROOT / ".tools" / "oauth2-mock-server" / "node_modules" / ".bin" / "oauth2-mock-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def oauth_mock_server():
    """oauth2-mock-server on a free 127.0.0.1 port; yields (base URL, the issuer its JWTs carry)."""
    if not MOCK_BIN.exists():
        reason = f"oauth2-mock-server is not installed ({MOCK_BIN.relative_to(ROOT)}): run `make oauth-mock` (npm)."
        if in_ci():
            pytest.fail("CI is set and " + reason, pytrace=False)
        pytest.skip(reason)
    port = _free_port()
    process = subprocess.Popen(
        [str(MOCK_BIN), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                discovery = requests.get(f"{url}/.well-known/openid-configuration", timeout=0.5)
                if discovery.ok:
                    issuer = discovery.json()["issuer"]
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                error = process.stderr.read().decode(errors="replace") if process.poll() is not None else ""
                pytest.fail(f"oauth2-mock-server did not start: {error}", pytrace=False)
            time.sleep(0.1)
        yield url, issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_connect_google_drive_then_create(signed_in: Page, console, settings, oauth_mock_server):
    mock_url, mock_issuer = oauth_mock_server
    settings.OAUTH_PROVIDERS = {
        "google-drive": {
            "client_id": "aimable-console-e2e",
            "client_secret": "e2e-secret",
            "authorize_url": f"{mock_url}/authorize",
            "token_url": f"{mock_url}/token",
            "scopes": None,
        }
    }
    page = signed_in
    before = {c["id"] for c in console.connectors("google-drive")}
    page.goto(console.collection_url())
    page.get_by_role("button", name="New connector").click()
    expect(page.get_by_role("heading", name="New connector")).to_be_visible()
    page.get_by_label("Folder IDs").fill("FOLDER-E2E-1\nFOLDER-E2E-2")
    page.get_by_text("Advanced scope settings").click()
    page.get_by_label("Other scope settings (JSON)").fill('{"include_shared": true}')

    page.get_by_role("button", name="Connect Google Drive").click()

    # The mock approved at once and sent the browser back: the same form, connected, input kept.
    expect(page).to_have_url(re.compile(r"/new-connector/\?draft="))
    expect(page.locator("#oauth-connected")).to_contain_text("Connected")
    expect(page.locator("#messages")).to_contain_text("Connected to Google Drive.")
    expect(page.get_by_label("Folder IDs")).to_have_value("FOLDER-E2E-1\nFOLDER-E2E-2")
    expect(page.get_by_label("Other scope settings (JSON)")).to_have_value('{"include_shared": true}')
    expect(page.get_by_label("Provider")).to_have_value("google-drive")
    html = page.content()

    page.get_by_role("button", name="Create connector").click()
    expect(page.get_by_text("Google Drive connector created.")).to_be_visible()

    [created] = [c["id"] for c in console.connectors("google-drive") if c["id"] not in before]
    credential = console.sandbox.credential(created)
    access_token = credential["access_token"]
    assert access_token and jwt_claims(access_token)["iss"] == mock_issuer  # issued by the mock server
    assert credential.get("refresh_token")  # the mock returns one
    assert credential.get("expires_at")
    assert access_token not in html and credential["refresh_token"] not in html
    assert access_token not in page.content()
    connector = console.sandbox.state.connectors[created]
    assert connector["scope_config"] == {"folder_ids": ["FOLDER-E2E-1", "FOLDER-E2E-2"], "include_shared": True}


def sandbox_oauth(console, settings):
    sandbox = console.sandbox
    settings.OAUTH_PROVIDERS = {
        "google-drive": {
            "client_id": "sandbox-console",
            "client_secret": "sandbox-secret",
            "authorize_url": f"{sandbox.url}/oauth/google-drive/authorize",
            "token_url": f"{sandbox.url}/oauth/google-drive/token",
            "scopes": None,
        }
    }
    sandbox.register_oauth_client("sandbox-console", console.url("/oauth/google-drive/callback/"))


def test_reconnect_at_the_sandbox_consent_page(signed_in: Page, console, settings):
    sandbox = console.sandbox
    sandbox_oauth(console, settings)
    page = signed_in
    page.goto(console.connector_url(DISCONNECTED_CONNECTOR_ID))
    expect(page.locator(".banner-warning", has_text="credential has expired or was revoked")).to_be_visible()
    # One Reconnect: at the top; the Syncs panel points to it, and offers no Retry.
    expect(page.get_by_role("button", name="Reconnect Google Drive")).to_have_count(1)
    syncs = page.locator("article", has=page.locator("#syncs-heading"))
    expect(syncs.get_by_text("Why it failed")).to_be_visible()
    expect(syncs.get_by_role("button", name="Retry")).to_have_count(0)
    expect(syncs.get_by_role("link", name="Give it a new credential first")).to_have_attribute(
        "href", re.compile("#reconnect$")
    )
    page.get_by_role("button", name="Reconnect Google Drive").click()

    expect(page.get_by_role("heading", name="Google Drive (sandbox)")).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_text("Reconnected with Google Drive")).to_be_visible()
    expect(page).to_have_url(console.connector_url(DISCONNECTED_CONNECTOR_ID))
    [issued] = sandbox.oauth_tokens()
    assert sandbox.credential(DISCONNECTED_CONNECTOR_ID)["access_token"] == issued
    assert sandbox.state.connectors[DISCONNECTED_CONNECTOR_ID]["status"] == "active"
    assert sandbox.state.connectors[DISCONNECTED_CONNECTOR_ID]["scope_config"] == {"folder_ids": [FINANCE_FOLDER_ID]}
    assert issued not in page.content()


def test_the_reconnect_link_button_is_usable_again_once_the_link_is_shown(signed_in: Page, console, settings):
    sandbox_oauth(console, settings)
    page = signed_in
    page.goto(console.connector_url(DISCONNECTED_CONNECTOR_ID))
    page.get_by_text("Share a reconnect link").click()
    button = page.get_by_role("button", name="Create a reconnect link")
    button.click()
    expect(page.locator("#share-link")).to_contain_text("/reconnect/")
    expect(button).to_be_enabled()
    expect(button).not_to_have_attribute("aria-busy", "true")
