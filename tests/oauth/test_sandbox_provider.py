"""The sandbox playing an OAuth provider: consent page, Allow/Deny, single-use codes, PKCE S256, each provider's
token shape, refresh; standard library only."""

import base64
import hashlib
import subprocess
import sys

import pytest
import requests

from tests.oauth.conftest import query

REDIRECT = "http://127.0.0.1:9/oauth/google-drive/callback/"
VERIFIER = "a" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(autouse=True)
def registered(sandbox_clean):
    """The client of these tests, registered with its one redirect URI (after the reset)."""
    sandbox_clean.register_oauth_client("cid", REDIRECT)
    return sandbox_clean


def authorize(sandbox, slug="google-drive", decision="allow", **extra):
    params = {"client_id": "cid", "redirect_uri": REDIRECT, "scope": "s1 s2", "state": "st-1", **extra}
    url = f"{sandbox.url}/oauth/{slug}/authorize"
    page = requests.get(url, params={**params, "response_type": "code"}, timeout=5)
    answer = requests.post(url, data={**params, "decision": decision}, allow_redirects=False, timeout=5)
    return page, answer


def token(sandbox, slug="google-drive", **data):
    body = {"grant_type": "authorization_code", "client_id": "cid", "redirect_uri": REDIRECT, **data}
    return requests.post(f"{sandbox.url}/oauth/{slug}/token", data=body, timeout=5)


def test_consent_page_and_allow(sandbox_clean):
    page, answer = authorize(sandbox_clean)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Google Drive (sandbox)" in page.text and ">Allow<" in page.text and ">Deny<" in page.text
    assert "<code>s1</code>" in page.text
    assert answer.status_code == 302
    params = query(answer.headers["Location"])
    assert answer.headers["Location"].startswith(REDIRECT) and params["state"] == "st-1" and params["code"]


def test_deny_sends_access_denied(sandbox_clean):
    _, answer = authorize(sandbox_clean, decision="deny")
    assert query(answer.headers["Location"]) == {"error": "access_denied", "state": "st-1"}


def test_the_page_escapes_what_it_shows(sandbox_clean):
    page, _ = authorize(sandbox_clean, client_id='<script>x</script>"')
    assert "<script>x" not in page.text


@pytest.mark.parametrize(
    "bad",
    [
        {"redirect_uri": "javascript:alert(1)"},
        {"client_id": ""},
        {"code_challenge": "x", "code_challenge_method": "plain"},
    ],
)
def test_bad_authorize_requests_get_an_error_page_not_a_redirect(sandbox_clean, bad):
    page, answer = authorize(sandbox_clean, **bad)
    assert page.status_code == 400 and answer.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"redirect_uri": "https://evil.example/steal"},  # another site
        {"redirect_uri": REDIRECT + "?next=https://evil.example/"},  # the registered one, changed
        {"redirect_uri": REDIRECT.replace("127.0.0.1", "localhost")},
        {"client_id": "not-registered"},
    ],
    ids=["other site", "other query", "other host", "unknown client"],
)
def test_only_a_registered_redirect_uri_of_the_client_gets_the_code(sandbox_clean, params):
    """The consent page, and its Allow posted straight to the sandbox, answer an error page: never a redirect."""
    page, answer = authorize(sandbox_clean, **params)
    assert page.status_code == 400 and answer.status_code == 400
    assert "Location" not in answer.headers and "Allow" not in page.text
    assert sandbox_clean.state.oauth["codes"] == {}


def test_clients_registered_at_start_survive_a_reset_and_others_do_not(sandbox_clean):
    from sandbox import SandboxServer

    with SandboxServer(port=0, quiet=True, oauth_clients={"console": [REDIRECT]}) as server:
        assert authorize(server, client_id="console")[1].status_code == 302
        server.register_oauth_client("later", REDIRECT)
        assert authorize(server, client_id="later")[1].status_code == 302
        server.reset()
        assert authorize(server, client_id="console")[1].status_code == 302
        assert authorize(server, client_id="later")[1].status_code == 400


def test_clients_are_registered_through_the_control_api(sandbox_clean):
    url = f"{sandbox_clean.url}/_sandbox/oauth-clients"
    other = "http://127.0.0.1:9/elsewhere/"
    assert requests.post(url, json={"client_id": "cid", "redirect_uri": other}, timeout=5).status_code == 201
    assert authorize(sandbox_clean, redirect_uri=other)[1].status_code == 302
    assert authorize(sandbox_clean)[1].status_code == 302  # the first one stays
    bad = requests.post(url, json={"client_id": "cid", "redirect_uri": "javascript:alert(1)"}, timeout=5)
    assert bad.status_code == 400


