"""Sends alerts to channels, at least once: email, Slack incoming webhooks and signed webhooks (Standard Webhooks).

A worker claims a delivery with a compare-and-set UPDATE that takes a short lease, so two workers never send the
same delivery at once; one that dies mid-send leaves the lease to run out, and the next check round's sweep
(``due_deliveries``) hands the delivery to another worker. A failed attempt is retried with exponential backoff for
``settings.ALERTS_RETRY_HOURS``, then the delivery is marked failed. Nothing stored or logged here holds a secret:
errors are scrubbed of the channel's URL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from requests import exceptions as requests_errors
from standardwebhooks.webhooks import Webhook

from ..aimable.types import is_path_id, is_uuid
from ..audit import _event
from ..models import AuditEvent
from ..providers import get_provider
from . import targets
from .models import Alert, Channel, Delivery

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
SEND_TIMEOUT = 10  # seconds
RESPONSE_BODY_CAP = 4096  # bytes of a receiver's answer read, to quote the start of it in an error
ERROR_CAP = 500  # characters of an error kept

# slack_sdk logs the webhook URL at DEBUG and its errors at ERROR: it gets a logger that says nothing, and the
# outcome is logged here, scrubbed.
_slack_sdk_logger = logging.getLogger("connectors.alerts.slack_sdk")
_slack_sdk_logger.disabled = True


class SendFailed(Exception):
    """One attempt failed; ``message`` says why for people, free of secrets."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ----- Fan-out, claim and outcome ---------------------------------------------------------------------------------


def fan_out(alert: Alert, channels: list[Channel]) -> list[Delivery]:
    """One delivery per channel, due now. A channel that has the alert already keeps its delivery."""
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(
                alert=alert,
                channel=channel,
                channel_kind=channel.kind,
                channel_hint=channel.target_hint,
                next_attempt_at=now,
            )
            for channel in channels
        ],
        ignore_conflicts=True,
    )
    return list(Delivery.objects.filter(alert=alert, channel__in=channels))


def _due(now: datetime) -> Q:
    return Q(
        state__in=[Delivery.State.PENDING, Delivery.State.RETRYING],
        next_attempt_at__lte=now,
    ) & (Q(lease_until__isnull=True) | Q(lease_until__lte=now))


