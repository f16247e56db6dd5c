"""The sandbox over real HTTP (no Django needed)."""

import time
import uuid

import pytest
import requests

from sandbox import (
    ARCHIVE_FOLDER_ID,
    ARCHIVE_SIZE,
    CREDENTIAL_ERROR,
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    EMPTY_COLLECTION_ID,
    ENGINEERING_FOLDER_ID,
    GITHUB_CONNECTOR_ID,
    OTHER_COLLECTION_ID,
    OTHER_SPACE_ID,
    RUNBOOKS_FOLDER_ID,
    SALES_COLLECTION_ID,
    SLACK_CONNECTOR_ID,
)

CONNECTORS = f"/v1/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors"
DRIVE = f"{CONNECTORS}/{DRIVE_CONNECTOR_ID}"


class Api:
    def __init__(self, sandbox, key=None, style="bearer"):
        self.base = sandbox.url
        self.session = requests.Session()
        key = key or sandbox.admin_key
        if style == "bearer":
            self.session.headers["Authorization"] = f"Bearer {key}"
        else:
            self.session.headers["X-API-Key"] = key

    def __getattr__(self, method):
        def call(path, **kw):
            kw.setdefault("timeout", 5)
            return self.session.request(method.upper(), self.base + path, **kw)

        return call


@pytest.fixture
def api(sandbox_clean):
    return Api(sandbox_clean)


def create(api, body=None, key=None, path=CONNECTORS):
    body = body or {"provider_slug": "slack", "credential": {"access_token": "xoxb-1"}}
    return api.post(path, json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})


