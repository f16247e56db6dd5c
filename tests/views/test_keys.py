"""The API key settings page: store, check, replace, remove; per-user isolation; nothing secret in a page."""

import pytest
from django.urls import reverse

from connectors.models import ApiKey
from connectors.upstream import client_for
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID
from tests.conftest import store_key

pytestmark = pytest.mark.django_db
URL = reverse("api_keys")


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_user_without_a_key_is_sent_to_the_settings_page(client, user, sandbox_api):
    client.force_login(user)
    response = client.get(reverse("home"), follow=True)
    assert response.redirect_chain[-1][0].startswith(URL)
    assert b"Store your Aimable API key first" in response.content
    assert b"API key" in response.content


def test_saving_checks_the_key_and_stores_it_encrypted(client, user, sandbox_api):
    client.force_login(user)
    response = client.post(URL, {"secret": sandbox_api.admin_key, "auth_scheme": "x-api-key"}, follow=True)
    assert b"checked with Aimable and saved" in response.content
    key = ApiKey.objects.get(user=user)
    assert key.secret == sandbox_api.admin_key
    assert key.auth_scheme == "x-api-key"
    assert key.verified_at is not None
    assert sandbox_api.admin_key.encode() not in response.content
    assert key.last_four.encode() in response.content
    assert sandbox_api.requests()[-1]["auth"] == "x-api-key"


def test_a_rejected_key_is_not_saved_and_says_so(client, user, sandbox_api):
    client.force_login(user)
    response = client.post(URL, {"secret": "aim_wrong_key_000000", "auth_scheme": "bearer"})
    assert response.status_code == 200
    assert b"rejected this key" in response.content
    assert b"aim_wrong_key_000000" not in response.content  # a password input never echoes
    assert not ApiKey.objects.filter(user=user).exists()


def test_an_unreachable_upstream_saves_nothing_and_says_so(client, user, settings):
    settings.AIMABLE_API_URL = "http://127.0.0.1:9"  # nothing listens there
    client.force_login(user)
    response = client.post(URL, {"secret": "aim_some_key_123456", "auth_scheme": "bearer"})
    assert response.status_code == 200
    assert b"Could not check the key" in response.content
    assert not ApiKey.objects.filter(user=user).exists()


def test_blank_and_malformed_keys_are_refused(client, user, sandbox_api):
    client.force_login(user)
    assert b"This field is required" in client.post(URL, {"secret": "", "auth_scheme": "bearer"}).content
    assert b"no spaces" in client.post(URL, {"secret": "two words", "auth_scheme": "bearer"}).content
    assert sandbox_api.requests() == []


def test_replace_and_remove(client, user, sandbox_api):
    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    client.post(URL, {"secret": sandbox_api.admin_key, "auth_scheme": "bearer"})
    assert ApiKey.objects.get(user=user).secret == sandbox_api.admin_key
    client.post(reverse("api_key_delete"))
    assert not ApiKey.objects.filter(user=user).exists()


def test_next_is_followed_only_when_local(client, user, sandbox_api):
    client.force_login(user)
    response = client.post(
        URL, {"secret": sandbox_api.admin_key, "auth_scheme": "bearer", "next": "https://evil.example/"}
    )
    assert response.url == URL
    ApiKey.objects.all().delete()
    response = client.post(URL, {"secret": sandbox_api.admin_key, "auth_scheme": "bearer", "next": "/?x=1"})
    assert response.url == "/?x=1"


def test_each_user_uses_only_their_own_key(client, user, other_user, sandbox_api):
    store_key(user, sandbox_api.admin_key)
    store_key(other_user, sandbox_api.limited_key)
    assert client_for(user)._api_key == sandbox_api.admin_key
    assert client_for(other_user)._api_key == sandbox_api.limited_key

    client.force_login(other_user)
    page = client.get(URL).content
    assert sandbox_api.admin_key[-4:].encode() not in page
    assert sandbox_api.limited_key[-4:].encode() in page
    # bob's key cannot reach the second space, whatever alice's can.
    home = client.get(reverse("home")).content
    assert b"Globex Research" not in home
    client.force_login(user)
    assert b"Globex Research" in client.get(reverse("home")).content


@pytest.mark.parametrize(
    "secret",
    [
        "aim_demo_admin_4f7c2a9e1b6d\u00e9",  # an accent
        "aim_demo_\u200badmin_4f7c2a9e1b6d",  # a zero-width space, copied along with the key
        "\ufeffaim_demo_admin_4f7c2a9e1b6d",  # a byte order mark
    ],
)
def test_a_key_with_an_accented_or_invisible_character_is_a_form_error(client, user, sandbox_api, secret):
    client.force_login(user)
    response = client.post(URL, {"secret": secret, "auth_scheme": "bearer"})
    assert response.status_code == 200
    assert "accented or invisible" in response.content.decode()
    assert not ApiKey.objects.filter(user=user).exists()
    assert sandbox_api.requests() == []  # nothing was sent


def test_a_stored_key_no_header_can_carry_is_a_readable_page_everywhere(client, user, sandbox_api):
    """Stored before the form refused it (or through the admin): every page says so, none is a 500."""
    store_key(user, "aim_d\u00e9mo_key_1234")
    client.force_login(user)
    collection = reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    for page_url in (reverse("home"), collection):
        response = client.get(page_url)
        assert response.status_code == 403
        page = response.content.decode()
        assert "Your API key was rejected" in page and f'href="{URL}"' in page
    latest = reverse("sync_latest", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    assert client.get(latest, HTTP_HX_REQUEST="true").status_code == 286  # a polled part stops, and says why
    assert sandbox_api.requests() == []
