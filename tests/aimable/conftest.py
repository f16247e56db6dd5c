"""Shared fixtures for the Aimable client tests: canned HTTP (responses), a fake clock, no Django."""

import pytest
import requests
import responses

from connectors.aimable import AimableClient

from .canned import API_KEY, BASE, FakeClock


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(clock):
    def make(**kwargs):
        options = {"session": requests.Session(), "sleep": clock.sleep, "clock": clock}
        options.update(kwargs)
        return AimableClient(BASE, API_KEY, **options)

    return make


@pytest.fixture
def api(make_client):
    return make_client()
