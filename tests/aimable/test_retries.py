"""Retry policy, the per-call deadline, and logging: all with a fake clock, nothing really sleeps."""

import logging

import pytest
import requests
from responses import matchers

from connectors.aimable import (
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)

from .canned import (
    API_KEY,
    BASE,
    COLLECTION,
    CONNECTOR,
    CONNECTOR_JSON,
    CONNECTOR_URL,
    PREFIX,
    SPACE,
    SYNC_JSON,
)

SPACES = f"{BASE}/v1/spaces"


@pytest.mark.parametrize("status", [502, 503, 504])
def test_get_retried_max_retries_times_then_raises(rsps, api, clock, status):
    rsps.get(SPACES, status=status, json={"detail": "Service Unavailable"})
    with pytest.raises(UpstreamError) as info:
        api.list_spaces()
    assert len(rsps.calls) == 3  # 1 + max_retries
    assert len(clock.sleeps) == 2
    assert info.value.status == status and info.value.retryable
    # exponential backoff with jitter: 0.2*[0.5,1.5], then 0.4*[0.5,1.5]
    assert 0.1 <= clock.sleeps[0] <= 0.3 and 0.2 <= clock.sleeps[1] <= 0.6


def test_same_request_id_across_retries(rsps, api):
    rsps.get(SPACES, status=503)
    with pytest.raises(UpstreamError) as info:
        api.list_spaces()
    ids = {call.request.headers["X-Request-ID"] for call in rsps.calls}
    assert ids == {info.value.request_id}


def test_get_recovers_after_a_503(rsps, api):
    rsps.get(SPACES, status=503)
    rsps.get(SPACES, json=[])
    assert api.list_spaces() == []
    assert len(rsps.calls) == 2


def test_max_retries_zero(rsps, make_client):
    rsps.get(SPACES, status=503)
    with pytest.raises(UpstreamError):
        make_client(max_retries=0).list_spaces()
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [500, 400, 401, 403, 404, 409, 422])
def test_get_not_retried_on_non_retryable_status(rsps, api, clock, status):
    rsps.get(SPACES, status=status, json={"detail": "nope"})
    with pytest.raises(Exception):  # noqa: B017 - the class is tested in test_errors
        api.list_spaces()
    assert len(rsps.calls) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "exc",
    [requests.ConnectionError("refused"), requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")],
)
def test_get_retried_on_network_errors(rsps, api, exc):
    rsps.get(SPACES, body=exc)
    with pytest.raises(UnavailableError) as info:
        api.list_spaces()
    assert len(rsps.calls) == 3
    assert info.value.retryable
    assert "refused" not in str(info.value) and "slow" not in str(info.value)


def test_timeout_is_an_upstream_timeout(rsps, api):
    rsps.get(SPACES, body=requests.ReadTimeout("x"))
    with pytest.raises(UpstreamTimeoutError, match="did not answer in time") as info:
        api.list_spaces()
    assert isinstance(info.value, TimeoutError)


def test_429_honours_retry_after(rsps, api, clock):
    rsps.get(SPACES, status=429, headers={"Retry-After": "2"})
    rsps.get(SPACES, json=[])
    assert api.list_spaces() == []
    assert clock.sleeps == [2.0]


def test_429_without_retry_after_uses_backoff(rsps, api, clock):
    rsps.get(SPACES, status=429)
    rsps.get(SPACES, json=[])
    api.list_spaces()
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 0.3


def test_429_retry_after_over_the_cap_gives_up(rsps, api, clock):
    rsps.get(SPACES, status=429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimitedError) as info:
        api.list_spaces()
    assert info.value.retry_after == 30.0
    assert len(rsps.calls) == 1 and clock.sleeps == []


def test_429_retry_after_past_the_deadline_gives_up(rsps, make_client, clock):
    rsps.get(SPACES, status=429, headers={"Retry-After": "4"})
    api = make_client(deadline=3.0)
    with pytest.raises(RateLimitedError):
        api.list_spaces()
    assert len(rsps.calls) == 1 and clock.sleeps == []


