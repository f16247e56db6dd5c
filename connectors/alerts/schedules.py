"""Console-run sync schedules: when the next one is due, and running the due ones (at most once each).

A due schedule is claimed by moving its ``next_run_at`` forward with a compare-and-set *before* the sync is
triggered: two workers never both trigger it, and a worker that dies after the claim does not trigger it again
(a scheduled sync is never retried behind the admin's back). A 409 (a sync already running) is recorded, not retried.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from .models import Schedule

logger = logging.getLogger(__name__)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_run_at(
    *, kind: str, every_hours: int | None, daily_at: dt.time | None, tz: str, after: dt.datetime
) -> dt.datetime:
    """The first run strictly after ``after`` (aware). "every N hours" counts from ``after``; "daily at HH:MM" is
    that wall-clock time in the schedule's timezone (a time skipped by a DST change runs at the shifted instant)."""
    if kind == Schedule.Kind.EVERY:
        return after + dt.timedelta(hours=max(1, int(every_hours or 1)))
    at = daily_at or dt.time(0, 0)
    local = after.astimezone(zone(tz))
    candidate = dt.datetime.combine(local.date(), at, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=local.tzinfo)
    return candidate.astimezone(dt.UTC)


def first_run_at(*, kind: str, every_hours: int | None, daily_at: dt.time | None, tz: str) -> dt.datetime:
    """When a new or changed schedule first runs: the next daily time, or one period from now."""
    return next_run_at(kind=kind, every_hours=every_hours, daily_at=daily_at, tz=tz, after=timezone.now())


def run_due(now: dt.datetime | None = None, limit: int = 200) -> int:
    """Triggers the syncs whose time came. Each due schedule is claimed first (its next run moved on): a run missed
    while no worker ran is not made up several times, only once."""
    now = now or timezone.now()
    ran = 0
    for schedule in Schedule.objects.filter(next_run_at__lte=now).select_related("user")[:limit]:
        following = next_run_at(
            kind=schedule.kind,
            every_hours=schedule.every_hours,
            daily_at=schedule.daily_at,
            tz=schedule.timezone,
            after=now,
        )
        claimed = Schedule.objects.filter(pk=schedule.pk, next_run_at=schedule.next_run_at).update(
            next_run_at=following, last_run_at=now, last_outcome="Starting"
        )
        if claimed:
            outcome, sync_id = _trigger(schedule)
            Schedule.objects.filter(pk=schedule.pk).update(last_outcome=outcome[:300], last_sync_id=sync_id[:128])
            ran += 1
    return ran


def _trigger(schedule: Schedule) -> tuple[str, str]:
    """Starts the scheduled sync with the scheduling admin's key, audited as a scheduled sync. Never retried."""
    from ..aimable import errors
    from ..audit import audited
    from ..models import AuditEvent
    from ..selectors import forget_connector_syncs
    from ..upstream import ApiKeyMissing, client_for

    user = schedule.user
    if not user.is_active:
        return "Not started: the admin who scheduled it is deactivated.", ""
    try:
        client = client_for(user)
    except ApiKeyMissing:
        return "Not started: the admin who scheduled it has no API key stored.", ""
    try:
        with audited(
            user=user,
            action=AuditEvent.Action.SYNC_SCHEDULED,
            space_id=schedule.space_id,
            collection_id=schedule.collection_id,
            connector_id=schedule.connector_id,
            provider_slug=schedule.provider_slug,
            changes={"schedule": schedule.describe()},
        ) as event:
            sync = client.trigger_sync(str(schedule.space_id), str(schedule.collection_id), schedule.connector_id)
            event.changes = {**event.changes, "sync_id": sync.id}
    except errors.ConflictError:
        return "Skipped: a sync was already running.", ""
    except errors.AimableError as exc:
        logger.info("Scheduled sync of %s not started: %s", schedule.connector_id, type(exc).__name__)
        return f"Not started: {exc.message}", ""
    forget_connector_syncs(fingerprint=client.cache_fingerprint, connector_id=schedule.connector_id)
    return "Started.", sync.id
