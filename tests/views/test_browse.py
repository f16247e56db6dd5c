"""The browse tree and scope picker: children via htmx, paging, the live diff, the no-JS review page, saving."""

import uuid

import pytest
from django.urls import reverse

from sandbox import (
    ARCHIVE_FOLDER_ID,
    ARCHIVE_SIZE,
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DESIGN_FOLDER_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    GITHUB_CONNECTOR_ID,
    GITHUB_SCOPE_REPOSITORIES,
    ONBOARDING_FOLDER_ID,
    RUNBOOKS_FOLDER_ID,
    SLACK_CONNECTOR_ID,
    drive_id,
    slack_channel_id,
)
from tests.views.helpers import HTMX, assert_readable_error_page, fail_fast, spy_on_upstream, upstream_writes

pytestmark = pytest.mark.django_db

MARKETING_FOLDER_ID = drive_id("Marketing")
TOP_LEVEL = {
    ENGINEERING_FOLDER_ID: "Engineering",
    DESIGN_FOLDER_ID: "Design",
    MARKETING_FOLDER_ID: "Marketing",
    FINANCE_FOLDER_ID: "Finance",
    ARCHIVE_FOLDER_ID: "Archive",
    ONBOARDING_FOLDER_ID: "Onboarding",
}


def url(connector_id=DRIVE_CONNECTOR_ID):
    return reverse("connector_browse", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id])


def scope_of(sandbox_api, connector_id=DRIVE_CONNECTOR_ID):
    with sandbox_api.state.lock:
        return dict(sandbox_api.state.connectors[connector_id]["scope_config"])


def tree_post(selected, seen=TOP_LEVEL, key="folder_ids", **extra):
    """What the tree form posts: every item shown (seen + name) and the ticked ones."""
    data = {f"seen:{key}": list(seen), f"select:{key}": list(selected)}
    for item_id, name in dict(seen).items():
        data[f"name:{item_id}"] = name
    data.update(extra)
    return data


def children(client, parent_id, offset=0, connector_id=DRIVE_CONNECTOR_ID):
    query = f"?parent_id={parent_id}" + (f"&offset={offset}" if offset else "")
    return client.get(url(connector_id) + query, **HTMX)


# ----- the tree ---------------------------------------------------------------------------------------


def test_the_top_level_shows_items_with_checkboxes_ticked_from_the_current_scope(admin_client):
    response = admin_client.get(url())
    assert response.status_code == 200
    page = response.content.decode()
    for item_id, name in TOP_LEVEL.items():
        assert name in page
        assert f'name="seen:folder_ids" value="{item_id}"' in page
    for item_id in DRIVE_SCOPE_FOLDER_IDS:
        assert f'name="select:folder_ids" value="{item_id}" checked' in page
    assert f'name="select:folder_ids" value="{FINANCE_FOLDER_ID}">' in page  # not in scope: unticked
    assert "folder" in page  # the item type is shown
    assert "Save scope" in page and "Review changes" in page and "Cancel" in page
    assert "Now: <strong>3 folders</strong>" in page
    # Folders expand with htmx, and have a plain link for browsers without JavaScript.
    assert f'hx-get="{url()}?parent_id={ENGINEERING_FOLDER_ID}"' in page
    assert f'href="{url()}?parent_id={ENGINEERING_FOLDER_ID}"' in page


def test_the_children_fragment_lists_a_folder(admin_client, sandbox_api):
    admin_client.get(url())
    sandbox_api.clear_requests()
    response = children(admin_client, ENGINEERING_FOLDER_ID)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment and "Save scope" not in fragment
    assert "Architecture" in fragment and "Runbooks" in fragment and "Engineering handbook" in fragment
    # Engineering is ticked: its folders are synced with it, shown ticked (and not posted as choices of their own).
    assert "included with Engineering" in fragment
    assert f'name="seen:folder_ids" value="{RUNBOOKS_FOLDER_ID}"' not in fragment
    assert 'name="select:folder_ids" value="' + drive_id("Engineering/Engineering handbook") not in fragment
    # One upstream call per expanded folder: the connector is remembered from the page.
    assert [r["path"].rsplit("/", 1)[-1] for r in sandbox_api.requests()] == ["browse"]
    assert sandbox_api.requests()[0]["query"]["parent_id"] == ENGINEERING_FOLDER_ID


