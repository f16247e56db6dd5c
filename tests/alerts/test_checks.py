"""Check rounds against the real sandbox: each change of state alerted once per watch, reads bounded and shared,
a removed, replaced or rejected key pauses the watch and tells the admin, scheduled syncs never doubled."""

import datetime as dt

import pytest
from django.utils import timezone

from connectors.alerts import checks, schedules
from connectors.alerts.models import Alert, CheckRound, ConnectorHealth, Delivery, Schedule, Watch
from connectors.models import ApiKey, AuditEvent
from sandbox import seed
from tests.conftest import store_key

pytestmark = pytest.mark.django_db(transaction=True)

SPACE, COLL = seed.DEMO_SPACE_ID, seed.DEMO_COLLECTION_ID
DISCONNECTED = seed.DISCONNECTED_CONNECTOR_ID
DRIVE = seed.DRIVE_CONNECTOR_ID


def watch(user, scope="connector", connector_id=DISCONNECTED, space_id=SPACE, collection_id=COLL, **kw):
    return Watch.objects.create(
        user=user,
        scope=scope,
        space_id=space_id,
        collection_id=collection_id if scope != "space" else None,
        connector_id=connector_id if scope == "connector" else "",
        **kw,
    )


def v1_reads(sandbox):
    return [r for r in sandbox.requests() if r.get("method") == "GET"]


@pytest.fixture
def admin(user, sandbox_api):
    store_key(user, sandbox_api.admin_key)
    return user


def test_a_disconnected_connector_alerts_needs_reauth_once(admin, sandbox_api):
    w = watch(admin)
    checks.check_watches()
    checks.check_watches()
    alerts = list(Alert.objects.filter(user=admin))
    assert [a.kind for a in alerts] == [Alert.Kind.NEEDS_REAUTH]
    assert alerts[0].connector_id == DISCONNECTED and "credential" in alerts[0].reason.lower()
    health = ConnectorHealth.objects.get(watch=w)
    assert health.state == ConnectorHealth.State.NEEDS_REAUTH


def test_a_failed_sync_then_its_recovery_alert_once_each(admin, sandbox_api, settings):
    settings.SYNC_CACHE_SECONDS = 0  # every round reads afresh
    w = watch(admin, connector_id=DRIVE)
    checks.check_watches()
    assert not Alert.objects.exists()
    sandbox_api.set_faults(fail_rate=1.0, sync_seconds=0)
    admin_client_trigger(sandbox_api, DRIVE)
    checks.check_watches()
    checks.check_watches()
    sandbox_api.set_faults(fail_rate=0.0, sync_seconds=0)
    admin_client_trigger(sandbox_api, DRIVE)
    checks.check_watches()
    checks.check_watches()
    kinds = list(Alert.objects.filter(watch=w).order_by("created_at").values_list("kind", flat=True))
    assert kinds == [Alert.Kind.SYNC_FAILED, Alert.Kind.RECOVERED]


def admin_client_trigger(sandbox, connector_id):
    import requests

    response = requests.post(
        f"{sandbox.url}/v1/spaces/{SPACE}/collections/{COLL}/connectors/{connector_id}/sync",
        headers={"Authorization": f"Bearer {sandbox.admin_key}"},
        timeout=5,
    )
    assert response.status_code == 202, response.text


