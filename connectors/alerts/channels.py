"""Channel services: add, remove, rotate the signing secret, send a test. Every change is audited with the
channel's masked hint, never its URL or secret."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from ..audit import _event, audited
from ..models import AuditEvent
from . import targets
from .delivery import deliver, fan_out
from .forms import ChannelForm
from .models import Alert, Channel, Delivery

PREVIOUS_SECRET_VALID = timedelta(hours=24)


def new_secret() -> str:
    """A Standard Webhooks signing secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def target_hint(kind: str, target: str) -> str:
    """What pages and the audit log show of a target: an email address whole, a URL masked."""
    return target if kind == Channel.Kind.EMAIL else targets.mask_url(target)


def _named(channel: Channel) -> dict:
    """What the audit log records of a channel: its masked hint and kind, never its URL or secret."""
    return {"channel": channel.target_hint, "kind": channel.kind}


def channel_list(*, user):
    return Channel.objects.filter(user=user)


def channel_context(user) -> dict:
    """What ``alerts/_channels.html`` needs: the user's channels and an empty form to add one."""
    latest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-created_at", "-id")
    channels = channel_list(user=user).annotate(
        last_state=Subquery(latest.values("state")[:1]),
        last_error=Subquery(latest.values("last_error")[:1]),
        last_delivery_at=Subquery(latest.values("created_at")[:1]),
    )
    return {"channels": channels, "channel_form": ChannelForm()}


def channel_add(*, user, kind: str, target: str) -> tuple[Channel, str]:
    """Adds a channel, sent to by every watch of the user (each watch's channels can be changed after); for a
    webhook, also returns its new signing secret (shown once), else ""."""
    secret = new_secret() if kind == Channel.Kind.WEBHOOK else ""
    with transaction.atomic(), audited(user=user, action=AuditEvent.Action.CHANNEL_ADD) as event:
        channel = Channel.objects.create(
            user=user, kind=kind, target=target, target_hint=target_hint(kind, target), secret=secret
        )
        channel.watches.add(*user.watches.all())
        event.changes = _named(channel)
    return channel, secret


def channel_remove(*, user, channel: Channel) -> None:
    """Removes the channel; its deliveries stay, with the masked hint, on the Notifications page."""
    with transaction.atomic(), audited(user=user, action=AuditEvent.Action.CHANNEL_REMOVE, changes=_named(channel)):
        channel.delete()


def channel_rotate_secret(*, user, channel: Channel) -> str:
    """A new signing secret (shown once); the previous one is still signed with, and valid, for 24 hours."""
    secret = new_secret()
    with transaction.atomic(), audited(user=user, action=AuditEvent.Action.CHANNEL_ROTATE, changes=_named(channel)):
        channel.previous_secret = channel.secret
        channel.previous_secret_expires_at = timezone.now() + PREVIOUS_SECRET_VALID
        channel.secret = secret
        channel.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return secret


def channel_send_test(*, user, channel: Channel) -> Delivery:
    """Sends a test alert to the channel now, in the request, and returns its delivery (sent, or failed with the
    reason). Tried once: the user sees the outcome and can send another, so the alert is born read."""
    alert = Alert.objects.create(
        user=user,
        read_at=timezone.now(),
        kind=Alert.Kind.TEST,
        dedupe_key=f"test:{uuid.uuid4()}",
        message=f"This is a test alert from the Aimable Connectors Console to {channel.target_hint}".rstrip(".") + ".",
    )
    (delivery,) = fan_out(alert, [channel])
    deliver(delivery.pk)
    delivery.refresh_from_db()
    ok = delivery.state == Delivery.State.SENT
    _event(  # the outcome is the delivery's, not an exception's: recorded as it is, not through audited()
        user=user,
        action=AuditEvent.Action.CHANNEL_TEST,
        changes=_named(channel),
        outcome=AuditEvent.Outcome.OK if ok else AuditEvent.Outcome.ERROR,
        error="" if ok else delivery.last_error,
    ).save()
    return delivery
