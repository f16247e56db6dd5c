"""Every write of the alert pages: watches, freshness, schedules, read marks. Each change is audited (they are
console-only: nothing is sent to Aimable)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.utils import timezone

from ..audit import audited
from ..models import AuditEvent
from ..principal import forget_top_bar
from . import selectors
from .models import Alert, Channel, ConnectorSettings, Schedule, Watch
from .pausing import pause_for_key_change
from .schedules import first_run_at

Action = AuditEvent.Action


def _uuid(value) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def _watch_ids(watch: Watch) -> dict:
    return {"space_id": watch.space_id, "collection_id": watch.collection_id, "connector_id": watch.connector_id}


def watch_add(*, user, scope: str, space_id, collection_id=None, connector_id: str = "", label: str = "") -> Watch:
    """Watches a connector, a collection or a space; watching it again returns the same watch. A new watch sends to
    all of the user's current channels."""
    scope = Watch.Scope(scope)
    space_id = _uuid(space_id)
    collection_id = _uuid(collection_id) if scope != Watch.Scope.SPACE else None
    connector_id = connector_id if scope == Watch.Scope.CONNECTOR else ""
    target = Watch.target_of(scope, space_id, collection_id, connector_id)
    with transaction.atomic():
        watch, created = Watch.objects.get_or_create(
            user=user,
            target=target,
            defaults={
                "scope": scope,
                "space_id": space_id,
                "collection_id": collection_id,
                "connector_id": connector_id,
                "label": label[:300],
            },
        )
        if not created:
            return watch
        with audited(user=user, action=Action.WATCH_ADD, **_watch_ids(watch), changes={"scope": scope.value}):
            watch.channels.set(Channel.objects.filter(user=user))
    return watch


def watch_remove(*, user, watch: Watch) -> None:
    with transaction.atomic(), audited(user=user, action=Action.WATCH_REMOVE, **_watch_ids(watch)):
        watch.delete()


def watch_update(*, user, watch: Watch, channels, failure_threshold: int, daily_reminder: bool) -> Watch:
    """Which of the user's channels the watch sends to, after how many failures in a row, and the daily reminder."""
    channels = [c for c in channels if c.user_id == user.pk]  # never another admin's channel
    before = {
        "channels": sorted(c.target_hint for c in watch.channels.all()),
        "failure_threshold": watch.failure_threshold,
        "daily_reminder": watch.daily_reminder,
    }
    after = {
        "channels": sorted(c.target_hint for c in channels),
        "failure_threshold": int(failure_threshold),
        "daily_reminder": bool(daily_reminder),
    }
    changes = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
    with transaction.atomic(), audited(user=user, action=Action.WATCH_UPDATE, **_watch_ids(watch), changes=changes):
        watch.failure_threshold = after["failure_threshold"]
        watch.daily_reminder = after["daily_reminder"]
        watch.save(update_fields=["failure_threshold", "daily_reminder"])
        watch.channels.set(channels)
    return watch


def watch_resume(*, user, watch: Watch) -> Watch:
    """Clears the pause (the next check round uses the user's key again)."""
    changes = {"paused": {"from": watch.paused, "to": ""}}
    with transaction.atomic(), audited(user=user, action=Action.WATCH_UPDATE, **_watch_ids(watch), changes=changes):
        watch.paused, watch.paused_at = Watch.Paused.NO, None
        watch.save(update_fields=["paused", "paused_at"])
    return watch


def watches_pause_for_key(*, user, reason: str) -> int:
    """Pauses every active watch of the user (their key is gone, replaced or rejected) and tells them once, on the
    union of those watches' channels (connectors.alerts.pausing). Returns how many it paused."""
    reason = Watch.Paused(reason)
    changes = {"paused": {"from": "", "to": reason.value}}
    with transaction.atomic(), audited(user=user, action=Action.WATCH_PAUSE, changes=changes) as event:
        paused = pause_for_key_change(user=user, reason=reason)
        event.changes["watches"] = paused
        event.skip = not paused  # nothing was active: nothing changed
    return paused


def freshness_set(*, user, space_id, collection_id, connector_id: str, hours: int) -> ConnectorSettings:
    """After how many hours without a successful sync the connector counts as stale (team-wide)."""
    before = selectors.connector_settings(connector_id).freshness_hours  # the default when nobody changed it
    changes = {"freshness_hours": {"from": before, "to": int(hours)}}
    ids = {"space_id": _uuid(space_id), "collection_id": _uuid(collection_id)}
    with audited(user=user, action=Action.FRESHNESS_UPDATE, connector_id=connector_id, changes=changes, **ids):
        settings, _ = ConnectorSettings.objects.update_or_create(
            connector_id=connector_id, defaults={**ids, "freshness_hours": int(hours), "updated_by": user}
        )
    return settings


def schedule_set(
    *,
    user,
    space_id,
    collection_id,
    connector_id: str,
    provider_slug: str,
    kind: str,
    every_hours: int | None,
    daily_at: dt.time | None,
    tz: str,
) -> Schedule:
    """Creates or changes the connector's schedule; the worker runs it with this admin's key."""
    kind = Schedule.Kind(kind)
    every_hours = every_hours if kind == Schedule.Kind.EVERY else None
    daily_at = daily_at if kind == Schedule.Kind.DAILY else None
    tz = tz if kind == Schedule.Kind.DAILY else "UTC"
    current = selectors.schedule_for(connector_id)
    ids = {"space_id": _uuid(space_id), "collection_id": _uuid(collection_id)}
    values = {
        **ids,
        "provider_slug": provider_slug or "",
        "user": user,
        "kind": kind,
        "every_hours": every_hours,
        "daily_at": daily_at,
        "timezone": tz,
        "next_run_at": first_run_at(kind=kind, every_hours=every_hours, daily_at=daily_at, tz=tz),
    }
    described = Schedule(**values).describe()
    changes = {"schedule": {"from": current.describe() if current else None, "to": described}}
    with audited(
        user=user,
        action=Action.SCHEDULE_UPDATE,
        connector_id=connector_id,
        provider_slug=provider_slug,
        changes=changes,
        **ids,
    ):
        schedule, _ = Schedule.objects.update_or_create(connector_id=connector_id, defaults=values)
    return schedule


def schedule_clear(*, user, connector_id: str) -> None:
    """Removes the connector's schedule, if it has one."""
    current = selectors.schedule_for(connector_id)
    if current is None:
        return
    with audited(
        user=user,
        action=Action.SCHEDULE_UPDATE,
        space_id=current.space_id,
        collection_id=current.collection_id,
        connector_id=connector_id,
        provider_slug=current.provider_slug,
        changes={"schedule": {"from": current.describe(), "to": None}},
    ):
        current.delete()


def alerts_mark_read(*, user, ids=None) -> int:
    """Marks the user's unread alerts read (only those ``ids`` when given). Not audited: reading is not a change
    anyone else sees, and every visit of the Notifications page would write a row."""
    unread = Alert.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    marked = unread.update(read_at=timezone.now())
    forget_top_bar(user)  # the bell of the page this request shows counts again
    return marked
