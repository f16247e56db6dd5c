"""Dataclasses, envelopes and Page arithmetic, without HTTP."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.aimable import BadResponseError, BrowseItem, Collection, Connector, Page, Space, Sync
from connectors.aimable.types import parse_datetime, unwrap_list, unwrap_object

from .canned import CONNECTOR_JSON, SYNC_JSON


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-10-01T12:00:00Z", datetime(2023, 10, 1, 12, tzinfo=UTC)),
        ("2023-10-01T12:00:00.123456+00:00", datetime(2023, 10, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2023-10-01T14:00:00+02:00", datetime(2023, 10, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
        ("2023-10-01T12:00:00", datetime(2023, 10, 1, 12, tzinfo=UTC)),  # naive taken as UTC
        (None, None),
        ("", None),
        ("yesterday", None),
        (12345, None),
    ],
)
def test_parse_datetime(value, expected):
    parsed = parse_datetime(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_connector_from_api_keeps_raw_and_ignores_extras():
    connector = Connector.from_api({**CONNECTOR_JSON, "sync_schedule": "hourly"})
    assert connector.provider_slug == "google-drive" and connector.status == "active"
    assert connector.principal_id == "user123"
    assert connector.updated_at == datetime(2023, 10, 1, 12, tzinfo=UTC)
    assert connector.raw["sync_schedule"] == "hourly"


def test_connector_tolerates_missing_and_null_fields():
    connector = Connector.from_api({"id": "c1", "scope_config": None, "status": None})
    assert connector.scope_config == {} and connector.status == "" and connector.provider_slug == ""
    assert connector.created_at is None and connector.collection_id is None


@pytest.mark.parametrize(
    "parser", [Connector.from_api, Sync.from_api, BrowseItem.from_api, Space.from_api, Collection.from_api]
)
def test_missing_id_is_a_bad_response(parser):
    with pytest.raises(BadResponseError, match="without an id"):
        parser({"name": "no id", "id": ""})


def test_space_and_collection_accept_plain_id():
    assert Space.from_api({"id": "s1"}).space_id == "s1"
    assert Collection.from_api({"id": "c1"}).collection_id == "c1"


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("completed", True),
        ("failed", True),
        ("cancelled", True),
        ("succeeded", True),
        ("canceled", True),
        ("error", True),
        ("COMPLETED", True),
        ("running", False),
        ("queued", False),
        ("", False),
        ("something-new", False),
    ],
)
def test_sync_is_terminal(status, terminal):
    assert Sync.from_api({**SYNC_JSON, "status": status}).is_terminal is terminal


def test_sync_fields_and_duration():
    sync = Sync.from_api(
        {**SYNC_JSON, "records_fetched": 12, "metadata": {"files": 3}, "completed_at": "2023-10-01T12:07:30Z"}
    )
    assert sync.connector_id == SYNC_JSON["collection_connector_id"]
    assert sync.records_fetched == 12 and sync.metadata == {"files": 3}
    assert sync.duration == timedelta(minutes=2, seconds=30)
    assert Sync.from_api(SYNC_JSON).duration is None
    assert Sync.from_api({"id": "s", "connector_id": "c", "records_fetched": "n/a"}).records_fetched is None
    assert Sync.from_api({"id": "s", "connector_id": "c"}).connector_id == "c"


@pytest.mark.parametrize(
    ("obj", "container"),
    [
        ({"id": "1", "type": "folder"}, True),
        ({"id": "1", "type": "Organization"}, True),
        ({"id": "1", "type": "channel", "has_children": True}, True),
        ({"id": "1", "type": "file"}, False),
        ({"id": "1", "type": "repository", "has_children": False}, False),
        ({"id": "1"}, False),
    ],
)
def test_browse_item_is_container(obj, container):
    assert BrowseItem.from_api(obj).is_container is container


def test_browse_item_name_falls_back_to_id():
    item = BrowseItem.from_api({"id": "C024BE91L", "parent_id": 7})
    assert item.name == "C024BE91L" and item.parent_id == "7" and item.has_children is None


@pytest.mark.parametrize(
    ("page", "has_next", "next_offset"),
    [
        (Page(items=[1, 2], limit=2, offset=0), True, 2),  # full page: maybe more
        (Page(items=[1], limit=2, offset=0), False, 1),
        (Page(items=[], limit=2, offset=4), False, 4),
        (Page(items=[1, 2], limit=2, offset=0, total=2), False, 2),
        (Page(items=[1], limit=2, offset=0, total=5), True, 1),
        (Page(items=[1], limit=2, offset=0, has_more=True), True, 1),
        (Page(items=[1, 2], limit=2, offset=0, has_more=False, total=99), False, 2),  # has_more wins
        (Page(items=[1], limit=2, offset=0, next_cursor="c"), True, 1),
        (Page(items=[1], limit=2, offset=10, fetched=2), True, 12),  # one filtered out locally
    ],
)
def test_page_has_next(page, has_next, next_offset):
    assert page.has_next is has_next
    assert page.next_offset == next_offset


def test_page_iterates_and_has_length():
    page = Page(items=["a", "b"], limit=10, offset=0)
    assert list(page) == ["a", "b"] and len(page) == 2


def test_unwrap_object():
    assert unwrap_object({"data": {"id": 1}}) == {"id": 1}
    assert unwrap_object({"id": 1}) == {"id": 1}
    for bad in ([], "x", None, {"data": []}, {"data": None}):
        with pytest.raises(BadResponseError):
            unwrap_object(bad)


def test_unwrap_list_variants():
    assert unwrap_list([{"id": 1}]).items == [{"id": 1}]
    envelope = unwrap_list(
        {"data": [], "meta": {"total": "3"}, "next_cursor": "abc", "has_more": True, "extra": "ignored"}
    )
    assert (envelope.total, envelope.next_cursor, envelope.has_more) == (3, "abc", True)
    nested = unwrap_list({"data": [], "meta": {"pagination": {"total_count": 9}}})
    assert nested.total == 9 and nested.next_cursor is None and nested.has_more is None
    assert unwrap_list({"data": [], "next_cursor": ""}).next_cursor is None
    for bad in ({"items": []}, {"data": {}}, "x", None, [1], [{"id": 1}, "two"]):
        with pytest.raises(BadResponseError):
            unwrap_list(bad)
