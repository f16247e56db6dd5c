"""The theme (kept per user; "auto" leaves data-theme out so Pico follows the system)."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors.models import UserPreference
from connectors.permissions import READ_ONLY_GROUP
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID
from tests.conftest import store_key

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HX = {"HTTP_HX_REQUEST": "true"}


def html_tag(response) -> str:
    body = response.content.decode()
    return body[body.index("<html") : body.index(">", body.index("<html")) + 1]


def test_auto_by_default_leaves_the_theme_to_the_system(admin_client):
    page = admin_client.get(reverse("audit_log"))
    assert html_tag(page) == '<html lang="en">'
    assert 'name="theme" value="light"' in page.content.decode() and "Theme: Auto" in page.content.decode()


@pytest.mark.parametrize(("theme", "attribute", "next_theme"), [("light", "light", "dark"), ("dark", "dark", "auto")])
def test_the_picked_theme_is_kept_and_shown_on_every_page(admin_client, user, theme, attribute, next_theme):
    back = reverse("audit_log") + "?page=1"
    response = admin_client.post(reverse("theme_set"), {"theme": theme, "next": back})
    assert response.status_code == 302 and response.url == back
    assert UserPreference.objects.get(user=user).theme == theme
    page = admin_client.get(reverse("audit_log"))
    assert html_tag(page) == f'<html lang="en" data-theme="{attribute}">'
    assert f'name="theme" value="{next_theme}"' in page.content.decode()


def test_back_to_auto(admin_client, user):
    admin_client.post(reverse("theme_set"), {"theme": "dark"})
    admin_client.post(reverse("theme_set"), {"theme": "auto"})
    assert UserPreference.objects.filter(user=user).count() == 1
    assert html_tag(admin_client.get(reverse("audit_log"))) == '<html lang="en">'


def test_each_user_has_their_own(admin_client, client, other_user, sandbox_api):
    admin_client.post(reverse("theme_set"), {"theme": "dark"})
    store_key(other_user, sandbox_api.admin_key)
    client.force_login(other_user)
    assert html_tag(client.get(reverse("audit_log"))) == '<html lang="en">'


def test_an_unknown_theme_or_a_foreign_next_page(admin_client, user):
    assert admin_client.post(reverse("theme_set"), {"theme": "sepia"}).status_code == 400
    assert not UserPreference.objects.filter(user=user).exists()
    response = admin_client.post(reverse("theme_set"), {"theme": "dark", "next": "https://evil.example/"})
    assert response.url == reverse("home")
    assert admin_client.get(reverse("theme_set")).status_code == 405


def test_a_read_only_member_may_pick_a_theme(client, user, sandbox_api):
    user.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    client.force_login(user)
    assert client.post(reverse("theme_set"), {"theme": "dark"}).status_code == 302
    assert UserPreference.objects.get(user=user).theme == "dark"


def test_signed_out_the_sign_in_page_follows_the_system(client):
    assert html_tag(client.get(reverse("login"))) == '<html lang="en">'
    assert client.post(reverse("theme_set"), {"theme": "dark"}).status_code == 302  # to the sign-in form
    assert not UserPreference.objects.exists()
