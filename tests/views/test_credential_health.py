"""The credential panel of a connector's page (when, by whom, authorized as, needs re-auth) and shared reconnect
links (signed, single use, 24 hours, audited, only for who may reconnect)."""

from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors import oauth
from connectors.models import AuditEvent, ReconnectLink
from connectors.permissions import READ_ONLY_GROUP
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DISCONNECTED_CONNECTOR_ID, DRIVE_CONNECTOR_ID, OTHER_SPACE_ID
from tests.conftest import store_key
from tests.oauth.conftest import callback_path, decide, query, sandbox_oauth_settings
from tests.views.helpers import HTMX

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action
ACCOUNT = "demo.admin@example.com"
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]


def detail_url(connector_id=DRIVE_CONNECTOR_ID):
    return reverse("connector_detail", args=[*IDS, connector_id])


def share_url(connector_id=DISCONNECTED_CONNECTOR_ID):
    return reverse("reconnect_link_create", args=[*IDS, connector_id])


@pytest.fixture
def oauth_providers(settings, sandbox_api):
    """Every provider's OAuth client points at the sandbox, userinfo endpoint included."""
    providers = sandbox_oauth_settings(sandbox_api.url)
    for slug, conf in providers.items():
        conf["userinfo_url"] = f"{sandbox_api.url}/oauth/{slug}/userinfo"
    settings.OAUTH_PROVIDERS = providers
    return sandbox_api


@pytest.fixture
def other_admin(other_user, sandbox_api):
    """bob, another team admin, with his own key that reaches every space."""
    store_key(other_user, sandbox_api.admin_key)
    other = Client()
    other.force_login(other_user)
    return other


def create_link(client, connector_id=DISCONNECTED_CONNECTOR_ID) -> str:
    """Shares a link as the page's button does (htmx); returns its path."""
    response = client.post(share_url(connector_id), **HTMX)
    assert response.status_code == 200, response.content
    body = response.content.decode()
    assert "<html" not in body
    marker = "http://testserver/reconnect/"
    start = body.index(marker) + len("http://testserver")
    return body[start : body.index("<", start)].strip()


def reconnect_through(client, link_path):
    """Opens the link's page, presses Reconnect, allows at the sandbox; returns the callback's answer."""
    page = client.get(link_path)
    assert page.status_code == 200
    start = client.post(link_path + "start/")
    assert start.status_code == 302 and "/oauth/google-drive/authorize" in start["Location"]
    return client.get(callback_path(decide(start["Location"])))


# ----- the panel ------------------------------------------------------------------------------------------------


def test_the_panel_says_when_and_by_whom_from_the_audit_log(admin_client, user):
    AuditEvent.objects.create(
        user=user,
        username="carol",
        action=Action.CONNECTOR_UPDATE,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        changes={"credential": "replaced", "authorized_as": "carol@acme.example"},
    )
    AuditEvent.objects.create(  # later, but not a credential change
        user=user,
        username="dave",
        action=Action.CONNECTOR_UPDATE,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        changes={"status": {"from": "active", "to": "paused"}},
    )
    AuditEvent.objects.create(  # a change that failed changed nothing
        user=user,
        username="erin",
        action=Action.CREDENTIAL_UPDATE,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        outcome=AuditEvent.Outcome.ERROR,
    )
    page = admin_client.get(detail_url()).content.decode()
    panel = page.split('id="credential-health"', 1)[1].split("</article>", 1)[0]
    assert "<strong>carol</strong>" in panel and "in Edit connector" in panel
    assert "carol@acme.example" in panel
    assert "dave" not in panel and "erin" not in panel
    assert "Needs re-auth" not in panel


def test_without_a_recorded_change_the_panel_says_so(admin_client):
    panel = admin_client.get(detail_url()).content.decode().split('id="credential-health"', 1)[1]
    assert "Not recorded" in panel and "Not known" in panel


