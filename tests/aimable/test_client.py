"""Every public method of AimableClient against canned HTTP: URL, method, headers, query and body."""

import json
from datetime import UTC, datetime

import pytest
import requests
from responses import matchers

from connectors.aimable import (
    AimableClient,
    BadResponseError,
    BrowseItem,
    Collection,
    Connector,
    Page,
    Space,
    Sync,
    shared_session,
)
from connectors.aimable.client import POOL_SIZE, USER_AGENT

from .canned import (
    API_KEY,
    BASE,
    COLLECTION,
    CONNECTOR,
    CONNECTOR_JSON,
    CONNECTOR_URL,
    PREFIX,
    SPACE,
    SYNC,
    SYNC_JSON,
)


def only_call(rsps):
    assert len(rsps.calls) == 1
    return rsps.calls[0].request


# ----- construction, headers, repr ---------------------------------------------------------------------


def test_bearer_headers_and_request_id(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", json=[])
    api.list_spaces()
    request = only_call(rsps)
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "X-API-Key" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    request_id = request.headers["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert api.last_request_id == request_id


def test_x_api_key_scheme(rsps, make_client):
    api = make_client(auth_scheme="x-api-key")
    rsps.get(f"{BASE}/v1/spaces", json=[])
    api.list_spaces()
    request = only_call(rsps)
    assert request.headers["X-API-Key"] == API_KEY
    assert "Authorization" not in request.headers


def test_each_call_gets_a_new_request_id(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", json=[])
    api.list_spaces()
    api.list_spaces()
    ids = {call.request.headers["X-Request-ID"] for call in rsps.calls}
    assert len(ids) == 2


@pytest.mark.parametrize("base", [BASE, BASE + "/", BASE + "/v1", BASE + "/v1/"])
def test_base_url_trailing_slash_and_version_tolerated(rsps, base):
    rsps.get(f"{BASE}/v1/spaces", json=[])
    AimableClient(base, API_KEY, session=requests.Session()).list_spaces()
    assert len(rsps.calls) == 1


def test_repr_never_contains_the_key():
    api = AimableClient(BASE, API_KEY)
    assert API_KEY not in repr(api)
    assert API_KEY not in str(api)
    assert BASE in repr(api)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "ftp://x", "api_key": API_KEY}, "base_url"),
        ({"base_url": BASE, "api_key": ""}, "API key"),
        ({"base_url": BASE, "api_key": API_KEY + "\r\nX-Evil: 1"}, "API key"),
        ({"base_url": BASE, "api_key": API_KEY, "auth_scheme": "basic"}, "auth_scheme"),
    ],
)
def test_construction_is_validated_without_echoing_the_key(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        AimableClient(**kwargs)
    assert API_KEY not in str(info.value)


def test_shared_session_is_pooled_and_lazy(rsps):
    session = shared_session()
    assert session is shared_session()
    adapter = session.get_adapter("https://api.aimable.test/")
    assert adapter._pool_maxsize == POOL_SIZE
    assert adapter.max_retries.total == 0
    rsps.get(f"{BASE}/v1/spaces", json=[])
    AimableClient(BASE, API_KEY).list_spaces()  # no session= : uses the shared one
    assert len(rsps.calls) == 1


def test_shared_session_refuses_cookies(rsps):
    rsps.get(f"{BASE}/v1/spaces", json=[], headers={"Set-Cookie": "tracking=1; Path=/"})
    AimableClient(BASE, API_KEY).list_spaces()
    assert len(shared_session().cookies) == 0


def test_redirects_are_not_followed(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", status=302, headers={"Location": "https://evil.test/steal"})
    from connectors.aimable import UpstreamError

    with pytest.raises(UpstreamError, match="redirect") as info:
        api.list_spaces()
    assert len(rsps.calls) == 1
    assert info.value.status == 302


def test_timeouts_are_passed_to_requests(api, monkeypatch):
    seen = {}

    class Recorder(requests.Session):
        def request(self, method, url, **kwargs):
            seen.update(kwargs)
            response = requests.Response()
            response.status_code = 200
            response._content = b"[]"
            return response

    api._session = Recorder()
    api.list_spaces()
    assert seen["timeout"] == (3.05, 10.0)
    assert seen["allow_redirects"] is False


# ----- spaces and collections --------------------------------------------------------------------------


def test_list_spaces_bare_array(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", json=[{"space_id": SPACE, "name": "Team", "description": None, "x": 1}])
    spaces = api.list_spaces()
    assert spaces == [Space(space_id=SPACE, name="Team", description=None, raw={})]
    assert spaces[0].raw["x"] == 1


def test_list_collections(rsps, api):
    rsps.get(
        f"{BASE}/v1/spaces/{SPACE}/collections",
        json={"data": [{"collection_id": COLLECTION, "space_id": SPACE, "name": "Docs"}]},
    )
    collections = api.list_collections(SPACE.upper())  # canonicalised to lowercase
    assert collections == [Collection(collection_id=COLLECTION, space_id=SPACE, name="Docs", description=None, raw={})]


# ----- connectors --------------------------------------------------------------------------------------


def test_list_connectors_sends_limit_offset_and_filters(rsps, api):
    rsps.get(
        PREFIX,
        json={"data": [CONNECTOR_JSON], "meta": {"total": 1}},
        match=[
            matchers.query_param_matcher(
                {"limit": "10", "offset": "20", "status": "active", "provider_slug": "google-drive"}
            )
        ],
    )
    page = api.list_connectors(SPACE, COLLECTION, limit=10, offset=20, status="active", provider_slug="google-drive")
    assert isinstance(page, Page)
    assert [c.id for c in page] == [CONNECTOR]
    assert page.total == 1 and page.limit == 10 and page.offset == 20
    assert page.request_id == api.last_request_id
    assert only_call(rsps).method == "GET"


def test_list_connectors_defaults(rsps, api):
    rsps.get(PREFIX, json=[], match=[matchers.query_param_matcher({"limit": "50", "offset": "0"})])
    page = api.list_connectors(SPACE, COLLECTION)
    assert page.items == [] and not page.has_next


def test_filters_are_applied_locally_when_the_server_ignores_them(rsps, api):
    paused = {**CONNECTOR_JSON, "id": "c2", "status": "paused"}
    slack = {**CONNECTOR_JSON, "id": "c3", "provider_slug": "slack"}
    rsps.get(PREFIX, json={"data": [CONNECTOR_JSON, paused, slack]})
    page = api.list_connectors(SPACE, COLLECTION, limit=3, status="active", provider_slug="google-drive")
    assert [c.id for c in page] == [CONNECTOR]
    # paging arithmetic still counts what the server returned
    assert page.fetched == 3 and page.next_offset == 3 and page.has_next


@pytest.mark.parametrize("limit", [0, 101, -1, True, "10"])
def test_limit_out_of_range_is_refused_before_sending(rsps, api, limit):
    with pytest.raises(ValueError, match="limit"):
        api.list_connectors(SPACE, COLLECTION, limit=limit)
    assert len(rsps.calls) == 0


def test_negative_offset_refused(rsps, api):
    with pytest.raises(ValueError, match="offset"):
        api.list_connectors(SPACE, COLLECTION, offset=-1)
    assert len(rsps.calls) == 0


def test_get_connector(rsps, api):
    rsps.get(CONNECTOR_URL, json={"data": CONNECTOR_JSON})
    connector = api.get_connector(SPACE, COLLECTION, CONNECTOR)
    assert isinstance(connector, Connector)
    assert connector.scope_config == {"folder_ids": ["1A2B3C4D"]}
    assert connector.created_at == datetime(2023, 10, 1, 12, 0, tzinfo=UTC)


def test_create_connector(rsps, api):
    rsps.post(PREFIX, status=201, json={"data": CONNECTOR_JSON})
    connector = api.create_connector(
        SPACE,
        COLLECTION,
        provider_slug="google-drive",
        credential={"access_token": "ya29.tok", "refresh_token": "1//04"},
        scope_config={"folder_ids": ["1A2B3C4D"]},
        idempotency_key="abc123xyz",
    )
    assert connector.id == CONNECTOR
    request = only_call(rsps)
    assert request.method == "POST"
    assert request.headers["Idempotency-Key"] == "abc123xyz"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "provider_slug": "google-drive",
        "credential": {"access_token": "ya29.tok", "refresh_token": "1//04"},
        "scope_config": {"folder_ids": ["1A2B3C4D"]},
    }


def test_create_connector_omits_missing_scope(rsps, api):
    rsps.post(PREFIX, status=201, json={"data": CONNECTOR_JSON})
    api.create_connector(SPACE, COLLECTION, provider_slug="slack", credential={"t": "x"}, idempotency_key="k1")
    assert "scope_config" not in json.loads(only_call(rsps).body)


@pytest.mark.parametrize("key", ["", "with space", "line\nbreak", "x" * 256, None])
def test_create_connector_requires_a_sane_idempotency_key(rsps, api, key):
    with pytest.raises(ValueError, match="idempotency_key"):
        api.create_connector(SPACE, COLLECTION, provider_slug="slack", credential={}, idempotency_key=key)
    assert len(rsps.calls) == 0


def test_create_connector_requires_idempotency_key_argument(api):
    with pytest.raises(TypeError):
        api.create_connector(SPACE, COLLECTION, provider_slug="slack", credential={})


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"status": "paused"}, {"status": "paused"}),
        ({"scope_config": {"channel_ids": ["C1"]}}, {"scope_config": {"channel_ids": ["C1"]}}),
        ({"scope_config": None}, {"scope_config": None}),
        (
            {"credential": {"token": "t"}, "status": "active"},
            {"credential": {"token": "t"}, "status": "active"},
        ),
    ],
)
def test_update_connector_patches_only_given_fields(rsps, api, kwargs, body):
    rsps.patch(CONNECTOR_URL, json={"data": CONNECTOR_JSON})
    assert api.update_connector(SPACE, COLLECTION, CONNECTOR, **kwargs).id == CONNECTOR
    request = only_call(rsps)
    assert request.method == "PATCH"
    assert json.loads(request.body) == body


