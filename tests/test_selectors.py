"""The poll cache: one upstream read per interval per credential, single flight, last copy while refreshing."""

import pytest
from django.core.cache import cache

from connectors import selectors
from connectors.aimable.types import Sync


class CountingClient:
    def __init__(self, status="running"):
        self.calls = 0
        self.status = status

    def get_sync(self, space_id, collection_id, connector_id, sync_id):
        self.calls += 1
        return Sync.from_api({"id": sync_id, "status": self.status, "records_fetched": self.calls, "metadata": {}})


def read(client, fingerprint="fp-a", sync_id="s1"):
    return selectors.sync_get(
        client=client, fingerprint=fingerprint, space_id="sp", collection_id="co", connector_id="c1", sync_id=sync_id
    )


@pytest.fixture
def clock(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(selectors.time, "time", lambda: now[0])
    return now


def test_reads_within_the_interval_cost_one_upstream_call(clock, settings):
    settings.SYNC_CACHE_SECONDS = 1.8
    client = CountingClient()
    for _ in range(50):
        read(client)
    assert client.calls == 1
    clock[0] += 1.9
    assert read(client).records_fetched == 2
    assert client.calls == 2


def test_each_credential_has_its_own_entries(clock):
    client = CountingClient()
    read(client, "fp-a")
    read(client, "fp-b")
    assert client.calls == 2


def test_while_another_request_refreshes_the_last_copy_is_served(clock, settings):
    settings.SYNC_CACHE_SECONDS = 1.8
    client = CountingClient()
    read(client)
    clock[0] += 5
    cache.add("sync-lock:" + selectors._key("fp-a", "get", "c1", "s1"), 1, 5)  # someone else is reading
    assert read(client).records_fetched == 1
    assert client.calls == 1


def test_a_finished_sync_is_never_read_again(clock):
    client = CountingClient(status="completed")
    read(client)
    clock[0] += 3000
    read(client)
    assert client.calls == 1


def test_stalled_after_the_configured_time_without_progress(clock, settings):
    settings.SYNC_STALL_SECONDS = 60
    sync = Sync.from_api({"id": "s1", "status": "running", "records_fetched": 5, "metadata": {}})
    assert not selectors.sync_progress(fingerprint="fp", sync=sync)["stalled"]
    clock[0] += 59
    assert not selectors.sync_progress(fingerprint="fp", sync=sync)["stalled"]
    clock[0] += 2
    assert selectors.sync_progress(fingerprint="fp", sync=sync)["stalled"]
    moved = Sync.from_api({"id": "s1", "status": "running", "records_fetched": 6, "metadata": {}})
    assert not selectors.sync_progress(fingerprint="fp", sync=moved)["stalled"]
