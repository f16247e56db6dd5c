import pytest
from django.urls import reverse

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, EMPTY_COLLECTION_ID, OTHER_SPACE_ID
from tests.sandbox_fixtures import create_connector

pytestmark = pytest.mark.django_db


def list_url(space=DEMO_SPACE_ID, collection=DEMO_COLLECTION_ID):
    return reverse("connector_list", args=[space, collection])


def test_lists_the_collections_connectors(admin_client):
    page = admin_client.get(list_url()).content.decode()
    assert "Google Drive" in page and "Slack" in page and "GitHub" in page
    assert "3 folders" in page
    assert "disconnected" in page


def test_filters_by_provider_and_status(admin_client):
    page = admin_client.get(list_url() + "?provider=github").content.decode()
    assert "GitHub" in page and "Slack</td>" not in page
    page = admin_client.get(list_url() + "?status=disconnected").content.decode()
    assert "disconnected" in page and "badge-active" not in page


def test_paging_never_asks_for_more_than_100(admin_client, sandbox_api):
    admin_client.get(list_url() + "?limit=5000")
    assert all("limit=100" in r["query"] or "limit=" not in r["query"] for r in sandbox_api.requests())
    page = admin_client.get(list_url() + "?limit=2").content.decode()
    assert "Next page" in page


def test_empty_state_invites_creating_a_connector(admin_client):
    page = admin_client.get(list_url(collection=EMPTY_COLLECTION_ID)).content.decode()
    assert "No connectors yet" in page


def test_invalid_ids_are_404_without_an_upstream_call(admin_client, sandbox_api):
    for url in (
        f"/spaces/not-a-uuid/collections/{DEMO_COLLECTION_ID}/connectors/",
        f"/spaces/{DEMO_SPACE_ID}/collections/..%2F..%2Fadmin/connectors/",
    ):
        assert admin_client.get(url).status_code == 404
    assert sandbox_api.requests() == []


def test_a_space_the_key_cannot_reach_says_so(client, user, sandbox_api):
    from tests.conftest import store_key

    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    response = client.get(list_url(space=OTHER_SPACE_ID))
    assert response.status_code == 403
    assert b"no access to this space/collection" in response.content


def test_a_rejected_key_links_to_the_key_settings(client, user, sandbox_api):
    from tests.conftest import store_key

    store_key(user, "aim_revoked_key_0000")
    client.force_login(user)
    response = client.get(list_url())
    assert response.status_code == 403
    assert b"Your API key was rejected" in response.content
    assert reverse("api_keys").encode() in response.content


