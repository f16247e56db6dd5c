"""Values from a hostile or broken upstream never make a 500 page (issue 10, item 5): an id that cannot go in a
console URL is shown, not linked, wherever it appears; a date at the datetime limits is shown as given; a 429
asking to wait forever is a readable "busy" page."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from connectors.aimable.client import AimableClient
from connectors.aimable.types import Connector, Sync
from connectors.models import AuditEvent
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID
from tests.views.helpers import HTMX, assert_readable_error_page, idempotency_token

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
SLASHED_CONNECTOR = "conn/../../admin"
SLASHED_SYNC = "sync/42"
YEAR_1 = dt.datetime(1, 1, 1, tzinfo=dt.UTC).timestamp()
YEAR_9999 = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()
LIMITS_SYNC = "5e1ec7ed-0000-4000-8000-000000000001"
FUTURE_SYNC = "5e1ec7ed-0000-4000-8000-000000000002"


def url(name, *extra, connector_id=DRIVE_CONNECTOR_ID):
    return reverse(name, args=[*IDS, connector_id, *extra])


_ADDRESS = re.compile(r'(?:href|hx-get|hx-post|action|formaction)="([^"]*)"')


def addresses(page: str) -> list[str]:
    """Every address the page links to, polls, or posts to."""
    return _ADDRESS.findall(page)


def mentions(page: str, *fragments: str) -> list[str]:
    return [a for a in addresses(page) if any(f in a for f in fragments)]


def answer_with_connector_id(sandbox_api, connector_id, answered_id):
    """The upstream answers for ``connector_id`` with an object whose id is ``answered_id``."""
    with sandbox_api.state.lock:
        sandbox_api.state.connectors[connector_id]["id"] = answered_id


def add_sync(sandbox_api, sync_id, *, created=None, completed=None, status="completed"):
    """A sync of the Drive connector, put straight into the sandbox's state (the newest unless dated otherwise)."""
    with sandbox_api.state.lock:
        now = sandbox_api.state.now()
        sandbox_api.state.add_seed_sync(sync_id, DRIVE_CONNECTOR_ID, status, 7, 0.0, 0.0, {})
        sandbox_api.state.syncs[sync_id].update(
            created_at=now - 60 if created is None else created,
            completed_at=None if status == "running" else now if completed is None else completed,
            # what a running one needs to progress (sandbox/state.py start_sync)
            duration=3600.0,
            total=100,
            outcome="completed",
            end_after=3600.0,
            error=None,
        )


# ----- ids that cannot be used in a URL ---------------------------------------------------------------------------


def test_a_connector_id_with_a_slash_is_listed_but_not_linked(admin_client, sandbox_api):
    answer_with_connector_id(sandbox_api, DRIVE_CONNECTOR_ID, SLASHED_CONNECTOR)
    response = admin_client.get(reverse("connector_list", args=IDS))
    assert response.status_code == 200
    page = response.content.decode()
    assert SLASHED_CONNECTOR in page  # shown
    assert not mentions(page, "conn%2F", "conn/", DRIVE_CONNECTOR_ID)  # never linked, polled or posted to
    assert url("connector_detail", connector_id=SLACK_CONNECTOR_ID) in addresses(page)  # the others keep theirs


@pytest.mark.parametrize("name", ["connector_detail", "connector_edit", "connector_delete", "connector_browse"])
def test_connector_pages_survive_an_answer_with_a_slashed_id(admin_client, sandbox_api, name):
    answer_with_connector_id(sandbox_api, DRIVE_CONNECTOR_ID, SLASHED_CONNECTOR)
    response = admin_client.get(url(name))
    assert response.status_code == 200
    page = response.content.decode()
    assert not mentions(page, "conn%2F", "conn/")
    assert url("connector_detail") in addresses(page)  # the page's links use the id it was opened with