def test_update_connector_needs_a_field(rsps, api):
    with pytest.raises(ValueError, match="at least one"):
        api.update_connector(SPACE, COLLECTION, CONNECTOR)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("status", [200, 204])
def test_delete_connector(rsps, api, status):
    rsps.delete(CONNECTOR_URL, status=status, body=b"" if status == 204 else b'{"data": null}')
    assert api.delete_connector(SPACE, COLLECTION, CONNECTOR) is None
    assert only_call(rsps).method == "DELETE"


def test_browse_root_and_parent(rsps, api):
    items = [
        {"id": "f1", "name": "Reports", "type": "folder"},
        {"id": "d1", "name": "Q3.pdf", "type": "file", "parent_id": "1A2B", "size": 3},
    ]
    rsps.get(
        f"{CONNECTOR_URL}/browse",
        json={"data": items},
        match=[matchers.query_param_matcher({"limit": "50", "offset": "0"})],
    )
    rsps.get(
        f"{CONNECTOR_URL}/browse",
        json={"data": items[1:]},
        match=[matchers.query_param_matcher({"limit": "50", "offset": "0", "parent_id": "a/b?c&d=..%2F"})],
    )
    page = api.browse(SPACE, COLLECTION, CONNECTOR)
    assert all(isinstance(item, BrowseItem) for item in page)
    assert [item.is_container for item in page] == [True, False]
    page = api.browse(SPACE, COLLECTION, CONNECTOR, parent_id="a/b?c&d=..%2F")  # query-encoded, harmless
    assert [item.id for item in page] == ["d1"]
    assert rsps.calls[1].request.path_url.startswith(f"/api-proxy/v1/spaces/{SPACE}/collections/")
    assert "/browse?" in rsps.calls[1].request.path_url


