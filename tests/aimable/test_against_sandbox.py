"""The client against the sandbox over real HTTP: every method, both auth styles, real errors and faults."""

import uuid

import pytest

from connectors.aimable import AimableClient, errors
from sandbox import (
    ARCHIVE_FOLDER_ID,
    ARCHIVE_SIZE,
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DRIVE_CONNECTOR_ID,
    EMPTY_COLLECTION_ID,
    GITHUB_CONNECTOR_ID,
    OTHER_SPACE_ID,
)

IDS = (DEMO_SPACE_ID, DEMO_COLLECTION_ID)


@pytest.fixture
def api(sandbox_clean):
    return AimableClient(sandbox_clean.url, sandbox_clean.admin_key, max_retries=2, backoff=0.01)


def test_both_auth_styles_and_key_check(sandbox_clean):
    for scheme in ("bearer", "x-api-key"):
        AimableClient(sandbox_clean.url, sandbox_clean.admin_key, auth_scheme=scheme).check_key()
    assert [r["auth"] for r in sandbox_clean.requests()] == ["bearer", "x-api-key"]
    with pytest.raises(errors.AuthenticationError):
        AimableClient(sandbox_clean.url, "aim_not_a_key_123").check_key()


def test_spaces_collections_and_permissions(sandbox_clean, api):
    assert {s.name for s in api.list_spaces()} >= {"Acme Corp", "Globex Research"}
    assert "Engineering Wiki" in {c.name for c in api.list_collections(DEMO_SPACE_ID)}
    limited = AimableClient(sandbox_clean.url, sandbox_clean.limited_key)
    assert [s.space_id for s in limited.list_spaces()] == [DEMO_SPACE_ID]
    with pytest.raises(errors.PermissionDeniedError):
        limited.list_collections(OTHER_SPACE_ID)


def test_connector_lifecycle(sandbox_clean, api):
    key = uuid.uuid4().hex
    created = api.create_connector(
        DEMO_SPACE_ID,
        EMPTY_COLLECTION_ID,
        provider_slug="github",
        credential={"access_token": "gho_fake_token_for_tests"},
        scope_config={"repositories": ["acme/docs"]},
        idempotency_key=key,
    )
    again = api.create_connector(
        DEMO_SPACE_ID,
        EMPTY_COLLECTION_ID,
        provider_slug="github",
        credential={"access_token": "gho_fake_token_for_tests"},
        scope_config={"repositories": ["acme/docs"]},
        idempotency_key=key,
    )
    assert again.id == created.id
    page = api.list_connectors(DEMO_SPACE_ID, EMPTY_COLLECTION_ID)
    assert [c.id for c in page.items] == [created.id]
    assert api.get_connector(DEMO_SPACE_ID, EMPTY_COLLECTION_ID, created.id).scope_config == {
        "repositories": ["acme/docs"]
    }
    updated = api.update_connector(DEMO_SPACE_ID, EMPTY_COLLECTION_ID, created.id, status="paused")
    assert updated.status == "paused"
    api.delete_connector(DEMO_SPACE_ID, EMPTY_COLLECTION_ID, created.id)
    with pytest.raises(errors.NotFoundError):
        api.get_connector(DEMO_SPACE_ID, EMPTY_COLLECTION_ID, created.id)


def test_validation_errors_carry_their_locations(api):
    with pytest.raises(errors.ValidationError) as caught:
        api.create_connector(
            *IDS,
            provider_slug="github",
            credential={"access_token": "x"},
            scope_config={"repositories": ["not-a-repo"]},
            idempotency_key=uuid.uuid4().hex,
        )
    assert caught.value.errors[0].loc == ("body", "scope_config", "repositories", 0)


def test_browse_pages_through_a_large_folder(api):
    items = []
    offset = 0
    while True:
        page = api.browse(*IDS, DRIVE_CONNECTOR_ID, parent_id=ARCHIVE_FOLDER_ID, limit=100, offset=offset)
        items += page.items
        if not page.has_next:
            break
        offset = page.next_offset
    assert len(items) == ARCHIVE_SIZE
    assert len({i.id for i in items}) == ARCHIVE_SIZE


def test_sync_lifecycle_and_conflicts(sandbox_clean, api):
    sync = api.trigger_sync(*IDS, DRIVE_CONNECTOR_ID)
    assert sync.status == "running" and not sync.is_terminal
    with pytest.raises(errors.ConflictError):
        api.trigger_sync(*IDS, DRIVE_CONNECTOR_ID)
    sandbox_clean.advance(60)
    done = api.get_sync(*IDS, DRIVE_CONNECTOR_ID, sync.id)
    assert done.status == "completed" and done.is_terminal and done.records_fetched > 0
    assert api.list_syncs(*IDS, DRIVE_CONNECTOR_ID, limit=1).items[0].id == sync.id

    second = api.trigger_sync(*IDS, DRIVE_CONNECTOR_ID)
    cancelled = api.cancel_sync(*IDS, DRIVE_CONNECTOR_ID)
    assert cancelled.id == second.id and cancelled.status == "cancelled"
    with pytest.raises(errors.ConflictError):
        api.trigger_sync(*IDS, GITHUB_CONNECTOR_ID)  # paused


def test_retries_heal_a_flaky_get_but_never_a_trigger(sandbox_clean, api):
    sandbox_clean.add_rule(method="GET", path_contains="/connectors", status=503, times=2)
    assert api.list_connectors(*IDS).items
    sandbox_clean.add_rule(method="POST", path_contains="/sync", status=503, times=1)
    with pytest.raises(errors.UpstreamError):
        api.trigger_sync(*IDS, DRIVE_CONNECTOR_ID)
    posts = [r for r in sandbox_clean.requests() if r["method"] == "POST"]
    assert len(posts) == 1


def test_a_lost_create_response_retried_with_its_key_makes_one_connector(sandbox_clean, api):
    sandbox_clean.add_rule(method="POST", path_contains="/connectors", status=504, after_commit=True)
    created = api.create_connector(
        DEMO_SPACE_ID,
        EMPTY_COLLECTION_ID,
        provider_slug="slack",
        credential={"access_token": "xoxb-fake"},
        idempotency_key="lost-response-1",
    )
    assert [c.id for c in api.list_connectors(DEMO_SPACE_ID, EMPTY_COLLECTION_ID).items] == [created.id]
    keys = {r["idempotency_key"] for r in sandbox_clean.requests() if r["method"] == "POST"}
    assert keys == {"lost-response-1"}


def test_html_error_pages_and_timeouts_become_typed_errors(sandbox_clean):
    api = AimableClient(sandbox_clean.url, sandbox_clean.admin_key, max_retries=0, read_timeout=0.5, deadline=2)
    sandbox_clean.add_rule(method="GET", path_contains="/connectors", status=502, body="html")
    with pytest.raises(errors.UpstreamError) as caught:
        api.list_connectors(*IDS)
    assert "<html" not in str(caught.value).lower()
    sandbox_clean.add_rule(method="GET", path_contains="/connectors", hang=True, hang_seconds=1.5)
    with pytest.raises(errors.UnavailableError):
        api.list_connectors(*IDS)


def test_request_ids_reach_the_upstream(sandbox_clean, api):
    api.list_spaces()
    assert sandbox_clean.requests()[-1]["request_id"] == api.last_request_id
