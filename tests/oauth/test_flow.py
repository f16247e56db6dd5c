"""Connect (create form) and Reconnect (detail page) against the sandbox playing the provider, over real HTTP:
state used once, PKCE S256, cancel, mismatch, replay, no open redirect, tokens never in a page or a log line."""

import logging

import pytest
from django.urls import reverse

from connectors import oauth
from connectors.models import AuditEvent
from sandbox import (
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    EMPTY_COLLECTION_ID,
    SLACK_CONNECTOR_ID,
)
from tests.oauth.conftest import (
    CREATE_URL,
    callback_path,
    create_form_data,
    decide,
    detail_url,
    query,
    start,
)
from tests.views.helpers import connectors_in, spy_on_upstream

pytestmark = pytest.mark.django_db


def connect(client, slug="google-drive", decision="allow", **fields):
    """Press "Connect <provider>" on the create form and answer at the sandbox; returns the callback path."""
    response = start(client, slug, **create_form_data(client, slug, **fields))
    assert response.status_code == 302
    return callback_path(decide(response["Location"], decision))


def all_issued(sandbox):
    return list(sandbox.oauth_tokens())


# ------------------------------------------------------------------------------------------ the Connect button


def test_no_client_id_no_connect_button(admin_client, settings):
    settings.OAUTH_PROVIDERS = {"google-drive": {"client_id": ""}}
    page = admin_client.get(CREATE_URL).content.decode()
    assert "Connect Google Drive" not in page
    assert 'name="access_token"' in page  # the manual token fields stay


def test_connect_button_per_provider(admin_client, oauth_sandbox):
    for slug, name in (("google-drive", "Google Drive"), ("slack", "Slack"), ("github", "GitHub")):
        page = admin_client.get(CREATE_URL + f"?provider={slug}").content.decode()
        assert f"Connect {name}</button>" in page
        assert f'formaction="{reverse("oauth_start", args=[slug])}"' in page


def test_connect_button_swaps_with_the_provider_htmx(admin_client, oauth_sandbox):
    partial = admin_client.get(CREATE_URL + "?provider=slack", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="provider-fields")
    assert "Connect Slack" in partial.content.decode()


# ------------------------------------------------------------------------------------------ the authorize URL


def test_authorize_url_has_state_pkce_s256_and_provider_params(admin_client, oauth_sandbox):
    response = start(admin_client, "google-drive", **create_form_data(admin_client))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{oauth_sandbox.url}/oauth/google-drive/authorize?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == "console-google-drive"
    assert params["redirect_uri"] == "http://testserver/oauth/google-drive/callback/"
    assert params["scope"] == "https://www.googleapis.com/auth/drive.readonly"
    assert params["access_type"] == "offline" and params["prompt"] == "consent"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 20
    # state and verifier are kept server-side only
    flows = admin_client.session["oauth_flows"]
    assert list(flows) == [params["state"]]
    assert flows[params["state"]]["verifier"] not in url


def test_slack_scopes_are_comma_separated_and_no_pkce(admin_client, oauth_sandbox):
    params = query(start(admin_client, "slack", **create_form_data(admin_client, "slack"))["Location"])
    assert params["scope"] == "channels:history,channels:read,groups:history,groups:read"
    assert "code_challenge" not in params


def test_start_needs_post(admin_client, oauth_sandbox):
    assert admin_client.get(reverse("oauth_start", args=["google-drive"]) + f"?next={CREATE_URL}").status_code == 405


def test_start_needs_csrf(client, user, oauth_sandbox):
    from django.test import Client

    from tests.conftest import store_key

    store_key(user, oauth_sandbox.admin_key)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(reverse("oauth_start", args=["google-drive"]), {"next": CREATE_URL}).status_code == 403


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/audit/",
        "",
        "javascript:alert(1)",
        "/spaces/not-a-uuid/collections/x/connectors/new/",
    ],
)
def test_no_open_redirect(admin_client, oauth_sandbox, next_url):
    response = start(admin_client, "google-drive", **create_form_data(admin_client, next=next_url))
    assert response.status_code == 400
    assert "oauth_flows" not in admin_client.session


