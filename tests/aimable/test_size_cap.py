"""No answer bigger than the console accepts (the decoded body is capped), and no list longer than asked for."""

import gzip

import pytest

from connectors.aimable import BadResponseError
from connectors.aimable.client import DEFAULT_MAX_RESPONSE_BYTES

from .canned import (
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
MB = 1024 * 1024


def json_of_size(size: int) -> bytes:
    """A valid JSON list answer of `size` bytes (whitespace inside)."""
    return b'{"data": [' + b" " * (size - 12) + b"]}"


def test_the_default_cap_is_5_mb():
    assert DEFAULT_MAX_RESPONSE_BYTES == 5 * MB


def test_a_gzip_bomb_is_refused_with_a_readable_error(rsps, api):
    # 20 KB on the wire, 20 MB once inflated: only a cap on the decoded body stops it.
    bomb = gzip.compress(json_of_size(20 * MB), compresslevel=9)
    assert len(bomb) < 100_000
    rsps.get(SPACES, body=bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")
    with pytest.raises(BadResponseError) as info:
        api.list_spaces()
    assert str(info.value) == "The Aimable API sent an answer larger than the console accepts (over 5 MB)."
    assert info.value.status == 200 and info.value.request_id == api.last_request_id
    assert len(rsps.calls) == 1  # asking again would bring the same answer


def test_the_cap_is_configurable_and_an_answer_at_the_cap_is_fine(rsps, make_client):
    rsps.get(SPACES, body=json_of_size(2048), content_type="application/json")
    assert make_client(max_response_bytes=2048).list_spaces() == []
    with pytest.raises(BadResponseError, match=r"larger than the console accepts \(over 1 KB\)"):
        make_client(max_response_bytes=1024).list_spaces()


def test_an_error_answer_over_the_cap_is_refused_too(rsps, api):
    rsps.get(SPACES, status=500, body=b"x" * (6 * MB), content_type="text/plain")
    with pytest.raises(BadResponseError, match="over 5 MB"):
        api.list_spaces()


@pytest.mark.parametrize(
    ("call", "url", "item"),
    [
        (lambda api: api.list_connectors(SPACE, COLLECTION, limit=25), PREFIX, CONNECTOR_JSON),
        (lambda api: api.list_syncs(SPACE, COLLECTION, CONNECTOR, limit=25), f"{CONNECTOR_URL}/sync", SYNC_JSON),
        (
            lambda api: api.browse(SPACE, COLLECTION, CONNECTOR, limit=25),
            f"{CONNECTOR_URL}/browse",
            {"name": "Folder", "type": "folder"},
        ),
    ],
    ids=["connectors", "syncs", "browse"],
)
def test_a_list_keeps_at_most_the_rows_asked_for(rsps, api, call, url, item):
    # The upstream ignores limit=25 and sends 500 rows: the page shows 25 and offers the next page from row 26.
    rsps.get(url, json={"data": [{**item, "id": f"item-{i}"} for i in range(500)]})
    page = call(api)
    assert [row.id for row in page.items] == [f"item-{i}" for i in range(25)]
    assert page.has_next and page.next_offset == 25