def wait_for(fn, timeout=5.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


# ---------------------------------------------------------------- basics and auth
def test_health_needs_no_auth(sandbox_clean):
    r = requests.get(sandbox_clean.url + "/health", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
def test_both_auth_styles_work(sandbox_clean, style):
    r = Api(sandbox_clean, style=style).get("/v1/spaces")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content)


def test_missing_and_invalid_key(sandbox_clean):
    r = requests.get(sandbox_clean.url + "/v1/spaces", timeout=5)
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = Api(sandbox_clean, key="aim_nope").get("/v1/spaces")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid API key"}
    r = Api(sandbox_clean, key="aim_nope", style="x").get("/v1/spaces")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid API key"}


def test_unknown_route_and_method(api):
    assert api.get("/v1/nothing").json() == {"detail": "Not Found"}
    assert api.get("/v1/nothing").status_code == 404
    r = api.delete("/v1/spaces")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    assert api.put(DRIVE).status_code == 405


def test_keep_alive_reuses_connection(api):
    for _ in range(3):
        assert api.get("/v1/spaces").status_code == 200
    pool = api.session.get_adapter(api.base).poolmanager
    pools = list(pool.pools._container.values())
    assert len(pools) == 1 and pools[0].num_connections == 1


# ---------------------------------------------------------------- spaces, collections, permissions
def test_spaces_and_collections(api):
    spaces = api.get("/v1/spaces").json()
    assert [s["space_id"] for s in spaces["data"]] == [DEMO_SPACE_ID, OTHER_SPACE_ID]
    assert set(spaces["data"][0]) == {"space_id", "name", "description"}
    assert spaces["meta"] == {"total": 2, "limit": 50, "offset": 0}
    colls = api.get(f"/v1/spaces/{DEMO_SPACE_ID}/collections").json()["data"]
    assert [c["name"] for c in colls] == ["Engineering Wiki", "Sales Playbooks", "Empty Collection"]
    assert {c["collection_id"] for c in colls} == {DEMO_COLLECTION_ID, SALES_COLLECTION_ID, EMPTY_COLLECTION_ID}
    assert all(c["space_id"] == DEMO_SPACE_ID for c in colls)
    r = api.get(f"/v1/spaces/{OTHER_SPACE_ID}/collections/{OTHER_COLLECTION_ID}/connectors")
    assert r.json()["meta"]["total"] == 1


def test_limited_key(sandbox_clean):
    api = Api(sandbox_clean, key=sandbox_clean.limited_key, style="x-api-key")
    assert [s["space_id"] for s in api.get("/v1/spaces").json()["data"]] == [DEMO_SPACE_ID]
    assert api.get(CONNECTORS).status_code == 200
    for path in (
        f"/v1/spaces/{OTHER_SPACE_ID}/collections",
        f"/v1/spaces/{OTHER_SPACE_ID}/collections/{OTHER_COLLECTION_ID}/connectors",
    ):
        r = api.get(path)
        assert r.status_code == 403
        assert r.json() == {"detail": "Not enough permissions for this space"}


def test_unknown_space_collection_connector(api):
    other = str(uuid.uuid4())
    assert api.get(f"/v1/spaces/{other}/collections").json() == {"detail": "Space not found"}
    r = api.get(f"/v1/spaces/{DEMO_SPACE_ID}/collections/{other}/connectors")
    assert r.status_code == 404 and r.json() == {"detail": "Collection not found"}
    # a collection of another space is not found in this one
    r = api.get(f"/v1/spaces/{DEMO_SPACE_ID}/collections/{OTHER_COLLECTION_ID}/connectors")
    assert r.json() == {"detail": "Collection not found"}
    r = api.get(f"{CONNECTORS}/{other}")
    assert r.status_code == 404 and r.json() == {"detail": "Connector not found"}
    sales = f"/v1/spaces/{DEMO_SPACE_ID}/collections/{SALES_COLLECTION_ID}/connectors/{DRIVE_CONNECTOR_ID}"
    assert api.get(sales).status_code == 404


@pytest.mark.parametrize(
    ("value", "type_", "msg"),
    [
        ("0", "greater_than_equal", "Input should be greater than or equal to 1"),
        ("101", "less_than_equal", "Input should be less than or equal to 100"),
        ("abc", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_limit_validation(api, value, type_, msg):
    r = api.get(CONNECTORS, params={"limit": value})
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["query", "limit"] and err["type"] == type_ and err["msg"] == msg
    assert err["input"] == value


def test_offset_validation_and_paging(api):
    r = api.get(CONNECTORS, params={"offset": "-1"})
    assert r.json()["detail"][0]["loc"] == ["query", "offset"]
    r = api.get(CONNECTORS, params={"limit": 2, "offset": 2}).json()
    assert len(r["data"]) == 2 and r["meta"] == {"total": 4, "limit": 2, "offset": 2}


def test_uuid_path_validation(api):
    r = api.get("/v1/spaces/not-a-uuid/collections/also-bad/connectors")
    assert r.status_code == 422
    errs = r.json()["detail"]
    assert [e["loc"] for e in errs] == [["path", "space_id"], ["path", "collection_id"]]
    assert errs[0]["type"] == "uuid_parsing" and errs[0]["msg"].startswith("Input should be a valid UUID, ")


# ---------------------------------------------------------------- connectors
def test_list_connectors_newest_first_and_filters(api):
    data = api.get(CONNECTORS).json()["data"]
    assert len(data) == 4
    created = [c["created_at"] for c in data]
    assert created == sorted(created, reverse=True)
    assert all(c["created_at"].endswith("Z") for c in data)
    assert {c["status"] for c in data} == {"active", "paused", "disconnected"}
    assert "credential" not in data[0]
    drive = api.get(CONNECTORS, params={"provider_slug": "google-drive"}).json()["data"]
    assert {c["id"] for c in drive} == {DRIVE_CONNECTOR_ID, DISCONNECTED_CONNECTOR_ID}
    paused = api.get(CONNECTORS, params={"status": "paused"}).json()["data"]
    assert [c["id"] for c in paused] == [GITHUB_CONNECTOR_ID]
    assert api.get(CONNECTORS, params={"status": "bogus"}).status_code == 422
    empty = f"/v1/spaces/{DEMO_SPACE_ID}/collections/{EMPTY_COLLECTION_ID}/connectors"
    assert api.get(empty).json() == {"data": [], "meta": {"total": 0, "limit": 50, "offset": 0}}


def test_seeded_drive_connector(api):
    c = api.get(DRIVE).json()["data"]
    assert c["provider_slug"] == "google-drive" and c["status"] == "active"
    assert c["scope_config"] == {"folder_ids": DRIVE_SCOPE_FOLDER_IDS}
    assert set(c) == {
        "id",
        "collection_id",
        "provider_slug",
        "principal_id",
        "scope_config",
        "status",
        "created_at",
        "updated_at",
    }
    syncs = api.get(f"{DRIVE}/sync").json()["data"]
    assert [s["status"] for s in syncs] == ["completed", "completed", "failed", "completed"]
    assert syncs[2]["metadata"]["error_code"] and syncs[2]["completed_at"]


def test_create_connector(sandbox_clean, api):
    body = {
        "provider_slug": "github",
        "credential": {"access_token": "ghp_secret", "refresh_token": "r1", "extra": 1},
        "scope_config": {"repositories": ["acme-corp/web-console"], "branch": "main"},
    }
    r = create(api, body)
    assert r.status_code == 201
    c = r.json()["data"]
    uuid.UUID(c["id"])
    assert c["collection_id"] == DEMO_COLLECTION_ID and c["principal_id"] == "user-demo-admin"
    assert c["status"] == "active" and c["scope_config"] == body["scope_config"]
    assert c["created_at"] == c["updated_at"]
    assert "credential" not in c and "ghp_secret" not in r.text
    assert sandbox_clean.credential(c["id"]) == body["credential"]
    cred = requests.get(f"{sandbox_clean.url}/_sandbox/connectors/{c['id']}/credential", timeout=5).json()
    assert cred == {"data": body["credential"]}
    assert api.get(CONNECTORS).json()["data"][0]["id"] == c["id"]
    r = create(api, {"provider_slug": "slack", "credential": {"access_token": "x"}})
    assert r.json()["data"]["scope_config"] == {}


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"provider_slug": "dropbox", "credential": {"access_token": "t"}}, ["body", "provider_slug"], "enum"),
        ({"credential": {"access_token": "t"}}, ["body", "provider_slug"], "missing"),
        ({"provider_slug": "slack"}, ["body", "credential"], "missing"),
        ({"provider_slug": "slack", "credential": {}}, ["body", "credential", "access_token"], "missing"),
        (
            {"provider_slug": "slack", "credential": {"access_token": ""}},
            ["body", "credential", "access_token"],
            "string_too_short",
        ),
        ({"provider_slug": "slack", "credential": "tok"}, ["body", "credential"], "model_attributes_type"),
        (
            {"provider_slug": "slack", "credential": {"access_token": "t"}, "scope_config": []},
            ["body", "scope_config"],
            "dict_type",
        ),
        (
            {"provider_slug": "google-drive", "credential": {"access_token": "t"}, "scope_config": {"folder_ids": "x"}},
            ["body", "scope_config", "folder_ids"],
            "list_type",
        ),
        (
            {
                "provider_slug": "google-drive",
                "credential": {"access_token": "t"},
                "scope_config": {"folder_ids": ["ok", ""]},
            },
            ["body", "scope_config", "folder_ids", 1],
            "string_too_short",
        ),
        (
            {"provider_slug": "slack", "credential": {"access_token": "t"}, "scope_config": {"channel_ids": [5]}},
            ["body", "scope_config", "channel_ids", 0],
            "string_type",
        ),
        (
            {
                "provider_slug": "github",
                "credential": {"access_token": "t"},
                "scope_config": {"repositories": ["acme/ok", "not a repo"]},
            },
            ["body", "scope_config", "repositories", 1],
            "string_pattern_mismatch",
        ),
    ],
)
def test_create_validation(api, body, loc, type_):
    r = create(api, body)
    assert r.status_code == 422, r.text
    errs = r.json()["detail"]
    assert any(e["loc"] == loc and e["type"] == type_ for e in errs), errs
    assert all(isinstance(e["msg"], str) for e in errs)