def test_code_is_single_use_and_google_shape(sandbox_clean):
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    first = token(sandbox_clean, code=code)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert body["scope"] == "s1 s2" and body["token_type"] == "Bearer"
    assert body["access_token"] in sandbox_clean.oauth_tokens()
    again = token(sandbox_clean, code=code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_pkce_s256_is_checked(sandbox_clean):
    code = query(
        authorize(sandbox_clean, code_challenge=CHALLENGE, code_challenge_method="S256")[1].headers["Location"]
    )["code"]
    assert token(sandbox_clean, code=code, code_verifier="b" * 50).status_code == 400
    code = query(
        authorize(sandbox_clean, code_challenge=CHALLENGE, code_challenge_method="S256")[1].headers["Location"]
    )["code"]
    assert token(sandbox_clean, code=code).status_code == 400  # no verifier at all
    code = query(
        authorize(sandbox_clean, code_challenge=CHALLENGE, code_challenge_method="S256")[1].headers["Location"]
    )["code"]
    assert token(sandbox_clean, code=code, code_verifier=VERIFIER).status_code == 200


def test_client_and_redirect_uri_must_match(sandbox_clean):
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    assert token(sandbox_clean, code=code, client_id="other").json()["error"] == "invalid_client"
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    assert token(sandbox_clean, code=code, redirect_uri="http://elsewhere/").json()["error"] == "invalid_grant"


def test_client_id_by_basic_auth(sandbox_clean):
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    answer = requests.post(
        f"{sandbox_clean.url}/oauth/google-drive/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=("cid", "secret"),
        timeout=5,
    )
    assert answer.status_code == 200


def test_slack_and_github_shapes_and_errors(sandbox_clean):
    code = query(authorize(sandbox_clean, "slack")[1].headers["Location"])["code"]
    slack = token(sandbox_clean, "slack", code=code).json()
    assert slack["ok"] is True and slack["access_token"].startswith("xoxb-") and slack["team"]["name"]
    assert slack["scope"] == "s1,s2" and "authed_user" in slack
    assert token(sandbox_clean, "slack", code=code).json() == {"ok": False, "error": "invalid_code"}

    code = query(authorize(sandbox_clean, "github")[1].headers["Location"])["code"]
    github = token(sandbox_clean, "github", code=code).json()
    assert set(github) == {"access_token", "token_type", "scope"}
    again = token(sandbox_clean, "github", code=code)
    assert again.status_code == 200 and again.json()["error"] == "bad_verification_code"


def test_refresh_token_grant(sandbox_clean):
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    first = token(sandbox_clean, code=code).json()
    renewed = requests.post(
        f"{sandbox_clean.url}/oauth/google-drive/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "cid"},
        timeout=5,
    ).json()
    assert renewed["access_token"] != first["access_token"] and renewed["refresh_token"] == first["refresh_token"]


def test_issued_tokens_are_accepted_as_connector_credentials(sandbox_clean):
    from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID

    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    issued = token(sandbox_clean, code=code).json()
    created = requests.post(
        f"{sandbox_clean.url}/v1/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors",
        json={
            "provider_slug": "google-drive",
            "credential": {"access_token": issued["access_token"], "refresh_token": issued["refresh_token"]},
        },
        headers={"Authorization": f"Bearer {sandbox_clean.admin_key}", "Idempotency-Key": "k-oauth-1"},
        timeout=5,
    )
    assert created.status_code == 201
    assert sandbox_clean.credential(created.json()["data"]["id"])["access_token"] == issued["access_token"]


def test_reset_forgets_codes_and_tokens(sandbox_clean):
    code = query(authorize(sandbox_clean)[1].headers["Location"])["code"]
    sandbox_clean.reset()
    assert token(sandbox_clean, code=code).status_code == 400
    assert sandbox_clean.oauth_tokens() == {}


def test_unknown_provider_and_method(sandbox_clean):
    assert requests.get(f"{sandbox_clean.url}/oauth/dropbox/authorize", timeout=5).status_code == 404
    assert requests.get(f"{sandbox_clean.url}/oauth/slack/token", timeout=5).status_code == 405


def test_the_sandbox_imports_neither_django_nor_the_client():
    code = (
        "import sys, sandbox, sandbox.oauth\n"
        "bad = [m for m in sys.modules if m.startswith(('django', 'authlib', 'connectors.aimable', 'requests'))]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