def test_unknown_provider_is_404(admin_client, oauth_sandbox):
    assert start(admin_client, "dropbox", next=CREATE_URL).status_code == 404


def test_start_without_client_id_goes_back_with_the_form(admin_client, settings, sandbox_api):
    settings.OAUTH_PROVIDERS = {}
    response = start(admin_client, "google-drive", **create_form_data(admin_client, scope_folder_ids="F1"))
    assert response.status_code == 302 and "draft=" in response["Location"]
    page = admin_client.get(response["Location"]).content.decode()
    assert "not set up on this console" in page and "F1" in page


# ------------------------------------------------------------------------------------------ Connect -> Create


def test_connect_then_create_sends_the_captured_credential(admin_client, oauth_sandbox):
    callback = connect(
        admin_client,
        scope_folder_ids="FOLDER-A\nFOLDER-B",
        scope_extra='{"include_shared": true}',
        name="Finance archive",
        description="Quarterly reports",
    )
    assert all_issued(oauth_sandbox) == []  # a token is issued only when the console exchanges the code
    response = admin_client.get(callback)
    assert response.status_code == 302
    [issued] = all_issued(oauth_sandbox)
    back = response["Location"]
    assert back.startswith(CREATE_URL + "?draft=")
    assert issued not in back

    page = admin_client.get(back).content.decode()
    assert "Connected" in page and "drive.readonly" in page
    assert "FOLDER-A\nFOLDER-B" in page and "include_shared" in page  # the form as it was left
    assert 'value="Finance archive"' in page and "Quarterly reports" in page  # the name and description too
    assert 'value="google-drive" selected' in page
    assert issued not in page and issued[-4:] not in page

    data = create_form_data(admin_client)  # a fresh GET would give a new key: use the restored form's own
    from tests.views.helpers import idempotency_token

    data.update(
        idempotency_token=idempotency_token(admin_client.get(back)),
        scope_folder_ids="FOLDER-A\nFOLDER-B",
        scope_extra='{"include_shared": true}',
    )
    created = admin_client.post(CREATE_URL, data)
    assert created.status_code == 302, created.content.decode()[:2000]
    [connector] = connectors_in(oauth_sandbox, EMPTY_COLLECTION_ID)
    credential = oauth_sandbox.credential(connector["id"])
    assert credential["access_token"] == issued
    assert credential["refresh_token"].startswith("1//sandbox-")
    assert credential["expires_at"].endswith("Z")
    assert connector["scope_config"] == {"folder_ids": ["FOLDER-A", "FOLDER-B"], "include_shared": True}
    assert connector["provider_slug"] == "google-drive"


def test_the_restored_form_keeps_the_same_idempotency_key(admin_client, oauth_sandbox):
    from tests.views.helpers import idempotency_token

    first = admin_client.get(CREATE_URL)
    data = create_form_data(admin_client)
    data["idempotency_token"] = idempotency_token(first)
    callback = callback_path(decide(start(admin_client, **data)["Location"]))
    back = admin_client.get(callback)["Location"]
    assert idempotency_token(admin_client.get(back)) == idempotency_token(first)


def test_each_provider_connects_against_the_sandbox(admin_client, oauth_sandbox):
    from tests.views.helpers import idempotency_token

    for slug, prefix, refresh in (("slack", "xoxb-sandbox-", True), ("github", "gho_sandbox", False)):
        callback = connect(admin_client, slug)
        back = admin_client.get(callback)["Location"]
        page = admin_client.get(back).content.decode()
        assert "Connected" in page
        data = create_form_data(admin_client, slug)
        data["idempotency_token"] = idempotency_token(admin_client.get(back))
        assert admin_client.post(CREATE_URL, data).status_code == 302
        [connector] = [c for c in connectors_in(oauth_sandbox, EMPTY_COLLECTION_ID) if c["provider_slug"] == slug]
        credential = oauth_sandbox.credential(connector["id"])
        assert credential["access_token"].startswith(prefix)
        assert credential["access_token"] in oauth_sandbox.oauth_tokens()
        assert ("refresh_token" in credential) is refresh
        assert ("expires_at" in credential) is refresh