def test_overlapping_watches_share_one_read_per_collection_and_connector(admin, sandbox_api, other_user):
    store_key(other_user, sandbox_api.admin_key)
    watch(admin, connector_id=DISCONNECTED)
    watch(admin, scope="collection")
    watch(admin, scope="space")
    watch(other_user, scope="collection")
    sandbox_api.clear_requests()
    result = checks.check_watches()
    reads = v1_reads(sandbox_api)
    paths = [r["path"] for r in reads]
    # alice: one collections list (her space watch), one connectors list per collection of the space, one syncs read
    # per connector of those; bob: one connectors list and one syncs read per connector of his collection.
    connector_lists = [p for p in paths if p.endswith("/connectors")]
    sync_reads = [p for p in paths if p.endswith("/sync")]
    assert len([p for p in paths if p.endswith("/collections")]) == 1
    assert len(connector_lists) == 3 + 1  # Acme Corp has 3 collections; bob's one
    alice_syncs = 5  # Engineering Wiki's 4 connectors + Sales Playbooks' 1
    bob_syncs = 4
    assert len(sync_reads) == alice_syncs + bob_syncs
    assert result["upstream_reads"] == len(reads)
    # Alice's three overlapping watches: her narrowest, the connector's own, speaks for it, once; bob's once.
    alerts = Alert.objects.filter(user=admin, connector_id=DISCONNECTED, kind=Alert.Kind.NEEDS_REAUTH)
    assert [a.watch.scope for a in alerts] == ["connector"]
    assert Alert.objects.filter(user=other_user, kind=Alert.Kind.NEEDS_REAUTH).count() == 1


def test_two_rounds_at_once_alert_each_change_once(admin, sandbox_api):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite's in-memory test database locks whole tables across threads; CI runs this on PostgreSQL")

    watch(admin, scope="collection")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: checks.check_watches(), range(4)))
    assert Alert.objects.filter(user=admin, kind=Alert.Kind.NEEDS_REAUTH).count() == 1


def test_a_rejected_key_pauses_the_watches_and_tells_the_admin(admin, sandbox_api):
    from connectors.alerts.models import Channel

    channel = Channel.objects.create(user=admin, kind="email", target="alice@example.com", target_hint="a…@example.com")
    w = watch(admin)
    w.channels.add(channel)
    ApiKey.objects.filter(user=admin).update(secret="aim_revoked_key_0000")  # stands in for a revoked key
    checks.check_watches()
    w.refresh_from_db()
    assert w.paused == Watch.Paused.KEY_REJECTED
    notice = Alert.objects.get(user=admin)
    assert notice.kind == Alert.Kind.WATCH_PAUSED and "rejected" in notice.message
    assert Delivery.objects.filter(alert=notice, channel=channel).exists()
    checks.check_watches()  # a paused watch is not checked, nor told twice
    assert Alert.objects.filter(user=admin).count() == 1


def test_removing_or_replacing_the_key_pauses_the_watches(client, admin, sandbox_api):
    from connectors import services

    w = watch(admin)
    services.api_key_save(user=admin, secret=sandbox_api.limited_key, auth_scheme="bearer", verified=True)
    w.refresh_from_db()
    assert w.paused == Watch.Paused.KEY_REPLACED
    Watch.objects.filter(pk=w.pk).update(paused="")
    services.api_key_delete(user=admin)
    w.refresh_from_db()
    assert w.paused == Watch.Paused.KEY_MISSING
    assert Alert.objects.filter(user=admin, kind=Alert.Kind.WATCH_PAUSED).count() == 2


def test_a_space_the_key_cannot_reach_pauses_only_that_watch(admin, sandbox_api):
    ApiKey.objects.filter(user=admin).update(secret=sandbox_api.limited_key)
    elsewhere = watch(admin, scope="space", space_id=seed.OTHER_SPACE_ID)
    here = watch(admin)
    checks.check_watches()
    elsewhere.refresh_from_db()
    here.refresh_from_db()
    assert elsewhere.paused in (Watch.Paused.NO_ACCESS, Watch.Paused.GONE)
    assert here.paused == ""


def test_a_deleted_connector_pauses_its_watch(admin, sandbox_api):
    w = watch(admin, connector_id="c1a2b3c4-d5e6-4f70-8a91-000000000000")
    checks.check_watches()
    w.refresh_from_db()
    assert w.paused == Watch.Paused.GONE


