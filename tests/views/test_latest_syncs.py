"""The connector list's "Latest sync" cells: all of a page's rows loaded by one request once the page is there, read
from Aimable side by side, then one request every 2 s for the rows still running, until none runs."""

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from connectors import selectors
from connectors.views.syncs import (
    LATEST_SYNCS_PER_REQUEST,
    LATEST_SYNCS_QUERY_CHARS,
    latest_sync_cell_id,
    latest_syncs_loaders,
)
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HX = {"HTTP_HX_REQUEST": "true"}
MISSING_ID = "c0ffee00-0000-4000-8000-000000000000"


def rows_asked(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query)["row"]


def test_the_list_loads_every_rows_cell_with_one_request(admin_client, sandbox_api):
    page = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    connector_ids = [c["id"] for c in sandbox_api.state.connectors.values() if c["collection_id"] == DEMO_COLLECTION_ID]
    assert len(connector_ids) >= 4
    for connector_id in connector_ids:  # each cell waits, marked by its id, for the loader's answer
        assert f'<span class="latest-sync" id="{latest_sync_cell_id(connector_id)}" aria-busy="true">' in page
    [(url, cell_ids, group)] = latest_syncs_loaders(*IDS, rows_in_page_order(page, connector_ids))
    assert f'hx-get="{url.replace("&", "&amp;")}" hx-trigger="load" hx-swap="outerHTML"' in page
    assert f'data-fills-cells="{cell_ids}"' in page  # the cells that stop loading once it has answered
    assert cell_ids.split() == [latest_sync_cell_id(i) for i in rows_in_page_order(page, connector_ids)]
    assert sorted(rows_asked(url)) == sorted(connector_ids)
    assert "/sync/latest/" not in page  # no request per row
    assert group == 0 and '<div id="latest-syncs-poller-0" hidden></div>' in page  # its running rows' poller
    assert page.count('data-label="Latest sync"') >= 4 and '<table class="striped cards">' in page


def rows_in_page_order(page: str, connector_ids: list[str]) -> list[str]:
    return sorted(connector_ids, key=lambda i: page.index(latest_sync_cell_id(i)))