def test_connected_state_follows_the_provider_switch_htmx(admin_client, oauth_sandbox):
    from tests.views.helpers import idempotency_token

    back = admin_client.get(connect(admin_client, "google-drive"))["Location"]
    token = idempotency_token(admin_client.get(back))
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "provider-fields"}
    slack = admin_client.get(CREATE_URL, {"provider": "slack", "idempotency_token": token}, **htmx)
    assert "Connect Slack</button>" in slack.content.decode() and "Connected</strong>" not in slack.content.decode()
    drive = admin_client.get(CREATE_URL, {"provider": "google-drive", "idempotency_token": token}, **htmx)
    assert "Connected</strong> to Google Drive" in drive.content.decode()


def test_connected_credential_is_not_used_for_another_provider(admin_client, oauth_sandbox):
    from tests.views.helpers import idempotency_token

    back = admin_client.get(connect(admin_client, "google-drive"))["Location"]
    data = create_form_data(admin_client, "slack")
    data["idempotency_token"] = idempotency_token(admin_client.get(back))
    response = admin_client.post(CREATE_URL, data)  # switched to Slack and pressed "Create connector"
    assert response.status_code == 200
    assert "Enter an access token, or connect with the provider." in response.content.decode()
    assert connectors_in(oauth_sandbox, EMPTY_COLLECTION_ID) == []


# ------------------------------------------------------------------------------------------ failures