def test_create_enum_message_and_invalid_json(api):
    r = create(api, {"provider_slug": "x", "credential": {"access_token": "t"}})
    assert r.json()["detail"][0]["msg"] == "Input should be 'google-drive', 'slack' or 'github'"
    r = api.post(CONNECTORS, data="{nope", headers={"Idempotency-Key": "k", "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"] and r.json()["detail"][0]["type"] == "json_invalid"


def test_idempotency(sandbox_clean, api):
    body = {"provider_slug": "slack", "credential": {"access_token": "xoxb-1"}, "scope_config": {"channel_ids": []}}
    first = create(api, body, key="idem-1")
    again = create(api, body, key="idem-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    assert api.get(CONNECTORS).json()["meta"]["total"] == 5
    r = create(api, {**body, "scope_config": {"channel_ids": ["C1"]}}, key="idem-1")
    assert r.status_code == 422  # the IETF Idempotency-Key draft; 409 is for the same key still in flight
    assert r.json() == {"detail": "Idempotency-Key 'idem-1' was already used with a different request body"}
    # per principal: another user may use the same key
    other = Api(sandbox_clean, key=sandbox_clean.add_key("aim_other", "user-other"))
    r = create(other, body, key="idem-1")
    assert r.status_code == 201 and r.json()["data"]["id"] != first.json()["data"]["id"]
    assert r.json()["data"]["principal_id"] == "user-other"
    r = api.post(CONNECTORS, json=body)
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"type": "missing", "loc": ["header", "idempotency-key"], "msg": "Field required", "input": None}
    ]


