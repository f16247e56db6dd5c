"""Deliveries against real receivers: an SMTP server, a Standard Webhooks receiver and a stand-in for Slack, all in
the test process on loopback. Time moves by editing the rows, never by sleeping."""

import json
import logging
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from connectors.alerts import delivery as alerts_delivery
from connectors.alerts.channels import channel_add, channel_rotate_secret
from connectors.alerts.delivery import deliver, due_deliveries, fan_out
from connectors.alerts.models import Alert, Channel, Delivery
from connectors.alerts.notify import notify
from connectors.models import AuditEvent

from .receivers import HttpReceiver, SmtpServer

pytestmark = pytest.mark.django_db

SPACE = uuid.UUID("11111111-1111-4111-8111-111111111111")
COLLECTION = uuid.UUID("22222222-2222-4222-8222-222222222222")


@pytest.fixture(autouse=True)
def private_receivers(settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    settings.CONSOLE_URL = "https://console.example.com"
    settings.ALERTS_RETRY_HOURS = 24


def sync_failed(user, channel, key="sync:1"):
    alert = notify(
        user=user,
        kind=Alert.Kind.SYNC_FAILED,
        dedupe_key=key,
        message="The latest sync of Google Drive failed: token expired.",
        channels=[channel],
        space_id=SPACE,
        collection_id=COLLECTION,
        connector_id="conn_42",
        provider_slug="google-drive",
        label="Engineering Wiki",
        sync_id="sync_7",
        status="failed",
        reason="token expired",
    )
    return alert, Delivery.objects.get(alert=alert, channel=channel)


def make_due(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def assert_no_secret(text, *secrets):
    for secret in secrets:
        assert secret not in text


# ----- Email ------------------------------------------------------------------------------------------------------


def test_email_reaches_a_real_smtp_server(user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    with SmtpServer() as smtp:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
        channel, secret = channel_add(user=user, kind=Channel.Kind.EMAIL, target="oncall@example.com")
        assert secret == ""
        alert, delivery = sync_failed(user, channel)
        assert deliver(delivery.pk) == "sent"
    (message,) = smtp.mailbox.messages
    assert message["Subject"] == "[Aimable] Sync failed: Google Drive in Engineering Wiki"
    assert message["To"] == "oncall@example.com"
    text = message.get_body(("plain",)).get_content()
    assert "token expired" in text
    link = f"https://console.example.com/spaces/{SPACE}/collections/{COLLECTION}/connectors/conn_42/"
    assert link in text
    assert link in message.get_body(("html",)).get_content()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.lease_until) == ("sent", 1, None)
    event = AuditEvent.objects.get(action=AuditEvent.Action.ALERT_DELIVERY)
    assert (event.outcome, event.username, event.connector_id, event.space_id) == ("ok", "alice", "conn_42", SPACE)
    assert event.changes == {"kind": "sync_failed", "channel": "oncall@example.com", "attempt": 1}


# ----- Signed webhooks --------------------------------------------------------------------------------------------


def test_webhook_is_signed_the_standard_webhooks_way(user):
    with HttpReceiver() as receiver:
        channel, secret = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        alert, delivery = sync_failed(user, channel)
        assert deliver(delivery.pk) == "sent"
    (request,) = receiver.received
    assert request.path == "/hook/SECRET-PATH-7f3a?token=SECRET-QUERY-91"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == alert.webhook_id
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "connector.sync_failed"
    data = body["data"]
    assert data["alert_id"] == str(alert.id)
    assert data["event"] == "sync_failed"
    assert data["connector"] == {"id": "conn_42", "provider": "google-drive"}
    assert data["collection"] == {"id": str(COLLECTION)} and data["space"] == {"id": str(SPACE)}
    assert (data["label"], data["sync_id"], data["status"], data["reason"]) == (
        "Engineering Wiki",
        "sync_7",
        "failed",
        "token expired",
    )
    assert data["url"].endswith(f"/collections/{COLLECTION}/connectors/conn_42/")
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 44).verify(request.body, request.headers)


def test_during_a_rotation_both_secrets_verify_then_only_the_new_one(user):
    with HttpReceiver() as receiver:
        channel, old = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        new = channel_rotate_secret(user=user, channel=channel)
        assert new != old and new.startswith("whsec_")
        _, first = sync_failed(user, channel, key="a")
        assert deliver(first.pk) == "sent"
        Channel.objects.filter(pk=channel.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
        _, second = sync_failed(user, channel, key="b")
        assert deliver(second.pk) == "sent"
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


def test_failing_receiver_is_retried_with_backoff_then_failed_after_the_window(user, caplog):
    caplog.set_level(logging.INFO)
    with HttpReceiver(status=[500], answer=b"database down") as receiver:
        channel, secret = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        alert, delivery = sync_failed(user, channel)

        before = timezone.now()
        assert deliver(delivery.pk) == "retrying"
        delivery.refresh_from_db()
        assert delivery.attempts == 1 and delivery.lease_until is None
        assert "answered 500: database down" in delivery.last_error
        assert timedelta(seconds=29) < delivery.next_attempt_at - before < timedelta(seconds=32)
        assert deliver(delivery.pk) == "skipped"  # not due yet

        make_due(delivery)
        before = timezone.now()
        assert deliver(delivery.pk) == "retrying"
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert timedelta(seconds=59) < delivery.next_attempt_at - before < timedelta(seconds=62)
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.ALERT_DELIVERY).exists()

        Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=25))
        make_due(delivery)
        assert deliver(delivery.pk) == "failed"
        assert deliver(delivery.pk) == "skipped"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    # The receiver dedupes on the webhook-id: the same on every attempt.
    assert {r.headers["webhook-id"] for r in receiver.received} == {alert.webhook_id}
    assert len({r.body for r in receiver.received}) == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.ALERT_DELIVERY)
    assert event.outcome == "error" and "500" in event.error and event.changes["attempt"] == 3
    for text in (delivery.last_error, event.error, json.dumps(event.changes), caplog.text):
        assert_no_secret(text, "SECRET-PATH", "SECRET-QUERY", secret)


