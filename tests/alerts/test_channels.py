"""Channels through the pages and services: validation in place, secrets encrypted and never shown again."""

import pytest
from django.db import connection
from django.urls import reverse

from connectors.alerts import targets
from connectors.alerts.channels import channel_add, channel_context
from connectors.alerts.forms import ChannelForm
from connectors.alerts.models import Channel, Delivery
from connectors.models import AuditEvent

from .receivers import HttpReceiver

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdSECRETwxyz"


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def production(settings, monkeypatch):
    settings.ALERTS_ALLOW_PRIVATE_URLS = False
    table = {"hooks.slack.com": ["54.1.2.3"], "hooks.example.com": ["93.184.216.34"], "intranet.corp": ["10.0.0.5"]}
    monkeypatch.setattr(targets, "resolve", lambda host, port: table.get(host) or [host])


def add(client, **data):
    return client.post(reverse("channel_add"), {"email": "", "slack_url": "", "webhook_url": "", **data})


def raw_row(channel):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT target, secret FROM {Channel._meta.db_table} WHERE id = %s", [channel.pk])
        return cursor.fetchone()


def test_form_labels_and_only_the_chosen_field_is_required():
    form = ChannelForm()
    labels = [form[name].label for name in ("kind", "email", "slack_url", "webhook_url")]
    assert labels == ["Channel type", "Email address", "Slack webhook URL", "Webhook URL"]
    form = ChannelForm({"kind": "email", "email": "a@example.com", "slack_url": "junk"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["target"] == "a@example.com"
    form = ChannelForm({"kind": "webhook", "email": "a@example.com"})
    assert not form.is_valid() and list(form.errors) == ["webhook_url"]


def test_invalid_email_shows_the_form_again_with_the_typed_values(signed_in):
    response = add(signed_in, kind="email", email="not-an-email", webhook_url="https://typed.example/x")
    assert response.status_code == 422
    page = response.content.decode()
    assert "Enter a valid email address" in page
    assert 'value="not-an-email"' in page
    assert 'value="https://typed.example/x"' in page
    assert '<option value="email" selected>' in page
    assert "Add channel" in page
    assert not Channel.objects.exists()


def test_private_and_plain_http_urls_are_refused_in_production(signed_in, production):
    response = add(signed_in, kind="webhook", webhook_url="https://intranet.corp/hook")
    assert response.status_code == 422
    assert "private address" in response.content.decode()
    response = add(signed_in, kind="webhook", webhook_url="http://hooks.example.com/hook")
    assert "Use an https:// URL" in response.content.decode()
    response = add(signed_in, kind="slack", slack_url="https://hooks.example.com/services/T0")
    assert "hooks.slack.com" in response.content.decode()
    assert not Channel.objects.exists()


def test_private_urls_are_allowed_when_the_setting_says_so(signed_in, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    response = add(signed_in, kind="webhook", webhook_url="http://127.0.0.1:9/hook")
    assert response.status_code == 302
    assert Channel.objects.get().target == "http://127.0.0.1:9/hook"


def test_webhook_secret_is_shown_once_encrypted_at_rest_and_never_audited(signed_in, user, production):
    url = "https://hooks.example.com/in/SECRETPATH"
    response = add(signed_in, kind="webhook", webhook_url=url)
    assert response.status_code == 302 and response.url == reverse("notifications")
    channel = Channel.objects.get(user=user)
    secret = channel.secret
    assert secret.startswith("whsec_") and len(secret) > 40
    assert signed_in.session["shown_secret"] == {"channel": channel.pk, "secret": secret}
    assert channel.target_hint == "https://hooks.example.com/…"

    raw_target, raw_secret = raw_row(channel)
    assert url not in raw_target and "SECRETPATH" not in raw_target
    assert secret not in raw_secret and "whsec_" not in raw_secret

    first = signed_in.get(reverse("notifications")).content.decode()
    assert secret in first
    again = signed_in.get(reverse("notifications")).content.decode()
    assert secret not in again and "SECRETPATH" not in again
    assert "https://hooks.example.com/…" in again

    new = signed_in.post(reverse("channel_rotate", args=[channel.pk]))
    channel.refresh_from_db()
    assert new.status_code == 302 and channel.previous_secret == secret and channel.secret != secret
    assert channel.previous_secret_expires_at is not None

    signed_in.post(reverse("channel_remove", args=[channel.pk]))
    assert not Channel.objects.exists()
    events = AuditEvent.objects.order_by("id")
    assert [e.action for e in events] == ["channel.add", "channel.rotate", "channel.remove"]
    for event in events:
        assert event.changes["channel"] == "https://hooks.example.com/…"
        dump = f"{event.changes} {event.error}"
        assert "SECRETPATH" not in dump and "whsec_" not in dump


def test_slack_url_is_masked_everywhere(signed_in, user, production):
    add(signed_in, kind="slack", slack_url=SLACK)
    channel = Channel.objects.get()
    assert channel.target == SLACK and not channel.secret
    assert "T0SECRET" not in raw_row(channel)[0]
    page = signed_in.get(reverse("notifications")).content.decode()
    assert "hooks.slack.com/…/wxyz" in page and "T0SECRET" not in page
    assert "T0SECRET" not in str(AuditEvent.objects.get().changes)


def test_send_test_delivers_now_and_says_so(signed_in, user, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    with HttpReceiver() as receiver:
        channel, secret = channel_add(user=user, kind=Channel.Kind.WEBHOOK, target=receiver.url)
        response = signed_in.post(reverse("channel_test", args=[channel.pk]), follow=True)
    assert "Sent a test alert" in response.content.decode()
    (request,) = receiver.received
    from standardwebhooks.webhooks import Webhook

    assert Webhook(secret).verify(request.body, request.headers)["type"] == "connector.test"
    delivery = Delivery.objects.get()
    assert delivery.state == "sent" and delivery.alert.read_at is not None
    test_event = AuditEvent.objects.get(action=AuditEvent.Action.CHANNEL_TEST)
    assert test_event.outcome == "ok"


def test_send_test_shows_the_error_without_the_url(signed_in, user, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    with HttpReceiver(status=[503], answer=b"maintenance") as receiver:
        channel, _ = channel_add(user=user, kind=Channel.Kind.SLACK, target=receiver.url)
        response = signed_in.post(reverse("channel_test", args=[channel.pk]), follow=True)
    page = response.content.decode()
    assert "was not delivered: Slack answered 503: maintenance" in page
    assert "SECRET-PATH" not in page and "SECRET-QUERY" not in page
    assert Delivery.objects.get().state == "failed"  # a test is tried once
    assert AuditEvent.objects.get(action=AuditEvent.Action.CHANNEL_TEST).outcome == "error"


def test_other_users_channels_are_not_found(client, other_user, user):
    channel, _ = channel_add(user=other_user, kind=Channel.Kind.EMAIL, target="bob@example.com")
    client.force_login(user)
    for name in ("channel_test", "channel_rotate", "channel_remove"):
        assert client.post(reverse(name, args=[channel.pk])).status_code == 404
    assert Channel.objects.filter(pk=channel.pk).exists()
    assert list(channel_context(user)["channels"]) == []


def test_channel_actions_are_post_only(signed_in, user):
    channel, _ = channel_add(user=user, kind=Channel.Kind.EMAIL, target="a@example.com")
    assert signed_in.get(reverse("channel_add")).status_code == 405
    assert signed_in.get(reverse("channel_remove", args=[channel.pk])).status_code == 405


def test_channels_partial_lists_channels_with_their_actions(signed_in, user):
    channel_add(user=user, kind=Channel.Kind.EMAIL, target="a@example.com")
    channel_add(user=user, kind=Channel.Kind.WEBHOOK, target="https://hooks.example.com/x")
    context = channel_context(user)
    assert set(context) == {"channels", "channel_form"}
    page = signed_in.get(reverse("notifications")).content.decode()
    assert page.count(">Send test</button>") == 2
    assert page.count(">Rotate secret</button>") == 1
    assert ">Add channel</button>" in page


@pytest.mark.django_db
def test_a_new_channel_gets_the_alerts_of_every_watch(user):
    from connectors.alerts.channels import channel_add
    from connectors.alerts.models import Watch

    watch = Watch.objects.create(user=user, scope="space", space_id="7a5f3b1d-8e2c-4f1a-b9c0-1d2e3f4a5b6c")
    channel, _ = channel_add(user=user, kind="email", target="ops@example.com")
    assert list(watch.channels.all()) == [channel]