@pytest.mark.parametrize("status", ["completed", "running"])
def test_a_sync_id_with_a_slash_is_shown_not_linked_in_the_panel_history_and_latest_cell(
    admin_client, sandbox_api, status
):
    add_sync(sandbox_api, SLASHED_SYNC, status=status)
    pages = {
        "panel": admin_client.get(url("connector_detail"), **HTMX),
        "history": admin_client.get(url("sync_list")),
        # the connector list's "Latest sync" cell
        "latest": admin_client.get(f"{reverse('sync_latest_batch', args=IDS)}?row={DRIVE_CONNECTOR_ID}", **HTMX),
    }
    for name, response in pages.items():
        assert response.status_code in (200, 286), name  # 286: a finished sync's cell stops polling
        page = response.content.decode()
        assert f"badge-{status}" in page, name
        assert SLASHED_SYNC in page or name == "latest", name  # the cell shows no id, only the badge
        assert not mentions(page, "sync%2F", "sync/42"), name
    if status == "running":  # the list's poller still asks for this row: by connector id, never by sync id
        latest = pages["latest"].content.decode()
        batch = reverse("sync_latest_batch", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
        assert addresses(latest) == [f"{batch}?group=0"]
        assert f'name="row" value="{DRIVE_CONNECTOR_ID}"' in latest


def test_a_triggered_sync_with_a_slashed_id_is_reported_without_a_link(admin_client, sandbox_api, monkeypatch):
    def trigger_sync(self, *args):
        return Sync.from_api({"id": SLASHED_SYNC, "status": "running"})

    monkeypatch.setattr(AimableClient, "trigger_sync", trigger_sync)
    response = admin_client.post(url("sync_trigger"), {"provider_slug": "google-drive"})
    assert response.status_code == 302
    assert response.url == url("connector_detail")
    page = admin_client.get(response.url).content.decode()
    assert "Sync started." in page


def test_a_running_sync_with_a_slashed_id_is_reported_without_a_link(admin_client, sandbox_api):
    add_sync(sandbox_api, SLASHED_SYNC, status="running")  # so the sandbox answers the trigger with a 409
    response = admin_client.post(url("sync_trigger"), {"provider_slug": "google-drive"})
    assert response.status_code == 302
    assert response.url == url("connector_detail")
    assert "A sync is already running for this connector." in admin_client.get(response.url).content.decode()


def test_a_created_connector_with_a_slashed_id_does_not_break_the_audit_log(admin_client, sandbox_api, monkeypatch):
    def create_connector(self, *args, **kwargs):
        return Connector.from_api({"id": SLASHED_CONNECTOR, "provider_slug": "google-drive", "status": "active"})

    monkeypatch.setattr(AimableClient, "create_connector", create_connector)
    form = admin_client.get(reverse("connector_create", args=IDS))
    response = admin_client.post(
        reverse("connector_create", args=IDS),
        {
            "provider": "google-drive",
            "access_token": "ya29.typed-token",
            "refresh_token": "",
            "scope_folder_ids": "",
            "scope_extra": "",
            "idempotency_token": idempotency_token(form),
        },
    )
    assert response.status_code == 302
    assert response.url == reverse("connector_list", args=IDS)  # its own page cannot be addressed
    assert "connector created" in admin_client.get(response.url).content.decode()
    assert AuditEvent.objects.get(action=AuditEvent.Action.CONNECTOR_CREATE).connector_id == SLASHED_CONNECTOR
    audit = admin_client.get(reverse("audit_log"))
    assert audit.status_code == 200
    page = audit.content.decode()
    assert f"<code>{SLASHED_CONNECTOR}</code>" in page
    assert not mentions(page, "conn%2F", "conn/")


def test_a_stored_audit_row_with_an_unusable_id_is_shown_not_linked(admin_client, user):
    AuditEvent.objects.create(
        user=user,
        username="alice",
        action=AuditEvent.Action.CONNECTOR_CREATE,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id="a/b",
    )
    response = admin_client.get(reverse("audit_log"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<code>a/b</code>" in page
    assert not mentions(page, "a%2Fb", "/a/b/")


def test_spaces_and_collections_whose_ids_are_not_uuids_are_listed_not_linked_on_home(admin_client, sandbox_api):
    with sandbox_api.state.lock:
        state = sandbox_api.state
        state.spaces["space/1"] = {**state.spaces[DEMO_SPACE_ID], "space_id": "space/1", "name": "Odd space"}
        collection = state.collections[DEMO_COLLECTION_ID]
        state.collections["coll/1"] = {**collection, "collection_id": "coll/1", "name": "Odd collection"}
    response = admin_client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Odd space" in page and "not a UUID" in page
    assert "Odd collection" in page and "<code" in page.split("Odd collection", 1)[1][:40]
    assert not mentions(page, "space%2F", "space/1", "coll%2F", "coll/1")
    assert reverse("connector_list", args=IDS) in addresses(page)  # the others keep their links


# ----- dates at the datetime limits -------------------------------------------------------------------------------


def test_dates_at_the_datetime_limits_are_shown_as_given(admin_client, sandbox_api):
    add_sync(sandbox_api, LIMITS_SYNC, created=YEAR_1, completed=YEAR_9999)
    add_sync(sandbox_api, FUTURE_SYNC, created=YEAR_9999, completed=YEAR_9999)
    year_1, year_9999 = "0001-01-01 00:00:00 UTC", "9999-12-31 23:59:59 UTC"  # four-digit years, as given
    pages = {
        "panel": (admin_client.get(url("connector_detail"), **HTMX), [year_9999]),  # the newest few
        "history": (admin_client.get(url("sync_list")), [year_1, year_9999]),
        "sync": (admin_client.get(url("sync_detail", LIMITS_SYNC)), [year_1, year_9999]),
        "latest": (admin_client.get(url("sync_latest"), **HTMX), [year_9999]),
    }
    for name, (response, expected) in pages.items():
        assert response.status_code in (200, 286), name
        page = response.content.decode()
        assert all(text in page for text in expected), name
        assert "1-01-01 00:00:00 UTC" not in page.replace(year_1, ""), name


# ----- Retry-After -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "header"),
    [("inf", "3600"), ("1e999", "3600"), ("Fri, 31 Dec 9999 23:59:59 GMT", "3600"), ("-inf", None), ("nan", None)],
)
def test_a_429_asking_to_wait_forever_is_a_busy_page_and_panel(admin_client, sandbox_api, value, header):
    sandbox_api.add_rule(status=429, retry_after=value, times=10)
    page = admin_client.get(url("connector_detail"))
    assert_readable_error_page(page, status=503, text="The Aimable API is busy")
    assert page.get("Retry-After") == header  # at most an hour, whatever the upstream asked
    panel = admin_client.get(url("connector_detail"), **HTMX)
    assert panel.status_code == 200 and "<html" not in panel.content.decode()
    assert "rate limiting" in panel.content.decode()


def test_an_overlong_id_from_the_upstream_is_still_audited(user):
    from connectors.audit import audited

    with audited(user=user, action=AuditEvent.Action.CONNECTOR_CREATE) as event:
        event.connector_id = "c" * 500  # as the create service does with what Aimable answered
    row = AuditEvent.objects.get(action=AuditEvent.Action.CONNECTOR_CREATE)
    assert row.connector_id == "c" * 128
