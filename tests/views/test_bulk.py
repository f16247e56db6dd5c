"""Bulk actions against the sandbox: start from the overview's selection, run as a task, per-item outcomes, the
sweep after a dead worker, the typed count for delete, read-only users and other users' actions."""

import datetime as dt
import re
import sys
import types
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connectors import bulk
from connectors.alerts.checks import sweep
from connectors.models import ApiKey, AuditEvent, BulkAction, BulkItem
from connectors.permissions import READ_ONLY_GROUP
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DRIVE_CONNECTOR_ID,
    GITHUB_CONNECTOR_ID,
    SALES_COLLECTION_ID,
    SALES_SLACK_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
)
from tests.conftest import store_key
from tests.views.helpers import HTMX, connectors_in

pytestmark = pytest.mark.django_db(transaction=True)  # the task's threads use their own database connections

DRIVE = f"{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{DRIVE_CONNECTOR_ID}"
SLACK = f"{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{SLACK_CONNECTOR_ID}"
GITHUB = f"{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{GITHUB_CONNECTOR_ID}"  # paused in the seed
SALES_SLACK = f"{DEMO_SPACE_ID}:{SALES_COLLECTION_ID}:{SALES_SLACK_CONNECTOR_ID}"


def start(client, kind, *items, **extra):
    return client.post(reverse("bulk_start"), {"kind": kind, "item": list(items), **extra})


def started_action(response) -> BulkAction:
    assert response.status_code == 302, response.status_code
    match = re.fullmatch(r"/connectors/bulk/(\d+)/", response["Location"])
    assert match, response["Location"]
    return BulkAction.objects.get(pk=int(match.group(1)))


def outcomes(action) -> dict[str, tuple[str, str]]:
    return {i.connector_id: (i.outcome, i.message) for i in BulkItem.objects.filter(action=action)}


def sync_posts(sandbox_api, connector_id=None) -> list[dict]:
    return [
        r
        for r in sandbox_api.requests()
        if r["method"] == "POST" and r["path"].endswith("/sync") and (connector_id is None or connector_id in r["path"])
    ]


def test_sync_of_three_runs_as_a_task_with_per_item_results_each_audited(admin_client, sandbox_api):
    action = started_action(start(admin_client, "sync", DRIVE, SLACK, GITHUB))
    assert (action.kind, action.total, action.finished_at) == ("sync", 3, None)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.BULK_START, changes__count=3).count() == 1
    assert not sync_posts(sandbox_api)  # nothing happens in the request: the task does it

    # The worker (django-tasks-db's, in batch mode) runs the task enqueued when the action was committed.
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)

    action.refresh_from_db()
    assert action.finished_at is not None and action.lease_until is None
    results = outcomes(action)
    assert results[DRIVE_CONNECTOR_ID] == ("started", "")
    assert results[SLACK_CONNECTOR_ID] == ("started", "")
    assert results[GITHUB_CONNECTOR_ID] == ("paused", "Connector is paused")  # Aimable's reason
    triggers = AuditEvent.objects.filter(action=AuditEvent.Action.SYNC_TRIGGER)
    assert sorted(triggers.values_list("connector_id", "outcome")) == sorted(
        [(DRIVE_CONNECTOR_ID, "ok"), (SLACK_CONNECTOR_ID, "ok"), (GITHUB_CONNECTOR_ID, "error")]
    )
    assert len(sync_posts(sandbox_api)) == 3  # one trigger each, never retried

    # Again, while those syncs run: "already running", and still one trigger per item.
    again = started_action(start(admin_client, "sync", DRIVE, SLACK))
    assert bulk.run_bulk_action.call(again.pk) == "finished"
    assert {k: v[0] for k, v in outcomes(again).items()} == {
        DRIVE_CONNECTOR_ID: "already running",
        SLACK_CONNECTOR_ID: "already running",
    }
    assert len(sync_posts(sandbox_api)) == 5


def test_a_failing_trigger_is_failed_with_aimables_reason_and_not_retried(admin_client, sandbox_api):
    sandbox_api.add_rule(method="POST", path_contains=DRIVE_CONNECTOR_ID, status=503, times=5)
    action = started_action(start(admin_client, "sync", DRIVE, SLACK))
    bulk.run(action.pk)
    results = outcomes(action)
    assert results[DRIVE_CONNECTOR_ID][0] == "failed" and results[DRIVE_CONNECTOR_ID][1]
    assert results[SLACK_CONNECTOR_ID][0] == "started"
    assert len(sync_posts(sandbox_api, DRIVE_CONNECTOR_ID)) == 1
    assert bulk.run(action.pk) == "skipped"  # finished: running the task twice does nothing
    assert len(sync_posts(sandbox_api)) == 2


