"""Fuzzing the URL ids, query strings and form inputs (hypothesis): never a 500, and never an upstream call whose
path carries an id that the client's validators would refuse."""

import json
import re
import uuid
from urllib.parse import quote, unquote

import pytest
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.aimable.client import MAX_PARENT_ID_LENGTH
from connectors.aimable.types import is_path_id, is_uuid
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, ENGINEERING_FOLDER_ID

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    # One signed-in client and sandbox for all examples of a test: state carrying over is part of the fuzzing.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TRICKY = [
    "",
    ".",
    "..",
    "../..",
    "..%2f..",
    "%2e%2e",
    "a/b",
    "a\\b",
    "/",
    "//evil.example",
    "?x=1",
    "#frag",
    " ",
    "\t",
    "\x00",
    "\n",
    "é",
    "💥",
    "x" * 129,
    "x" * 5000,
    "a..b",
    "-a",
    "_a",
    "a:b",
    "null",
    "None",
    "%",
    "%%",
    "%00",
    "<script>",
    "' OR 1=1 --",
    DRIVE_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID.upper(),
    str(uuid.uuid4()),
]
ids = st.one_of(st.sampled_from(TRICKY), st.text(max_size=60), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}"))
texts = st.one_of(st.sampled_from(TRICKY), st.text(max_size=80))
QUERY_KEYS = [
    "offset",
    "limit",
    "parent_id",
    "status",
    "provider",
    "failures",
    "fragment",
    "page",
    "next",
    "draft",
    "user",
    "connector",
    "action",
    "outcome",
    "idempotency_token",
]
queries = st.dictionaries(st.sampled_from(QUERY_KEYS), texts, max_size=4)
SUFFIXES = [
    "",
    "edit/",
    "delete/",
    "browse/",
    "sync/",
    "sync/latest/",
    "sync/cancel/",
    "syncs/",
    "syncs/{sync}/",
    "syncs/{sync}/retry/",
]
HTMX = {"HTTP_HX_REQUEST": "true"}


def path_id(value: str, raw: bool) -> str:
    # Raw: slashes and dots reach the router as they are; quoted: they arrive inside one segment.
    return quote(value, safe="/" if raw else "") or "x"


def check_upstream_calls(sandbox_api):
    """Every path the sandbox saw carries ids the client's validators accept."""
    for entry in sandbox_api.requests():
        segments = [unquote(s) for s in entry["path"].split("/")]
        for before, segment in zip(segments, segments[1:], strict=False):
            if before in ("spaces", "collections"):
                assert is_uuid(segment), entry["path"]
            elif before in ("connectors", "sync") and segment not in ("", "browse", "sync"):
                assert is_path_id(segment), entry["path"]
        parent = entry["query"].get("parent_id")
        assert parent is None or len(parent) <= MAX_PARENT_ID_LENGTH
    sandbox_api.clear_requests()


def assert_stays_on_site(response):
    if response.status_code in (301, 302, 303, 307, 308):
        assert url_has_allowed_host_and_scheme(response["Location"], allowed_hosts={"testserver"}), response["Location"]


def assert_no_500(response):
    assert response.status_code != 500
    if response.get("Content-Type", "").startswith("text/html"):
        assert "Traceback" not in response.content.decode(errors="replace")


@FUZZ
@given(
    connector_id=ids,
    sync_id=ids,
    suffix=st.sampled_from(SUFFIXES),
    query=queries,
    raw=st.booleans(),
    htmx=st.booleans(),
)
def test_connector_urls(admin_client, sandbox_api, connector_id, sync_id, suffix, query, raw, htmx):
    base = f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/"
    url = base + path_id(connector_id, raw) + "/" + suffix.replace("{sync}", path_id(sync_id, raw))
    response = admin_client.get(url, query, **(HTMX if htmx else {}))
    assert_no_500(response)
    check_upstream_calls(sandbox_api)


@FUZZ
@given(space=st.one_of(ids, st.uuids().map(str)), collection=st.one_of(ids, st.uuids().map(str)), query=queries)
def test_collection_urls(admin_client, sandbox_api, space, collection, query):
    for suffix in ("", "new/"):
        space_part, collection_part = quote(space, safe="") or "x", quote(collection, safe="") or "x"
        url = f"/spaces/{space_part}/collections/{collection_part}/connectors/{suffix}"
        assert_no_500(admin_client.get(url, query))
    check_upstream_calls(sandbox_api)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
scope_extra = st.one_of(texts, json_values.map(json.dumps))
CREATE = f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/new-connector/"
CONNECTOR = f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/{DRIVE_CONNECTOR_ID}/"


