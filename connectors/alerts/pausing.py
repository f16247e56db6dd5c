"""Pausing watches when their owner's key is removed, replaced or rejected, or their target is gone; the owner is
told once, in the console and on the watches' channels."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from .models import Alert, Watch
from .notify import notify

_TELL = {
    Watch.Paused.KEY_MISSING: "Your API key was removed, so your watches are paused. Store a key, then resume them "
    "on the Notifications page.",
    Watch.Paused.KEY_REPLACED: "Your API key was replaced, so your watches are paused: the new key may see other "
    "connectors. Resume them on the Notifications page.",
    Watch.Paused.KEY_REJECTED: "Aimable rejected your API key, so your watches are paused. Store a working key, then "
    "resume them on the Notifications page.",
    Watch.Paused.NO_ACCESS: "Your API key has no access to what this watch follows any more, so it is paused.",
    Watch.Paused.GONE: "What this watch follows no longer exists in Aimable, so it is paused.",
}


def pause_watches(*, watches, reason: str) -> int:
    """Pauses those of ``watches`` still active (a compare-and-set: two workers never both pause and tell) and tells
    each owner once. Returns how many it paused."""
    now = timezone.now()
    paused_by_user: dict[int, list[Watch]] = defaultdict(list)
    with transaction.atomic():
        for watch in watches:
            if Watch.objects.filter(pk=watch.pk, paused="").update(paused=reason, paused_at=now):
                watch.paused, watch.paused_at = reason, now
                paused_by_user[watch.user_id].append(watch)
        for group in paused_by_user.values():
            channels = {c.pk: c for w in group for c in w.channels.all()}
            what = ", ".join(w.label or w.get_scope_display() for w in group[:5])
            more = f" and {len(group) - 5} more" if len(group) > 5 else ""
            notify(
                user=group[0].user,
                watch=group[0] if len(group) == 1 else None,
                kind=Alert.Kind.WATCH_PAUSED,
                dedupe_key=f"paused:{reason}:{','.join(str(w.pk) for w in group)}:{now.isoformat()}",
                message=f"{_TELL.get(reason, 'Your watch is paused.')} Paused: {what}{more}.",
                reason=Watch.Paused(reason).label,
                space_id=group[0].space_id if len(group) == 1 else None,
                collection_id=group[0].collection_id if len(group) == 1 else None,
                connector_id=group[0].connector_id if len(group) == 1 else "",
                channels=list(channels.values()),
            )
    return sum(len(g) for g in paused_by_user.values())


def pause_for_key_change(*, user, reason: str) -> int:
    """The user's key was removed or replaced: every active watch of theirs pauses."""
    return pause_watches(
        watches=list(Watch.objects.filter(user=user, paused="").prefetch_related("channels")), reason=reason
    )
