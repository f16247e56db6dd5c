"""Syncs: trigger (PRG, 409 shows the running one), live status partial (polls until terminal, then 286 and no
trigger), backoff while the upstream fails, stalled, cancel, retry, history, and the per-credential poll cache."""

import pytest
from django.urls import reverse

from connectors.aimable import errors
from connectors.aimable.types import Connector, Sync
from connectors.models import AuditEvent
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DRIVE_CONNECTOR_ID,
    GITHUB_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
)
from tests.conftest import store_key

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HX = {"HTTP_HX_REQUEST": "true"}


def syncs_url(connector=DRIVE_CONNECTOR_ID):
    return reverse("sync_list", args=[*IDS, connector])


def trigger_url(connector=DRIVE_CONNECTOR_ID):
    return reverse("sync_trigger", args=[*IDS, connector])


def sync_url(sync_id, connector=DRIVE_CONNECTOR_ID):
    return reverse("sync_detail", args=[*IDS, connector, sync_id])


def status_url(sync_id, connector=DRIVE_CONNECTOR_ID, failures=None):
    return sync_url(sync_id, connector) + (f"?failures={failures}" if failures else "")


def upstream_reads(sandbox, sync_id):
    return [r for r in sandbox.requests() if r["method"] == "GET" and r["path"].endswith("/sync/" + sync_id)]


def start_sync(client, connector=DRIVE_CONNECTOR_ID):
    response = client.post(trigger_url(connector))
    assert response.status_code == 302
    return response.url.rstrip("/").split("/")[-1]


def test_trigger_redirects_to_the_live_sync_and_is_audited(admin_client, sandbox_api, user):
    response = admin_client.post(trigger_url(), {"provider_slug": "google-drive"})
    assert response.status_code == 302
    sync_id = response.url.rstrip("/").split("/")[-1]
    assert response.url == sync_url(sync_id)
    page = admin_client.get(response.url).content.decode()
    assert "Sync started." in page
    assert "running" in page
    assert 'hx-trigger="every 2s"' in page
    event = AuditEvent.objects.get(action=AuditEvent.Action.SYNC_TRIGGER)
    assert (event.username, event.outcome, event.connector_id) == ("alice", "ok", DRIVE_CONNECTOR_ID)
    assert event.changes["sync_id"] == sync_id


def test_trigger_is_never_retried(admin_client, sandbox_api, settings):
    settings.AIMABLE_MAX_RETRIES = 3
    sandbox_api.add_rule(method="POST", path_contains="/sync", status=503, times=5)
    response = admin_client.post(trigger_url(), follow=True)
    assert "The sync did not start" in response.content.decode()
    posts = [r for r in sandbox_api.requests() if r["method"] == "POST" and r["path"].endswith("/sync")]
    assert len(posts) == 1
    assert AuditEvent.objects.get(action=AuditEvent.Action.SYNC_TRIGGER).outcome == "error"


def test_a_second_trigger_shows_the_running_sync(admin_client, sandbox_api):
    first = start_sync(admin_client)
    response = admin_client.post(trigger_url())
    assert response.url == sync_url(first)
    assert "already running" in admin_client.get(response.url).content.decode()


def test_a_paused_connector_cannot_sync_and_says_why(admin_client, sandbox_api):
    response = admin_client.post(trigger_url(GITHUB_CONNECTOR_ID), follow=True)
    assert "Connector is paused" in response.content.decode()


def test_status_partial_polls_while_running_and_stops_for_good_when_done(admin_client, sandbox_api, settings):
    sync_id = start_sync(admin_client)
    running = admin_client.get(status_url(sync_id), **HX)
    assert running.status_code == 200
    assert 'hx-trigger="every 2s"' in running.content.decode()
    assert "Cancel sync" in running.content.decode()

    sandbox_api.advance(60)
    settings.SYNC_CACHE_SECONDS = 0  # as if the poll interval had passed
    done = admin_client.get(status_url(sync_id), **HX)
    assert done.status_code == 286  # htmx stops polling
    body = done.content.decode()
    assert "completed" in body and "hx-trigger" not in body and "Took" in body


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled", "succeeded", "canceled", "error"])
def test_polling_stops_at_every_terminal_status(admin_client, monkeypatch, status):
    fake = FakeClient(Sync.from_api({"id": "s1", "status": status, "records_fetched": 5, "metadata": {}}))
    monkeypatch.setattr("connectors.views.base.client_for", lambda user: fake)
    response = admin_client.get(status_url("s1"), **HX)
    assert response.status_code == 286
    assert "hx-trigger" not in response.content.decode()