def test_unreachable_receiver_is_a_failed_attempt_without_the_url(user):
    with HttpReceiver() as receiver:
        url = receiver.url
    channel, _ = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=url)  # nobody listens any more
    _, delivery = sync_failed(user, channel)
    assert deliver(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    port = url.split("127.0.0.1:")[1].split("/")[0]
    assert f"Could not connect to http://127.0.0.1:{port}/…" in delivery.last_error  # the port shown: it may be wrong
    assert_no_secret(delivery.last_error, "SECRET-PATH", "SECRET-QUERY", str(url))


def test_a_target_refused_at_send_time_is_a_failed_attempt(user, settings):
    """Allowed when added, refused when sent (the setting changed, or DNS now points inside)."""
    with HttpReceiver() as receiver:
        channel, _ = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        _, delivery = sync_failed(user, channel)
        settings.ALERTS_ALLOW_PRIVATE_URLS = False
        assert deliver(delivery.pk) == "retrying"
    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.last_error == "Not sent: Use an https:// URL: alerts must not travel unencrypted."


def test_removed_channel_fails_at_once(user):
    channel, _ = channel_add(user=user, kind=Channel.Kind.EMAIL, target="a@example.com")
    _, delivery = sync_failed(user, channel)
    channel.delete()
    assert deliver(delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error == "The channel was removed." and delivery.channel_hint == "a@example.com"


# ----- Slack ------------------------------------------------------------------------------------------------------


def test_slack_message_reaches_the_webhook_url(user):
    with HttpReceiver() as slack:
        channel, secret = channel_add(user=user, kind=Channel.Kind.SLACK, target=slack.url)
        assert secret == ""
        _, delivery = sync_failed(user, channel)
        assert deliver(delivery.pk) == "sent"
    body = slack.received[0].json()
    assert "token expired" in body["text"]
    assert "Sync failed: Google Drive in Engineering Wiki" in body["blocks"][0]["text"]["text"]


def test_slack_error_is_retried_with_the_status_and_body(user, caplog):
    caplog.set_level(logging.DEBUG)
    with HttpReceiver(status=[404], answer=b"no_service") as slack:
        channel, _ = channel_add(user=user, kind=Channel.Kind.SLACK, target=slack.url)
        _, delivery = sync_failed(user, channel)
        assert deliver(delivery.pk) == "retrying"
    delivery.refresh_from_db()
    assert delivery.last_error == "Slack answered 404: no_service"
    assert_no_secret(caplog.text, "SECRET-PATH", "SECRET-QUERY")


# ----- At least once, never twice at once -------------------------------------------------------------------------


def test_due_deliveries_lists_due_unleased_rows(user):
    channel, _ = channel_add(user=user, kind=Channel.Kind.EMAIL, target="a@example.com")
    rows = {name: sync_failed(user, channel, key=name)[1] for name in ("due", "later", "leased", "sent", "expired")}
    now = timezone.now()
    Delivery.objects.filter(pk=rows["later"].pk).update(next_attempt_at=now + timedelta(minutes=1))
    Delivery.objects.filter(pk=rows["leased"].pk).update(lease_until=now + timedelta(seconds=30))
    Delivery.objects.filter(pk=rows["sent"].pk).update(state=Delivery.State.SENT)
    Delivery.objects.filter(pk=rows["expired"].pk).update(lease_until=now - timedelta(seconds=1))
    assert set(due_deliveries(now + timedelta(seconds=1))) == {rows["due"].pk, rows["expired"].pk}


def test_a_delivery_whose_worker_died_is_sent_after_the_lease_runs_out(user):
    with HttpReceiver() as receiver:
        channel, _ = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        _, delivery = sync_failed(user, channel)
        # A worker claimed it, then died before sending.
        Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() + timedelta(seconds=50), attempts=1)
        assert deliver(delivery.pk) == "skipped"
        assert delivery.pk not in due_deliveries()
        Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert delivery.pk in due_deliveries()
        assert deliver(delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, len(receiver.received)) == ("sent", 2, 1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_one_row_at_once_send_it_once(user):
    gate = threading.Event()
    with HttpReceiver(gate=gate) as receiver:
        channel, _ = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        alert = Alert.objects.create(user=user, kind=Alert.Kind.STALLED, dedupe_key="x", message="Stalled.")
        (delivery,) = fan_out(alert, [channel])
        outcomes = {}

        def first_worker():
            try:
                outcomes["first"] = deliver(delivery.pk)
            finally:
                connection.close()

        worker = threading.Thread(target=first_worker)
        worker.start()
        assert receiver.arrived.wait(5)  # the first worker is mid-send, holding the lease
        outcomes["second"] = deliver(delivery.pk)
        gate.set()
        worker.join(10)
    assert outcomes == {"first": "sent", "second": "skipped"}
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 1)


def test_fan_out_makes_one_delivery_per_channel_once(user):
    a, _ = channel_add(user=user, kind=Channel.Kind.EMAIL, target="a@example.com")
    b, _ = channel_add(user=user, kind=Channel.Kind.EMAIL, target="b@example.com")
    alert = Alert.objects.create(user=user, kind=Alert.Kind.STALE, dedupe_key="s", message="Stale.")
    first = fan_out(alert, [a, b])
    again = fan_out(alert, [a, b])
    assert len(first) == 2 and {d.pk for d in first} == {d.pk for d in again}
    assert {d.channel_hint for d in first} == {"a@example.com", "b@example.com"}


def test_alert_link_falls_back_to_notifications_when_ids_do_not_fit_a_url(user, settings):
    alert = Alert.objects.create(
        user=user, kind=Alert.Kind.STALE, dedupe_key="s", message="Stale.", space_id=SPACE, connector_id="a/../b"
    )
    assert alerts_delivery.alert_url(alert) == "https://console.example.com/notifications/"
