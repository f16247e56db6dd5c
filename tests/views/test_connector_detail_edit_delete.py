"""Detail, edit (a PATCH with only what changed) and delete (a confirmation page), with every upstream error."""

import uuid

import pytest
from django.urls import reverse

from connectors.models import AuditEvent
from sandbox import (
    DEMO_ADMIN_PRINCIPAL,
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    GITHUB_CONNECTOR_ID,
    GITHUB_SCOPE_REPOSITORIES,
    OTHER_COLLECTION_ID,
    OTHER_CONNECTOR_ID,
    OTHER_SPACE_ID,
    SLACK_CONNECTOR_ID,
)
from tests.conftest import store_key
from tests.views.helpers import (
    assert_readable_error_page,
    fail_fast,
    spy_on_upstream,
    upstream_writes,
)

pytestmark = pytest.mark.django_db

NEW_TOKEN = "ghp_brandNewSecretToken0000000000000042"
NEW_REFRESH = "ghr_brandNewRefreshToken000000000000042"
SEEDED_SECRETS = ("ya29.sandbox-drive", "1//04sandbox-drive-refresh", "sandbox-fake-github-token")


def url(name, connector_id=DRIVE_CONNECTOR_ID, space=DEMO_SPACE_ID, collection=DEMO_COLLECTION_ID):
    return reverse(name, args=[space, collection, connector_id])


def stored(sandbox_api, connector_id):
    with sandbox_api.state.lock:
        connector = sandbox_api.state.connectors.get(connector_id)
        return dict(connector) if connector else None


def edit_data(connector_id=DRIVE_CONNECTOR_ID, **overrides):
    """What the edit form posts when the user changes nothing."""
    data = {
        DRIVE_CONNECTOR_ID: {"status": "active", "scope_folder_ids": "\n".join(DRIVE_SCOPE_FOLDER_IDS)},
        GITHUB_CONNECTOR_ID: {"status": "paused", "scope_repositories": "\n".join(GITHUB_SCOPE_REPOSITORIES)},
    }[connector_id]
    data = {**data, "scope_extra": "", "access_token": "", "refresh_token": ""}
    data.update(overrides)
    return data


def patches(calls):
    return [c for c in calls if c["method"] == "PATCH"]


# ----- detail -----------------------------------------------------------------------------------------


def test_detail_shows_every_field_and_the_actions(admin_client):
    response = admin_client.get(url("connector_detail"))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Google Drive connector",
        f'data-copy="{DRIVE_CONNECTOR_ID}"',  # ids can be copied
        f'data-copy="{DEMO_COLLECTION_ID}"',
        f'data-copy="{DEMO_SPACE_ID}"',
        DEMO_COLLECTION_ID,
        DEMO_SPACE_ID,
        DEMO_ADMIN_PRINCIPAL,
        "google-drive",
        "active",
        "3 folders",
        "Folder IDs",
        *DRIVE_SCOPE_FOLDER_IDS,
        "<time",  # created / updated
        "Browse and choose scope",
        "Edit connector",
        "Delete connector",
        'id="syncs-panel"',
    ):
        assert text in page, text
    assert url("connector_edit") in page and url("connector_delete") in page and url("connector_browse") in page
    for secret in SEEDED_SECRETS:
        assert secret not in page


def test_detail_of_a_disconnected_connector_asks_for_a_new_credential(admin_client):
    page = admin_client.get(url("connector_detail", DISCONNECTED_CONNECTOR_ID)).content.decode()
    assert "disconnected" in page and "enter a new token" in page.lower()
    assert url("connector_edit", DISCONNECTED_CONNECTOR_ID) + "#credential" in page


def test_detail_of_a_connector_that_does_not_exist_is_a_404_naming_it(admin_client):
    response = admin_client.get(url("connector_detail", str(uuid.uuid4())))
    assert response.status_code == 404
    assert "No such connector in this collection" in response.content.decode()