def test_an_unknown_status_is_shown_as_it_is_and_polled(admin_client, monkeypatch):
    fake = FakeClient(Sync.from_api({"id": "s1", "status": "queued_for_lunch", "metadata": {}}))
    monkeypatch.setattr("connectors.views.base.client_for", lambda user: fake)
    response = admin_client.get(status_url("s1"), **HX)
    assert response.status_code == 200
    assert "queued_for_lunch" in response.content.decode()
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_failed_sync_shows_the_error_from_metadata_and_offers_retry(admin_client, monkeypatch):
    sync = Sync.from_api(
        {"id": "s1", "status": "failed", "metadata": {"error": "Drive quota exceeded", "error_code": "quota"}}
    )
    monkeypatch.setattr("connectors.views.base.client_for", lambda user: FakeClient(sync))
    body = admin_client.get(status_url("s1"), **HX).content.decode()
    assert "Drive quota exceeded" in body and "Retry" in body


def test_a_failed_sync_of_a_disconnected_connector_says_reconnect_first_instead_of_retry(admin_client, monkeypatch):
    sync = Sync.from_api({"id": "s1", "status": "failed", "metadata": {"error_code": "invalid_grant"}})
    monkeypatch.setattr("connectors.views.base.client_for", lambda user: FakeClient(sync, "disconnected"))
    body = admin_client.get(status_url("s1"), **HX).content.decode()
    detail = reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID])
    assert "Retry" not in body and f'href="{detail}#reconnect">Give it a new credential first</a>' in body
    assert 'role="button">Reconnect</a>' not in body


def test_upstream_failure_while_polling_says_reconnecting_and_backs_off(admin_client, sandbox_api, settings):
    sync_id = start_sync(admin_client)
    admin_client.get(status_url(sync_id), **HX)  # a last known state
    settings.SYNC_CACHE_SECONDS = 0  # every poll asks the upstream, as if each came one interval later
    sandbox_api.add_rule(method="GET", path_contains="/sync/", status=503, times=100)
    intervals = []
    failures = 0
    for _ in range(5):
        response = admin_client.get(status_url(sync_id, failures=failures), **HX)
        assert response.status_code == 200  # never an error page in place of the partial
        body = response.content.decode()
        assert "reconnecting" in body and "running" in body  # the last known state stays visible
        intervals.append(int(body.split('hx-trigger="every ')[1].split("s")[0]))
        failures = int(body.split("failures=")[1].split('"')[0])
    assert intervals == [4, 8, 16, 30, 30]

    sandbox_api.clear_rules()
    recovered = admin_client.get(status_url(sync_id, failures=failures), **HX).content.decode()
    assert "reconnecting" not in recovered and 'hx-trigger="every 2s"' in recovered and "failures=" not in recovered


def test_stalled_sync_is_flagged_with_cancel(admin_client, monkeypatch, settings):
    settings.SYNC_STALL_SECONDS = 0
    fake = FakeClient(Sync.from_api({"id": "s1", "status": "running", "records_fetched": 7, "metadata": {}}))
    monkeypatch.setattr("connectors.views.base.client_for", lambda user: fake)
    first = admin_client.get(status_url("s1"), **HX).content.decode()
    assert "stalled" not in first
    second = admin_client.get(status_url("s1"), **HX).content.decode()
    assert "stalled" in second and "Cancel sync" in second


