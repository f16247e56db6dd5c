"""The token request and each provider's token-response shape, with canned HTTP answers (responses): PKCE verifier
sent, client credentials and Accept header, Google/Slack/GitHub shapes, and 4xx/5xx/timeout failures."""

import logging
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.urls import reverse

from connectors import oauth
from connectors.providers import TokenResponseError, read_slack_token, read_standard_token
from tests.oauth.conftest import CREATE_URL, create_form_data, query, start

pytestmark = pytest.mark.django_db

AUTHORIZE = "https://provider.test/authorize"
TOKEN = "https://provider.test/token"


@pytest.fixture
def canned(settings, sandbox_api):
    """Every provider's endpoints at provider.test (canned); the sandbox stays reachable for the console."""
    settings.OAUTH_PROVIDERS = {
        slug: {
            "client_id": f"id-{slug}",
            "client_secret": f"secret-{slug}",
            "authorize_url": AUTHORIZE,
            "token_url": TOKEN,
        }
        for slug in ("google-drive", "slack", "github")
    }
    settings.OAUTH_TIMEOUT = 0.5
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(sandbox_api.url)
        yield mock


def flow(slug="google-drive", verifier="v" * 64):
    return {"provider": slug, "verifier": verifier, "redirect_uri": "http://testserver/cb/", "purpose": {}}


