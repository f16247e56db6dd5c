"""The worker as the Procfile runs it (`manage.py alerts_worker`), on SQLite and on PostgreSQL: a real sandbox, a real
webhook receiver, workers killed mid-send. Nothing is lost, nothing alerted twice."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from standardwebhooks.webhooks import Webhook

from sandbox import seed
from tests.alerts.receivers import HttpReceiver
from tests.processes import PYTHON, fresh_postgres_database, manage, processes, production_env  # noqa: F401

pytestmark = pytest.mark.slow

SECRET = "whsec_" + "dGVzdC13b3JrZXItc2lnbmluZy1zZWNyZXQtMDEyMzQ1"

SETUP = """
from django.contrib.auth import get_user_model
from connectors.models import ApiKey
from connectors.alerts.models import Channel, Watch
user = get_user_model().objects.create_user("ops", password="a-long-test-password-42")
ApiKey.objects.create(user=user, secret={key!r})
channel = Channel.objects.create(user=user, kind="webhook", target={url!r}, target_hint="127.0.0.1/…",
                                 secret={secret!r})
watch = Watch.objects.create(user=user, scope="connector", space_id={space!r}, collection_id={coll!r},
                             connector_id={connector!r}, label="Acme Corp / Engineering Wiki")
watch.channels.add(channel)
"""

REPORT = """
import json
from connectors.alerts.models import Alert, Delivery, CheckRound
print(json.dumps({
    "alerts": list(Alert.objects.values_list("kind", flat=True)),
    "deliveries": list(Delivery.objects.values_list("state", "attempts")),
    "rounds": CheckRound.objects.count(),
}))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/worker.sqlite3"
    else:
        with fresh_postgres_database("alerts_worker") as url:
            yield url


def report(env) -> dict:
    out = manage("shell", "-c", REPORT, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_send_loses_nothing_and_two_workers_alert_once(processes, database_url):  # noqa: F811
    gate = threading.Event()
    with HttpReceiver(gate=gate) as receiver:
        sandbox_url = processes.sandbox()
        env = production_env(
            DATABASE_URL=database_url,
            AIMABLE_API_URL=sandbox_url,
            ALERTS_CHECK_SECONDS="2",
            ALERTS_ALLOW_PRIVATE_URLS="true",
            ALERTS_DELIVERY_LEASE_SECONDS="3",
            CONSOLE_URL="https://console.example.com",
        )
        manage("migrate", "--noinput", env=env, timeout=120)
        setup = SETUP.format(
            key=seed.DEMO_ADMIN_KEY,
            url=receiver.url,
            secret=SECRET,
            space=seed.DEMO_SPACE_ID,
            coll=seed.DEMO_COLLECTION_ID,
            connector=seed.DISCONNECTED_CONNECTOR_ID,
        )
        manage("shell", "-c", setup, env=env)

        first = processes.start("worker-1", [PYTHON, "manage.py", "alerts_worker"], env=env)
        assert receiver.arrived.wait(40), processes.output("worker-1")[-3000:]
        first.send_signal(signal.SIGKILL)  # dies mid-send: the receiver holds the request
        first.wait(10)
        gate.set()
        receiver.arrived.clear()
        receiver.gate = None

        # Two workers from now on: the delivery is sent again once its lease runs out, by one of them.
        processes.start("worker-2", [PYTHON, "manage.py", "alerts_worker"], env=env)
        processes.start("worker-3", [PYTHON, "manage.py", "alerts_worker"], env=env)
        wait_for(lambda: report(env)["deliveries"] == [["sent", 2]], 60, "the delivery to be sent again")
        time.sleep(5)  # a few more rounds by two workers
        state = report(env)

    assert state["alerts"] == ["needs_reauth"], state  # one change of state, one alert, however many workers
    assert state["rounds"] >= 3
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1 and len(receiver.received) == 2  # the same message twice: receivers dedupe on webhook-id
    for received in receiver.received:
        Webhook(SECRET).verify(received.body, received.headers)
        assert received.json()["type"] == "connector.needs_reauth"