@FUZZ
@given(
    provider=st.one_of(st.sampled_from(["google-drive", "slack", "github"]), texts),
    access_token=texts,
    refresh_token=texts,
    scope=st.dictionaries(
        st.sampled_from(["scope_folder_ids", "scope_channel_ids", "scope_repositories", "scope_organizations"]),
        texts,
        max_size=2,
    ),
    extra=scope_extra,
    token=st.one_of(texts, st.just("valid")),
    change_provider=st.booleans(),
)
def test_create_form(
    admin_client, sandbox_api, provider, access_token, refresh_token, scope, extra, token, change_provider
):
    if token == "valid":
        page = admin_client.get(create_url_for(provider)).content.decode()
        match = re.search(r'name="idempotency_token" value="([^"]+)"', page)
        token = match.group(1) if match else ""
    data = {
        "provider": provider,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "scope_extra": extra,
        "idempotency_token": token,
        **scope,
    }
    if change_provider:
        data["change_provider"] = "1"
    assert_no_500(admin_client.post(CREATE, data))
    check_upstream_calls(sandbox_api)


def create_url_for(provider):
    return CREATE + "?" + "provider=" + quote(provider, safe="")


@FUZZ
@given(status=texts, access_token=texts, refresh_token=texts, folders=texts, extra=scope_extra)
def test_edit_form(admin_client, sandbox_api, status, access_token, refresh_token, folders, extra):
    data = {
        "status": status,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "scope_folder_ids": folders,
        "scope_extra": extra,
    }
    assert_no_500(admin_client.post(CONNECTOR + "edit/", data))
    check_upstream_calls(sandbox_api)


@FUZZ
@given(
    seen_ids=st.lists(st.one_of(texts, st.just(ENGINEERING_FOLDER_ID)), max_size=4),
    selected=st.lists(texts, max_size=3),
    key=st.one_of(st.just("folder_ids"), texts),
    save=st.booleans(),
    htmx=st.booleans(),
)
def test_browse_form(admin_client, sandbox_api, seen_ids, selected, key, save, htmx):
    data = {f"seen:{key}": seen_ids, f"select:{key}": selected + seen_ids[:1], f"name:{key}": selected}
    if save:
        data["save"] = "1"
    assert_no_500(admin_client.post(CONNECTOR + "browse/", data, **(HTMX if htmx else {})))
    check_upstream_calls(sandbox_api)


@FUZZ
@given(retry_of=ids, sync_id=ids, provider_slug=texts, next_url=texts, htmx=st.booleans())
def test_sync_forms(admin_client, sandbox_api, retry_of, sync_id, provider_slug, next_url, htmx):
    headers = HTMX if htmx else {}
    data = {"provider_slug": provider_slug, "next": next_url}
    for url in (CONNECTOR + "sync/", CONNECTOR + f"syncs/{quote(retry_of, safe='')}/retry/"):
        response = admin_client.post(url, data, **headers)
        assert_no_500(response)
        assert_stays_on_site(response)
    cancel = {"sync_id": sync_id, "provider_slug": provider_slug, "next": next_url}
    response = admin_client.post(CONNECTOR + "syncs/cancel/", cancel, **headers)
    assert_no_500(response)
    assert_stays_on_site(response)
    check_upstream_calls(sandbox_api)


@FUZZ
@given(slug=texts, next_url=texts, code=texts, state=texts, error=texts)
def test_oauth_urls(admin_client, sandbox_api, settings, slug, next_url, code, state, error):
    from tests.oauth.conftest import sandbox_oauth_settings

    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    slug_path = quote(slug, safe="") or "x"
    response = admin_client.post(f"/oauth/{slug_path}/start/", {"next": next_url})
    assert_no_500(response)
    if response.status_code == 302:
        assert response["Location"].startswith(sandbox_api.url + "/oauth/")
    query = {"code": code, "state": state} if not error else {"error": error, "state": state}
    assert_no_500(admin_client.get(f"/oauth/{slug_path}/callback/", query))
    check_upstream_calls(sandbox_api)


@FUZZ
@given(space=texts, collection=texts, secret=st.one_of(texts, st.just("VALID")), scheme=texts, query=queries)
def test_home_key_and_audit_forms(admin_client, sandbox_api, space, collection, secret, scheme, query):
    if secret == "VALID":  # a key that is saved: then the "next" of the query decides where the page goes
        secret, scheme = sandbox_api.admin_key, "bearer"
    assert_no_500(admin_client.post("/", {"space_id": space, "collection_id": collection}))
    assert_no_500(admin_client.get("/audit/", query))
    response = admin_client.post("/settings/api-keys/", {"secret": secret, "auth_scheme": scheme, **query})
    assert_no_500(response)
    assert_stays_on_site(response)
    check_upstream_calls(sandbox_api)