def test_429_exhausting_retries_raises_rate_limited(rsps, api, clock):
    rsps.get(SPACES, status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitedError):
        api.list_spaces()
    assert len(rsps.calls) == 3 and clock.sleeps == [1.0, 1.0]


def test_delete_retried_and_404_after_retry_counts_as_deleted(rsps, api):
    rsps.delete(CONNECTOR_URL, body=requests.ReadTimeout("lost answer"))
    rsps.delete(CONNECTOR_URL, status=404, json={"detail": "Not found"})
    assert api.delete_connector(SPACE, COLLECTION, CONNECTOR) is None
    assert len(rsps.calls) == 2


def test_delete_404_on_first_attempt_raises(rsps, api):
    rsps.delete(CONNECTOR_URL, status=404, json={"detail": "Connector not found"})
    with pytest.raises(NotFoundError):
        api.delete_connector(SPACE, COLLECTION, CONNECTOR)


def test_create_retried_with_the_same_idempotency_key(rsps, api):
    rsps.post(PREFIX, status=503)
    rsps.post(PREFIX, body=requests.ConnectionError("reset"))
    rsps.post(
        PREFIX,
        status=201,
        json={"data": CONNECTOR_JSON},
        match=[matchers.header_matcher({"Idempotency-Key": "idem-1"})],
    )
    connector = api.create_connector(
        SPACE,
        COLLECTION,
        provider_slug="google-drive",
        credential={"access_token": "t"},
        idempotency_key="idem-1",
    )
    assert connector.id == CONNECTOR
    assert len(rsps.calls) == 3
    assert {c.request.headers["Idempotency-Key"] for c in rsps.calls} == {"idem-1"}
    assert len({c.request.headers["X-Request-ID"] for c in rsps.calls}) == 1
    assert len({c.request.body for c in rsps.calls}) == 1


def test_create_not_retried_on_500(rsps, api):
    rsps.post(PREFIX, status=500)
    with pytest.raises(UpstreamError):
        api.create_connector(SPACE, COLLECTION, provider_slug="slack", credential={}, idempotency_key="k")
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("failure", [{"status": 503}, {"body": requests.ReadTimeout("t")}, {"status": 429}])
def test_trigger_sync_never_retried(rsps, api, failure):
    rsps.post(f"{CONNECTOR_URL}/sync", **failure)
    rsps.post(f"{CONNECTOR_URL}/sync", status=202, json={"data": SYNC_JSON})
    with pytest.raises((UpstreamError, UnavailableError, RateLimitedError)):
        api.trigger_sync(SPACE, COLLECTION, CONNECTOR)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("failure", [{"status": 503}, {"body": requests.ConnectionError("c")}])
def test_cancel_sync_never_retried(rsps, api, failure):
    rsps.post(f"{CONNECTOR_URL}/sync/cancel", **failure)
    with pytest.raises((UpstreamError, UnavailableError)):
        api.cancel_sync(SPACE, COLLECTION, CONNECTOR)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("failure", [{"status": 503}, {"body": requests.ReadTimeout("t")}])
def test_patch_never_retried(rsps, api, failure):
    rsps.patch(CONNECTOR_URL, **failure)
    with pytest.raises((UpstreamError, UnavailableError)):
        api.update_connector(SPACE, COLLECTION, CONNECTOR, status="paused")
    assert len(rsps.calls) == 1


# ----- the deadline ------------------------------------------------------------------------------------


class SlowSession(requests.Session):
    """Each request 'takes' some fake seconds, then answers 503 (or times out); records its timeouts."""

    def __init__(self, clock, seconds, outcome=503):
        super().__init__()
        self.clock, self.seconds, self.outcome = clock, seconds, outcome
        self.timeouts = []

    def request(self, method, url, **kwargs):
        self.timeouts.append(kwargs["timeout"])
        self.clock.advance(min(self.seconds, kwargs["timeout"][1]))
        if self.outcome == "timeout":
            raise requests.ReadTimeout("slow")
        response = requests.Response()
        response.status_code = self.outcome
        response._content = b""
        return response