def test_one_request_answers_every_row_and_polls_on_while_one_runs(admin_client, sandbox_api):
    admin_client.post(reverse("sync_trigger", args=[*IDS, DRIVE_CONNECTOR_ID]))
    batch = reverse("sync_latest_batch", args=IDS)
    query = f"?row={DRIVE_CONNECTOR_ID}&row={SLACK_CONNECTOR_ID}&row=bad/id&row={MISSING_ID}"
    response = admin_client.get(batch + query, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    for connector_id in (DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID, MISSING_ID):  # each swapped in place by its id
        assert f'id="{latest_sync_cell_id(connector_id)}" hx-swap-oob="true"' in body
    assert f'name="row" value="{DRIVE_CONNECTOR_ID}" data-group="0"' in body  # running: asked for again
    assert f'name="row" value="{SLACK_CONNECTOR_ID}"' not in body  # finished: left out of the next poll
    missing = body[body.index(latest_sync_cell_id(MISSING_ID)) :]
    assert "Not found" in missing[: missing.index("</span>")]  # refused by Aimable: says so, is not asked again
    assert f'name="row" value="{MISSING_ID}"' not in body
    assert 'id="latest-syncs-poller-0" hx-swap-oob="true"' in body
    assert f'hx-get="{batch}?group=0"' in body and 'hx-trigger="every 2s"' in body
    assert "hx-include=\".latest-sync input[name=row][data-group='0']\"" in body

    finished = admin_client.get(batch + f"?row={SLACK_CONNECTOR_ID}", **HX)
    assert finished.status_code == 286  # htmx stops the poller for good
    assert "latest-syncs-poller" not in finished.content.decode() and "completed" in finished.content.decode()


def test_a_row_reads_beside_the_others(admin_client, monkeypatch):
    """Two rows' reads are in flight at once: each waits for the other at a barrier, which a one-by-one read would
    never pass (it fails after 5 s instead)."""
    both = threading.Barrier(2, timeout=5)
    read = selectors.sync_latest_status

    def waits_for_the_other(**kwargs):
        both.wait()
        return read(**kwargs)

    monkeypatch.setattr(selectors, "sync_latest_status", waits_for_the_other)
    batch = reverse("sync_latest_batch", args=IDS) + f"?row={DRIVE_CONNECTOR_ID}&row={SLACK_CONNECTOR_ID}"
    body = admin_client.get(batch, **HX).content.decode()
    assert body.count('hx-swap-oob="true"') == 2 and "Never synced" not in body and "Not found" not in body


def test_a_long_page_of_long_ids_is_asked_for_in_a_few_short_requests():
    uuids = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(100)]
    assert len(latest_syncs_loaders(*IDS, uuids[:10])) == 1
    long_ids = [f"{n:03d}" + "x" * 125 for n in range(100)]
    for connector_ids in (uuids, long_ids):
        loaders = latest_syncs_loaders(*IDS, connector_ids)
        assert [i for url, *_ in loaders for i in rows_asked(url)] == connector_ids  # every row once, in order
        assert [group for *_, group in loaders] == list(range(len(loaders)))
        for url, cell_ids, group in loaders:
            assert parse_qs(urlsplit(url).query)["group"] == [str(group)]
            assert len(rows_asked(url)) <= LATEST_SYNCS_PER_REQUEST
            assert len(urlsplit(url).query) <= LATEST_SYNCS_QUERY_CHARS
            assert cell_ids.split() == [latest_sync_cell_id(i) for i in rows_asked(url)]
            # Should every row it loads run, its group's poll asks for them all: no longer than the load itself.
            poll = f"{urlsplit(url).path}?group={group}&" + "&".join(f"row={i}" for i in rows_asked(url))
            assert len(f"GET {poll} HTTP/1.1") < 4094  # gunicorn's default limit
    assert len(latest_syncs_loaders(*IDS, uuids)) == 2 and len(latest_syncs_loaders(*IDS, long_ids)) == 5


def test_each_loaders_running_rows_are_polled_by_a_poller_of_their_own(admin_client, sandbox_api, settings):
    """A page of long ids is loaded by several requests; the rows one of them found running are polled together, by
    its group's poller, so that no poll asks for more rows than its load did (100 running rows of 128-character ids
    in one poll would be a request line over 13 KB, which gunicorn refuses)."""
    admin_client.post(reverse("sync_trigger", args=[*IDS, DRIVE_CONNECTOR_ID]))
    batch = reverse("sync_latest_batch", args=IDS)
    body = admin_client.get(f"{batch}?row={DRIVE_CONNECTOR_ID}&row={SLACK_CONNECTOR_ID}&group=3", **HX)
    body = body.content.decode()
    assert f'name="row" value="{DRIVE_CONNECTOR_ID}" data-group="3"' in body
    assert 'id="latest-syncs-poller-3" hx-swap-oob="true"' in body and f'hx-get="{batch}?group=3"' in body
    assert "hx-include=\".latest-sync input[name=row][data-group='3']\"" in body  # only its own rows

    settings.SYNC_CACHE_SECONDS = 0  # the next poll asks the upstream, which fails: the poller backs off
    sandbox_api.add_rule(method="GET", path_contains="/sync", status=503, times=100)
    failing = admin_client.get(f"{batch}?group=3&failures=1&row={DRIVE_CONNECTOR_ID}", **HX).content.decode()
    assert 'hx-trigger="every 8s"' in failing  # 2 s, doubled twice
    assert f'hx-get="{batch}?group=3&amp;failures=2"' in failing  # in its group still
    sandbox_api.clear_rules()
    odd = admin_client.get(f"{batch}?group=-1&row={DRIVE_CONNECTOR_ID}", **HX).content.decode()
    assert 'id="latest-syncs-poller-0"' in odd  # a group that is not a number: the first