def test_the_children_fragment_works_without_the_page_first(admin_client, sandbox_api):
    fragment = children(admin_client, ENGINEERING_FOLDER_ID).content.decode()
    assert "Runbooks" in fragment


def test_a_large_folder_pages_with_load_more(admin_client, sandbox_api):
    fragment = children(admin_client, ARCHIVE_FOLDER_ID).content.decode()
    assert fragment.count('role="treeitem"') == 50
    assert "Load more" in fragment
    assert f"parent_id={ARCHIVE_FOLDER_ID}&amp;offset=50" in fragment
    seen = []
    for offset in range(50, ARCHIVE_SIZE, 50):
        fragment = children(admin_client, ARCHIVE_FOLDER_ID, offset=offset).content.decode()
        seen.append(fragment.count('role="treeitem"'))
    assert seen == [50, 50, 50, 50]
    assert "Load more" not in fragment  # the last page
    assert all(r["query"]["limit"] == "50" for r in sandbox_api.requests() if r["path"].endswith("/browse"))


def test_without_javascript_a_folder_opens_as_its_own_page_with_next_items(admin_client):
    response = admin_client.get(url() + f"?parent_id={ARCHIVE_FOLDER_ID}")
    page = response.content.decode()
    assert "Weekly status" in page and "Back to the top level" in page
    assert f"?parent_id={ARCHIVE_FOLDER_ID}&amp;offset=50" in page  # "Next items"
    page = admin_client.get(url() + f"?parent_id={ARCHIVE_FOLDER_ID}&offset=200").content.decode()
    assert page.count('role="treeitem"') == 50 and "Next items" not in page


def test_a_garbage_offset_is_the_first_page(admin_client):
    assert admin_client.get(url() + "?offset=-5").status_code == 200
    assert admin_client.get(url() + "?offset=abc").status_code == 200


def test_slack_channels_are_selectable(admin_client):
    page = admin_client.get(url(SLACK_CONNECTOR_ID)).content.decode()
    assert f'name="select:channel_ids" value="{slack_channel_id("engineering")}" checked' in page
    assert f'name="select:channel_ids" value="{slack_channel_id("random")}">' in page


def test_github_organizations_expand_to_selectable_repositories(admin_client):
    page = admin_client.get(url(GITHUB_CONNECTOR_ID)).content.decode()
    assert "Acme Corp" in page and 'name="select:repositories"' not in page  # organizations are containers
    fragment = children(admin_client, "acme-corp", connector_id=GITHUB_CONNECTOR_ID).content.decode()
    assert 'name="select:repositories" value="acme-corp/docs" checked' in fragment
    assert 'name="select:repositories" value="acme-corp/web-console">' in fragment


def test_an_unknown_folder_is_a_404(admin_client):
    response = admin_client.get(url() + "?parent_id=1doesNotExist")
    assert response.status_code == 404
    assert "No such folder" in response.content.decode()


def test_a_parent_id_that_is_too_long_is_a_404_without_an_upstream_call(admin_client, sandbox_api):
    admin_client.get(url())
    sandbox_api.clear_requests()
    assert children(admin_client, "x" * 600).status_code == 404
    assert sandbox_api.requests() == []


# ----- the diff and saving ----------------------------------------------------------------------------