def test_read_timeout_shrinks_to_the_remaining_deadline(make_client, clock):
    session = SlowSession(clock, seconds=6.0, outcome="timeout")
    api = make_client(session=session, max_retries=5, read_timeout=10.0, deadline=15.0)
    with pytest.raises(UnavailableError, match="did not answer in time"):
        api.list_spaces()
    # attempt 1 waits 6 s; after a short sleep attempt 2 gets at most the ~8.8 s left, and so on
    assert session.timeouts[0] == (3.05, 10.0)
    assert all(read <= 15.0 - 6.0 for _, read in session.timeouts[1:])
    assert sum(clock.sleeps) + 6.0 * (len(session.timeouts) - 1) < 15.0
    assert clock.now - 1000.0 <= 15.0 + 1e-9  # never past the deadline


def test_deadline_exhausted_raises_unavailable(make_client, clock):
    session = SlowSession(clock, seconds=7.0, outcome=503)
    api = make_client(session=session, max_retries=10, deadline=15.0)
    with pytest.raises(UnavailableError, match="did not answer in time") as info:
        api.list_spaces()
    assert len(session.timeouts) == 3  # 0-7, ~7.2-14.2, then only ~0.4 s left: a retry cannot fit
    assert isinstance(info.value.__cause__, UpstreamError)
    assert info.value.request_id == api.last_request_id
    assert clock.now - 1000.0 <= 15.0 + 1e-9


def test_never_sleeps_past_the_deadline(make_client, clock):
    session = SlowSession(clock, seconds=14.9, outcome=503)
    api = make_client(session=session, deadline=15.0, read_timeout=20.0)
    with pytest.raises(UnavailableError):
        api.list_spaces()
    assert clock.sleeps == [] and len(session.timeouts) == 1


# ----- logging never leaks the key -----------------------------------------------------------------------


def test_one_info_line_per_attempt_without_secrets(rsps, api, caplog):
    caplog.set_level(logging.INFO, logger="connectors.aimable")
    rsps.get(f"{PREFIX}", status=503, json={"detail": f"echo {API_KEY}"})
    rsps.get(f"{PREFIX}", json=[])
    api.list_connectors(SPACE, COLLECTION, provider_slug="google-drive")
    records = [r for r in caplog.records if r.name == "connectors.aimable"]
    assert len(records) == 2
    first, second = (r.getMessage() for r in records)
    assert "GET" in first and f"/v1/spaces/{SPACE}/collections/{COLLECTION}/connectors" in first
    assert "503" in first and "attempt 1" in first and api.last_request_id in first
    assert "200" in second and "attempt 2" in second
    assert "google-drive" not in caplog.text  # no query string
    assert API_KEY not in caplog.text


def test_network_error_logged_by_class_name(rsps, api, caplog):
    caplog.set_level(logging.INFO, logger="connectors.aimable")
    rsps.get(SPACES, body=requests.ConnectionError(f"boom {API_KEY}"))
    with pytest.raises(UnavailableError) as info:
        api.list_spaces()
    assert "ConnectionError" in caplog.text
    assert API_KEY not in caplog.text
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)


def test_create_body_never_logged(rsps, api, caplog):
    caplog.set_level(logging.DEBUG, logger="connectors.aimable")
    rsps.post(
        PREFIX,
        status=422,
        json={"detail": [{"loc": ["body", "credential"], "msg": "bad", "type": "value_error", "input": "ya29.SECRET"}]},
    )
    with pytest.raises(Exception) as info:  # noqa: B017
        api.create_connector(
            SPACE,
            COLLECTION,
            provider_slug="slack",
            credential={"access_token": "ya29.SECRET"},
            idempotency_key="k",
        )
    assert "ya29.SECRET" not in caplog.text
    assert "ya29.SECRET" not in str(info.value) and "ya29.SECRET" not in repr(info.value)