def test_a_slow_or_failing_upstream_changes_nothing(admin, sandbox_api):
    w = watch(admin)
    sandbox_api.set_faults(error_rate=1.0, error_status=503)
    checks.check_watches()
    w.refresh_from_db()
    assert w.paused == "" and not Alert.objects.exists() and not ConnectorHealth.objects.exists()


def test_each_slot_starts_one_round(admin, sandbox_api, settings):
    settings.ALERTS_CHECK_SECONDS = 60
    assert checks.ensure_round(now=600.0) == 10
    assert checks.ensure_round(now=601.0) is None
    assert checks.ensure_round(now=660.0) == 11
    assert CheckRound.objects.count() == 2
    result = checks.run_round(10)
    assert "watches" in result
    assert checks.run_round(10) == {"slot": 10, "skipped": "already started"}


def make_schedule(user, **kw):
    defaults = dict(
        connector_id=DRIVE,
        space_id=SPACE,
        collection_id=COLL,
        provider_slug="google-drive",
        user=user,
        kind="every",
        every_hours=6,
        next_run_at=timezone.now() - dt.timedelta(seconds=1),
    )
    return Schedule.objects.create(**{**defaults, **kw})


def test_a_due_schedule_starts_one_sync_audited_as_scheduled(admin, sandbox_api):
    schedule = make_schedule(admin)
    assert schedules.run_due() == 1
    assert schedules.run_due() == 0  # claimed: moved six hours on
    schedule.refresh_from_db()
    assert schedule.last_outcome == "Started." and schedule.last_sync_id
    assert dt.timedelta(hours=5, minutes=59) < schedule.next_run_at - timezone.now() <= dt.timedelta(hours=6)
    triggers = [r for r in sandbox_api.requests() if r.get("method") == "POST"]
    assert len(triggers) == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.SYNC_SCHEDULED)
    assert event.username == admin.username and event.outcome == "ok"


def test_a_scheduled_sync_while_one_runs_is_recorded_not_retried(admin, sandbox_api):
    sandbox_api.set_faults(sync_seconds=30)
    admin_client_trigger(sandbox_api, DRIVE)
    schedule = make_schedule(admin)
    schedules.run_due()
    schedule.refresh_from_db()
    assert schedule.last_outcome == "Skipped: a sync was already running."
    assert len([r for r in sandbox_api.requests() if r.get("method") == "POST"]) == 2
    assert AuditEvent.objects.get(action=AuditEvent.Action.SYNC_SCHEDULED).outcome == "error"


def test_daily_schedules_follow_their_timezone():
    after = dt.datetime(2026, 3, 7, 20, 0, tzinfo=dt.UTC)
    at = schedules.next_run_at(
        kind="daily", every_hours=None, daily_at=dt.time(9, 30), tz="America/New_York", after=after
    )
    assert at == dt.datetime(2026, 3, 8, 13, 30, tzinfo=dt.UTC)  # 09:30 EDT, the day the clocks change
    at = schedules.next_run_at(kind="daily", every_hours=None, daily_at=dt.time(9, 30), tz="Nowhere/Bogus", after=after)
    assert at == dt.datetime(2026, 3, 8, 9, 30, tzinfo=dt.UTC)


def test_old_rounds_and_finished_tasks_are_pruned_alerts_stay(admin, sandbox_api):
    old = CheckRound.objects.create(slot=1)
    CheckRound.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    recent = CheckRound.objects.create(slot=2)
    watch(admin)
    checks.check_watches()
    assert checks.prune() >= 1
    assert list(CheckRound.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Alert.objects.count() == 1


def test_a_space_watch_covers_every_collection_past_the_first_page(admin, sandbox_api):
    extra = [sandbox_api.state.add_collection(SPACE, f"Team {i:03d}") for i in range(110)]
    watch(admin, scope="space")
    checks.check_watches()
    listed = {
        r["path"].split("/collections/")[1].split("/")[0]
        for r in v1_reads(sandbox_api)
        if r["path"].endswith("/connectors")
    }
    assert {c["collection_id"] for c in extra} <= listed