def test_upstream_down_shows_a_banner_and_a_retry_link(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains="/connectors", status=503, times=10)
    response = admin_client.get(list_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Could not load the connectors" in page and "Try again" in page
    assert "Traceback" not in page


def test_the_list_offers_a_new_connector_button_and_the_empty_state_invites_one(admin_client):
    create_url = reverse("connector_create", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    page = admin_client.get(list_url()).content.decode()
    assert f'href="{create_url}" role="button">New connector' in page
    empty_create_url = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
    page = admin_client.get(list_url(collection=EMPTY_COLLECTION_ID)).content.decode()
    assert f'href="{empty_create_url}" role="button">Create the first connector' in page


def test_next_and_previous_pages_keep_the_filters(admin_client, sandbox_api):
    page = admin_client.get(list_url() + "?limit=2&provider=google-drive").content.decode()
    assert "Showing 1–2 of 2" in page and "Next page" not in page
    page = admin_client.get(list_url() + "?limit=2").content.decode()
    assert "Showing 1–2 of 4" in page
    assert "?limit=2&amp;offset=2" in page and "Previous page" not in page
    page = admin_client.get(list_url() + "?limit=2&offset=2").content.decode()
    assert "Showing 3–4 of 4" in page and "Previous page" in page and "?limit=2&amp;offset=0" in page
    assert "Next page" not in page
    page = admin_client.get(list_url() + "?status=active&limit=10&offset=0").content.decode()
    assert 'value="10" selected' in page and 'value="active" selected' in page
    queries = [r["query"] for r in sandbox_api.requests() if r["path"].endswith("/connectors")]
    assert {"limit": "2", "offset": "2"}.items() <= queries[-2].items()
    assert all(int(q.get("limit", 0)) <= 100 for q in queries)


def test_past_the_last_page_and_filtered_to_nothing(admin_client):
    page = admin_client.get(list_url() + "?offset=40").content.decode()
    assert "No more connectors" in page and "Back to the first page" in page
    page = admin_client.get(list_url() + "?provider=slack&status=paused").content.decode()
    assert "No connector matches these filters" in page and "Show all connectors" in page


def test_unknown_filter_values_and_garbage_paging_are_ignored(admin_client, sandbox_api):
    for query in ("?provider=dropbox", "?status=exploded", "?limit=-3", "?limit=abc&offset=-9", "?limit=0"):
        assert admin_client.get(list_url() + query).status_code == 200, query
    assert all(r["status"] == 200 for r in sandbox_api.requests())


def test_an_unknown_collection_is_a_not_found_page_naming_it(admin_client):
    import uuid

    response = admin_client.get(list_url(collection=str(uuid.uuid4())))
    assert response.status_code == 404
    assert "Collection not found" in response.content.decode()


def test_a_slow_upstream_shows_a_banner_not_an_error_page(admin_client, sandbox_api, settings):
    settings.AIMABLE_READ_TIMEOUT = 0.5
    sandbox_api.add_rule(method="GET", path_contains="/connectors", hang=True, hang_seconds=2)
    response = admin_client.get(list_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "did not answer in time" in page and "Try again" in page and "New connector" in page


def _create_connectors(sandbox_api, count):
    return [
        create_connector(sandbox_api, DEMO_SPACE_ID, EMPTY_COLLECTION_ID, provider_slug="google-drive", token=f"t-{i}")
        for i in range(count)
    ]


def test_a_long_list_is_sent_while_its_rows_are_built(client, user, sandbox_api):
    """More rows than STREAMED_ROWS: the page's head goes out first; the status, the headers and the cookies are
    decided before it, as for any page."""
    from tests.conftest import store_key

    store_key(user, sandbox_api.admin_key)
    client.force_login(user)
    ids = _create_connectors(sandbox_api, 30)
    response = client.get(list_url(collection=EMPTY_COLLECTION_ID) + "?limit=50")
    assert response.status_code == 200 and response.streaming
    assert "no-store" in response["Cache-Control"] and "HX-Request" in response["Vary"]
    assert "Content-Security-Policy" in response and "csrftoken" in response.cookies
    parts = [part.decode() for part in response.streaming_content]
    assert parts[0].startswith("<!doctype html>") and "<tbody>" in parts[0] and ids[0] not in parts[0]
    page = "".join(parts)
    assert all(f'title="Google Drive {i[:8]}"' in page for i in ids) and page.rstrip().endswith("</html>")
    assert "<!--" not in page  # the marker is gone
    short = client.get(list_url(collection=EMPTY_COLLECTION_ID) + "?limit=25")
    assert not short.streaming and short.content.decode().count('<tr><td><a href="') == 25


def test_a_row_that_cannot_be_built_is_shown_as_such(client, user, sandbox_api, monkeypatch, caplog):
    from connectors.views import connectors as views
    from tests.conftest import store_key

    store_key(user, sandbox_api.admin_key)
    client.force_login(user)
    ids = _create_connectors(sandbox_api, 27)
    original = views.scope_summary_html

    def breaks_once(provider, scope_config, named=None):
        if not getattr(breaks_once, "done", False):
            breaks_once.done = True
            raise RuntimeError("a bug meeting an odd value")
        return original(provider, scope_config, named)

    monkeypatch.setattr(views, "scope_summary_html", breaks_once)
    for limit, streamed in ((50, True), (25, False)):
        breaks_once.done = False
        response = client.get(list_url(collection=EMPTY_COLLECTION_ID) + f"?limit={limit}")
        assert response.status_code == 200 and response.streaming is streamed
        page = b"".join(response.streaming_content if streamed else [response.content]).decode()
        assert page.count("could not be shown here") == 1
        assert any(f"Connector <code>{i}</code> could not be shown here" in page for i in ids)
        assert page.count('<tr><td><a href="') == min(limit, 27) - 1
        assert "a row could not be built" in caplog.text