def test_detail_page_shows_progress_and_stops_polling_when_finished(admin_client, sandbox_api):
    action = started_action(start(admin_client, "sync", DRIVE, SLACK, GITHUB))
    url = reverse("bulk_detail", args=[action.pk])
    page = admin_client.get(url).content.decode()
    assert '<progress value="0" max="3"' in page and "0 of 3" in page
    assert 'hx-trigger="every 1s"' in page
    # Only this action so far: no second, unpolled "Running 0 of 3" row for it under the live progress.
    assert "recent bulk actions" not in page and page.count("0 of 3") == 1

    other = started_action(start(admin_client, "pause", DRIVE))
    page = admin_client.get(url).content.decode()
    assert "Your other recent bulk actions" in page
    assert reverse("bulk_detail", args=[other.pk]) in page and f'href="{url}"' not in page

    bulk.run(action.pk)
    part = admin_client.get(url, **HTMX)
    body = part.content.decode()
    assert part.status_code == 286  # htmx stops polling
    assert "<html" not in body and "3 of 3" in body and "hx-trigger" not in body
    assert '<progress value="3" max="3"' in body
    assert "started" in body and "Connector is paused" in body
    connector_url = reverse("connector_detail", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    assert f'href="{connector_url}"' in body

    # Coming back later: the list of my bulk actions links to it.
    listing = admin_client.get(reverse("bulk_list")).content.decode()
    assert reverse("bulk_detail", args=[action.pk]) in listing and "3 of 3" in listing


def test_pause_and_resume_say_what_changed(admin_client, sandbox_api):
    paused = started_action(start(admin_client, "pause", DRIVE, GITHUB))
    bulk.run(paused.pk)
    assert {k: v[0] for k, v in outcomes(paused).items()} == {
        DRIVE_CONNECTOR_ID: "paused",
        GITHUB_CONNECTOR_ID: "already paused",
    }
    resumed = started_action(start(admin_client, "resume", DRIVE, SLACK))
    bulk.run(resumed.pk)
    assert {k: v[0] for k, v in outcomes(resumed).items()} == {
        DRIVE_CONNECTOR_ID: "resumed",
        SLACK_CONNECTOR_ID: "already active",
    }
    statuses = {c["id"]: c["status"] for c in connectors_in(sandbox_api, DEMO_COLLECTION_ID)}
    assert (statuses[DRIVE_CONNECTOR_ID], statuses[GITHUB_CONNECTOR_ID]) == ("active", "paused")
    updates = AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTOR_UPDATE, outcome="ok")
    assert updates.count() == 4  # every item, the ones already so too
    # The label says what it is once the connector was read.
    assert BulkItem.objects.get(action=paused, connector_id=GITHUB_CONNECTOR_ID).label.startswith("GitHub")


def test_delete_asks_for_the_typed_count(admin_client, sandbox_api):
    response = start(admin_client, "delete", DRIVE, SLACK)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Type the number of connectors to delete" in page and "Delete 2 connectors?" in page
    assert page.count('name="item"') == 2  # the same selection, to confirm

    wrong = start(admin_client, "delete", DRIVE, SLACK, confirm_count="3")
    assert wrong.status_code == 422
    assert "You typed 3, but 2 connectors are selected: nothing was deleted." in wrong.content.decode()
    assert not BulkAction.objects.exists()
    assert not [r for r in sandbox_api.requests() if r["method"] == "DELETE"]

    action = started_action(start(admin_client, "delete", DRIVE, SLACK, confirm_count="2"))
    bulk.run(action.pk)
    assert {k: v[0] for k, v in outcomes(action).items()} == {
        DRIVE_CONNECTOR_ID: "deleted",
        SLACK_CONNECTOR_ID: "deleted",
    }
    remaining = {c["id"] for c in connectors_in(sandbox_api, DEMO_COLLECTION_ID)}
    assert not remaining & {DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID}

    again = started_action(start(admin_client, "delete", DRIVE, confirm_count="1"))
    bulk.run(again.pk)
    assert outcomes(again)[DRIVE_CONNECTOR_ID][0] == "already gone"
    deletes = AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTOR_DELETE)
    assert deletes.count() == 3


def test_a_dead_workers_running_sync_is_never_run_again(admin_client, sandbox_api):
    action = started_action(start(admin_client, "sync", DRIVE, SLACK))
    # A worker claimed it, asked Aimable for the Drive sync, and died before writing the answer down.
    past = timezone.now() - dt.timedelta(seconds=1)
    BulkAction.objects.filter(pk=action.pk).update(lease_until=past, started_at=past)
    BulkItem.objects.filter(action=action, connector_id=DRIVE_CONNECTOR_ID).update(state=BulkItem.State.RUNNING)
    sandbox_api.clear_requests()

    assert bulk.stalled_actions() == [action.pk]
    assert sweep()["bulk_actions_resumed"] == 1  # the alerts round's sweep enqueues it again
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)

    results = outcomes(action)
    assert results[DRIVE_CONNECTOR_ID] == ("unknown", bulk.UNKNOWN_MESSAGE)
    assert results[SLACK_CONNECTOR_ID][0] == "started"
    assert not sync_posts(sandbox_api, DRIVE_CONNECTOR_ID)
    assert len(sync_posts(sandbox_api, SLACK_CONNECTOR_ID)) == 1
    action.refresh_from_db()
    assert action.finished_at is not None
    assert bulk.stalled_actions() == []