def test_browse_parent_id_too_long(rsps, api):
    from connectors.aimable import InvalidIdError

    with pytest.raises(InvalidIdError) as info:
        api.browse(SPACE, COLLECTION, CONNECTOR, parent_id="x" * 513)
    assert info.value.field == "parent_id"
    assert len(rsps.calls) == 0


# ----- syncs -------------------------------------------------------------------------------------------


def test_list_syncs(rsps, api):
    completed = {**SYNC_JSON, "id": "s0", "status": "completed", "completed_at": "2023-10-01T12:06:00+00:00"}
    rsps.get(
        f"{CONNECTOR_URL}/sync",
        json={"data": [SYNC_JSON, completed]},
        match=[matchers.query_param_matcher({"limit": "5", "offset": "0"})],
    )
    page = api.list_syncs(SPACE, COLLECTION, CONNECTOR, limit=5)
    assert [s.id for s in page] == [SYNC, "s0"]
    assert [s.is_terminal for s in page] == [False, True]
    assert page.items[1].duration.total_seconds() == 60


def test_list_syncs_default_limit_and_status_filter(rsps, api):
    rsps.get(
        f"{CONNECTOR_URL}/sync",
        json=[SYNC_JSON, {**SYNC_JSON, "id": "s2", "status": "failed"}],
        match=[matchers.query_param_matcher({"limit": "20", "offset": "0", "status": "failed"})],
    )
    assert [s.id for s in api.list_syncs(SPACE, COLLECTION, CONNECTOR, status="failed")] == ["s2"]


