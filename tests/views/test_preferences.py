"""The theme (kept per user; "auto" leaves data-theme out so Pico follows the system), and the connector list's one
request for all its running rows."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors.models import UserPreference
from connectors.permissions import READ_ONLY_GROUP
from connectors.views.syncs import latest_sync_cell_id
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID
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


# ----- the connector list's running rows: one request -----------------------------------------------------------


def test_a_running_row_starts_the_lists_one_poller_instead_of_polling_itself(admin_client):
    admin_client.post(reverse("sync_trigger", args=[*IDS, DRIVE_CONNECTOR_ID]))
    cell = admin_client.get(reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]), **HX).content.decode()
    assert f'id="{latest_sync_cell_id(DRIVE_CONNECTOR_ID)}"' in cell
    assert f'name="running" value="{DRIVE_CONNECTOR_ID}"' in cell
    assert 'id="latest-syncs-poller" hx-swap-oob="true"' in cell
    assert reverse("sync_latest_batch", args=IDS) in cell and 'hx-trigger="every 2s"' in cell
    assert reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]) not in cell  # it does not poll on its own


def test_one_request_refreshes_every_running_row_and_stops_when_none_runs(admin_client, sandbox_api):
    admin_client.post(reverse("sync_trigger", args=[*IDS, DRIVE_CONNECTOR_ID]))
    batch = reverse("sync_latest_batch", args=IDS)
    query = f"?running={DRIVE_CONNECTOR_ID}&running={SLACK_CONNECTOR_ID}&running=bad/id"
    response = admin_client.get(batch + query, **HX)
    body = response.content.decode()
    assert response.status_code == 200
    for connector_id in (DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID):  # each swapped in place by its id
        assert f'id="{latest_sync_cell_id(connector_id)}" hx-swap-oob="true"' in body
    assert f'name="running" value="{DRIVE_CONNECTOR_ID}"' in body  # still running: polled again
    assert f'name="running" value="{SLACK_CONNECTOR_ID}"' not in body  # finished: left out of the next poll
    assert 'id="latest-syncs-poller"' in body

    finished = admin_client.get(batch + f"?running={SLACK_CONNECTOR_ID}", **HX)
    assert finished.status_code == 286  # htmx stops the poller for good
    assert "latest-syncs-poller" not in finished.content.decode() and "completed" in finished.content.decode()


def test_the_list_marks_each_cell_for_phones_and_has_the_poller_target(admin_client):
    page = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    assert '<div id="latest-syncs-poller" hidden></div>' in page
    assert page.count('data-label="Latest sync"') >= 4 and '<table class="striped cards">' in page
