import pytest
from django.urls import reverse

from connectors.models import RecentCollection
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID
from tests.conftest import store_key

pytestmark = pytest.mark.django_db


def test_home_lists_spaces_and_collections(admin_client):
    page = admin_client.get(reverse("home")).content.decode()
    assert "Acme Corp" in page
    assert "Engineering Wiki" in page
    assert reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID]) in page


def test_open_by_pasted_ids(admin_client):
    response = admin_client.post(reverse("home"), {"space_id": DEMO_SPACE_ID, "collection_id": DEMO_COLLECTION_ID})
    assert response.url == reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])


def test_pasted_ids_that_are_not_uuids_keep_the_input(admin_client):
    response = admin_client.post(reverse("home"), {"space_id": "../etc", "collection_id": "abc"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a space ID (a UUID)." in page
    assert 'value="abc"' in page


def test_recently_opened_collections_are_remembered_per_user(admin_client, user):
    admin_client.get(reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID]))
    recent = RecentCollection.objects.get(user=user)
    assert recent.collection_name == "Engineering Wiki"
    assert recent.space_name == "Acme Corp"
    assert "Recently opened" in admin_client.get(reverse("home")).content.decode()


def test_a_remembered_collection_names_its_breadcrumb_from_the_database(admin_client, user, django_user_model):
    """The second visit reads the names the first one stored (a UUID as the backend stores it: hex on SQLite, uuid on
    PostgreSQL), not the upstream's: a name changed in the row shows; another user's row is not read."""
    url = reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    admin_client.get(url)
    RecentCollection.objects.filter(user=user).update(
        collection_name="Wiki as remembered", space_name="Acme remembered"
    )
    other = django_user_model.objects.create_user("other-admin")
    RecentCollection.objects.create(
        user=other,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        space_name="Not yours",
        collection_name="Not yours either",
        opened_at=RecentCollection.objects.get(user=user).opened_at,
    )
    page = admin_client.get(url).content.decode()
    assert "Wiki as remembered" in page
    assert "Acme remembered" in page
    assert "Not yours" not in page


def test_a_collection_that_is_not_there_is_not_remembered_and_offers_no_pointless_retry(admin_client, user):
    missing = "00000000-0000-4000-8000-000000000000"
    response = admin_client.get(reverse("connector_list", args=[DEMO_SPACE_ID, missing]))
    assert response.status_code == 404
    page = response.content.decode()
    assert "an ID in the address is wrong" in page and "Try again" not in page
    assert not RecentCollection.objects.filter(user=user, collection_id=missing).exists()


def test_home_renders_its_frame_when_the_upstream_is_down(admin_client, settings):
    settings.AIMABLE_API_URL = "http://127.0.0.1:9"
    response = admin_client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Could not list your spaces" in page
    assert "Try again" in page
    assert "Open by IDs" in page


def test_healthz_needs_no_login_and_reports_each_part(client, sandbox_api):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "upstream": "ok"}}


def test_head_is_answered_as_get_is_without_a_body(client, user, sandbox_api):
    """HEAD (uptime monitors, link checkers) on /healthz and on the pages: 200, as GET, not 405."""
    health = client.head("/healthz")
    assert health.status_code == 200 and health.content == b""
    store_key(user, sandbox_api.admin_key)
    client.force_login(user)
    connector = [DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID]
    for url in (
        reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID]),
        reverse("connector_detail", args=connector),
        reverse("sync_list", args=connector),
        reverse("audit_log"),
        reverse("oauth_settings"),
    ):
        response = client.head(url)
        assert response.status_code == 200, url
        assert response.content == b""


def test_healthz_reports_an_unreachable_upstream_without_failing(client, settings):
    settings.AIMABLE_API_URL = "http://127.0.0.1:9"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["upstream"] == "error"


def test_login_page_and_everything_else_requires_login(client):
    assert client.get(reverse("login")).status_code == 200
    for url in (reverse("home"), reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])):
        assert client.get(url).status_code == 302


def test_sign_in_with_the_form(client, user):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
