"""The health state machine: alerts on changes of state only, each once; pure, no I/O."""

import datetime as dt

import pytest

from connectors.aimable.types import Connector, Sync
from connectors.alerts.health import Seen, assess
from connectors.alerts.models import Alert, ConnectorHealth

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
Kind, State = Alert.Kind, ConnectorHealth.State


def connector(status="active", created_days_ago=30):
    return Connector.from_api(
        {
            "id": "c1",
            "provider_slug": "slack",
            "status": status,
            "created_at": (NOW - dt.timedelta(days=created_days_ago)).isoformat(),
        }
    )


def sync(sid, status, hours_ago, records=10, **metadata):
    created = NOW - dt.timedelta(hours=hours_ago)
    return Sync.from_api(
        {
            "id": sid,
            "status": status,
            "records_fetched": records,
            "metadata": metadata,
            "created_at": created.isoformat(),
            "completed_at": None if status == "running" else (created + dt.timedelta(minutes=1)).isoformat(),
        }
    )


def seen(syncs, *, status="active", complete=True, threshold=3, reminder=False, freshness_h=24):
    return Seen(
        connector=connector(status),
        syncs=syncs,
        complete=complete,
        freshness=dt.timedelta(hours=freshness_h),
        stall_after=dt.timedelta(seconds=60),
        failure_threshold=threshold,
        daily_reminder=reminder,
    )


def step(prev, observed, now=NOW):
    """Applies an outcome as the check round does, returning the new health and the kinds alerted."""
    outcome = assess(prev, observed, now=now, name="Slack (c1) in Wiki")
    for key, value in outcome.fields.items():
        setattr(prev, key, value)
    return prev, [e.kind for e in outcome.events]


def fresh():
    return ConnectorHealth(connector_id="c1")


def test_a_healthy_connector_alerts_nothing():
    health, kinds = step(fresh(), seen([sync("s1", "completed", 1)]))
    assert (health.state, kinds) == (State.OK, [])


def test_a_failure_alerts_once_with_aimables_reason_then_recovery_alerts_once():
    health, kinds = step(
        fresh(), seen([sync("s2", "failed", 1, error="Slack said ratelimited"), sync("s1", "completed", 2)])
    )
    assert health.state == State.FAILING and kinds == [Kind.SYNC_FAILED]
    outcome = assess(fresh(), seen([sync("s2", "failed", 1, error="Slack said ratelimited")]), now=NOW, name="x")
    assert outcome.events[0].reason == "Slack said ratelimited" and outcome.events[0].sync_id == "s2"
    # Another failure: the state is the same, so no repeat.
    health, kinds = step(health, seen([sync("s3", "failed", 0.5), sync("s2", "failed", 1)]))
    assert kinds == []
    # A retry running after a failure is not a recovery.
    health, kinds = step(health, seen([sync("s4", "running", 0.01), sync("s3", "failed", 0.5)]))
    assert (health.state, kinds) == (State.FAILING, [])
    health, kinds = step(health, seen([sync("s4", "completed", 0.01), sync("s3", "failed", 0.5)]))
    assert (health.state, kinds) == (State.OK, [Kind.RECOVERED])
    health, kinds = step(health, seen([sync("s4", "completed", 0.01)]))
    assert kinds == []


def test_n_failures_in_a_row_alert_once_per_streak():
    failures = [sync(f"f{i}", "failed", i) for i in range(1, 4)]
    health, kinds = step(fresh(), seen(failures[2:]))
    assert kinds == [Kind.SYNC_FAILED]
    health, kinds = step(health, seen(failures[1:]))
    assert kinds == []
    health, kinds = step(health, seen(failures))
    assert kinds == [Kind.FAILURE_STREAK]
    health, kinds = step(health, seen([sync("f0", "failed", 0.5), *failures]))
    assert kinds == []
    health, kinds = step(health, seen([sync("ok", "completed", 0.1)]))
    assert kinds == [Kind.RECOVERED] and not health.streak_alerted


def test_cancelled_syncs_neither_break_nor_extend_a_streak():
    syncs = [sync("f1", "failed", 1), sync("c", "cancelled", 2), sync("f2", "failed", 3)]
    outcome = assess(fresh(), seen(syncs, threshold=2), now=NOW, name="x")
    assert [e.kind for e in outcome.events] == [Kind.SYNC_FAILED, Kind.FAILURE_STREAK]


@pytest.mark.parametrize(
    ("status", "metadata"),
    [
        ("disconnected", {}),
        ("error", {"error": "The credential has expired or was revoked", "error_code": "credential_expired"}),
        ("active", {"error": "invalid_grant: token revoked"}),
    ],
)
def test_a_rejected_credential_is_needs_reauth_not_failing(status, metadata):
    syncs = [sync("s1", "failed", 1, **metadata)] if metadata else [sync("s1", "completed", 1)]
    health, kinds = step(fresh(), seen(syncs, status=status))
    assert (health.state, kinds) == (State.NEEDS_REAUTH, [Kind.NEEDS_REAUTH])


def test_a_running_sync_that_stops_moving_is_stalled_once():
    done = sync("s0", "completed", 2)
    running = [sync("r", "running", 0.1, records=40), done]
    health, kinds = step(fresh(), seen(running))
    assert (health.state, kinds) == (State.OK, [])
    health, kinds = step(health, seen(running), now=NOW + dt.timedelta(seconds=30))
    assert kinds == []
    health, kinds = step(health, seen(running), now=NOW + dt.timedelta(seconds=61))
    assert (health.state, kinds) == (State.STALLED, [Kind.STALLED])
    health, kinds = step(health, seen(running), now=NOW + dt.timedelta(seconds=300))
    assert kinds == []
    moving = [sync("r", "running", 0.1, records=41), done]
    health, kinds = step(health, seen(moving), now=NOW + dt.timedelta(seconds=320))
    assert (health.state, kinds) == (State.OK, [Kind.RECOVERED])


def test_stale_after_the_expected_freshness_and_never_for_a_paused_connector():
    old = [sync("s1", "completed", 30)]
    health, kinds = step(fresh(), seen(old))
    assert (health.state, kinds) == (State.STALE, [Kind.STALE])
    health, kinds = step(fresh(), seen(old, freshness_h=48))
    assert kinds == []
    health, kinds = step(fresh(), seen(old, status="paused"))
    assert (health.state, kinds) == (State.PAUSED, [])


def test_no_success_among_a_partial_list_counts_from_the_oldest_listed():
    syncs = [sync(f"f{i}", "failed", 20 + i) for i in range(10)]
    outcome = assess(fresh(), seen(syncs, complete=False), now=NOW, name="x")
    assert outcome.fields["state"] == State.FAILING  # failing wins over stale


def test_the_daily_reminder_is_opt_in_and_daily():
    failed = [sync("f1", "failed", 1)]
    health, kinds = step(fresh(), seen(failed, reminder=True))
    health, kinds = step(health, seen(failed, reminder=True), now=NOW + dt.timedelta(hours=23))
    assert kinds == []
    health, kinds = step(health, seen(failed, reminder=True), now=NOW + dt.timedelta(hours=24, minutes=1))
    assert kinds == [Kind.REMINDER]
    health, kinds = step(health, seen(failed, reminder=True), now=NOW + dt.timedelta(hours=25))
    assert kinds == []
    health2, kinds = step(fresh(), seen(failed))
    health2, kinds = step(health2, seen(failed), now=NOW + dt.timedelta(days=3))
    assert kinds == []
