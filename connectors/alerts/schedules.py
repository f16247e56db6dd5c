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