def test_a_connector_of_another_collection_is_not_found_here(admin_client):
    response = admin_client.get(url("connector_detail", OTHER_CONNECTOR_ID))
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["connector_detail", "connector_edit", "connector_delete", "connector_browse"])
@pytest.mark.parametrize("bad_id", ["..", "a..b", "-leading-dash", "x" * 200, "a%20b", "a%00b", "%C3%A9t%C3%A9"])
def test_invalid_connector_ids_are_404_without_an_upstream_call(admin_client, sandbox_api, name, bad_id):
    path = url(name, "PLACEHOLDER").replace("PLACEHOLDER", bad_id)
    assert admin_client.get(path).status_code == 404
    if name != "connector_detail":  # the detail page takes no POST
        assert admin_client.post(path).status_code == 404
    assert sandbox_api.requests() == []


@pytest.mark.parametrize(
    "path",
    [
        f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/..%2F..%2Fadmin/",
        f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/..%2F../edit/",
        f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/%2E%2E/delete/",
        f"/spaces/not-a-uuid/collections/{DEMO_COLLECTION_ID}/connectors/{DRIVE_CONNECTOR_ID}/",
        f"/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID[:-1]}/connectors/{DRIVE_CONNECTOR_ID}/browse/",
    ],
)
def test_path_tricks_are_404_without_an_upstream_call(admin_client, sandbox_api, path):
    assert admin_client.get(path).status_code == 404
    assert sandbox_api.requests() == []


# ----- the upstream failures every connector page turns into a readable page -------------------------------


PAGES = ["connector_detail", "connector_edit", "connector_delete", "connector_browse"]


@pytest.mark.parametrize("name", PAGES)
def test_a_rejected_key_links_to_the_key_settings(client, user, sandbox_api, name):
    store_key(user, "aim_revoked_key_0000")
    client.force_login(user)
    response = client.get(url(name))
    page = assert_readable_error_page(response, status=403, text="Your API key was rejected")
    assert reverse("api_keys") in page
    assert "aim_revoked_key_0000" not in page


@pytest.mark.parametrize("name", PAGES)
def test_a_space_the_key_cannot_reach_says_so(client, user, sandbox_api, name):
    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    response = client.get(url(name, OTHER_CONNECTOR_ID, space=OTHER_SPACE_ID, collection=OTHER_COLLECTION_ID))
    assert_readable_error_page(response, status=403, text="Your key has no access to this space/collection")


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(
    ("rule", "status", "text"),
    [
        ({"status": 503}, 502, "The Aimable API had a problem"),
        ({"status": 502, "body": "html"}, 502, "The Aimable API had a problem"),
        ({"status": 500}, 502, "The Aimable API had a problem"),
        ({"status": 429, "retry_after": 30}, 503, "The Aimable API is busy"),
        ({"hang": True, "hang_seconds": 2}, 503, "did not answer in time"),
    ],
)
def test_upstream_down_or_slow_shows_a_banner_with_a_retry_link(
    admin_client, sandbox_api, settings, name, rule, status, text
):
    fail_fast(settings)
    sandbox_api.add_rule(method="GET", path_contains=DRIVE_CONNECTOR_ID, times=5, **rule)
    response = admin_client.get(url(name))
    page = assert_readable_error_page(response, status=status, text=text)
    assert 'class="retry"' in page and "Try again" in page


@pytest.mark.parametrize("name", PAGES)
def test_an_htmx_request_gets_the_banner_as_a_fragment(admin_client, sandbox_api, name):
    sandbox_api.add_rule(method="GET", path_contains=DRIVE_CONNECTOR_ID, status=503, times=5)
    response = admin_client.get(url(name), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    if name == "connector_detail":  # htmx asks the detail page for its syncs panel, which says it in place
        assert "Could not load the syncs" in fragment and "Open the sync history" in fragment
    else:
        assert "banner-error" in fragment and "Try again" in fragment


# ----- edit -------------------------------------------------------------------------------------------


def test_the_edit_form_shows_the_current_values_but_never_the_credential(admin_client):
    response = admin_client.get(url("connector_edit"))
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Status",
        "Folder IDs",
        "New access token",
        "New refresh token",
        "Save changes",
        "Leave blank to keep the current credential",
    ):
        assert text in page, text
    assert "\n".join(DRIVE_SCOPE_FOLDER_IDS) in page
    assert 'value="active" id="id_status_0" required checked' in page
    assert 'value="paused" id="id_status_1" required>' in page
    assert 'type="password" name="access_token"' in page
    for secret in SEEDED_SECRETS:
        assert secret not in page