def test_a_dead_workers_running_pause_is_run_again(admin_client, sandbox_api):
    action = started_action(start(admin_client, "pause", DRIVE))
    BulkAction.objects.filter(pk=action.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    BulkItem.objects.filter(action=action).update(state=BulkItem.State.RUNNING)
    assert bulk.resume_stalled() == 1
    assert bulk.run(action.pk) == "finished"
    assert outcomes(action)[DRIVE_CONNECTOR_ID][0] == "paused"


def test_a_held_action_is_left_to_its_worker(admin_client, sandbox_api):
    action = started_action(start(admin_client, "sync", DRIVE))
    BulkAction.objects.filter(pk=action.pk).update(lease_until=timezone.now() + dt.timedelta(minutes=1))
    assert bulk.stalled_actions() == []
    assert bulk.run(action.pk) == "skipped"
    assert not sync_posts(sandbox_api)


def test_a_rejected_key_fails_the_remaining_items(admin_client, sandbox_api, user):
    action = started_action(start(admin_client, "sync", DRIVE, SLACK, GITHUB, SALES_SLACK))
    ApiKey.objects.filter(user=user).update(secret="not-a-key-aimable-knows")
    bulk.run(action.pk)
    results = outcomes(action)
    assert {outcome for outcome, _ in results.values()} == {"failed"}
    assert all("rejected the API key" in message for _, message in results.values())
    assert len(sync_posts(sandbox_api)) <= bulk.CONCURRENCY  # the ones in flight when the first 401 came, at most


def test_select_all_matching_takes_the_overviews_rows(admin_client, sandbox_api, monkeypatch):
    seen = {}

    def matching_rows(*, user, client, query):
        seen["query"] = query.dict()
        return [
            SimpleNamespace(
                space_id=DEMO_SPACE_ID,
                collection_id=collection_id,
                connector_id=connector_id,
                name=name,
                provider_slug="slack",
                status="active",
            )
            for collection_id, connector_id, name in [
                (DEMO_COLLECTION_ID, SLACK_CONNECTOR_ID, "Engineering Slack"),
                (SALES_COLLECTION_ID, SALES_SLACK_CONNECTOR_ID, "Sales Slack"),
                (SALES_COLLECTION_ID, "not/a path id", "Odd one"),
            ]
        ]

    # connectors.overview (the overview page's module) provides matching_rows; a stand-in keeps this test its own.
    fake = types.ModuleType("connectors.overview")
    fake.matching_rows = matching_rows
    monkeypatch.setitem(sys.modules, "connectors.overview", fake)
    monkeypatch.setattr("connectors.overview", fake, raising=False)

    response = admin_client.post(
        reverse("bulk_start"), {"kind": "sync", "all_matching": "1", "query": "provider=slack&q=sales"}
    )
    action = started_action(response)
    assert seen["query"] == {"provider": "slack", "q": "sales"}
    assert action.total == 2
    assert sorted(BulkItem.objects.filter(action=action).values_list("label", flat=True)) == [
        "Engineering Slack",
        "Sales Slack",
    ]


def test_nothing_selected_goes_back_to_the_overview(admin_client, sandbox_api):
    response = admin_client.post(reverse("bulk_start"), {"kind": "sync", "query": "status=paused"})
    assert response.status_code == 302 and response["Location"] == reverse("overview") + "?status=paused"
    assert not BulkAction.objects.exists()
    bad = start(admin_client, "sync", f"{DEMO_SPACE_ID}:not-a-uuid:{DRIVE_CONNECTOR_ID}")
    assert bad.status_code == 302 and not BulkAction.objects.exists()


def test_read_only_users_are_refused_and_the_refusal_audited(client, django_user_model, sandbox_api):
    carol = django_user_model.objects.create_user("carol", password="x")
    carol.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    store_key(carol, sandbox_api.admin_key)
    client.force_login(carol)
    response = start(client, "sync", DRIVE)
    assert response.status_code == 403
    assert not BulkAction.objects.exists() and not sync_posts(sandbox_api)
    denied = AuditEvent.objects.get(action=AuditEvent.Action.BULK_START)
    assert denied.outcome == AuditEvent.Outcome.DENIED
    assert client.get(reverse("bulk_list")).status_code == 200  # reading is fine


def test_another_users_action_is_not_found(admin_client, sandbox_api, other_user, client):
    action = started_action(start(admin_client, "sync", DRIVE))
    url = reverse("bulk_detail", args=[action.pk])
    client.force_login(other_user)
    assert client.get(url).status_code == 404
    assert reverse("bulk_detail", args=[action.pk]) not in client.get(reverse("bulk_list")).content.decode()
    other_user.is_staff = True
    other_user.save()
    assert client.get(url).status_code == 200  # staff may look