def test_cancel_in_place_turns_the_status_cancelled_and_is_audited(admin_client, sandbox_api):
    sync_id = start_sync(admin_client)
    response = admin_client.post(reverse("sync_cancel", args=[*IDS, DRIVE_CONNECTOR_ID]), {"sync_id": sync_id}, **HX)
    assert response.status_code == 286
    assert "cancelled" in response.content.decode()
    assert AuditEvent.objects.get(action=AuditEvent.Action.SYNC_CANCEL).changes == {"sync_id": sync_id}


def test_cancel_without_javascript_redirects_back(admin_client, sandbox_api):
    sync_id = start_sync(admin_client)
    response = admin_client.post(reverse("sync_cancel", args=[*IDS, DRIVE_CONNECTOR_ID]), {"sync_id": sync_id})
    assert response.url == sync_url(sync_id)
    assert "Sync cancelled." in admin_client.get(response.url).content.decode()
    again = admin_client.post(
        reverse("sync_cancel", args=[*IDS, DRIVE_CONNECTOR_ID]), {"sync_id": sync_id}, follow=True
    )
    assert "already finished" in again.content.decode()


def test_retry_starts_a_new_sync_and_is_audited_as_retry(admin_client, sandbox_api):
    sync_id = start_sync(admin_client)
    admin_client.post(reverse("sync_cancel", args=[*IDS, DRIVE_CONNECTOR_ID]), {"sync_id": sync_id})
    response = admin_client.post(reverse("sync_retry", args=[*IDS, DRIVE_CONNECTOR_ID, sync_id]))
    assert response.status_code == 302 and sync_id not in response.url
    event = AuditEvent.objects.get(action=AuditEvent.Action.SYNC_RETRY)
    assert event.changes["retry_of"] == sync_id


def test_history_pages_and_filters(admin_client, sandbox_api):
    page = admin_client.get(syncs_url() + "?limit=1").content.decode()
    assert "Next page" in page and "Open sync" in page
    failed = admin_client.get(syncs_url() + "?status=failed").content.decode()
    assert "badge-failed" in failed and "badge-completed" not in failed
    admin_client.get(syncs_url() + "?limit=1000")
    assert all("limit=1000" not in r["query"] for r in sandbox_api.requests())


def test_history_when_the_upstream_is_down_keeps_the_frame(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains="/sync", status=503, times=50)
    response = admin_client.get(syncs_url())
    assert response.status_code == 200
    assert "Could not load the syncs" in response.content.decode()


def test_n_tabs_of_one_user_cause_about_one_upstream_read(admin_client, sandbox_api):
    sync_id = start_sync(admin_client)
    sandbox_api.clear_requests()
    for _ in range(20):
        assert admin_client.get(status_url(sync_id), **HX).status_code == 200
    assert len(upstream_reads(sandbox_api, sync_id)) == 1


def test_the_poll_cache_is_never_shared_between_credentials(client, user, other_user, sandbox_api):
    store_key(user, sandbox_api.admin_key)
    store_key(other_user, sandbox_api.add_key(principal="user-bob"))
    client.force_login(user)
    sync_id = start_sync(client)
    sandbox_api.clear_requests()
    client.get(status_url(sync_id), **HX)
    client.force_login(other_user)
    client.get(status_url(sync_id), **HX)
    reads = upstream_reads(sandbox_api, sync_id)
    assert len(reads) == 2  # bob's poll went upstream with bob's key, not alice's cached answer


def test_a_key_without_access_is_not_served_a_cached_answer(client, user, other_user, sandbox_api):
    from sandbox import OTHER_COLLECTION_ID, OTHER_CONNECTOR_ID, OTHER_SPACE_ID

    store_key(user, sandbox_api.admin_key)
    store_key(other_user, sandbox_api.limited_key)
    other = [OTHER_SPACE_ID, OTHER_COLLECTION_ID, OTHER_CONNECTOR_ID]
    client.force_login(user)
    response = client.post(reverse("sync_trigger", args=other))
    sync_id = response.url.rstrip("/").split("/")[-1]
    url = reverse("sync_detail", args=[*other, sync_id])
    assert client.get(url, **HX).status_code == 200
    client.force_login(other_user)
    body = client.get(url, **HX).content.decode()
    assert "no access to this space/collection" in body
    assert "records fetched" not in body


