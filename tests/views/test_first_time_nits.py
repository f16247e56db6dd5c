"""What a first-time admin tripped over (issue 13, item 8): each nit, with a test. The browser's side (Back, the
confirmations, messages going stale after htmx swaps, the focus ring) is in tests/e2e/test_first_time_nits.py."""

import re

import pytest
from django.urls import reverse

from connectors.models import AuditEvent
from connectors.permissions import CHANGES, OPERATOR_CHANGES
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DESIGN_FOLDER_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    EMPTY_COLLECTION_ID,
    ENGINEERING_FOLDER_ID,
    GITHUB_CONNECTOR_ID,
    ONBOARDING_FOLDER_ID,
    RUNBOOKS_FOLDER_ID,
    SLACK_CONNECTOR_ID,
    drive_id,
    slack_channel_id,
)
from tests.oauth.test_flow import connect
from tests.views.helpers import HTMX, connectors_in
from tests.views.test_connector_create import URL as CREATE_URL
from tests.views.test_connector_create import form_data

pytestmark = pytest.mark.django_db

IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
MARKETING_FOLDER_ID = drive_id("Marketing")
TOP = {
    ENGINEERING_FOLDER_ID: "Engineering",
    DESIGN_FOLDER_ID: "Design",
    MARKETING_FOLDER_ID: "Marketing",
    ONBOARDING_FOLDER_ID: "Onboarding",
}


def browse_url(connector_id=DRIVE_CONNECTOR_ID):
    return reverse("connector_browse", args=[*IDS, connector_id])


def detail_url(connector_id):
    return reverse("connector_detail", args=[*IDS, connector_id])


def ticks(selected, seen=TOP, key="folder_ids", **extra):
    data = {f"seen:{key}": list(seen), f"select:{key}": list(selected)}
    data.update({f"name:{i}": n for i, n in dict(seen).items()})
    data.update(extra)
    return data


def scope_of(sandbox_api, connector_id=DRIVE_CONNECTOR_ID):
    with sandbox_api.state.lock:
        return dict(sandbox_api.state.connectors[connector_id]["scope_config"])


def checked(page, value):
    return bool(re.search(rf'value="{re.escape(value)}" checked', page))


# ----- the scope Review page and the browser's Back ---------------------------------------------------------------

# Engineering and Onboarding stay, Design goes, Marketing comes.
PENDING = [ENGINEERING_FOLDER_ID, ONBOARDING_FOLDER_ID, MARKETING_FOLDER_ID]


def test_back_to_the_tree_carries_the_pending_ticks_and_the_panel_says_what_they_change(admin_client, sandbox_api):
    review = admin_client.post(browse_url(), ticks(PENDING, review="1")).content.decode()
    assert "Review the change" in review
    assert re.search(r'<button type="submit" name="back" value="1"[^>]*>Back to the tree</button>', review)

    back = admin_client.post(browse_url(), ticks(PENDING, back="1"))
    assert back.status_code == 302 and back["Location"] == browse_url()
    tree = admin_client.get(browse_url()).content.decode()
    assert checked(tree, MARKETING_FOLDER_ID) and not checked(tree, DESIGN_FOLDER_ID)
    assert "Changes to save" in tree and "No changes yet" not in tree
    assert "+ Marketing" in tree and "− Design" in tree
    assert "Discard these changes" in tree
    # Nothing was saved on the way.
    assert MARKETING_FOLDER_ID not in scope_of(sandbox_api)["folder_ids"]


def test_every_tick_is_kept_so_a_reloaded_tree_tells_the_truth(admin_client, sandbox_api):
    """The browser's Back shows the tree again: the ticks the live panel last saw are the ones it shows."""
    admin_client.post(browse_url(), ticks(PENDING), **HTMX)  # the live panel, on each change
    tree = admin_client.get(browse_url()).content.decode()
    assert checked(tree, MARKETING_FOLDER_ID) and "Changes to save" in tree
    # A change back to the saved scope: nothing pending, and the panel says so.
    saved = [ENGINEERING_FOLDER_ID, DESIGN_FOLDER_ID, ONBOARDING_FOLDER_ID]
    admin_client.post(browse_url(), ticks(saved), **HTMX)
    tree = admin_client.get(browse_url()).content.decode()
    assert "No changes yet" in tree and not checked(tree, MARKETING_FOLDER_ID)