def test_patch_connector(sandbox_clean, api):
    before = api.get(DRIVE).json()["data"]
    r = api.patch(DRIVE, json={"scope_config": {"folder_ids": [RUNBOOKS_FOLDER_ID]}, "status": "paused"})
    assert r.status_code == 200
    c = r.json()["data"]
    assert c["status"] == "paused" and c["scope_config"] == {"folder_ids": [RUNBOOKS_FOLDER_ID]}
    assert c["updated_at"] > before["updated_at"] and c["created_at"] == before["created_at"]
    r = api.patch(DRIVE, json={"status": "error"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "status"]
    r = api.patch(DRIVE, json={"scope_config": {"folder_ids": [1]}})
    assert r.json()["detail"][0]["loc"] == ["body", "scope_config", "folder_ids", 0]
    r = api.patch(DRIVE, json={"credential": {"refresh_token": "x"}})
    assert r.json()["detail"][0]["loc"] == ["body", "credential", "access_token"]
    # a new credential reconnects a disconnected connector
    path = f"{CONNECTORS}/{DISCONNECTED_CONNECTOR_ID}"
    assert api.get(path).json()["data"]["status"] == "disconnected"
    r = api.patch(path, json={"credential": {"access_token": "ya29.new"}})
    assert r.json()["data"]["status"] == "active"
    assert sandbox_clean.credential(DISCONNECTED_CONNECTOR_ID) == {"access_token": "ya29.new"}


def test_delete_connector_cancels_running_sync(sandbox_clean, api):
    sync = api.post(f"{DRIVE}/sync").json()["data"]
    r = api.delete(DRIVE)
    assert r.status_code == 204 and r.content == b""
    assert api.get(DRIVE).status_code == 404
    assert api.delete(DRIVE).status_code == 404
    assert sync["id"] not in sandbox_clean.state.syncs
    assert api.get(CONNECTORS).json()["meta"]["total"] == 3


# ---------------------------------------------------------------- browse
def test_browse_drive(api):
    root = api.get(f"{DRIVE}/browse").json()
    names = [i["name"] for i in root["data"]]
    assert names == ["Engineering", "Design", "Marketing", "Finance", "Archive", "Onboarding"]
    assert all(i["type"] == "folder" and i["has_children"] and i["parent_id"] is None for i in root["data"])
    assert set(DRIVE_SCOPE_FOLDER_IDS) <= {i["id"] for i in root["data"]}
    eng = api.get(f"{DRIVE}/browse", params={"parent_id": ENGINEERING_FOLDER_ID}).json()["data"]
    assert {"Architecture", "Runbooks", "RFCs"} <= {i["name"] for i in eng}
    files = [i for i in eng if i["type"] == "file"]
    assert files and all(i["mime_type"] and i["size"] > 0 for i in files)
    assert all(i["parent_id"] == ENGINEERING_FOLDER_ID for i in eng)
    runbooks = api.get(f"{DRIVE}/browse", params={"parent_id": RUNBOOKS_FOLDER_ID}).json()["data"]
    assert "On-call handbook" in [i["name"] for i in runbooks]


def test_browse_paging_of_the_big_folder(api):
    seen = []
    offset = 0
    while True:
        r = api.get(f"{DRIVE}/browse", params={"parent_id": ARCHIVE_FOLDER_ID, "limit": 100, "offset": offset})
        body = r.json()
        assert body["meta"]["total"] == ARCHIVE_SIZE == 250
        seen += [i["id"] for i in body["data"]]
        offset += 100
        if offset >= body["meta"]["total"]:
            break
    assert len(seen) == len(set(seen)) == 250
    assert len(api.get(f"{DRIVE}/browse", params={"parent_id": ARCHIVE_FOLDER_ID}).json()["data"]) == 50
    r = api.get(f"{DRIVE}/browse", params={"parent_id": ARCHIVE_FOLDER_ID, "limit": 101})
    assert r.status_code == 422


def test_browse_slack_github_unknown(api):
    channels = api.get(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/browse").json()
    assert channels["meta"]["total"] == 30
    ch = channels["data"][0]
    assert ch["type"] == "channel" and ch["has_children"] is False and ch["id"].startswith("C0") and len(ch["id"]) == 9
    assert "is_private" in ch and "member_count" in ch
    orgs = api.get(f"{CONNECTORS}/{GITHUB_CONNECTOR_ID}/browse").json()["data"]
    assert [o["type"] for o in orgs] == ["organization"] * 3 and all(o["has_children"] for o in orgs)
    repos = api.get(f"{CONNECTORS}/{GITHUB_CONNECTOR_ID}/browse", params={"parent_id": "acme-corp"}).json()["data"]
    assert all(r["type"] == "repository" and r["id"].startswith("acme-corp/") for r in repos)
    r = api.get(f"{DRIVE}/browse", params={"parent_id": "1nope"})
    assert r.status_code == 404 and r.json() == {"detail": "Resource not found"}


# ---------------------------------------------------------------- syncs
def test_sync_lifecycle(sandbox_clean, api):
    sandbox_clean.set_faults(sync_seconds=1.0)
    r = api.post(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync")
    assert r.status_code == 202
    sync = r.json()["data"]
    assert sync["status"] == "running" and sync["records_fetched"] == 0 and sync["completed_at"] is None
    assert sync["collection_connector_id"] == SLACK_CONNECTOR_ID
    path = f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync/{sync['id']}"
    r = api.post(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync")
    assert r.status_code == 409 and r.json() == {"detail": "A sync is already running for this connector"}
    time.sleep(0.6)
    mid = api.get(path).json()["data"]
    assert mid["status"] == "running" and mid["records_fetched"] > 0 and mid["metadata"]["phase"] == "fetching"
    done = wait_for(lambda: (d := api.get(path).json()["data"])["status"] == "completed" and d)
    assert 40 <= done["records_fetched"] <= 400 and done["records_fetched"] >= mid["records_fetched"]
    assert done["completed_at"] >= done["created_at"]
    listed = api.get(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync").json()["data"]
    assert listed[0]["id"] == sync["id"] and listed[0]["status"] == "completed"
    assert api.get(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync", params={"status": "running"}).json()["data"] == []
    r = api.get(f"{CONNECTORS}/{SLACK_CONNECTOR_ID}/sync/{uuid.uuid4()}")
    assert r.status_code == 404 and r.json() == {"detail": "Sync not found"}


def test_sync_paused_and_cancel(api):
    r = api.post(f"{CONNECTORS}/{GITHUB_CONNECTOR_ID}/sync")
    assert r.status_code == 409 and r.json() == {"detail": "Connector is paused"}
    r = api.post(f"{DRIVE}/sync/cancel")
    assert r.status_code == 409 and r.json() == {"detail": "No sync is running for this connector"}
    sync = api.post(f"{DRIVE}/sync").json()["data"]
    r = api.post(f"{DRIVE}/sync/cancel")
    assert r.status_code == 200
    cancelled = r.json()["data"]
    assert cancelled["id"] == sync["id"] and cancelled["status"] == "cancelled" and cancelled["completed_at"]
    assert api.post(f"{DRIVE}/sync").status_code == 202


def test_sync_failure_with_fail_rate(sandbox_clean, api):
    sandbox_clean.set_faults(sync_seconds=0.3, fail_rate=1.0)
    sync = api.post(f"{DRIVE}/sync").json()["data"]
    path = f"{DRIVE}/sync/{sync['id']}"
    failed = wait_for(lambda: (d := api.get(path).json()["data"])["status"] != "running" and d)
    assert failed["status"] == "failed" and failed["completed_at"]
    assert failed["metadata"]["error"] and failed["metadata"]["error_code"]
    assert api.get(DRIVE).json()["data"]["status"] == "error"


def test_disconnected_connector_sync_fails(sandbox_clean, api):
    path = f"{CONNECTORS}/{DISCONNECTED_CONNECTOR_ID}"
    sync = api.post(f"{path}/sync").json()["data"]
    assert sync["status"] == "running"
    sandbox_clean.advance(1.1)
    failed = api.get(f"{path}/sync/{sync['id']}").json()["data"]
    assert failed["status"] == "failed"
    assert failed["metadata"] == {"error": CREDENTIAL_ERROR, "error_code": "credential_expired"}
    assert api.get(path).json()["data"]["status"] == "disconnected"


# ---------------------------------------------------------------- faults, rules, log, reset
def test_rule_status_json_and_retry_after(sandbox_clean, api):
    sandbox_clean.add_rule(method="GET", path_contains="/sync", times=2, status=503, retry_after=2)
    for _ in range(2):
        r = api.get(f"{DRIVE}/sync")
        assert r.status_code == 503 and r.json() == {"detail": "Service Unavailable"}
        assert r.headers["Retry-After"] == "2"
    assert api.get(f"{DRIVE}/sync").status_code == 200
    assert api.get(DRIVE).status_code == 200


def test_rule_html_and_empty_bodies_via_control_api(sandbox_clean, api):
    control = sandbox_clean.url + "/_sandbox/rules"
    requests.post(control, json={"path_contains": "/connectors", "status": 502, "body": "html"}, timeout=5)
    r = api.get(CONNECTORS)
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html") and "<html>" in r.text
    requests.post(control, json={"status": 429, "body": "empty"}, timeout=5)
    r = api.get("/v1/spaces")
    assert r.status_code == 429 and r.content == b"" and r.headers["Retry-After"] == "1"
    requests.post(control, json={"status": 500}, timeout=5)
    assert requests.delete(control, timeout=5).status_code == 204
    assert api.get("/v1/spaces").status_code == 200


def test_rule_after_commit(sandbox_clean, api):
    sandbox_clean.add_rule(method="POST", path_contains="/connectors", status=504, after_commit=True)
    body = {"provider_slug": "slack", "credential": {"access_token": "x"}}
    r = create(api, body, key="lost-1")
    assert r.status_code == 504
    assert api.get(CONNECTORS).json()["meta"]["total"] == 5  # the upstream committed
    retry = create(api, body, key="lost-1")  # the client retries with the same key
    assert retry.status_code == 201
    assert api.get(CONNECTORS).json()["meta"]["total"] == 5
    entry = [e for e in sandbox_clean.requests() if e["method"] == "POST"][0]
    assert entry["status"] == 504 and entry["handler_status"] == 201 and entry["fault"] == "after_commit"


def test_rule_hang_closes_without_answer(sandbox_clean, api):
    sandbox_clean.add_rule(path_contains="/spaces", hang=True, hang_seconds=0.3)
    with pytest.raises(requests.ConnectionError):
        api.get("/v1/spaces", timeout=5)
    sandbox_clean.add_rule(path_contains="/spaces", hang=True, hang_seconds=1.0)
    with pytest.raises(requests.ReadTimeout):
        api.get("/v1/spaces", timeout=0.2)
    assert api.get("/v1/spaces").status_code == 200


def test_random_faults(sandbox_clean, api):
    sandbox_clean.set_faults(error_rate=1.0, error_status=500)
    assert api.get("/v1/spaces").status_code == 500
    sandbox_clean.set_faults(error_rate=0.0, rate_limit_rate=1.0, retry_after=3)
    r = api.get("/v1/spaces")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    sandbox_clean.set_faults(rate_limit_rate=0.0, non_json_rate=1.0)
    r = api.get("/v1/spaces")
    assert r.status_code == 502 and "html" in r.headers["Content-Type"]
    r = requests.post(sandbox_clean.url + "/_sandbox/faults", json={"non_json_rate": 0, "latency_ms": 50}, timeout=5)
    assert r.json()["data"]["latency_ms"] == 50
    start = time.monotonic()
    assert api.get("/v1/spaces").status_code == 200
    assert time.monotonic() - start >= 0.05
    assert requests.get(sandbox_clean.url + "/health", timeout=5).status_code == 200  # faults only hit /v1
    r = requests.post(sandbox_clean.url + "/_sandbox/faults", json={"bogus": 1}, timeout=5)
    assert r.status_code == 400


def test_request_log_has_no_keys(sandbox_clean):
    api = Api(sandbox_clean, style="x-api-key")
    create(api, key="idem-log")
    api.get(CONNECTORS, params={"limit": 5}, headers={"X-Request-ID": "req-123"})
    Api(sandbox_clean).get("/v1/spaces")
    log = requests.get(sandbox_clean.url + "/_sandbox/requests", timeout=5).json()["data"]
    assert [e["method"] for e in log] == ["POST", "GET", "GET"]
    assert log[0]["idempotency_key"] == "idem-log" and log[0]["status"] == 201 and log[0]["auth"] == "x-api-key"
    assert log[1]["query"] == {"limit": "5"} and log[1]["request_id"] == "req-123" and log[1]["path"] == CONNECTORS
    assert log[2]["auth"] == "bearer"
    assert {"method", "path", "query", "status", "auth", "idempotency_key", "request_id", "ts"} <= set(log[0])
    text = str(log)
    assert sandbox_clean.admin_key not in text and "xoxb-1" not in text
    assert requests.delete(sandbox_clean.url + "/_sandbox/requests", timeout=5).status_code == 204
    assert sandbox_clean.requests() == []


def test_reset_restores_seed(sandbox_clean, api):
    api.delete(DRIVE)
    create(api)
    sandbox_clean.set_faults(latency_ms=5)
    sandbox_clean.add_rule(status=500, times=100, path_contains="/nothing")
    r = requests.post(sandbox_clean.url + "/_sandbox/reset", timeout=5)
    assert r.status_code == 200
    ids = {c["id"] for c in api.get(CONNECTORS).json()["data"]}
    assert ids == {DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID, GITHUB_CONNECTOR_ID, DISCONNECTED_CONNECTOR_ID}
    assert sandbox_clean.state.get_faults()["latency_ms"] == 0
    assert sandbox_clean.state.rules == []
    assert len(sandbox_clean.requests()) == 1


def test_keys_control_endpoint(sandbox_clean):
    r = requests.post(
        sandbox_clean.url + "/_sandbox/keys",
        json={"key": "aim_two", "principal": "user-two", "spaces": [OTHER_SPACE_ID]},
        timeout=5,
    )
    assert r.status_code == 201
    api = Api(sandbox_clean, key="aim_two")
    assert [s["space_id"] for s in api.get("/v1/spaces").json()["data"]] == [OTHER_SPACE_ID]
    assert api.get(CONNECTORS).status_code == 403


def test_handles_concurrent_load(sandbox_clean):
    import concurrent.futures

    def worker(_):
        api = Api(sandbox_clean)
        return [api.get(CONNECTORS).status_code for _ in range(25)]

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = [c for batch in pool.map(worker, range(8)) for c in batch]
    assert codes == [200] * 200
    assert time.monotonic() - start < 5
