"""A connector's health from what Aimable says, and the alerts a change of it calls for. Pure: no I/O.

States, worst first: needs re-auth (the connector is ``disconnected``, or its latest failure says the credential
was rejected), failing (the latest finished sync failed), stalled (a running sync whose record count has not moved
for SYNC_STALL_SECONDS), stale (no successful sync within the connector's expected freshness), ok. A paused
connector is "paused", without an alert: nobody expects it to sync.

Alerts come on changes of state only: entering a bad state, N failures in a row (once per streak), recovering;
and, opted in, one reminder a day while it stays bad.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from ..aimable.types import Connector, Sync
from .models import Alert, ConnectorHealth

State = ConnectorHealth.State
Kind = Alert.Kind

SUCCEEDED = frozenset({"completed", "succeeded", "success"})
FAILED = frozenset({"failed", "error"})
CANCELLED = frozenset({"cancelled", "canceled"})
PAUSED = frozenset({"paused"})
# Words of a failure that means the credential was refused: the fix is Reconnect, not Retry.
CREDENTIAL_FAILURE = re.compile(
    r"credential|token|re-?auth|unauthori[sz]ed|invalid[_ ]grant|revoked|expired|reconnect|401|forbidden",
    re.IGNORECASE,
)
REMINDER_EVERY = dt.timedelta(hours=24)
_BAD_KIND = {
    State.FAILING: Kind.SYNC_FAILED,
    State.STALLED: Kind.STALLED,
    State.NEEDS_REAUTH: Kind.NEEDS_REAUTH,
    State.STALE: Kind.STALE,
}


def failure_reason(sync: Sync) -> str:
    metadata = sync.metadata or {}
    reason = metadata.get("error") or metadata.get("message") or metadata.get("detail") or metadata.get("reason")
    return str(reason)[:2000] if reason else "Aimable gave no reason."


def is_credential_failure(sync: Sync) -> bool:
    metadata = sync.metadata or {}
    text = " ".join(str(metadata.get(k) or "") for k in ("error_code", "code", "error", "message", "detail"))
    return bool(CREDENTIAL_FAILURE.search(text))


@dataclass
class Seen:
    """What the check read: the connector and its newest syncs (newest first; ``complete`` when that is all)."""

    connector: Connector
    syncs: list[Sync]
    complete: bool
    freshness: dt.timedelta
    stall_after: dt.timedelta
    failure_threshold: int
    daily_reminder: bool


@dataclass
class Event:
    kind: str
    message: str
    reason: str = ""
    sync_id: str = ""
    status: str = ""


@dataclass
class Outcome:
    fields: dict
    events: list[Event] = field(default_factory=list)


def _finished(syncs: list[Sync]) -> list[Sync]:
    return [s for s in syncs if s.is_terminal and s.status.lower() not in CANCELLED]


def _when(sync: Sync) -> dt.datetime | None:
    return sync.completed_at or sync.created_at


def assess(prev: ConnectorHealth, seen: Seen, *, now: dt.datetime, name: str) -> Outcome:
    """The new health of one watched connector and the alerts due, from its previous health and a fresh read.

    ``name`` names the connector in messages (e.g. "Google Drive in Engineering Wiki").
    """
    c, syncs = seen.connector, seen.syncs
    status = (c.status or "").lower()
    latest = syncs[0] if syncs else None
    finished = _finished(syncs)
    last_finished = finished[0] if finished else None

    consecutive = 0
    for s in finished:
        if s.status.lower() in FAILED:
            consecutive += 1
        else:
            break

    last_success = next((_when(s) for s in finished if s.status.lower() in SUCCEEDED), None)
    if last_success is None or (prev.last_success_at and prev.last_success_at > last_success):
        last_success = prev.last_success_at or last_success

    # Stalled: the same running sync, its records standing still since running_since.
    running = latest if latest is not None and not latest.is_terminal else None
    running_records, running_since = None, None
    if running is not None:
        records = running.records_fetched or 0
        if prev.latest_sync_id == running.id and prev.running_records == records and prev.running_since:
            running_records, running_since = records, prev.running_since
        else:
            running_records, running_since = records, now

    reason = ""
    if status == "disconnected" or (
        last_finished is not None and last_finished.status.lower() in FAILED and is_credential_failure(last_finished)
    ):
        state = State.NEEDS_REAUTH
        reason = failure_reason(last_finished) if last_finished and last_finished.status.lower() in FAILED else ""
        reason = reason or "Aimable marks the connector disconnected: its credential no longer works."
    elif status in PAUSED:
        state = State.PAUSED  # nobody expects it to sync: neither failing, stalled nor stale
    elif last_finished is not None and last_finished.status.lower() in FAILED:  # until a sync succeeds
        state = State.FAILING
        reason = failure_reason(last_finished)
    elif running is not None and running_since is not None and now - running_since >= seen.stall_after:
        state = State.STALLED
        minutes = int((now - running_since).total_seconds() // 60)
        reason = f"No new records for {minutes} min ({running_records} so far)."
    else:
        since = last_success
        if since is None and seen.complete:
            since = c.created_at  # never succeeded: count from its creation
        if since is None and not seen.complete and syncs:
            since = _when(syncs[-1])  # no success among the newest: older than the oldest listed
        if since is not None and now - since > seen.freshness:
            state = State.STALE
            hours = int(seen.freshness.total_seconds() // 3600)
            reason = f"No successful sync within {hours} h."
        else:
            state = State.OK

    fields = {
        "provider_slug": c.provider_slug[:64],
        "consecutive_failures": consecutive,
        "latest_sync_id": (latest.id if latest else "")[:128],
        "latest_sync_status": (latest.status if latest else "")[:32],
        "last_success_at": last_success,
        "running_records": running_records,
        "running_since": running_since,
        "reason": reason,
        "checked_at": now,
    }
    events: list[Event] = []
    sync_id = (last_finished.id if last_finished and state in (State.FAILING, State.NEEDS_REAUTH) else "") or (
        running.id if running and state == State.STALLED else ""
    )
    sync_status = last_finished.status if last_finished and state in (State.FAILING, State.NEEDS_REAUTH) else ""

    if state != prev.state:
        fields.update(state=state, episode=prev.episode + 1, state_since=now, reminded_at=None)
        if state == State.PAUSED:
            pass  # paused on purpose: no alert; what was alerted before stays alerted until it succeeds
        elif state == State.OK:
            fields["alerted"] = False
            if prev.alerted:
                events.append(
                    Event(
                        Kind.RECOVERED,
                        f"{name} recovered: the latest sync succeeded.",
                        sync_id=latest.id if latest else "",
                        status=latest.status if latest else "",
                    )
                )
        else:
            fields["alerted"] = True
            events.append(
                Event(_BAD_KIND[state], _message(state, name, reason), reason, sync_id, sync_status or status)
            )
    elif state not in (State.OK, State.PAUSED) and seen.daily_reminder:
        last = prev.reminded_at or prev.state_since
        if last is not None and now - last >= REMINDER_EVERY:
            fields["reminded_at"] = now
            events.append(
                Event(
                    Kind.REMINDER,
                    f"Still {State(state).label.lower()}: {name}. {reason}".strip(),
                    reason,
                    sync_id,
                    sync_status,
                )
            )

    if consecutive >= seen.failure_threshold > 0 and not prev.streak_alerted:
        fields["streak_alerted"] = True
        events.append(
            Event(
                Kind.FAILURE_STREAK,
                f"{name} failed {consecutive} times in a row.",
                reason or (failure_reason(last_finished) if last_finished else ""),
                last_finished.id if last_finished else "",
                last_finished.status if last_finished else "",
            )
        )
    elif consecutive == 0 and prev.streak_alerted:
        fields["streak_alerted"] = False
    return Outcome(fields=fields, events=events)


def _message(state: str, name: str, reason: str) -> str:
    if state == State.FAILING:
        return f"A sync of {name} failed: {reason}"
    if state == State.NEEDS_REAUTH:
        return f"{name} needs re-auth: its credential was rejected. Reconnect it."
    if state == State.STALLED:
        return f"A sync of {name} stalled. {reason}"
    return f"{name} is stale: no successful sync for longer than expected."
