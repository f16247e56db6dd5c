"""The shape issue 9 asked for, as tests: errors sorted once (the same page for a rejected key everywhere, polled
parts that stop and say why), one entry point, one partial signal, and the loose ends it listed."""

import ast
import re
from pathlib import Path

import pytest
from django.urls import resolve, reverse

from connectors.models import AuditEvent
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DRIVE_CONNECTOR_ID,
    EMPTY_COLLECTION_ID,
)
from tests.conftest import store_key
from tests.views.helpers import assert_readable_error_page

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
VIEWS = ROOT / "connectors" / "views"
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HX = {"HTTP_HX_REQUEST": "true"}
REVOKED = "aim_revoked_key_0000"

# The client's calls that reach Aimable: views make none of them (selectors and services do).
UPSTREAM_CALLS = {
    "list_spaces",
    "list_collections",
    "collection_page",
    "list_connectors",
    "get_connector",
    "create_connector",
    "update_connector",
    "delete_connector",
    "browse",
    "list_syncs",
    "trigger_sync",
    "get_sync",
    "cancel_sync",
    "check_key",
    "health",
}


def test_views_make_no_upstream_call_and_sort_no_errors_by_hand():
    for module in VIEWS.glob("*.py"):
        source = module.read_text()
        assert not re.search(r"PermissionDeniedError\): *$", source, re.M), module.name
        assert "from .connectors import _" not in source, module.name
        assert "fragment=" not in source, module.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                owner = ast.unparse(node.func.value)
                assert not (name in UPSTREAM_CALLS and "client" in owner), f"{module.name}: {owner}.{name}()"


def test_templates_pick_partials_by_htmx_alone():
    for template in (ROOT / "templates").rglob("*.html"):
        assert "fragment=" not in template.read_text(), template


# ----- a rejected key: the same page everywhere -------------------------------------------------------------


@pytest.fixture
def revoked_client(client, user, sandbox_api):
    store_key(user, REVOKED)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        reverse("home"),
        reverse("connector_list", args=IDS),
        reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID]),
        reverse("sync_list", args=[*IDS, DRIVE_CONNECTOR_ID]),
        reverse("connector_browse", args=[*IDS, DRIVE_CONNECTOR_ID]),
    ],
)
def test_a_rejected_key_gives_the_same_page_everywhere(revoked_client, path):
    response = revoked_client.get(path)
    page = assert_readable_error_page(response, status=403, text="Your API key was rejected")
    assert f'href="{reverse("api_keys")}"' in page and "Update your API key" in page
    assert REVOKED not in page


@pytest.mark.parametrize(
    "path",
    [
        reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]),
        reverse("sync_detail", args=[*IDS, DRIVE_CONNECTOR_ID, "sync-1"]),
        reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID]),
        reverse("connector_browse", args=[*IDS, DRIVE_CONNECTOR_ID]) + "?parent_id=x",
    ],
)
def test_a_polled_or_lazy_part_that_meets_a_rejected_key_stops_and_says_why(revoked_client, path):
    response = revoked_client.get(path, **HX)
    assert response.status_code == 286  # htmx stops polling for good
    part = response.content.decode()
    assert "<html" not in part and "Your API key was rejected" in part and "Update your API key" in part
    assert "Try again" not in part and "reconnecting" not in part


def test_a_polled_part_that_meets_a_missing_permission_stops(client, user, sandbox_api):
    from sandbox import OTHER_COLLECTION_ID, OTHER_CONNECTOR_ID, OTHER_SPACE_ID

    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    response = client.get(reverse("sync_latest", args=[OTHER_SPACE_ID, OTHER_COLLECTION_ID, OTHER_CONNECTOR_ID]), **HX)
    assert response.status_code == 286
    assert "no access to this space/collection" in response.content.decode()


def test_a_part_without_a_stored_key_says_so_in_place(client, user, sandbox_api):
    client.force_login(user)
    response = client.get(reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]), **HX)
    assert response.status_code == 286 and "Store your API key" in response.content.decode()
    page = client.get(reverse("connector_list", args=IDS))
    assert page.status_code == 302 and page.url.startswith(reverse("api_keys"))


def test_a_transient_failure_in_a_polled_part_keeps_polling(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains="/sync", status=503, times=50)
    response = admin_client.get(reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID]), **HX)
    assert response.status_code == 200
    assert "reconnecting" in response.content.decode() and "hx-trigger" in response.content.decode()