def due_deliveries(now: datetime | None = None, *, limit: int = 1000) -> list[int]:
    """Ids of the deliveries due and held by no worker, oldest first: the check round enqueues them again."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(_due(now)).order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]
    )


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first attempt, doubling, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def deliver(delivery_id: int) -> str:
    """Sends one delivery if it is due and no other worker holds it. Returns the state it ended in, or "skipped"
    (not due, already sent, or another worker's) or "superseded" (this worker's lease ran out mid-send and another
    worker took the delivery over: that one records the outcome)."""
    now = timezone.now()
    # Longer than one send can take (every send has a timeout of at most SEND_TIMEOUT): ALERTS_DELIVERY_LEASE_SECONDS.
    lease = now + timedelta(seconds=settings.ALERTS_DELIVERY_LEASE_SECONDS)
    claimed = Delivery.objects.filter(_due(now), pk=delivery_id).update(lease_until=lease, attempts=F("attempts") + 1)
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related("alert", "alert__user", "channel").get(pk=delivery_id)
    error = _attempt(delivery)
    done = timezone.now()
    mine = Delivery.objects.filter(pk=delivery_id, lease_until=lease)
    if error is None:
        state = Delivery.State.SENT
        if not mine.update(state=state, sent_at=done, lease_until=None, last_error=""):
            return "superseded"
    else:
        deadline = delivery.created_at + timedelta(hours=settings.ALERTS_RETRY_HOURS)
        # A test is tried once (the user sees the result at once and can send another); a removed channel is gone.
        if delivery.alert.kind == Alert.Kind.TEST or delivery.channel is None or done >= deadline:
            state = Delivery.State.FAILED
            updated = mine.update(state=state, lease_until=None, last_error=error)
        else:
            state = Delivery.State.RETRYING
            next_attempt = min(done + retry_delay(delivery.attempts), deadline)
            updated = mine.update(state=state, lease_until=None, last_error=error, next_attempt_at=next_attempt)
        if not updated:
            return "superseded"
        logger.warning(
            "Alert delivery %s to %s failed (attempt %s, now %s): %s",
            delivery.pk,
            delivery.channel_hint,
            delivery.attempts,
            state,
            error,
        )
    if state != Delivery.State.RETRYING:
        _audit(delivery, ok=error is None, error=error or "")
    return state


def _attempt(delivery: Delivery) -> str | None:
    """One send; the reason it failed (scrubbed), or ``None`` when the channel took it."""
    channel = delivery.channel
    if channel is None:
        return "The channel was removed."
    target = channel.target
    if not target:
        return "The channel's address cannot be read (the console's encryption keys changed); add the channel again."
    secrets = (target, channel.secret or "", channel.previous_secret or "")
    try:
        SENDERS[channel.kind](delivery.alert, channel)
    except SendFailed as exc:
        message = exc.message
    except targets.TargetRefused as exc:
        message = f"Not sent: {exc.message}"
    except Exception as exc:  # any failure of one send is a failed attempt, retried, never a crash
        message = f"{type(exc).__name__}: {exc}"
    else:
        return None
    return targets.scrub(message, *secrets)[:ERROR_CAP]


def _audit(delivery: Delivery, *, ok: bool, error: str) -> None:
    alert = delivery.alert
    _event(
        user=alert.user,
        action=AuditEvent.Action.ALERT_DELIVERY,
        space_id=alert.space_id,
        collection_id=alert.collection_id,
        connector_id=alert.connector_id,
        provider_slug=alert.provider_slug,
        outcome=AuditEvent.Outcome.OK if ok else AuditEvent.Outcome.ERROR,
        error=error,
        changes={"kind": alert.kind, "channel": delivery.channel_hint, "attempt": delivery.attempts},
    ).save()


# ----- What an alert says -----------------------------------------------------------------------------------------


def alert_url(alert: Alert) -> str:
    """The console page about the alert: its connector's page when the ids fit a URL, else the Notifications page."""
    if (
        alert.space_id
        and alert.collection_id
        and is_uuid(alert.space_id)
        and is_uuid(alert.collection_id)
        and is_path_id(alert.connector_id)
    ):
        path = reverse(
            "connector_detail",
            kwargs={
                "space_id": alert.space_id,
                "collection_id": alert.collection_id,
                "connector_id": alert.connector_id,
            },
        )
    else:
        path = "/notifications/"
    return settings.CONSOLE_URL + path


def provider_name(alert: Alert) -> str:
    provider = get_provider(alert.provider_slug) if alert.provider_slug else None
    return provider.name if provider else alert.provider_slug


def subject(alert: Alert) -> str:
    """ "[Aimable] Sync failed: Google Drive …f601 in Engineering Wiki"."""
    # The label names the connector and where it is ("Google Drive …f601 in Engineering Wiki"); without one, the
    # provider does.
    provider, label = provider_name(alert), alert.label
    what = label if provider and provider in label else " in ".join(part for part in (provider, label) if part)
    text = f"[Aimable] {alert.get_kind_display()}" + (f": {what}" if what else "")
    return " ".join(text.split())[:200]  # one line: a header


def payload(alert: Alert) -> dict:
    """The webhook's JSON body (the same on every attempt)."""
    time = alert.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "type": f"connector.{alert.kind}",
        "timestamp": time,
        "data": {
            "alert_id": str(alert.id),
            "event": alert.kind,
            "message": alert.message,
            "connector": {"id": alert.connector_id or None, "provider": alert.provider_slug or None},
            "collection": {"id": str(alert.collection_id) if alert.collection_id else None},
            "space": {"id": str(alert.space_id) if alert.space_id else None},
            "label": alert.label,
            "sync_id": alert.sync_id or None,
            "status": alert.status or None,
            "reason": alert.reason or None,
            "url": alert_url(alert),
            "time": time,
        },
    }


def _details(alert: Alert) -> list[tuple[str, str]]:
    rows = [
        ("Connector", " ".join(part for part in (provider_name(alert), alert.connector_id) if part)),
        ("Where", alert.label),
        ("Status", alert.status),
        ("Reason", alert.reason),
        ("Sync", alert.sync_id),
    ]
    return [(name, value) for name, value in rows if value]