def test_saving_without_changes_sends_nothing(admin_client, sandbox_api, monkeypatch):
    calls = spy_on_upstream(monkeypatch)
    response = admin_client.post(url("connector_edit"), edit_data(), follow=True)
    assert "Nothing changed." in response.content.decode()
    assert patches(calls) == [] and upstream_writes(sandbox_api) == []


def test_a_scope_change_patches_only_the_scope(admin_client, sandbox_api, monkeypatch):
    calls = spy_on_upstream(monkeypatch)
    new_ids = DRIVE_SCOPE_FOLDER_IDS[:2] + ["1NEWFOLDER"]
    response = admin_client.post(url("connector_edit"), edit_data(scope_folder_ids=", ".join(new_ids)), follow=True)
    assert "Changes saved." in response.content.decode()
    (patch,) = patches(calls)
    assert patch["json"] == {"scope_config": {"folder_ids": new_ids}}
    assert stored(sandbox_api, DRIVE_CONNECTOR_ID)["scope_config"] == {"folder_ids": new_ids}


def test_pause_patches_only_the_status(admin_client, sandbox_api, monkeypatch):
    calls = spy_on_upstream(monkeypatch)
    response = admin_client.post(url("connector_edit"), edit_data(status="paused"), follow=True)
    assert response.redirect_chain[-1][0] == url("connector_detail")
    (patch,) = patches(calls)
    assert patch["json"] == {"status": "paused"}
    assert stored(sandbox_api, DRIVE_CONNECTOR_ID)["status"] == "paused"
    assert "badge-paused" in response.content.decode()


def test_resume_a_paused_connector(admin_client, sandbox_api, monkeypatch):
    calls = spy_on_upstream(monkeypatch)
    admin_client.post(url("connector_edit", GITHUB_CONNECTOR_ID), edit_data(GITHUB_CONNECTOR_ID, status="active"))
    (patch,) = patches(calls)
    assert patch["json"] == {"status": "active"}
    assert stored(sandbox_api, GITHUB_CONNECTOR_ID)["status"] == "active"


def test_a_new_credential_reaches_the_upstream_and_no_page(admin_client, sandbox_api, monkeypatch):
    calls = spy_on_upstream(monkeypatch)
    data = edit_data(GITHUB_CONNECTOR_ID, access_token=NEW_TOKEN, refresh_token=NEW_REFRESH)
    response = admin_client.post(url("connector_edit", GITHUB_CONNECTOR_ID), data, follow=True)
    assert "Changes saved." in response.content.decode()
    (patch,) = patches(calls)
    assert patch["json"] == {"credential": {"access_token": NEW_TOKEN, "refresh_token": NEW_REFRESH}}
    assert sandbox_api.credential(GITHUB_CONNECTOR_ID) == {"access_token": NEW_TOKEN, "refresh_token": NEW_REFRESH}
    assert NEW_TOKEN not in response.content.decode() and NEW_REFRESH not in response.content.decode()


def test_a_new_credential_reconnects_a_disconnected_connector(admin_client, sandbox_api):
    data = {"status": "", "scope_folder_ids": "", "scope_extra": "", "access_token": NEW_TOKEN}
    page = admin_client.get(url("connector_edit", DISCONNECTED_CONNECTOR_ID)).content.decode()
    assert "Leave as disconnected" in page
    data["scope_folder_ids"] = "\n".join(stored(sandbox_api, DISCONNECTED_CONNECTOR_ID)["scope_config"]["folder_ids"])
    admin_client.post(url("connector_edit", DISCONNECTED_CONNECTOR_ID), data)
    assert stored(sandbox_api, DISCONNECTED_CONNECTOR_ID)["status"] == "active"
    assert sandbox_api.credential(DISCONNECTED_CONNECTOR_ID) == {"access_token": NEW_TOKEN}