# ----- one partial signal -----------------------------------------------------------------------------------


def test_one_url_answers_the_page_or_its_part_and_says_so_to_caches(admin_client, sandbox_api):
    url = reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID])
    page, part = admin_client.get(url), admin_client.get(url, **HX)
    assert "<html" in page.content.decode() and "<html" not in part.content.decode()
    assert "HX-Request" in page["Vary"] and "HX-Request" in part["Vary"]


# ----- loose ends ---------------------------------------------------------------------------------------------


def test_a_connector_whose_id_is_new_has_its_page(admin_client, sandbox_api):
    path = f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/new/"
    assert resolve(path).url_name == "connector_detail"
    admin_client.get(path)  # the sandbox's ids are UUIDs, so Aimable is asked and says it is not there
    assert any(r["path"].endswith("/connectors/new") for r in sandbox_api.requests())
    assert resolve(reverse("connector_create", args=IDS)).url_name == "connector_create"
    for url_name in ("sync_trigger", "sync_latest", "sync_cancel"):  # nor a sync whose id is "latest"
        fixed = reverse(url_name, args=[*IDS, DRIVE_CONNECTOR_ID]).rstrip("/").rsplit("/", 1)[-1]
        synced = reverse("sync_detail", args=[*IDS, DRIVE_CONNECTOR_ID, fixed])
        assert resolve(synced).url_name == "sync_detail"


CREATE_URL = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])


def github_form(client) -> dict:
    """What the create form posts, with the idempotency token the page gave."""
    form = client.get(CREATE_URL).content.decode()
    token = re.search(r'name="idempotency_token" value="([^"]+)"', form).group(1)
    return {
        "provider": "github",
        "access_token": "ghp_typed",
        "scope_repositories": "acme/a",
        "idempotency_token": token,
    }


def test_a_create_resubmitted_after_success_is_audited_once(admin_client, sandbox_api):
    data = github_form(admin_client)
    first, again = admin_client.post(CREATE_URL, data), admin_client.post(CREATE_URL, data)
    assert first.status_code == again.status_code == 302 and first.url == again.url
    events = AuditEvent.objects.filter(action=AuditEvent.Action.CONNECTOR_CREATE, outcome=AuditEvent.Outcome.OK)
    assert events.count() == 1


def test_a_create_resent_with_other_values_is_told_apart_and_gets_a_new_key(admin_client, sandbox_api):
    data = github_form(admin_client)
    assert admin_client.post(CREATE_URL, data).status_code == 302
    response = admin_client.post(CREATE_URL, {**data, "scope_repositories": "acme/b"})  # the sandbox answers 422
    assert response.status_code == 200
    page = response.content.decode()
    assert "already sent once with other values" in page and "acme/b" in page
    assert data["idempotency_token"] not in page  # a new key for the next try


def test_the_edit_form_keeps_a_typed_credential_after_a_failed_save(admin_client, sandbox_api):
    url = reverse("connector_edit", args=[*IDS, DRIVE_CONNECTOR_ID])
    token = "ya29.typed-in-edit-0000000000009876"
    sandbox_api.add_rule(method="PATCH", status=503, times=1)
    data = {"status": "paused", "scope_folder_ids": "1KEEP", "scope_extra": "", "access_token": token}
    failed = admin_client.post(url, data)
    assert failed.status_code == 200
    page = failed.content.decode()
    assert "Your changes were not saved" in page and "••••9876" in page and token not in page
    # Sent again without typing it: the kept credential goes with the save.
    saved = admin_client.post(url, {**data, "access_token": ""})
    assert saved.status_code == 302
    with sandbox_api.state.lock:
        assert sandbox_api.state.connectors[DRIVE_CONNECTOR_ID]["credential"]["access_token"] == token
    # A fresh form starts without it.
    assert "••••" not in admin_client.get(url).content.decode()


def test_the_shared_markup_escapes_what_the_upstream_sends():
    from django.utils.html import format_html

    from connectors.templatetags.console import badge_html, html_format

    hostile = '<script>alert("x")</script>\'&'
    assert html_format("<b>{}</b>{}", hostile, badge_html("ok")) == format_html(
        "<b>{}</b>{}", hostile, badge_html("ok")
    )
    assert "<script>" not in badge_html(hostile, hostile, title=hostile)
    assert 'class="badge badge-script-alert-x-script"' in badge_html(hostile)