def test_saving_from_the_tree_after_back_saves_the_pending_ticks_then_forgets_them(admin_client, sandbox_api):
    admin_client.post(browse_url(), ticks(PENDING, back="1"))
    saved = admin_client.post(browse_url(), ticks(PENDING, save="1"))
    assert saved.status_code == 302
    assert set(scope_of(sandbox_api)["folder_ids"]) == set(PENDING)
    assert "No changes yet" in admin_client.get(browse_url()).content.decode()


def test_cancel_discards_the_pending_ticks(admin_client, sandbox_api):
    admin_client.post(browse_url(), ticks(PENDING, back="1"))
    tree = admin_client.get(browse_url()).content.decode()
    assert re.search(r'<button type="submit" name="discard" value="1"[^>]*>Cancel</button>', tree)
    response = admin_client.post(browse_url(), {"discard": "1"})
    assert response.status_code == 302 and response["Location"] == detail_url(DRIVE_CONNECTOR_ID)
    tree = admin_client.get(browse_url()).content.decode()
    assert "No changes yet" in tree and not checked(tree, MARKETING_FOLDER_ID)


def test_pending_ticks_are_forgotten_when_the_saved_scope_changed_since(admin_client, sandbox_api):
    admin_client.post(browse_url(), ticks(PENDING, back="1"))
    with sandbox_api.state.lock:  # someone else saved meanwhile
        sandbox_api.state.connectors[DRIVE_CONNECTOR_ID]["scope_config"] = {"folder_ids": [DESIGN_FOLDER_ID]}
    tree = admin_client.get(browse_url()).content.decode()
    assert "No changes yet" in tree and checked(tree, DESIGN_FOLDER_ID) and not checked(tree, MARKETING_FOLDER_ID)


# ----- scope ids the provider does not know -----------------------------------------------------------------------


def test_an_unknown_scope_id_is_a_row_of_its_own_that_can_be_unticked(admin_client, sandbox_api):
    general = slack_channel_id("general")
    with sandbox_api.state.lock:
        sandbox_api.state.connectors[SLACK_CONNECTOR_ID]["scope_config"] = {"channel_ids": [general, "C01GENERAL"]}
    tree = admin_client.get(browse_url(SLACK_CONNECTOR_ID)).content.decode()
    assert "Also in the scope" in tree and "not found in this list" in tree
    assert checked(tree, "C01GENERAL") and 'name="seen:channel_ids" value="C01GENERAL"' in tree
    assert tree.count('value="C01GENERAL" checked') == 1  # once: the channels the provider lists are not repeated
    data = {"seen:channel_ids": [general, "C01GENERAL"], "select:channel_ids": [general], "save": "1"}
    assert admin_client.post(browse_url(SLACK_CONNECTOR_ID), data).status_code == 302
    assert scope_of(sandbox_api, SLACK_CONNECTOR_ID)["channel_ids"] == [general]


def test_creating_with_an_id_the_provider_does_not_list_warns_and_still_creates(admin_client, sandbox_api):
    data = form_data(admin_client, provider="slack", scope_channel_ids=f"C01GENERAL, {slack_channel_id('random')}")
    response = admin_client.post(CREATE_URL, data, follow=True)
    page = response.content.decode()
    assert len(connectors_in(sandbox_api, EMPTY_COLLECTION_ID)) == 1
    assert "Slack connector created" in page
    assert "Slack does not list C01GENERAL at its top level" in page
    assert slack_channel_id("random") not in page.split("does not list", 1)[1].split("</p>", 1)[0]


def test_creating_with_known_ids_does_not_warn(admin_client, sandbox_api):
    data = form_data(admin_client, provider="slack", scope_channel_ids=slack_channel_id("random"))
    page = admin_client.post(CREATE_URL, data, follow=True).content.decode()
    assert "Slack connector created" in page and "does not list" not in page


# ----- a ticked folder's contents -----------------------------------------------------------------------------------


