"""Failure drills: every main page against an upstream that is slow, down, answering 500, answering HTML, or
answering 429 with Retry-After, on every call.

Each page must answer with a clear message and a way to retry (a "Try again" link or button, the form kept, or the
status partial polling again), never a 500, never a traceback, and never echo a typed secret. The per-page tests in
tests/views/ cover single failing calls in detail (write failures, 401/403/404, htmx fragments); these drills put
the whole upstream in one failure mode at once.
"""

import html

import pytest
from django.urls import reverse

from connectors.idempotency import sign_idempotency_key
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    EMPTY_COLLECTION_ID,
)
from tests.processes import closed_port
from tests.views.helpers import connectors_in

pytestmark = pytest.mark.django_db

IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID]
TYPED_SECRET = "ya29.drill-typed-secret-0000"
SCOPE_TYPED = "1DRILL-folder-a\n1DRILL-folder-b"
EXTRA_TYPED = '{"include_shared": true}'

# fault -> (what the page must say, ...): each is the user-facing wording of that failure.
FAULTS = {
    "slow": ("did not answer in time",),
    "down": ("could not be reached",),
    "500": ("had a problem",),
    "html": ("unexpected answer", "could not read"),
    "429": ("busy", "rate limiting"),
}


@pytest.fixture(params=list(FAULTS))
def fault(request, settings, sandbox_api):
    """The whole upstream in one failure mode (every /v1 call, every method)."""
    name = request.param
    settings.AIMABLE_MAX_RETRIES = 0
    settings.AIMABLE_CONNECT_TIMEOUT = 0.5
    if name == "slow":
        # Answers come, but later than the console waits: latency beyond AIMABLE_READ_TIMEOUT.
        settings.AIMABLE_READ_TIMEOUT = 0.25
        settings.AIMABLE_DEADLINE = 1.0
        sandbox_api.set_faults(latency_ms=1500)
    elif name == "down":
        settings.AIMABLE_API_URL = f"http://127.0.0.1:{closed_port()}"
    elif name == "500":
        sandbox_api.add_rule(status=500, times=10_000)
    elif name == "html":
        # A proxy's or captive portal's page with a 200: not the API's JSON.
        sandbox_api.add_rule(status=200, body="html", times=10_000)
    elif name == "429":
        sandbox_api.add_rule(status=429, retry_after=30, times=10_000)
    return name


@pytest.fixture
def sync_id(sandbox_api):
    with sandbox_api.state.lock:
        return next(s["id"] for s in sandbox_api.state.syncs.values() if s["connector_id"] == DRIVE_CONNECTOR_ID)


def _create(client, user, sync_id):
    url = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
    data = {
        "idempotency_token": sign_idempotency_key(user),
        "provider": "google-drive",
        "access_token": TYPED_SECRET,
        "scope_folder_ids": SCOPE_TYPED,
        "scope_extra": EXTRA_TYPED,
    }
    return client.post(url, data)


def _edit(client, user, sync_id):
    data = {
        "status": "paused",
        "scope_folder_ids": SCOPE_TYPED,
        "scope_extra": EXTRA_TYPED,
        "access_token": TYPED_SECRET,
        "refresh_token": "",
    }
    return client.post(reverse("connector_edit", args=IDS), data)


