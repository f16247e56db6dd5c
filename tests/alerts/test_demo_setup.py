"""`make run`'s demo: the demo user has the sandbox key, an outbox email channel and a watch on a connector whose
syncs the sandbox fails, so the first check round alerts."""

import pytest
from django.core.management import call_command

from connectors.alerts import checks
from connectors.alerts.models import Alert, ConnectorSettings, Delivery, Watch
from connectors.models import ApiKey
from sandbox import DEMO_ADMIN_KEY, DISCONNECTED_CONNECTOR_ID

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_setup_makes_a_watch_that_alerts_on_the_first_round(settings, sandbox_api, capsys):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("demo_setup")
    call_command("demo_setup")  # idempotent
    key = ApiKey.objects.get(user__username="demo")
    assert key.secret == DEMO_ADMIN_KEY
    watch = Watch.objects.get(user__username="demo")
    assert watch.connector_id == DISCONNECTED_CONNECTOR_ID and watch.channels.count() == 1
    assert ConnectorSettings.objects.get(connector_id=DISCONNECTED_CONNECTOR_ID).name == "Finance Drive"

    checks.check_watches()
    alert = Alert.objects.get(user__username="demo")
    assert alert.kind == Alert.Kind.NEEDS_REAUTH
    assert Delivery.objects.filter(alert=alert).count() == 1


def test_demo_setup_refuses_to_run_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_setup")