def test_ticking_shows_the_difference_against_the_current_scope(admin_client, sandbox_api):
    selected = [ENGINEERING_FOLDER_ID, FINANCE_FOLDER_ID]  # Finance added; Design and Onboarding removed
    response = admin_client.post(url(), tree_post(selected), **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="scope-diff"')
    assert "+ Finance" in fragment and "− Design" in fragment and "− Onboarding" in fragment
    assert "Engineering" not in fragment  # unchanged
    assert "2 folders after saving" in fragment
    assert upstream_writes(sandbox_api) == []


def test_no_change_says_so(admin_client):
    fragment = admin_client.post(url(), tree_post(DRIVE_SCOPE_FOLDER_IDS), **HTMX).content.decode()
    assert "No changes yet" in fragment


def test_without_javascript_review_changes_is_a_page_that_can_save(admin_client, sandbox_api):
    data = tree_post([ENGINEERING_FOLDER_ID, FINANCE_FOLDER_ID], review="1")
    response = admin_client.post(url(), data)
    page = response.content.decode()
    assert "Review the change" in page and "+ Finance" in page and "− Design" in page
    assert "Save scope" in page and "Back to the tree" in page
    assert f'name="select:folder_ids" value="{FINANCE_FOLDER_ID}"' in page  # the choice travels on
    assert upstream_writes(sandbox_api) == []

    response = admin_client.post(url(), dict(data, save="1"), follow=True)
    assert scope_of(sandbox_api) == {"folder_ids": [ENGINEERING_FOLDER_ID, FINANCE_FOLDER_ID]}
    assert "Scope saved: 2 folders." in response.content.decode()


def test_saving_patches_scope_config_and_keeps_what_was_not_shown(admin_client, sandbox_api, monkeypatch):
    # A folder deep in the tree is in scope; the user only looked at the top level.
    with sandbox_api.state.lock:
        sandbox_api.state.connectors[DRIVE_CONNECTOR_ID]["scope_config"]["folder_ids"].append(RUNBOOKS_FOLDER_ID)
    calls = spy_on_upstream(monkeypatch)
    response = admin_client.post(url(), tree_post([ENGINEERING_FOLDER_ID, ARCHIVE_FOLDER_ID], save="1"))
    assert response.status_code == 302
    assert response.url == reverse("connector_detail", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    (patch,) = [c for c in calls if c["method"] == "PATCH"]
    assert patch["json"] == {
        "scope_config": {"folder_ids": [ENGINEERING_FOLDER_ID, RUNBOOKS_FOLDER_ID, ARCHIVE_FOLDER_ID]}
    }
    assert scope_of(sandbox_api)["folder_ids"] == [ENGINEERING_FOLDER_ID, RUNBOOKS_FOLDER_ID, ARCHIVE_FOLDER_ID]


def test_other_scope_settings_survive_a_save(admin_client, sandbox_api):
    with sandbox_api.state.lock:
        sandbox_api.state.connectors[DRIVE_CONNECTOR_ID]["scope_config"]["include_shared"] = True
    admin_client.post(url(), tree_post([FINANCE_FOLDER_ID], save="1"))
    assert scope_of(sandbox_api) == {"folder_ids": [FINANCE_FOLDER_ID], "include_shared": True}


def test_a_selection_of_an_item_not_shown_is_ignored(admin_client, sandbox_api):
    data = tree_post(DRIVE_SCOPE_FOLDER_IDS + ["1forgedItemNeverShown"], save="1")
    response = admin_client.post(url(), data)
    assert response.status_code == 200  # nothing changed: the review page, no PATCH
    assert "No changes yet" in response.content.decode()
    assert upstream_writes(sandbox_api) == []


def test_saving_from_a_slack_tree(admin_client, sandbox_api):
    general, engineering = slack_channel_id("general"), slack_channel_id("engineering")
    data = tree_post(
        [general, engineering], seen={general: "general", engineering: "engineering"}, key="channel_ids", save="1"
    )
    admin_client.post(url(SLACK_CONNECTOR_ID), data)
    assert scope_of(sandbox_api, SLACK_CONNECTOR_ID)["channel_ids"] == [
        engineering,
        slack_channel_id("incidents"),
        general,
    ]


def test_saving_from_a_github_tree(admin_client, sandbox_api):
    seen = {"acme-corp/docs": "docs", "acme-corp/platform-api": "platform-api", "acme-corp/sdk-js": "sdk-js"}
    admin_client.post(
        url(GITHUB_CONNECTOR_ID), tree_post(["acme-corp/sdk-js"], seen=seen, key="repositories", save="1")
    )
    assert scope_of(sandbox_api, GITHUB_CONNECTOR_ID) == {"repositories": ["acme-corp/sdk-js"]}
    assert GITHUB_SCOPE_REPOSITORIES != ["acme-corp/sdk-js"]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"status": 503}, "The scope was not saved"),
        (
            {
                "status": 422,
                "detail": [{"loc": ["body", "scope_config", "folder_ids", 0], "msg": "Unknown folder", "type": "x"}],
            },
            "Unknown folder",
        ),
        ({"hang": True, "hang_seconds": 2}, "did not answer in time"),
    ],
)
def test_a_failed_save_shows_the_review_page_with_the_error(admin_client, sandbox_api, settings, rule, text):
    fail_fast(settings)
    sandbox_api.add_rule(method="PATCH", **rule)
    response = admin_client.post(url(), tree_post([FINANCE_FOLDER_ID], save="1"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The scope was not saved" in page and text in page
    assert "Review the change" in page and "Save scope" in page and "+ Finance" in page
    assert scope_of(sandbox_api)["folder_ids"] == DRIVE_SCOPE_FOLDER_IDS


@pytest.mark.parametrize(("status", "text"), [(401, "Your API key was rejected"), (403, "no access")])
def test_a_refused_save_is_a_readable_page(admin_client, sandbox_api, status, text):
    sandbox_api.add_rule(method="PATCH", status=status)
    response = admin_client.post(url(), tree_post([FINANCE_FOLDER_ID], save="1"))
    assert_readable_error_page(response, status=403, text=text)


# ----- failures while browsing ------------------------------------------------------------------------


def test_a_disconnected_connector_cannot_be_browsed_and_says_why(admin_client):
    response = admin_client.get(url(DISCONNECTED_CONNECTOR_ID))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Could not load the provider&#x27;s resources" in page or "Could not load the provider's resources" in page
    assert "expired or was revoked" in page and "Try again" in page


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 500, "body": "html"}, {"hang": True, "hang_seconds": 2}])
def test_browse_down_or_slow_keeps_the_page_with_a_banner(admin_client, sandbox_api, settings, rule):
    fail_fast(settings)
    sandbox_api.add_rule(method="GET", path_contains="/browse", **rule)
    response = admin_client.get(url())
    page = assert_readable_error_page(response, status=200, text="Try again")
    assert "Choose what to sync" in page


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 500}, {"hang": True, "hang_seconds": 2}])
def test_a_failing_folder_shows_a_retry_button_in_the_fragment(admin_client, sandbox_api, settings, rule):
    fail_fast(settings)
    admin_client.get(url())
    sandbox_api.add_rule(method="GET", path_contains="/browse", **rule)
    response = children(admin_client, ENGINEERING_FOLDER_ID, offset=50)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "Could not load this folder" in fragment and "Try again" in fragment and "<html" not in fragment
    assert f"parent_id={ENGINEERING_FOLDER_ID}&amp;offset=50" in fragment  # retries the same page


def test_a_rejected_key_while_expanding_says_so_like_every_page(admin_client, sandbox_api):
    admin_client.get(url())
    sandbox_api.add_rule(method="GET", path_contains="/browse", status=401)
    response = children(admin_client, ENGINEERING_FOLDER_ID)
    fragment = response.content.decode()
    assert "<html" not in fragment and "Your API key was rejected" in fragment and "Update your API key" in fragment
    assert "Try again" not in fragment  # asking again cannot fix a key


def test_the_fragment_of_a_connector_that_does_not_exist(admin_client):
    response = children(admin_client, ENGINEERING_FOLDER_ID, connector_id=str(uuid.uuid4()))
    fragment = response.content.decode()
    assert "<html" not in fragment and "No such connector in this collection" in fragment


def test_unticking_everything_warns_that_everything_will_be_synced(admin_client):
    fragment = admin_client.post(url(), tree_post([]), **HTMX).content.decode()
    assert "− Engineering" in fragment and "− Design" in fragment and "− Onboarding" in fragment
    assert "none ticked: after saving, everything the credential can reach is synced" in fragment