@pytest.mark.parametrize("status", [200, 201, 202])
def test_trigger_sync(rsps, api, status):
    rsps.post(f"{CONNECTOR_URL}/sync", status=status, json={"data": SYNC_JSON})
    sync = api.trigger_sync(SPACE, COLLECTION, CONNECTOR)
    assert isinstance(sync, Sync)
    assert sync.connector_id == CONNECTOR and sync.status == "running" and sync.completed_at is None
    request = only_call(rsps)
    assert request.method == "POST" and not request.body
    assert "Idempotency-Key" not in request.headers


def test_trigger_sync_without_body_is_a_bad_response(rsps, api):
    rsps.post(f"{CONNECTOR_URL}/sync", status=202, body=b"")
    with pytest.raises(BadResponseError) as info:
        api.trigger_sync(SPACE, COLLECTION, CONNECTOR)
    assert info.value.status == 202 and info.value.request_id == api.last_request_id


def test_get_sync(rsps, api):
    rsps.get(f"{CONNECTOR_URL}/sync/{SYNC}", json={"data": {**SYNC_JSON, "records_fetched": "42"}})
    sync = api.get_sync(SPACE, COLLECTION, CONNECTOR, SYNC)
    assert sync.id == SYNC and sync.records_fetched == 42


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, json.dumps({"data": {**SYNC_JSON, "status": "cancelled"}}), SYNC),
        (202, "", None),
        (200, json.dumps({"detail": "Cancellation requested"}), None),
        (202, "accepted", None),
    ],
)
def test_cancel_sync(rsps, api, status, body, expected):
    rsps.post(f"{CONNECTOR_URL}/sync/cancel", status=status, body=body)
    result = api.cancel_sync(SPACE, COLLECTION, CONNECTOR)
    assert (result.id if result else None) == expected
    assert only_call(rsps).method == "POST"


# ----- housekeeping ------------------------------------------------------------------------------------


def test_check_key_ok(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", json={"unexpected": "shape is fine here"})
    assert api.check_key() is None


def test_check_key_rejected(rsps, api):
    from connectors.aimable import AuthenticationError

    rsps.get(f"{BASE}/v1/spaces", status=401, json={"detail": "Invalid token"})
    with pytest.raises(AuthenticationError, match="Invalid token"):
        api.check_key()
    assert len(rsps.calls) == 1  # 401 is not retried


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"status": "ok", "db": "up"}', {"status": "ok", "db": "up"}),
        ("OK", {"status": "ok"}),
        ("", {"status": "ok"}),
    ],
)
def test_health(rsps, api, body, expected):
    rsps.get(f"{BASE}/health", body=body)
    assert api.health() == expected


# ----- envelopes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"data": CONNECTOR_JSON},
        CONNECTOR_JSON,
        {"data": {**CONNECTOR_JSON, "new_field": [1, 2]}, "meta": {"v": 2}},
    ],
)
def test_object_envelopes(rsps, api, body):
    rsps.get(CONNECTOR_URL, json=body)
    assert api.get_connector(SPACE, COLLECTION, CONNECTOR).id == CONNECTOR


@pytest.mark.parametrize(
    "body",
    [
        '"just a string"',
        "[1, 2]",
        '{"data": "nope"}',
        '{"data": [1]}',
        "<html>ok</html>",
        json.dumps({"data": {**CONNECTOR_JSON, "id": None}}),
    ],
)
def test_bad_object_shapes(rsps, api, body):
    rsps.get(CONNECTOR_URL, body=body)
    with pytest.raises(BadResponseError) as info:
        api.get_connector(SPACE, COLLECTION, CONNECTOR)
    assert info.value.status == 200
    assert not info.value.retryable
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    "body", ['{"items": []}', '{"data": {"id": "x"}}', '[{"id": "a"}, 3]', "42", '[{"name": "no id"}]']
)
def test_bad_list_shapes(rsps, api, body):
    rsps.get(PREFIX, body=body)
    with pytest.raises(BadResponseError):
        api.list_connectors(SPACE, COLLECTION)