def body_of(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# ------------------------------------------------------------------------------------------ the request


def test_pkce_verifier_client_credentials_and_headers_are_sent(canned):
    canned.post(TOKEN, json={"access_token": "at-1", "token_type": "Bearer"})
    oauth.exchange(oauth.config_for("google-drive"), flow(), "the-code")
    [call] = canned.calls
    body = body_of(call)
    assert body["grant_type"] == "authorization_code"
    assert body["code"] == "the-code"
    assert body["code_verifier"] == "v" * 64
    assert body["redirect_uri"] == "http://testserver/cb/"
    assert body["client_id"] == "id-google-drive" and body["client_secret"] == "secret-google-drive"
    assert call.request.headers["Accept"] == "application/json"


def test_github_asks_for_json(canned):
    canned.post(TOKEN, json={"access_token": "gho_x", "token_type": "bearer", "scope": "repo,read:org"})
    oauth.exchange(oauth.config_for("github"), flow("github"), "c")
    assert canned.calls[0].request.headers["Accept"] == "application/json"


def test_no_verifier_when_the_provider_has_no_pkce(canned):
    canned.post(TOKEN, json={"ok": True, "access_token": "xoxb-1", "token_type": "bot"})
    oauth.exchange(oauth.config_for("slack"), flow("slack", verifier=None), "c")
    assert "code_verifier" not in body_of(canned.calls[0])


def test_view_sends_the_verifier_behind_the_challenge(admin_client, canned):
    import base64
    import hashlib

    response = start(admin_client, **create_form_data(admin_client))
    params = query(response["Location"])
    canned.post(TOKEN, json={"access_token": "at-view", "token_type": "Bearer"})
    admin_client.get(reverse("oauth_callback", args=["google-drive"]) + f"?code=c1&state={params['state']}")
    verifier = body_of(canned.calls[-1])["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == params["code_challenge"]


# ------------------------------------------------------------------------------------------ token shapes


def test_google_with_refresh_token_and_expiry(canned):
    canned.post(
        TOKEN,
        json={
            "access_token": "ya29.a",
            "expires_in": 3599,
            "refresh_token": "1//r",
            "scope": "https://www.googleapis.com/auth/drive.readonly",
            "token_type": "Bearer",
        },
    )
    credential, info = oauth.exchange(oauth.config_for("google-drive"), flow(), "c")
    assert credential["access_token"] == "ya29.a" and credential["refresh_token"] == "1//r"
    assert credential["expires_at"].endswith("Z") and set(credential) == {"access_token", "refresh_token", "expires_at"}
    assert info["scopes"] == ["https://www.googleapis.com/auth/drive.readonly"] and info["refreshable"]


def test_slack_bot_token_at_the_top_level(canned):
    canned.post(
        TOKEN,
        json={
            "ok": True,
            "access_token": "xoxb-bot",
            "token_type": "bot",
            "scope": "channels:read,channels:history",
            "bot_user_id": "U1",
            "app_id": "A1",
            "team": {"name": "Acme", "id": "T1"},
            "authed_user": {"id": "U2", "scope": "search:read", "access_token": "xoxp-user", "token_type": "user"},
        },
    )
    credential, info = oauth.exchange(oauth.config_for("slack"), flow("slack", None), "c")
    assert credential == {"access_token": "xoxb-bot"}
    assert info["account"] == "Acme" and info["scopes"] == ["channels:read", "channels:history"]


def test_slack_user_token_under_authed_user(canned):
    canned.post(
        TOKEN,
        json={
            "ok": True,
            "app_id": "A1",
            "team": {"name": "Acme", "id": "T1"},
            "authed_user": {
                "id": "U2",
                "scope": "channels:history,channels:read",
                "access_token": "xoxp-user",
                "token_type": "user",
            },
        },
    )
    credential, info = oauth.exchange(oauth.config_for("slack"), flow("slack", None), "c")
    assert credential == {"access_token": "xoxp-user"}
    assert info["scopes"] == ["channels:history", "channels:read"]


def test_slack_with_token_rotation(canned):
    canned.post(
        TOKEN,
        json={
            "ok": True,
            "access_token": "xoxe.xoxb-1",
            "token_type": "bot",
            "refresh_token": "xoxe-1-r",
            "expires_in": 43200,
            "team": {"name": "Acme"},
        },
    )
    credential, _ = oauth.exchange(oauth.config_for("slack"), flow("slack", None), "c")
    assert credential["refresh_token"] == "xoxe-1-r" and "expires_at" in credential


def test_slack_ok_false_is_an_error(canned):
    canned.post(TOKEN, json={"ok": False, "error": "invalid_code"})
    with pytest.raises(oauth.TokenError, match="invalid_code"):
        oauth.exchange(oauth.config_for("slack"), flow("slack", None), "c")


def test_github_oauth_app_token_has_no_refresh_or_expiry(canned):
    canned.post(
        TOKEN,
        json={
            "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "token_type": "bearer",
            "scope": "repo,read:org",
        },
    )
    credential, info = oauth.exchange(oauth.config_for("github"), flow("github"), "c")
    assert credential == {"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a"}
    assert info["scopes"] == ["repo", "read:org"] and not info["refreshable"]


def test_github_app_user_token_has_refresh_and_expiry(canned):
    canned.post(
        TOKEN,
        json={
            "access_token": "ghu_a",
            "expires_in": 28800,
            "refresh_token": "ghr_b",
            "refresh_token_expires_in": 15811200,
            "scope": "",
            "token_type": "bearer",
        },
    )
    credential, _ = oauth.exchange(oauth.config_for("github"), flow("github"), "c")
    assert credential["access_token"] == "ghu_a" and credential["refresh_token"] == "ghr_b"
    assert "expires_at" in credential


def test_github_error_in_a_200(canned):
    canned.post(TOKEN, json={"error": "bad_verification_code", "error_description": "The code passed is incorrect"})
    with pytest.raises(oauth.TokenError, match="bad_verification_code"):
        oauth.exchange(oauth.config_for("github"), flow("github"), "c")


def test_readers_refuse_an_answer_without_a_token():
    with pytest.raises(TokenResponseError):
        read_standard_token({"token_type": "bearer"})
    with pytest.raises(TokenResponseError):
        read_slack_token({"ok": True, "authed_user": {"id": "U1"}})


# ------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": 400, "json": {"error": "invalid_grant", "error_description": "Bad Request"}}, "(invalid_grant)"),
        ({"status": 401, "json": {"error": "invalid_client"}}, "(invalid_client)"),
        ({"status": 403, "body": "<html>forbidden</html>"}, "HTTP 403"),
        ({"status": 500, "json": {"error": "server_error"}}, "HTTP 500"),
        ({"status": 503, "body": "<html>Service Unavailable</html>"}, "HTTP 503"),
        ({"status": 200, "body": "access_token=form-encoded&scope=repo"}, "cannot read"),
        ({"body": requests.ConnectTimeout("connect timed out")}, "did not answer in time"),
        ({"body": requests.ReadTimeout("read timed out")}, "did not answer in time"),
        ({"body": requests.ConnectionError("refused")}, "could not be reached"),
    ],
)
def test_token_endpoint_failure_changes_nothing(admin_client, canned, answer, message, caplog):
    caplog.set_level(logging.DEBUG)
    response = start(admin_client, **create_form_data(admin_client, scope_folder_ids="STAYS"))
    state = query(response["Location"])["state"]
    canned.post(TOKEN, **answer)
    callback = admin_client.get(reverse("oauth_callback", args=["google-drive"]) + f"?code=c&state={state}")
    assert callback.status_code == 302 and callback["Location"].startswith(CREATE_URL + "?draft=")
    page = admin_client.get(callback["Location"]).content.decode()
    assert "Connecting with Google Drive failed" in page and message in page
    assert "Nothing was changed" in page
    assert "STAYS" in page  # the form is intact
    assert "Connected</strong>" not in page
    assert "pending_credentials" not in admin_client.session or not admin_client.session["pending_credentials"]
    assert "form-encoded" not in caplog.text


def test_a_timeout_is_set_on_the_token_request(canned, monkeypatch):
    seen = {}
    original = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    canned.post(TOKEN, json={"access_token": "a", "token_type": "Bearer"})
    oauth.exchange(oauth.config_for("google-drive"), flow(), "c")
    assert seen["timeout"] == 0.5


def test_token_endpoint_failure_on_reconnect_changes_nothing(admin_client, canned, sandbox_api):
    from sandbox import DISCONNECTED_CONNECTOR_ID
    from tests.oauth.conftest import detail_url

    before = sandbox_api.credential(DISCONNECTED_CONNECTOR_ID)
    response = start(admin_client, "google-drive", next=detail_url(DISCONNECTED_CONNECTOR_ID))
    state = query(response["Location"])["state"]
    canned.post(TOKEN, status=502, body="bad gateway")
    page = admin_client.get(
        reverse("oauth_callback", args=["google-drive"]) + f"?code=c&state={state}", follow=True
    ).content.decode()
    assert "Connecting with Google Drive failed" in page
    assert sandbox_api.credential(DISCONNECTED_CONNECTOR_ID) == before
    assert [r for r in sandbox_api.requests() if r["method"] == "PATCH"] == []
