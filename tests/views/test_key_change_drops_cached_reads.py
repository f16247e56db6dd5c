"""Cached reads (the sync poll cache, the browse tree's remembered scope) belong to the stored key they were read
with: once the user's API key is replaced or removed, even by the same value typed again, the next read goes
upstream, so a key that lost access is never answered from the cache."""

import pytest
from django.urls import reverse

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, ENGINEERING_FOLDER_ID, SLACK_CONNECTOR_ID
from tests.conftest import store_key

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def long_cache(settings):
    """Reads stay fresh for the whole test: a second read is served from the cache unless it was dropped."""
    settings.SYNC_CACHE_SECONDS = 3600


def replace_with_the_same_key(client, sandbox_api):
    response = client.post(reverse("api_keys"), {"secret": sandbox_api.admin_key, "auth_scheme": "bearer"})
    assert response.status_code == 302


def remove_and_store_again(client, user, sandbox_api):
    assert client.post(reverse("api_key_delete")).status_code == 302
    store_key(user, sandbox_api.admin_key)


def sync_reads(sandbox_api, connector_id) -> list[dict]:
    return [r for r in sandbox_api.requests() if r["method"] == "GET" and f"/{connector_id}/sync" in r["path"]]


def finished_sync_id(sandbox_api, connector_id) -> str:
    with sandbox_api.state.lock:
        [sync_id] = [s["id"] for s in sandbox_api.state.syncs.values() if s["connector_id"] == connector_id]
    return sync_id


@pytest.mark.parametrize("change", [replace_with_the_same_key, remove_and_store_again], ids=["replaced", "removed"])
def test_the_poll_cache_is_dropped_when_the_key_changes(admin_client, user, sandbox_api, change):
    latest = reverse("sync_latest", args=[*IDS, SLACK_CONNECTOR_ID])
    finished = finished_sync_id(sandbox_api, SLACK_CONNECTOR_ID)  # cached for an hour: a finished sync never changes
    detail = reverse("sync_detail", args=[*IDS, SLACK_CONNECTOR_ID, finished])
    for url in (latest, detail, latest, detail):
        assert admin_client.get(url, **HTMX).status_code in (200, 286)
    assert len(sync_reads(sandbox_api, SLACK_CONNECTOR_ID)) == 2  # one each: the second reads were cached

    if change is remove_and_store_again:
        change(admin_client, user, sandbox_api)
    else:
        change(admin_client, sandbox_api)
    sandbox_api.clear_requests()
    for url in (latest, detail):
        assert admin_client.get(url, **HTMX).status_code in (200, 286)
    assert len(sync_reads(sandbox_api, SLACK_CONNECTOR_ID)) == 2  # both went upstream, with the key as it is now


def test_the_browse_tree_forgets_the_scope_read_with_a_replaced_key(admin_client, sandbox_api):
    browse = reverse("connector_browse", args=[*IDS, DRIVE_CONNECTOR_ID])
    connector_path = f"/connectors/{DRIVE_CONNECTOR_ID}"

    def connector_reads():
        return [r for r in sandbox_api.requests() if r["method"] == "GET" and r["path"].endswith(connector_path)]

    assert admin_client.get(browse).status_code == 200  # remembers the connector's provider and scope
    sandbox_api.clear_requests()
    assert admin_client.get(f"{browse}?parent_id={ENGINEERING_FOLDER_ID}", **HTMX).status_code == 200
    assert connector_reads() == []  # expanding a folder used what the page remembered

    replace_with_the_same_key(admin_client, sandbox_api)
    sandbox_api.clear_requests()
    assert admin_client.get(f"{browse}?parent_id={ENGINEERING_FOLDER_ID}", **HTMX).status_code == 200
    assert len(connector_reads()) == 1  # read again, with the key as it is now