def test_cancel_comes_back_calmly_with_the_form_intact(admin_client, oauth_sandbox):
    callback = connect(admin_client, decision="deny", scope_folder_ids="KEEP-ME")
    assert "error=access_denied" in callback
    response = admin_client.get(callback, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert "You cancelled at Google Drive; nothing was connected. Your form is as you left it." in page
    assert "KEEP-ME" in page
    assert "Connected</strong>" not in page and "Connect Google Drive</button>" in page
    assert all_issued(oauth_sandbox) == []


def test_provider_error_other_than_cancel(admin_client, oauth_sandbox):
    response = start(admin_client, **create_form_data(admin_client))
    state = query(response["Location"])["state"]
    page = admin_client.get(
        reverse("oauth_callback", args=["google-drive"]) + f"?error=invalid_scope<b>&state={state}", follow=True
    ).content.decode()
    assert "did not grant access (invalid_scopeb)" in page


def test_state_is_single_use_replay_is_refused(admin_client, oauth_sandbox):
    callback = connect(admin_client)
    assert admin_client.get(callback).status_code == 302
    pending_before = dict(admin_client.session.get("pending_credentials", {}))
    replay = admin_client.get(callback)
    assert replay.status_code == 400
    assert "does not match a sign-in started here, or it was already used" in replay.content.decode()
    assert admin_client.session.get("pending_credentials", {}) == pending_before


def test_state_mismatch_changes_nothing(admin_client, oauth_sandbox):
    callback = connect(admin_client)
    code = query(callback)["code"]
    bad = admin_client.get(reverse("oauth_callback", args=["google-drive"]) + f"?code={code}&state=forged")
    assert bad.status_code == 400
    assert "pending_credentials" not in admin_client.session
    missing = admin_client.get(reverse("oauth_callback", args=["google-drive"]) + f"?code={code}")
    assert missing.status_code == 400 and "carried no state" in missing.content.decode()
    # the genuine callback still works: a forged state did not consume the real one
    assert admin_client.get(callback).status_code == 302


def test_state_for_another_provider_is_refused(admin_client, oauth_sandbox):
    callback = connect(admin_client, "google-drive")
    other = callback.replace("/oauth/google-drive/", "/oauth/github/")
    assert admin_client.get(other).status_code == 400
    assert admin_client.get(callback).status_code == 400  # used once, even by the wrong door


def test_state_of_another_session_is_refused(admin_client, oauth_sandbox, other_user):
    from django.test import Client

    callback = connect(admin_client)
    thief = Client()
    thief.force_login(other_user)
    assert thief.get(callback).status_code == 400


def test_expired_flow_is_refused(admin_client, oauth_sandbox, monkeypatch):
    callback = connect(admin_client)
    monkeypatch.setattr(oauth, "FLOW_MAX_AGE", -1)
    response = admin_client.get(callback)
    assert response.status_code == 400


def test_wrong_pkce_verifier_is_refused_by_the_provider(admin_client, oauth_sandbox):
    callback = connect(admin_client)
    session = admin_client.session
    flows = session["oauth_flows"]
    for flow in flows.values():
        flow["verifier"] = "x" * 64
    session["oauth_flows"] = flows
    session.save()
    page = admin_client.get(callback, follow=True).content.decode()
    assert "Connecting with Google Drive failed: Google Drive refused the sign-in (invalid_grant)" in page
    assert "Connected</strong>" not in page


# ------------------------------------------------------------------------------------------ Reconnect


def test_detail_page_offers_reconnect_prominently_when_disconnected(admin_client, oauth_sandbox):
    page = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    assert "Reconnect Google Drive</button>" in page
    assert page.index("Reconnect Google Drive") < page.index('aria-label="Connector actions"')
    active = admin_client.get(detail_url(DRIVE_CONNECTOR_ID)).content.decode()
    assert "Reconnect Google Drive</button>" in active


def test_no_reconnect_button_without_client_id(admin_client, settings, sandbox_api):
    settings.OAUTH_PROVIDERS = {}
    assert "Reconnect" not in admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()


def test_reconnect_patches_only_the_credential_and_keeps_the_scope(admin_client, oauth_sandbox, monkeypatch):
    before = dict(oauth_sandbox.state.connectors[DISCONNECTED_CONNECTOR_ID])
    response = start(admin_client, "google-drive", next=detail_url(DISCONNECTED_CONNECTOR_ID))
    assert response.status_code == 302
    callback = callback_path(decide(response["Location"]))
    calls = spy_on_upstream(monkeypatch)
    back = admin_client.get(callback)
    assert back.status_code == 302 and back["Location"] == detail_url(DISCONNECTED_CONNECTOR_ID)

    [issued] = all_issued(oauth_sandbox)
    credential = oauth_sandbox.credential(DISCONNECTED_CONNECTOR_ID)
    assert credential["access_token"] == issued and "refresh_token" in credential
    after = oauth_sandbox.state.connectors[DISCONNECTED_CONNECTOR_ID]
    assert after["scope_config"] == before["scope_config"]
    assert after["status"] == "active"
    [patch] = [c for c in calls if c["method"] == "PATCH"]
    assert list(patch["json"]) == ["credential"]

    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIAL_UPDATE)
    assert event.connector_id == DISCONNECTED_CONNECTOR_ID and event.outcome == AuditEvent.Outcome.OK
    assert event.changes == {"credential": "replaced"}
    page = admin_client.get(back["Location"]).content.decode()
    assert "Reconnected with Google Drive" in page and issued not in page


def test_reconnect_cancelled_changes_nothing(admin_client, oauth_sandbox):
    before = oauth_sandbox.credential(DISCONNECTED_CONNECTOR_ID)
    response = start(admin_client, "google-drive", next=detail_url(DISCONNECTED_CONNECTOR_ID))
    page = admin_client.get(callback_path(decide(response["Location"], "deny")), follow=True).content.decode()
    assert "The connector keeps its current credential." in page
    assert oauth_sandbox.credential(DISCONNECTED_CONNECTOR_ID) == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CREDENTIAL_UPDATE).exists()


def test_reconnect_with_another_providers_button_is_refused(admin_client, oauth_sandbox):
    response = start(admin_client, "github", next=detail_url(SLACK_CONNECTOR_ID))
    assert response.status_code == 400
    assert "not a GitHub connector" in response.content.decode()