def test_latest_sync_cell_polls_only_running_rows(admin_client, sandbox_api):
    start_sync(admin_client, DRIVE_CONNECTOR_ID)
    running = admin_client.get(reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]), **HX)
    assert running.status_code == 200 and "hx-trigger" in running.content.decode()
    finished = admin_client.get(reverse("sync_latest", args=[*IDS, SLACK_CONNECTOR_ID]), **HX)
    assert finished.status_code == 286 and "hx-trigger" not in finished.content.decode()
    assert "completed" in finished.content.decode()


def test_the_connector_list_makes_no_sync_calls_before_its_first_byte(admin_client, sandbox_api):
    admin_client.get(reverse("connector_list", args=IDS))
    assert not [r for r in sandbox_api.requests() if "/sync" in r["path"]]
    page = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    assert page.count('hx-trigger="load"') == 1  # one request loads every row's latest sync, after the page
    assert page.count("row=") >= 4


def test_detail_panel_lists_recent_syncs_and_offers_sync_now(admin_client, sandbox_api):
    detail = reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID])
    panel = admin_client.get(detail, **HX)
    assert panel["Vary"] and "HX-Request" in panel["Vary"]  # one URL, two bodies
    panel = panel.content.decode()
    assert "Recent syncs" in panel
    # A sync polled inside it that finishes (HX-Trigger: sync-finished) reloads it: "Recent syncs" stays true.
    assert f'hx-get="{detail}" hx-trigger="sync-finished from:body" hx-swap="outerHTML"' in panel
    assert "<html" not in panel and "Details" not in panel
    # "Sync now" is the page's, beside the panel: the page knows the connector's status (paused: Resume instead),
    # and it comes back to the page.
    page = admin_client.get(detail).content.decode()
    assert "Sync now" in page and "Sync history" in page
    assert f'name="next" value="{detail}"' in page


def test_sync_now_comes_back_to_the_page_it_was_pressed_on_when_it_cannot_start(admin_client, sandbox_api):
    detail = reverse("connector_detail", args=[*IDS, GITHUB_CONNECTOR_ID])
    response = admin_client.post(trigger_url(GITHUB_CONNECTOR_ID), {"next": detail})
    assert response.url == detail


def test_the_trigger_and_retry_urls_take_only_posts(admin_client, sandbox_api):
    assert admin_client.get(trigger_url()).status_code == 405
    assert admin_client.get(reverse("sync_retry", args=[*IDS, DRIVE_CONNECTOR_ID, "s1"])).status_code == 405
    assert admin_client.post(syncs_url()).status_code == 405  # the history is a page, not a trigger


def test_invalid_sync_ids_are_404_without_an_upstream_call(admin_client, sandbox_api):
    response = admin_client.get(reverse("sync_list", args=[*IDS, DRIVE_CONNECTOR_ID]) + "..%2Fx/")
    assert response.status_code == 404
    response = admin_client.post(reverse("sync_cancel", args=[*IDS, DRIVE_CONNECTOR_ID]), {"sync_id": "../x"})
    assert response.status_code == 404
    assert sandbox_api.requests() == []


class FakeClient:
    """Answers get_sync with a fixed sync; enough for the status partial."""

    cache_fingerprint = "fake-fingerprint"

    def __init__(self, sync, connector_status="active"):
        self.sync = sync
        self.connector_status = connector_status

    def get_sync(self, *args):
        return self.sync

    def get_connector(self, space_id, collection_id, connector_id):
        return Connector.from_api(
            {
                "id": connector_id,
                "collection_id": collection_id,
                "provider_slug": "google-drive",
                "status": self.connector_status,
            }
        )

    def list_syncs(self, *args, **kwargs):
        raise errors.UnavailableError("not in this test")
