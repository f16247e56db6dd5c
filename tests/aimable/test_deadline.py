"""One budget per call, reading the answer included, and one budget per page, however many calls it makes.

Where the time is the point, against real sockets (tests/hostile_upstream.py) with small budgets and generous bounds;
the rest with canned HTTP and the fake clock.
"""

import time

import pytest

from connectors.aimable import AimableClient, UpstreamTimeoutError, upstream_budget
from tests.hostile_upstream import HostileUpstream

from .canned import API_KEY, BASE
from .test_retries import SlowSession

SPACES = f"{BASE}/v1/spaces"
# Generous: the budgets below are 1 s; a busy machine may add a few seconds, a missing deadline adds ten or more.
MARGIN = 4.0


@pytest.fixture
def upstream():
    with HostileUpstream(interval=0.1, trickle_bytes=150) as server:  # a trickled answer takes 15 s
        yield server


def real_client(url, **kwargs):
    """The console's client with the shared session, as in production; one attempt unless told."""
    options = {"connect_timeout": 1.0, "read_timeout": 5.0, "deadline": 1.0, "max_retries": 0, **kwargs}
    return AimableClient(url, API_KEY, **options)


@pytest.mark.parametrize("behaviour", ["trickle_body", "trickle_headers"])
def test_an_answer_that_trickles_in_stops_at_the_calls_deadline(upstream, behaviour):
    # One byte every 0.1 s: no single read waits long, so only a total budget per call can stop it.
    upstream.behaviour = behaviour
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match="did not answer in time"):
        real_client(upstream.url, deadline=1.0).list_spaces()
    assert time.monotonic() - started < 1.0 + MARGIN

    # The cut connection is not handed to the next call.
    upstream.behaviour = "ok"
    assert real_client(upstream.url).list_spaces() == []


def test_retries_of_a_trickled_answer_share_the_calls_deadline(upstream):
    upstream.behaviour = "trickle_body"
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError):
        real_client(upstream.url, deadline=1.0, max_retries=3).list_spaces()
    assert time.monotonic() - started < 1.0 + MARGIN


def test_the_calls_of_one_page_share_its_budget(upstream):
    # Each call alone may take 5 s; together, inside a 1 s page budget, they take about 1 s.
    upstream.behaviour = "hang"
    client = real_client(upstream.url, read_timeout=5.0, deadline=5.0)
    started = time.monotonic()
    with upstream_budget(1.0):
        for _ in range(3):
            with pytest.raises(UpstreamTimeoutError, match="did not answer in time"):
                client.list_spaces()
    assert time.monotonic() - started < 1.0 + MARGIN
    # Outside the page, a call has its own deadline again.
    upstream.behaviour = "ok"
    assert client.list_spaces() == []


def test_a_spent_page_budget_sends_nothing(rsps, api):
    rsps.get(SPACES, json=[])
    with upstream_budget(0), pytest.raises(UpstreamTimeoutError, match="did not answer in time") as info:
        api.list_spaces()
    assert len(rsps.calls) == 0
    assert info.value.request_id == api.last_request_id


def test_a_call_waits_no_longer_than_what_is_left_of_the_page(make_client, clock):
    session = SlowSession(clock, seconds=1.0, outcome="timeout")
    api = make_client(session=session, read_timeout=10.0, deadline=15.0, max_retries=0)
    with upstream_budget(4.0), pytest.raises(UpstreamTimeoutError):
        api.list_spaces()
    connect, read = session.timeouts[0]
    assert connect <= 3.05 and read <= 4.0


def test_an_inner_budget_never_extends_the_outer_one(make_client, clock):
    session = SlowSession(clock, seconds=1.0, outcome="timeout")
    api = make_client(session=session, read_timeout=10.0, deadline=15.0, max_retries=0)
    with upstream_budget(2.0), upstream_budget(60.0), pytest.raises(UpstreamTimeoutError):
        api.list_spaces()
    assert session.timeouts[0][1] <= 2.0