def test_reconnect_upstream_refusal_is_reported(admin_client, oauth_sandbox):
    response = start(admin_client, "google-drive", next=detail_url(DISCONNECTED_CONNECTOR_ID))
    callback = callback_path(decide(response["Location"]))
    before = oauth_sandbox.credential(DISCONNECTED_CONNECTOR_ID)
    oauth_sandbox.add_rule(method="PATCH", path_contains="/connectors/", status=503, times=1)
    page = admin_client.get(callback, follow=True).content.decode()
    assert "did not take the new credential" in page
    assert oauth_sandbox.credential(DISCONNECTED_CONNECTOR_ID) == before
    event = AuditEvent.objects.get(action=AuditEvent.Action.CREDENTIAL_UPDATE)
    assert event.outcome == AuditEvent.Outcome.ERROR


# ------------------------------------------------------------------------------------------ settings page


def test_settings_page_lists_providers_and_callback_urls(admin_client, settings, sandbox_api):
    settings.OAUTH_PROVIDERS = {"slack": {"client_id": "slack-client", "client_secret": "very-secret-value"}}
    page = admin_client.get(reverse("oauth_settings")).content.decode()
    for slug in ("google-drive", "slack", "github"):
        assert f"http://testserver/oauth/{slug}/callback/" in page
    assert "slack-client" in page and "very-secret-value" not in page
    assert "OAUTH_GOOGLE_DRIVE_CLIENT_ID" in page
    assert "https://slack.com/oauth/v2/authorize" in page
    assert page.count("not configured") == 2
    assert reverse("oauth_settings") in admin_client.get(reverse("api_keys")).content.decode()


def test_callback_base_url_override(admin_client, settings, sandbox_api):
    settings.OAUTH_REDIRECT_BASE_URL = "https://console.example.com"
    page = admin_client.get(reverse("oauth_settings")).content.decode()
    assert "https://console.example.com/oauth/github/callback/" in page


# ------------------------------------------------------------------------------------------ no token anywhere


def test_tokens_never_in_a_page_a_url_or_a_log_line(admin_client, oauth_sandbox, caplog):
    from tests.views.helpers import idempotency_token

    caplog.set_level(logging.DEBUG)
    seen = []

    def get(url, **kw):
        response = admin_client.get(url, **kw)
        seen.append(response.content.decode() + response.get("Location", ""))
        return response

    callback = connect(admin_client, scope_folder_ids="F")
    back = get(callback)["Location"]
    restored = get(back)
    data = create_form_data(admin_client)
    data["idempotency_token"] = idempotency_token(restored)
    created = admin_client.post(CREATE_URL, data)
    seen.append(created.get("Location", ""))
    detail = get(created["Location"])
    assert detail.status_code == 200
    # and a reconnect of the new connector
    connector_id = created["Location"].rstrip("/").rsplit("/", 1)[1]
    response = start(admin_client, "google-drive", next=detail_url(connector_id, EMPTY_COLLECTION_ID))
    seen.append(response["Location"])
    get(callback_path(decide(response["Location"])), follow=True)

    tokens = all_issued(oauth_sandbox)
    refresh = [oauth_sandbox.credential(connector_id)["refresh_token"]]
    assert len(tokens) == 2
    secrets_ = tokens + refresh
    records = [r.getMessage() + " " + repr(r.args) for r in caplog.records]
    assert records, "expected log lines to check"
    for secret in secrets_:
        for text in seen:
            assert secret not in text
        for line in records:
            assert secret not in line
    # the authorization code does not reach a log line either
    code = query(callback)["code"]
    assert not [line for line in records if code in line]


def test_runserver_request_line_loses_the_oauth_query():
    from connectors.logging import OAuthQueryRedactingFilter

    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /oauth/slack/callback/?code=abc&state=xyz HTTP/1.1", "302", "0"),
        None,
    )
    OAuthQueryRedactingFilter().filter(record)
    assert record.getMessage() == '"GET /oauth/slack/callback/?[redacted] HTTP/1.1" 302 0'
    plain = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s', ("GET /?page=2 HTTP/1.1", "200", "9"), None
    )
    OAuthQueryRedactingFilter().filter(plain)
    assert "page=2" in plain.getMessage()