def test_a_refresh_token_alone_is_refused_and_nothing_is_sent(admin_client, sandbox_api):
    response = admin_client.post(url("connector_edit"), edit_data(refresh_token=NEW_REFRESH))
    assert response.status_code == 200
    assert "A new refresh token goes with a new access token." in response.content.decode()
    assert NEW_REFRESH not in response.content.decode()
    assert upstream_writes(sandbox_api) == []


def test_a_422_on_edit_lands_on_the_field_with_the_input_kept(admin_client, sandbox_api):
    data = edit_data(GITHUB_CONNECTOR_ID, scope_repositories="acme-corp/docs\nnot-a-repo", access_token=NEW_TOKEN)
    response = admin_client.post(url("connector_edit", GITHUB_CONNECTOR_ID), data)
    assert response.status_code == 200
    error = response.context["form"].errors["scope_repositories"][0]
    assert 'Item 2, "not-a-repo": not in the expected format' in error
    page = response.content.decode()
    assert "acme-corp/docs\nnot-a-repo" in page
    assert NEW_TOKEN not in page
    assert stored(sandbox_api, GITHUB_CONNECTOR_ID)["scope_config"] == {"repositories": GITHUB_SCOPE_REPOSITORIES}


def test_a_422_on_an_unknown_location_is_a_form_level_error(admin_client, sandbox_api):
    sandbox_api.add_rule(
        method="PATCH", status=422, detail=[{"loc": ["body", "schedule"], "msg": "Not allowed", "type": "x"}]
    )
    response = admin_client.post(url("connector_edit"), edit_data(status="paused"))
    assert "Aimable refused the request: Not allowed (schedule)" in response.content.decode()


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 500, "body": "html"}, {"hang": True, "hang_seconds": 2}])
def test_a_failed_save_shows_the_form_again_with_the_input(admin_client, sandbox_api, settings, rule):
    fail_fast(settings)
    sandbox_api.add_rule(method="PATCH", **rule)
    response = admin_client.post(url("connector_edit"), edit_data(scope_folder_ids="1KEEPME", access_token=NEW_TOKEN))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your changes were not saved" in page and "Save changes" in page
    assert "1KEEPME" in page
    assert NEW_TOKEN not in page and "Traceback" not in page


def test_editing_a_connector_deleted_meanwhile_is_a_404(admin_client, sandbox_api):
    sandbox_api.add_rule(method="PATCH", status=404, detail="Connector not found")
    response = admin_client.post(url("connector_edit"), edit_data(status="paused"))
    assert response.status_code == 404
    assert "It may have been deleted" in response.content.decode()


@pytest.mark.parametrize(("status", "text"), [(401, "Your API key was rejected"), (403, "no access")])
def test_a_refused_save_is_a_readable_page(admin_client, sandbox_api, status, text):
    sandbox_api.add_rule(method="PATCH", status=status)
    response = admin_client.post(url("connector_edit"), edit_data(status="paused", access_token=NEW_TOKEN))
    page = assert_readable_error_page(response, status=403, text=text)
    assert NEW_TOKEN not in page


# ----- delete -----------------------------------------------------------------------------------------


