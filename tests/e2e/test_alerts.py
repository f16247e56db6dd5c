"""The alerts journey in a real browser: add a signed webhook channel, watch a connector, let the sandbox fail its
sync, and see the bell, the alert and its delivery, while the receiver gets it, signed."""

import re

from django.core.management import call_command
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook

from connectors.alerts import checks
from sandbox import DRIVE_CONNECTOR_ID
from tests.alerts.receivers import HttpReceiver


def run_worker_once():
    """What the worker does, in this process: a check round, then every task it enqueued (django-tasks-db's own
    worker, in batch mode)."""
    checks.check_watches()
    call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)


def test_watch_a_connector_and_get_told_when_its_sync_fails(signed_in: Page, console, settings):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    settings.SYNC_CACHE_SECONDS = 0
    page = signed_in
    with HttpReceiver() as receiver:
        page.goto(console.url("/notifications/"))
        expect(page.get_by_label("Email address")).to_be_visible()
        expect(page.get_by_label("Webhook URL", exact=True)).to_be_hidden()  # one field for the type chosen
        page.get_by_label("Channel type").select_option("webhook")
        expect(page.get_by_label("Email address")).to_be_hidden()
        page.get_by_label("Webhook URL", exact=True).fill(receiver.url)
        page.get_by_role("button", name="Add channel").click()
        secret = page.locator(".secret-once code").inner_text().strip()
        assert secret.startswith("whsec_")
        page.reload()
        expect(page.locator(".secret-once")).to_have_count(0)  # shown once
        expect(page.locator("#channels")).not_to_contain_text("SECRET-PATH")  # the URL is masked

        page.goto(console.connector_url(DRIVE_CONNECTOR_ID))
        page.get_by_role("button", name=re.compile(r"^Watch")).first.click()
        expect(page.get_by_role("button", name=re.compile(r"^Stop watching")).first).to_be_visible()
        run_worker_once()  # healthy: nothing to say
        assert receiver.received == []

        console.sandbox.set_faults(fail_rate=1.0, sync_seconds=1)
        page.get_by_role("button", name="Sync now").first.click()
        expect(page.locator("#sync-status .badge").first).to_have_text("failed", timeout=15_000)
        run_worker_once()

        page.goto(console.url("/"))
        expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
        page.get_by_role("link", name="Notifications, 1 unread").click()
        alerts = page.locator("#alerts")
        expect(alerts).to_contain_text("failed")
        expect(alerts).to_contain_text("Sent")
        expect(page.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()

    assert len(receiver.received) == 1
    message = receiver.received[0]
    Webhook(secret).verify(message.body, message.headers)
    body = message.json()
    assert body["type"] == "connector.sync_failed"
    assert body["data"]["connector"]["id"] == DRIVE_CONNECTOR_ID and body["data"]["reason"]
