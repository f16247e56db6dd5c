"""A hostile or careless upstream that echoes the request's secrets in its error: the typed access and refresh
tokens and the console's API key are scrubbed from the page, the log lines and the audit log."""

import logging

import pytest
from django.urls import reverse

from connectors.models import AuditEvent
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, EMPTY_COLLECTION_ID, GITHUB_CONNECTOR_ID
from tests.views.helpers import idempotency_token

pytestmark = pytest.mark.django_db

TOKEN = "ghp_echoedByTheUpstream0000000000000000042"
REFRESH = "ghr_echoedByTheUpstream0000000000000000042"


def create(client):
    url = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
    data = {
        "idempotency_token": idempotency_token(client.get(url)),
        "provider": "github",
        "access_token": TOKEN,
        "refresh_token": REFRESH,
        "scope_repositories": "acme-corp/docs",
        "scope_extra": "",
    }
    return client.post(url, data)


def edit(client):
    url = reverse("connector_edit", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, GITHUB_CONNECTOR_ID])
    data = {
        "status": "active",
        "scope_repositories": "acme-corp/docs",
        "scope_extra": "",
        "access_token": TOKEN,
        "refresh_token": REFRESH,
    }
    return client.post(url, data)


@pytest.mark.parametrize("status", [403, 409, 422, 500])
@pytest.mark.parametrize("send", [create, edit], ids=["create", "edit"])
def test_secrets_echoed_in_an_upstream_error_are_never_shown_logged_or_stored(
    admin_client, sandbox_api, caplog, send, status
):
    caplog.set_level(logging.DEBUG)
    echo = f"credential {TOKEN} (refresh {REFRESH}) refused for key {sandbox_api.admin_key}"
    sandbox_api.add_rule(
        method="PATCH" if send is edit else "POST", path_contains="/connectors", status=status, detail=echo
    )

    page = send(admin_client).content.decode()

    assert "credential [redacted] (refresh [redacted]) refused for key [redacted]" in page  # the rest is shown
    (event,) = AuditEvent.objects.all()
    assert event.outcome == AuditEvent.Outcome.ERROR and "[redacted]" in event.error
    logged = caplog.text + "".join(repr(r.args) + repr(r.__dict__) for r in caplog.records)
    for secret in (TOKEN, REFRESH, sandbox_api.admin_key):
        assert secret not in page
        assert secret not in logged
        assert secret not in event.error and secret not in str(event.changes)
