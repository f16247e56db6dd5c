"""Error reports (the DEBUG page, the tracebacks mailed to ADMINS) never show a typed or issued secret: the views
that take credentials mark their posted secret fields (@sensitive_post_parameters) and the variables that hold one
(@sensitive_variables), and Django's SafeExceptionReporterFilter shows those as stars.

Each test breaks the request where it holds the secret, and renders the report Django would show with DEBUG on."""

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from connectors import oauth
from connectors.aimable.client import AimableClient
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DISCONNECTED_CONNECTOR_ID, DRIVE_CONNECTOR_ID
from tests.oauth.conftest import (
    CREATE_URL,
    callback_path,
    create_form_data,
    decide,
    detail_url,
    sandbox_oauth_settings,
    start,
)
from tests.views.helpers import idempotency_token

pytestmark = pytest.mark.django_db
STARS = "********************"
TYPED = "ghp_typed_into_the_form_7c41e2"


class Broken(RuntimeError):
    pass


def break_transport(monkeypatch, *methods: str) -> None:
    """AimableClient._request_once fails for these methods in a way nobody expected: every frame above it, holding
    the secret on its way upstream, is in the report."""
    original = AimableClient._request_once

    def request_once(self, method, path, *, params, json, headers, remaining, attempt, request_id):
        if method in methods:
            raise Broken("the transport failed")
        return original(
            self,
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            remaining=remaining,
            attempt=attempt,
            request_id=request_id,
        )

    monkeypatch.setattr(AimableClient, "_request_once", request_once)


def broken_draft_save(request, data):
    raise Broken("the draft could not be saved")


def error_report(response) -> str:
    """The technical 500 page for the request's unhandled exception (as with DEBUG on)."""
    assert response.status_code == 500 and response.exc_info[0] is Broken
    return ExceptionReporter(response.wsgi_request, *response.exc_info).get_traceback_html()


@pytest.fixture
def oauth_sandbox(settings, sandbox_api):
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    return sandbox_api


@pytest.fixture
def failing(admin_client):
    admin_client.raise_request_exception = False  # the 500, with the exception kept on the response
    return admin_client


def test_the_api_key_page_hides_the_typed_key(client, user, sandbox_api, monkeypatch):
    key = sandbox_api.add_key("aim_typed_on_the_key_page_5d1c9a")
    break_transport(monkeypatch, "GET")  # checking the key
    client.force_login(user)
    client.raise_request_exception = False
    report = error_report(client.post(reverse("api_keys"), {"secret": key, "auth_scheme": "bearer"}))
    assert key not in report
    assert STARS in report


def test_create_hides_typed_tokens(failing, monkeypatch):
    url = reverse("connector_create", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    data = {
        "idempotency_token": idempotency_token(failing.get(url)),
        "provider": "github",
        "access_token": TYPED,
        "refresh_token": TYPED + "_refresh",
        "scope_repositories": "acme-corp/docs",
        "scope_extra": "",
    }
    break_transport(monkeypatch, "POST")
    report = error_report(failing.post(url, data))
    assert TYPED not in report
    assert STARS in report


def test_edit_hides_a_typed_token(failing, monkeypatch):
    url = reverse("connector_edit", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    data = {"status": "active", "scope_folder_ids": "", "scope_extra": "", "access_token": TYPED, "refresh_token": ""}
    break_transport(monkeypatch, "PATCH")
    report = error_report(failing.post(url, data))
    assert TYPED not in report
    assert STARS in report


def test_connect_hides_the_tokens_typed_in_the_form_it_posts(failing, oauth_sandbox, monkeypatch):
    data = create_form_data(failing, access_token=TYPED, refresh_token=TYPED + "_refresh")
    monkeypatch.setattr(oauth, "draft_save", broken_draft_save)
    report = error_report(start(failing, "google-drive", **data))
    assert TYPED not in report
    assert CREATE_URL in report  # the report is there, with what is not secret


def test_the_callback_hides_the_tokens_the_provider_issued(failing, oauth_sandbox, monkeypatch):
    response = start(failing, "google-drive", next=detail_url(DISCONNECTED_CONNECTOR_ID))
    callback = callback_path(decide(response["Location"]))
    break_transport(monkeypatch, "PATCH")  # the reconnect, with the exchanged credential
    report = error_report(failing.get(callback))
    [access_token] = oauth_sandbox.oauth_tokens()
    [refresh_token] = oauth_sandbox.state.oauth["refresh"]
    assert access_token not in report and refresh_token not in report
    assert STARS in report