def test_the_contents_of_a_ticked_folder_show_as_included(admin_client):
    admin_client.get(browse_url())  # the top level: the folder names are remembered
    fragment = admin_client.get(browse_url(), {"parent_id": ENGINEERING_FOLDER_ID}, **HTMX).content.decode()
    assert "included with Engineering" in fragment
    assert re.search(r'<input type="checkbox" checked disabled data-included>', fragment)
    # deeper: the tree passes the folders above along, so the ticked one is known
    assert f"ancestors={ENGINEERING_FOLDER_ID}" in fragment
    deeper = admin_client.get(
        browse_url(), {"parent_id": RUNBOOKS_FOLDER_ID, "ancestors": ENGINEERING_FOLDER_ID}, **HTMX
    ).content.decode()
    assert "included with Engineering" in deeper


def test_the_contents_of_a_folder_not_ticked_are_choices(admin_client):
    fragment = admin_client.get(browse_url(), {"parent_id": MARKETING_FOLDER_ID}, **HTMX).content.decode()
    assert "included with" not in fragment and 'name="select:folder_ids"' in fragment


def test_a_folder_ticked_but_not_saved_includes_its_contents_too(admin_client):
    admin_client.get(browse_url())
    admin_client.post(browse_url(), ticks(PENDING), **HTMX)
    fragment = admin_client.get(browse_url(), {"parent_id": MARKETING_FOLDER_ID}, **HTMX).content.decode()
    assert "included with Marketing" in fragment


# ----- Sync now where it cannot work --------------------------------------------------------------------------------


def test_a_paused_connector_offers_resume_instead_of_sync_now(admin_client, sandbox_api):
    page = admin_client.get(detail_url(GITHUB_CONNECTOR_ID)).content.decode()
    assert ">Sync now</button>" not in page
    assert "Paused: resume it to sync." in page
    resume = reverse("connector_resume", args=[*IDS, GITHUB_CONNECTOR_ID])
    assert f'formaction="{resume}"' in page
    response = admin_client.post(resume, {"next": detail_url(GITHUB_CONNECTOR_ID)})
    assert response.status_code == 302 and response["Location"] == detail_url(GITHUB_CONNECTOR_ID)
    with sandbox_api.state.lock:
        assert sandbox_api.state.connectors[GITHUB_CONNECTOR_ID]["status"] == "active"
    assert AuditEvent.objects.filter(action="connector.update", connector_id=GITHUB_CONNECTOR_ID).exists()
    page = admin_client.get(detail_url(GITHUB_CONNECTOR_ID)).content.decode()
    assert "Resumed" in page and ">Sync now</button>" in page


def test_a_disconnected_connector_offers_reconnect_instead_of_sync_now(admin_client, settings, sandbox_api):
    from tests.oauth.conftest import sandbox_oauth_settings

    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    page = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    assert ">Sync now</button>" not in page
    # One Reconnect, at the top; the Syncs panel points to it instead of offering its own.
    top, syncs = page.split('id="syncs-heading"', 1)
    assert 'id="reconnect"' in top and "Reconnect Google Drive" in top
    assert f'href="{detail_url(DISCONNECTED_CONNECTOR_ID)}#reconnect">Give it a new credential first</a>' in syncs
    assert "Reconnect Google Drive" not in syncs and 'role="button">Reconnect</a>' not in syncs
    # Its last sync failed on the credential: the panel offers no Retry (it cannot work) and no second Reconnect.
    panel = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID), HTTP_HX_REQUEST="true").content.decode()
    assert "Why it failed" in panel and "Retry" not in panel and ">Reconnect" not in panel
    # The connector list's fix leads to that one Reconnect.
    listing = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    assert f'href="{detail_url(DISCONNECTED_CONNECTOR_ID)}#reconnect" role="button"' in listing


def test_without_an_oauth_client_the_fix_is_a_new_token(admin_client, settings):
    settings.OAUTH_PROVIDERS = {}
    page = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    edit = reverse("connector_edit", args=[*IDS, DISCONNECTED_CONNECTOR_ID])
    top = page.split('id="syncs-heading"', 1)[0]
    assert f'<a href="{edit}#credential" role="button">Enter a new token</a>' in top
    assert "Reconnect" not in top


def test_the_list_rows_name_their_connector_and_offer_the_fix(admin_client):
    page = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    assert re.search(r'aria-label="Sync [^"]+ now">Sync now</button>', page)
    assert page.count(">Sync now</button>") == len(set(re.findall(r'aria-label="(Sync [^"]+ now)"', page)))
    assert 'aria-label="Resume ' in page and ">Enter a new token</a>" in page  # paused GitHub, disconnected Drive