def test_the_delete_page_says_what_will_happen(admin_client, sandbox_api):
    response = admin_client.get(url("connector_delete"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete this Google Drive connector?" in page
    assert DRIVE_CONNECTOR_ID in page and "3 folders" in page
    assert "cannot be undone" in page and "credential is deleted" in page
    assert "Delete connector" in page and "Keep it" in page
    assert "A sync is running now" not in page
    assert upstream_writes(sandbox_api) == []


def test_the_delete_page_mentions_a_running_sync(admin_client, sandbox_api):
    sandbox_api.set_faults(sync_seconds=120)
    with sandbox_api.state.lock:
        sandbox_api.state.start_sync(sandbox_api.state.connectors[SLACK_CONNECTOR_ID])
    page = admin_client.get(url("connector_delete", SLACK_CONNECTOR_ID)).content.decode()
    assert "A sync is running now" in page and "it will be cancelled" in page


def test_the_delete_page_works_when_the_syncs_cannot_be_listed(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains="/syncs", status=503)
    response = admin_client.get(url("connector_delete"))
    assert response.status_code == 200 and "Delete connector" in response.content.decode()


def test_delete_removes_the_connector_and_says_so(admin_client, sandbox_api):
    response = admin_client.post(url("connector_delete"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    assert "Google Drive connector deleted." in response.content.decode()
    assert stored(sandbox_api, DRIVE_CONNECTOR_ID) is None
    assert [r["method"] for r in upstream_writes(sandbox_api)] == ["DELETE"]


def test_delete_cancels_a_running_sync(admin_client, sandbox_api):
    sandbox_api.set_faults(sync_seconds=120)
    with sandbox_api.state.lock:
        sandbox_api.state.start_sync(sandbox_api.state.connectors[SLACK_CONNECTOR_ID])
    admin_client.post(url("connector_delete", SLACK_CONNECTOR_ID))
    assert stored(sandbox_api, SLACK_CONNECTOR_ID) is None


def test_deleting_an_already_deleted_connector_is_not_an_error(admin_client, sandbox_api):
    admin_client.post(url("connector_delete"))
    response = admin_client.post(url("connector_delete"), follow=True)
    assert response.status_code == 200
    assert "That connector was already deleted." in response.content.decode()
    assert admin_client.get(url("connector_delete")).status_code == 404
    assert admin_client.get(url("connector_detail")).status_code == 404


def test_a_delete_that_races_another_delete_is_done(admin_client, sandbox_api):
    sandbox_api.add_rule(method="DELETE", status=404, detail="Connector not found")
    response = admin_client.post(url("connector_delete"), follow=True)
    assert "That connector was already deleted." in response.content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONNECTOR_DELETE)
    assert event.outcome == AuditEvent.Outcome.OK and event.changes["already_deleted"] is True


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 500}, {"hang": True, "hang_seconds": 2}])
def test_a_failed_delete_says_so_and_keeps_the_page(admin_client, sandbox_api, settings, rule):
    fail_fast(settings)
    sandbox_api.add_rule(method="DELETE", **rule)
    response = admin_client.post(url("connector_delete"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The connector was not deleted" in page and "Delete connector" in page
    assert "Traceback" not in page
    assert stored(sandbox_api, DRIVE_CONNECTOR_ID) is not None


@pytest.mark.parametrize(("status", "text"), [(401, "Your API key was rejected"), (403, "no access")])
def test_a_refused_delete_is_a_readable_page(admin_client, sandbox_api, status, text):
    sandbox_api.add_rule(method="DELETE", status=status)
    assert_readable_error_page(admin_client.post(url("connector_delete")), status=403, text=text)
    assert stored(sandbox_api, DRIVE_CONNECTOR_ID) is not None


def test_an_empty_scope_list_upstream_is_not_a_change(admin_client, sandbox_api, monkeypatch):
    with sandbox_api.state.lock:
        sandbox_api.state.connectors[DRIVE_CONNECTOR_ID]["scope_config"] = {"folder_ids": [], "include_shared": True}
    page = admin_client.get(url("connector_edit")).content.decode()
    assert "include_shared" in page
    calls = spy_on_upstream(monkeypatch)
    response = admin_client.post(
        url("connector_edit"), edit_data(scope_folder_ids="", scope_extra='{"include_shared": true}'), follow=True
    )
    assert "Nothing changed." in response.content.decode()
    assert patches(calls) == []


@pytest.mark.parametrize(
    ("space", "collection", "text"),
    [
        (DEMO_SPACE_ID, str(uuid.uuid4()), "Collection not found"),
        (str(uuid.uuid4()), DEMO_COLLECTION_ID, "Space not found"),
    ],
)
def test_a_missing_space_or_collection_is_named_on_the_404_page(admin_client, space, collection, text):
    response = admin_client.get(url("connector_detail", DRIVE_CONNECTOR_ID, space=space, collection=collection))
    assert response.status_code == 404
    page = response.content.decode()
    assert text in page and "No such connector" not in page