# page -> how to open it (client, user, sync_id) -> response
PAGES = {
    "home": lambda c, u, s: c.get(reverse("home")),
    "connector list": lambda c, u, s: c.get(reverse("connector_list", args=IDS[:2])),
    "detail": lambda c, u, s: c.get(reverse("connector_detail", args=IDS)),
    "create POST": _create,
    "edit POST": _edit,
    "delete page": lambda c, u, s: c.get(reverse("connector_delete", args=IDS)),
    "delete POST": lambda c, u, s: c.post(reverse("connector_delete", args=IDS)),
    "browse": lambda c, u, s: c.get(reverse("connector_browse", args=IDS)),
    "sync history": lambda c, u, s: c.get(reverse("sync_list", args=IDS)),
    "sync now POST": lambda c, u, s: c.post(reverse("sync_trigger", args=IDS), follow=True),
    "sync status partial": lambda c, u, s: c.get(reverse("sync_detail", args=[*IDS, s]), HTTP_HX_REQUEST="true"),
    "audit": lambda c, u, s: c.get(reverse("audit_log")),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_says_what_is_wrong_and_offers_a_retry(admin_client, user, sandbox_api, sync_id, page, fault):
    response = PAGES[page](admin_client, user, sync_id)
    body = response.content.decode()
    text = html.unescape(body)

    assert response.status_code != 500 and response.status_code < 600
    assert "Traceback" not in body and "Server Error (500)" not in body
    assert TYPED_SECRET not in body  # a typed secret is kept server-side, never put back into a page

    if page == "audit":
        # The audit log is the console's own data: the upstream's state does not matter.
        assert response.status_code == 200 and "Audit log" in text
        return
    assert any(words in text for words in FAULTS[fault]), (page, fault, text[:3000])

    if page == "sync status partial":
        # Polling goes on, backing off, with the last known state: the retry is automatic.
        assert response.status_code == 200 and "reconnecting" in text and "Trying again in" in text
        return
    assert "Aimable Connectors" in body and 'id="main"' in body  # the page's frame, not a bare error
    if page == "create POST":
        # The form again, with everything typed but the secret, and the same submission (no duplicate on retry).
        assert response.status_code == 200 and "Create connector" in text
        assert SCOPE_TYPED in text and EXTRA_TYPED in text
        assert "it will not create a duplicate" in text
        assert "••••0000" in text  # the secret is kept, masked
        assert connectors_in(sandbox_api, EMPTY_COLLECTION_ID) == []
    elif page == "edit POST":
        # The connector could not even be read: "Try again" sends the same changes again.
        assert 'class="retry"' in body and "Your input is kept" in text
        assert f'name="scope_folder_ids" value="{SCOPE_TYPED}"' in text
        assert 'name="status" value="paused"' in text
        assert "the tokens you typed" in text
    elif page == "delete POST":
        assert 'class="retry"' in body and "Try again" in text
    elif page == "sync now POST":
        # Back on the connector's page (itself in trouble), which says the sync did not start.
        assert "The sync did not start" in text and 'class="retry"' in body
    else:
        assert 'class="retry"' in body and "Try again" in text
    if fault == "429" and response.status_code == 503:
        assert response["Retry-After"] == "30"


def test_the_retry_button_after_an_outage_saves_the_kept_input(admin_client, user, sandbox_api):
    """Edit under a full outage, then the upstream is back: "Try again" posts the same changes, once."""
    sandbox_api.add_rule(status=503, times=10_000)
    response = _edit(admin_client, user, None)
    assert response.status_code == 502
    sandbox_api.clear_rules()
    resubmitted = {
        name: html.unescape(value)
        for name, value in __import__("re").findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.content.decode()
        )
        if name != "csrfmiddlewaretoken"
    }
    assert resubmitted["scope_folder_ids"] == SCOPE_TYPED and "access_token" not in resubmitted
    again = admin_client.post(reverse("connector_edit", args=IDS), resubmitted)
    assert again.status_code == 302
    with sandbox_api.state.lock:
        connector = dict(sandbox_api.state.connectors[DRIVE_CONNECTOR_ID])
    assert connector["status"] == "paused"
    assert connector["scope_config"]["folder_ids"] == SCOPE_TYPED.split("\n")
    assert connector["scope_config"]["folder_ids"] != DRIVE_SCOPE_FOLDER_IDS


def test_healthz_stays_quick_while_the_upstream_hangs(client, settings, monkeypatch):
    """The platform's health check has a timeout of its own: an upstream that accepts connections and never
    answers is reported, quickly, without retries."""
    import socket
    import time

    from connectors import upstream

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel; nothing ever answers
    settings.AIMABLE_API_URL = f"http://127.0.0.1:{silent.getsockname()[1]}"
    settings.AIMABLE_READ_TIMEOUT, settings.AIMABLE_DEADLINE, settings.AIMABLE_MAX_RETRIES = 10, 15, 2
    monkeypatch.setattr(upstream, "HEALTH_CHECK_SECONDS", 0.3)
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 200 and response.json()["checks"]["upstream"] == "error"
    assert elapsed < 1.5