def test_resume_is_a_change_refused_to_read_only_members_and_operators():
    assert "connector_resume" in CHANGES and "connector_resume" not in OPERATOR_CHANGES


# ----- messages that went stale ---------------------------------------------------------------------------------------


def test_the_upstream_error_page_says_its_title_once(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains=DRIVE_CONNECTOR_ID, status=503, times=10)
    page = admin_client.get(detail_url(DRIVE_CONNECTOR_ID)).content.decode()
    assert page.count("The Aimable API had a problem") == 2  # the <title> and the heading, not the banner again
    assert "HTTP 503." in page


def test_a_banner_about_the_other_providers_fields_is_marked_to_go_on_a_switch(admin_client):
    page = admin_client.post(CREATE_URL, form_data(admin_client, access_token="")).content.decode()
    assert re.search(r'class="banner banner-error" role="alert" data-stale-on-provider-change', page)


def test_after_connect_the_token_fields_are_tucked_away(admin_client, settings, sandbox_api):
    from tests.oauth.conftest import sandbox_oauth_settings

    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    back = admin_client.get(connect(admin_client))["Location"]
    page = admin_client.get(back).content.decode()
    assert "Connected" in page
    assert "<summary>Paste a token instead</summary>" in page


# ----- delete, password, loading, accessible names, confirmations, sign-in ----------------------------------------


def test_the_delete_page_says_plainly_what_is_not_known_about_synced_documents(admin_client):
    page = admin_client.get(reverse("connector_delete", args=[*IDS, DRIVE_CONNECTOR_ID])).content.decode()
    assert "Documents already synced into" in page
    assert "Aimable's documentation does not say whether they stay or are removed" in page


def test_password_strength_errors_are_under_new_password(admin_client, admin_user):
    admin_user.set_password("old-password-123")
    admin_user.save()
    admin_client.force_login(admin_user)
    response = admin_client.post(
        reverse("password_change"),
        {"old_password": "old-password-123", "new_password1": "123", "new_password2": "123"},
    )
    form = response.context["form"]
    assert form.errors.get("new_password1") and not form.errors.get("new_password2")


def test_the_list_rows_say_loading_while_htmx_loads_the_latest_sync(admin_client):
    page = admin_client.get(reverse("connector_list", args=IDS)).content.decode()
    assert 'aria-busy="true"><span class="loading-hint' in page  # shown while the cells' request is in flight
    assert 'hx-trigger="load" hx-swap="outerHTML" hx-indicator=".latest-sync[aria-busy]"' in page


def test_folders_say_loading_while_their_contents_load(admin_client):
    page = admin_client.get(browse_url()).content.decode()
    assert '<span class="muted small loading-hint">Loading…</span>' in page


def test_removing_a_key_asks_first_as_cancelling_a_sync_does(admin_client):
    page = admin_client.get(reverse("api_keys")).content.decode()
    assert 'data-confirm="Remove your API key?' in page


def test_a_failed_sign_in_says_how_many_tries_are_left(client, django_user_model, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    django_user_model.objects.create_user("newbie", password="right-password-123")
    page = client.post(reverse("login"), {"username": "newbie", "password": "wrong"}).content.decode()
    assert f"{settings.AXES_FAILURE_LIMIT - 1} tries left" in page
    page = client.post(reverse("login"), {"username": "newbie", "password": "wrong"}).content.decode()
    assert f"{settings.AXES_FAILURE_LIMIT - 2} tries left" in page


# ----- the audit log ---------------------------------------------------------------------------------------------


def test_the_audit_log_says_utc_and_links_the_sync(admin_client, sandbox_api):
    admin_client.post(reverse("sync_trigger", args=[*IDS, DRIVE_CONNECTOR_ID]))
    event = AuditEvent.objects.get(action="sync.trigger")
    page = admin_client.get(reverse("audit_log")).content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", page)
    sync_url = reverse("sync_detail", args=[*IDS, DRIVE_CONNECTOR_ID, event.changes["sync_id"]])
    assert f'<a href="{sync_url}"><code>{event.changes["sync_id"]}</code></a>' in page
    assert f'href="{reverse("connector_list", args=IDS)}"><code>{DEMO_COLLECTION_ID}</code></a>' in page
