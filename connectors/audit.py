"""The audit log: every change a user makes through the console is recorded, with its outcome."""

import contextlib
from datetime import datetime

from .aimable import errors
from .logging import request_id_var
from .models import AuditEvent


def _event(*, user, action, connector_id="", provider_slug="", **fields) -> AuditEvent:
    request_id = request_id_var.get()
    return AuditEvent(
        user=user,
        username=user.get_username(),
        action=action,
        connector_id=connector_id or "",
        provider_slug=provider_slug or "",
        request_id=request_id if request_id != "-" else "",
        **fields,
    )


@contextlib.contextmanager
def audited(*, user, action, space_id=None, collection_id=None, connector_id="", provider_slug="", changes=None):
    """Records the action whether it succeeds or fails; the caller may fill ``event.connector_id`` and
    ``event.changes`` once it knows them, or set ``event.skip`` when the success is one already recorded. Upstream
    errors are recorded and re-raised."""
    event = _event(
        user=user,
        action=action,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        provider_slug=provider_slug,
        changes=changes or {},
    )
    try:
        yield event
    except errors.AimableError as exc:
        event.outcome = AuditEvent.Outcome.ERROR
        event.error = f"{type(exc).__name__}: {exc.message}"[:2000]
        _fit(event).save()
        raise
    if getattr(event, "skip", False):
        return  # the caller found this success already recorded
    event.outcome = AuditEvent.Outcome.OK
    _fit(event).save()


def _fit(event: AuditEvent) -> AuditEvent:
    """Values the upstream sent (an id of any length) fit their columns: a row is never lost to a long id."""
    event.connector_id = str(event.connector_id or "")[: AuditEvent._meta.get_field("connector_id").max_length]
    event.provider_slug = str(event.provider_slug or "")[: AuditEvent._meta.get_field("provider_slug").max_length]
    return event


def _moment(value) -> datetime | None:
    """An ISO 8601 time with a date and a time of day (as services record one), else None."""
    if not isinstance(value, str) or len(value) < 19 or value[10:11] != "T":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def change_lines(changes: dict, prefix: str = "") -> list[dict]:
    """An event's ``changes`` as flat lines for the log page, e.g. scope_config.folder_ids: +a −b."""
    lines = []
    for key, change in (changes or {}).items():
        label = f"{prefix}{key}"
        if isinstance(change, dict) and change.keys() & {"added", "removed"}:
            lines.append({"label": label, "added": change.get("added") or [], "removed": change.get("removed") or []})
        elif isinstance(change, dict) and change.keys() & {"from", "to"}:
            lines.append({"label": label, "transition": True, "from": change.get("from"), "to": change.get("to")})
        elif isinstance(change, dict) and change:
            lines.extend(change_lines(change, prefix=f"{label}."))
        elif isinstance(change, list):
            lines.append({"label": label, "listed": change})
        elif (moment := _moment(change)) is not None:
            lines.append({"label": label, "time": moment})  # shown as the log shows every time
        else:
            lines.append({"label": label, "text": change})
    return lines


def record_denied(
    *,
    user,
    action,
    space_id=None,
    collection_id=None,
    connector_id="",
    provider_slug="",
    reason: str = "Read-only access",
) -> AuditEvent:
    """A change the user was not allowed to make (read-only or operator access): nothing was sent upstream."""
    event = _event(
        user=user,
        action=action,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        provider_slug=provider_slug,
        outcome=AuditEvent.Outcome.DENIED,
        error=reason,
    )
    event.save()
    return event