# ----- Senders: one per channel kind ------------------------------------------------------------------------------


def send_email(alert: Alert, channel: Channel) -> None:
    url = alert_url(alert)
    details = _details(alert)
    text = "\n".join(
        [alert.message, "", *(f"{name}: {value}" for name, value in details), "", f"Open the console: {url}"]
    )
    rows = format_html(
        "".join("<tr><th align='left'>{}</th><td>{}</td></tr>" for _ in details),
        *(item for row in details for item in row),
    )
    html = format_html("<p>{}</p><table>{}</table><p><a href='{}'>Open the console</a></p>", alert.message, rows, url)
    message = EmailMultiAlternatives(subject(alert), text, to=[channel.target])
    message.attach_alternative(html, "text/html")
    message.send()


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_slack(alert: Alert, channel: Channel) -> None:
    url = targets.check_url(channel.target, slack=True)
    link = alert_url(alert)
    details = "\n".join(f"*{name}:* {_slack_escape(value)}" for name, value in _details(alert))
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{_slack_escape(subject(alert))}*\n{_slack_escape(alert.message)}"},
        },
        *([{"type": "section", "text": {"type": "mrkdwn", "text": details}}] if details else []),
        {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open the console>"}},
    ]
    from slack_sdk.webhook import WebhookClient  # here, not at the top: 4 MB a web process needs only to send

    client = WebhookClient(url, timeout=SEND_TIMEOUT, logger=_slack_sdk_logger, retry_handlers=[])
    try:
        response = client.send(text=f"{alert.message} {link}", blocks=blocks)
    except OSError as exc:  # urllib's URLError, a timeout, a refused connection
        raise SendFailed(f"Could not reach Slack: {getattr(exc, 'reason', None) or exc}") from None
    if response.status_code != 200:
        raise SendFailed(f"Slack answered {response.status_code}: {(response.body or '').strip()[:200]}")


def signature_header(channel: Channel, msg_id: str, timestamp: datetime, body: str) -> str:
    """The new secret's signature and, during a rotation, the previous secret's too (receivers accept either)."""
    secrets = [channel.secret]
    if (
        channel.previous_secret
        and channel.previous_secret_expires_at
        and channel.previous_secret_expires_at > timestamp
    ):
        secrets.append(channel.previous_secret)
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


def send_webhook(alert: Alert, channel: Channel) -> None:
    url = targets.check_url(channel.target)
    if not channel.secret:
        raise SendFailed("The channel's signing secret cannot be read (the encryption keys changed); rotate it.")
    body = json.dumps(payload(alert), separators=(",", ":"))
    timestamp = timezone.now().astimezone(UTC).replace(microsecond=0)
    headers = {
        "content-type": "application/json",
        "webhook-id": alert.webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(channel, alert.webhook_id, timestamp, body),
    }
    host = targets.mask_url(url)
    with targets.checked_session() as session:
        try:
            response = session.post(
                url, data=body.encode(), headers=headers, timeout=SEND_TIMEOUT, allow_redirects=False, stream=True
            )
        except requests_errors.Timeout:
            raise SendFailed(f"{host} did not answer within {SEND_TIMEOUT} s.") from None
        except requests_errors.RequestException as exc:
            raise SendFailed(f"Could not connect to {host}: {_root_cause(exc)}") from None
        with response:
            if 200 <= response.status_code < 300:
                return
            answer = response.raw.read(RESPONSE_BODY_CAP, decode_content=True).decode("utf-8", "replace").strip()
    if 300 <= response.status_code < 400:
        raise SendFailed(f"{host} answered {response.status_code} (a redirect): redirects are not followed.")
    raise SendFailed(f"{host} answered {response.status_code}" + (f": {answer[:200]}" if answer else "."))


def _root_cause(exc: BaseException) -> str:
    """The innermost cause of a requests error ("Connection refused"), without the URL requests puts around it."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__
    return getattr(seen, "strerror", None) or type(seen).__name__


SENDERS: dict[str, Callable[[Alert, Channel], None]] = {
    Channel.Kind.EMAIL: send_email,
    Channel.Kind.SLACK: send_slack,
    Channel.Kind.WEBHOOK: send_webhook,
}