def test_create_records_who_captured_the_credential(admin_client, user):
    from tests.views.helpers import idempotency_token

    url = reverse("connector_create", args=IDS)
    form = admin_client.get(url + "?provider=github")
    response = admin_client.post(
        url,
        {
            "provider": "github",
            "access_token": "gho_typed",
            "idempotency_token": idempotency_token(form),
            "scope_repositories": "",
            "scope_extra": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action=Action.CONNECTOR_CREATE, outcome="ok")
    assert "authorized_as" not in event.changes  # typed: the console cannot know the account
    panel = admin_client.get(response["Location"]).content.decode().split('id="credential-health"', 1)[1]
    assert "<strong>alice</strong>" in panel and "when the connector was created" in panel


def test_disconnected_connector_needs_reauth_with_reconnect_right_there(admin_client, oauth_providers):
    page = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    top, panel = page.split('id="credential-health"', 1)
    panel = panel.split("</article>", 1)[0]
    assert "Needs re-auth" in panel and "Share a reconnect link" in panel
    # Disconnected: the page's top banner says it, with Reconnect; the panel does not say it a second time.
    assert "credential has expired or was revoked" in top and "Reconnect Google Drive" in top
    assert reverse("oauth_start", args=["google-drive"]) in top
    assert page.count("Reconnect Google Drive") == 1


def test_a_credential_failure_means_needs_reauth_and_a_later_success_clears_it():
    from connectors.aimable.types import Connector, Sync
    from connectors.credentials import needs_reauth

    connector = Connector.from_api(
        {"id": "c1", "collection_id": DEMO_COLLECTION_ID, "provider_slug": "slack", "status": "error"}
    )
    failed = Sync.from_api({"id": "s1", "status": "failed", "metadata": {"error_code": "invalid_grant"}})
    other = Sync.from_api({"id": "s0", "status": "failed", "metadata": {"error": "Rate limited"}})
    done = Sync.from_api({"id": "s2", "status": "completed"})
    cancelled = Sync.from_api({"id": "s3", "status": "cancelled"})
    assert needs_reauth(connector, [cancelled, failed, done])[0]
    assert not needs_reauth(connector, [done, failed])[0]
    assert not needs_reauth(connector, [other, failed])[0]


def test_reconnect_records_the_authorized_account_and_the_panel_shows_it(admin_client, oauth_providers):
    start = admin_client.post(reverse("oauth_start", args=["google-drive"]), {"next": detail_url()})
    done = admin_client.get(callback_path(decide(start["Location"])))
    assert done.status_code == 302
    event = AuditEvent.objects.get(action=Action.CREDENTIAL_UPDATE)
    assert event.changes == {"credential": "replaced", "authorized_as": ACCOUNT}
    panel = admin_client.get(detail_url()).content.decode().split('id="credential-health"', 1)[1]
    assert ACCOUNT in panel and "with Reconnect" in panel


def test_userinfo_trouble_never_fails_the_flow(admin_client, oauth_providers, settings):
    settings.OAUTH_PROVIDERS["google-drive"]["userinfo_url"] = oauth_providers.url + "/oauth/google-drive/nothing"
    start = admin_client.post(reverse("oauth_start", args=["google-drive"]), {"next": detail_url()})
    assert admin_client.get(callback_path(decide(start["Location"]))).status_code == 302
    assert AuditEvent.objects.get(action=Action.CREDENTIAL_UPDATE).changes == {"credential": "replaced"}


def test_userinfo_is_not_asked_of_a_default_host_when_the_token_url_moved(settings):
    settings.OAUTH_PROVIDERS = {"github": {"client_id": "x", "token_url": "https://github.example/token"}}
    assert oauth.config_for("github").userinfo_url == ""
    settings.OAUTH_PROVIDERS = {"github": {"client_id": "x"}}
    assert oauth.config_for("github").userinfo_url == "https://api.github.com/user"


def test_the_sandbox_userinfo_needs_a_token_it_issued(sandbox_api):
    answer = requests.get(
        f"{sandbox_api.url}/oauth/github/userinfo", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert answer.status_code == 401


# ----- reconnect links -----------------------------------------------------------------------------------------


def test_share_a_link_audited_and_shown_once(admin_client, oauth_providers):
    path = create_link(admin_client)
    event = AuditEvent.objects.get(action=Action.RECONNECT_LINK_CREATE)
    assert event.username == "alice" and event.connector_id == DISCONNECTED_CONNECTOR_ID
    assert str(event.space_id) == DEMO_SPACE_ID and event.outcome == "ok"
    link = ReconnectLink.objects.get()
    assert path.split("/")[2] not in link.token_hash  # only a hash is stored
    assert link.expires_at - timezone.now() > timedelta(hours=23, minutes=59)
    # The log says when it expires (a time, as the log shows times), not the row's internal id.
    assert set(event.changes) == {"expires"}
    log = admin_client.get(reverse("audit_log")).content.decode()
    changes = log.split('data-label="Changes">', 1)[1].split("</td>", 1)[0]
    assert "<strong>expires</strong>:" in changes and "<time" in changes and "link" not in changes


def test_share_without_htmx_is_a_page(admin_client, oauth_providers):
    response = admin_client.post(share_url())
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body and "http://testserver/reconnect/" in body


def test_another_admin_opens_it_sees_the_warning_and_reconnects(admin_client, other_admin, oauth_providers):
    path = create_link(admin_client)
    page = other_admin.get(path).content.decode()
    assert "will authorize whoever is signed in to Google Drive in this browser" in page
    assert "alice shared this link" in page

    done = reconnect_through(other_admin, path)
    assert done.status_code == 302 and done["Location"] == detail_url(DISCONNECTED_CONNECTOR_ID)
    used = AuditEvent.objects.get(action=Action.RECONNECT_LINK_USE)
    assert used.username == "bob" and used.changes["shared_by"] == "alice"
    changed = AuditEvent.objects.get(action=Action.CREDENTIAL_UPDATE)
    assert changed.username == "bob" and changed.changes["authorized_as"] == ACCOUNT
    link = ReconnectLink.objects.get()
    assert link.used_at is not None and link.used_by.username == "bob"


def test_a_link_works_once(admin_client, other_admin, oauth_providers):
    path = create_link(admin_client)
    assert other_admin.post(path + "start/").status_code == 302
    again = other_admin.get(path)
    assert again.status_code == 410 and "already used" in again.content.decode()
    pressed_again = admin_client.post(path + "start/")
    assert pressed_again.status_code == 410 and "already used" in pressed_again.content.decode()
    assert AuditEvent.objects.filter(action=Action.RECONNECT_LINK_USE).count() == 1


def test_an_expired_link_says_so(admin_client, other_admin, oauth_providers):
    path = create_link(admin_client)
    ReconnectLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = other_admin.get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert other_admin.post(path + "start/").status_code == 410
    assert not ReconnectLink.objects.filter(used_at__isnull=False).exists()


def test_a_link_past_its_signature_age_says_expired(admin_client, other_admin, oauth_providers, monkeypatch):
    path = create_link(admin_client)
    later = timezone.now().timestamp() + 25 * 3600
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = other_admin.get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()


@pytest.mark.parametrize("tamper", [lambda p: p.replace("/reconnect/", "/reconnect/x"), lambda p: p[:-3] + "AA/"])
def test_a_tampered_link_is_not_found(admin_client, other_admin, oauth_providers, tamper):
    path = create_link(admin_client)
    response = other_admin.get(tamper(path))
    assert response.status_code == 404 and "not valid" in response.content.decode()
    assert other_admin.post(tamper(path) + "start/").status_code == 404


def test_the_opener_needs_a_key_that_reads_the_connector(admin_client, other_user, oauth_providers):
    path = create_link(admin_client)
    store_key(other_user, oauth_providers.add_key(spaces=[OTHER_SPACE_ID]))
    other = Client()
    other.force_login(other_user)
    assert other.get(path).status_code in (403, 404)
    assert other.post(path + "start/").status_code in (403, 404)
    assert ReconnectLink.objects.get().used_at is None


def test_read_only_users_may_neither_share_nor_open(admin_client, other_admin, other_user, oauth_providers):
    path = create_link(admin_client)
    other_user.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    assert other_admin.post(share_url()).status_code == 403
    assert other_admin.get(path).status_code == 403
    assert other_admin.post(path + "start/").status_code == 403
    assert ReconnectLink.objects.count() == 1 and ReconnectLink.objects.get().used_at is None
    denied = AuditEvent.objects.filter(outcome="denied").values_list("action", flat=True)
    assert set(denied) == {Action.RECONNECT_LINK_CREATE, Action.RECONNECT_LINK_USE}
    page = other_admin.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    assert "Share a reconnect link" not in page


def test_the_start_url_is_not_a_query_of_the_provider(admin_client, other_admin, oauth_providers):
    """The flow a link starts is the ordinary Reconnect: state and PKCE, back to the connector's page."""
    path = create_link(admin_client)
    start = other_admin.post(path + "start/")
    params = query(start["Location"])
    assert params["state"] and params["code_challenge_method"] == "S256"
