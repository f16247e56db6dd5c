"""A slow or hostile upstream bounds what a request waits: one budget per page (AIMABLE_DEADLINE, shared by all its
upstream calls), /healthz within its 2 s promise whatever the upstream does, and the size cap from the settings."""

import html
import time

import pytest
from django.urls import reverse

from connectors.upstream import HEALTH_CHECK_SECONDS, anonymous_client, client_with_key
from tests.hostile_upstream import HostileUpstream

pytestmark = pytest.mark.django_db

# Generous: a busy machine may add a few seconds; a missing budget adds ten or more.
MARGIN = 4.0


def test_a_pages_upstream_calls_share_one_budget(admin_client, settings, sandbox_api):
    # The home page makes three calls (the spaces, then each of the two spaces' collections), each 0.6 s: each fits
    # a 1 s deadline on its own, all three do not.
    settings.AIMABLE_DEADLINE = 1.0
    settings.AIMABLE_READ_TIMEOUT = 5.0
    sandbox_api.set_faults(latency_ms=600)
    started = time.monotonic()
    response = admin_client.get(reverse("home"))
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Collections could not be listed: The Aimable API did not answer in time." in page
    assert elapsed < 1.0 + MARGIN


@pytest.mark.parametrize("behaviour", ["trickle_body", "trickle_headers", "hang", "gzip_bomb"])
def test_healthz_keeps_its_promise_whatever_the_upstream_does(client, settings, behaviour):
    with HostileUpstream(behaviour, interval=0.1, trickle_bytes=300) as upstream:  # a trickle would take 30 s
        settings.AIMABLE_API_URL = upstream.url
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "upstream": "error"}
    assert elapsed < HEALTH_CHECK_SECONDS + MARGIN


def test_the_size_cap_comes_from_the_settings(settings):
    settings.AIMABLE_MAX_RESPONSE_BYTES = 12_345
    assert client_with_key("sk-some-key", "bearer").max_response_bytes == 12_345
    assert anonymous_client().max_response_bytes == 12_345
