"""The audit log: every change made through the console is recorded (who, when, what, where, outcome,
changes, never a secret), and /audit/ lists it newest first, filtered and paginated."""

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors.models import ApiKey, AuditEvent
from connectors.permissions import AUDITORS_GROUP
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DESIGN_FOLDER_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    EMPTY_COLLECTION_ID,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    GITHUB_CONNECTOR_ID,
    ONBOARDING_FOLDER_ID,
    OTHER_COLLECTION_ID,
    OTHER_SPACE_ID,
)
from tests.conftest import store_key
from tests.views.helpers import connectors_in, idempotency_token

pytestmark = pytest.mark.django_db

URL = reverse("audit_log")
TOKEN = "ghp_auditSecretToken00000000000000000077"
REFRESH = "ghr_auditSecretRefresh000000000000000077"


def create_url():
    return reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])


def connector_url(name, connector_id=DRIVE_CONNECTOR_ID):
    return reverse(name, args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id])


def create(client, **overrides):
    data = {
        "idempotency_token": idempotency_token(client.get(create_url())),
        "provider": "github",
        "access_token": TOKEN,
        "refresh_token": REFRESH,
        "scope_repositories": "acme-corp/docs",
        "scope_extra": "",
    }
    data.update(overrides)
    return client.post(create_url(), data)


def assert_no_secret(event):
    text = json.dumps(event.changes) + event.error
    assert TOKEN not in text and REFRESH not in text


def only_event():
    (event,) = AuditEvent.objects.all()
    return event


# ----- what is recorded -------------------------------------------------------------------------------


def test_a_create_is_recorded_with_who_where_what_and_no_secret(admin_client, user, sandbox_api):
    create(admin_client)
    (connector,) = connectors_in(sandbox_api, EMPTY_COLLECTION_ID)
    event = only_event()
    assert event.action == AuditEvent.Action.CONNECTOR_CREATE
    assert event.outcome == AuditEvent.Outcome.OK
    assert event.user == user and event.username == "alice"
    assert str(event.space_id) == DEMO_SPACE_ID and str(event.collection_id) == EMPTY_COLLECTION_ID
    assert event.connector_id == connector["id"] and event.provider_slug == "github"
    assert event.changes == {"scope_config": {"repositories": ["acme-corp/docs"]}, "credential": "set"}
    assert event.created_at is not None and event.request_id
    assert_no_secret(event)


def test_a_refused_create_is_recorded_as_an_error(admin_client, sandbox_api):
    create(admin_client, scope_repositories="not-a-repo")
    event = only_event()
    assert event.action == AuditEvent.Action.CONNECTOR_CREATE
    assert event.outcome == AuditEvent.Outcome.ERROR
    assert event.error.startswith("ValidationError:") and "repositories" in event.error
    assert event.connector_id == ""
    assert_no_secret(event)


def test_a_create_that_timed_out_is_recorded_as_an_error(admin_client, sandbox_api, settings):
    settings.AIMABLE_READ_TIMEOUT = 0.5
    sandbox_api.add_rule(method="POST", hang=True, hang_seconds=2)
    create(admin_client)
    event = only_event()
    assert event.outcome == AuditEvent.Outcome.ERROR and "UpstreamTimeoutError" in event.error
    assert_no_secret(event)


def test_an_edit_records_what_changed_and_a_new_credential_only_as_replaced(admin_client, sandbox_api):
    data = {
        "status": "active",
        "scope_repositories": "acme-corp/docs\nacme-corp/sdk-js",
        "scope_extra": "",
        "access_token": TOKEN,
        "refresh_token": REFRESH,
    }
    admin_client.post(connector_url("connector_edit", GITHUB_CONNECTOR_ID), data)
    event = only_event()
    assert event.action == AuditEvent.Action.CONNECTOR_UPDATE and event.outcome == AuditEvent.Outcome.OK
    assert event.connector_id == GITHUB_CONNECTOR_ID and event.provider_slug == "github"
    assert event.changes == {
        "status": {"from": "paused", "to": "active"},
        "scope_config": {"repositories": {"added": ["acme-corp/sdk-js"], "removed": ["acme-corp/platform-api"]}},
        "credential": "replaced",
    }
    assert_no_secret(event)


def test_a_failed_edit_is_recorded_as_an_error(admin_client, sandbox_api):
    sandbox_api.add_rule(method="PATCH", status=503)
    data = {
        "status": "paused",
        "scope_folder_ids": "\n".join(DRIVE_SCOPE_FOLDER_IDS),
        "scope_extra": "",
        "access_token": TOKEN,
    }
    admin_client.post(connector_url("connector_edit"), data)
    event = only_event()
    assert event.outcome == AuditEvent.Outcome.ERROR and event.error.startswith("UpstreamError:")
    assert event.changes["status"] == {"from": "active", "to": "paused"}
    assert_no_secret(event)


def test_an_edit_with_nothing_changed_records_nothing(admin_client):
    data = {"status": "active", "scope_folder_ids": "\n".join(DRIVE_SCOPE_FOLDER_IDS), "scope_extra": ""}
    admin_client.post(connector_url("connector_edit"), data)
    assert not AuditEvent.objects.exists()


def test_a_scope_change_in_the_tree_is_recorded_as_such(admin_client, sandbox_api):
    seen = [ENGINEERING_FOLDER_ID, DESIGN_FOLDER_ID, ONBOARDING_FOLDER_ID, FINANCE_FOLDER_ID]
    data = {"seen:folder_ids": seen, "select:folder_ids": [ENGINEERING_FOLDER_ID, FINANCE_FOLDER_ID], "save": "1"}
    admin_client.post(connector_url("connector_browse"), data)
    event = only_event()
    assert event.action == AuditEvent.Action.SCOPE_UPDATE and event.outcome == AuditEvent.Outcome.OK
    assert event.changes == {
        "scope_config": {
            "folder_ids": {"added": [FINANCE_FOLDER_ID], "removed": [DESIGN_FOLDER_ID, ONBOARDING_FOLDER_ID]}
        }
    }


def test_a_delete_is_recorded_and_a_failed_one_too(admin_client, sandbox_api):
    sandbox_api.add_rule(method="DELETE", status=500)
    admin_client.post(connector_url("connector_delete"))
    admin_client.post(connector_url("connector_delete"))
    failed, done = AuditEvent.objects.order_by("id")
    assert failed.action == done.action == AuditEvent.Action.CONNECTOR_DELETE
    assert failed.outcome == AuditEvent.Outcome.ERROR and done.outcome == AuditEvent.Outcome.OK
    assert done.connector_id == DRIVE_CONNECTOR_ID
    assert done.changes == {"scope_config": {"folder_ids": DRIVE_SCOPE_FOLDER_IDS}}


def test_a_refused_action_is_recorded(admin_client, sandbox_api):
    sandbox_api.add_rule(method="DELETE", status=403)
    admin_client.post(connector_url("connector_delete"))
    event = only_event()
    assert event.outcome == AuditEvent.Outcome.ERROR and event.error.startswith("PermissionDeniedError:")


# ----- the page ---------------------------------------------------------------------------------------


def make_events(count, **fields):
    defaults = {
        "username": "alice",
        "action": AuditEvent.Action.CONNECTOR_UPDATE,
        "space_id": DEMO_SPACE_ID,
        "collection_id": DEMO_COLLECTION_ID,
        "connector_id": DRIVE_CONNECTOR_ID,
    }
    return [AuditEvent.objects.create(**{**defaults, **fields}) for _ in range(count)]


def test_the_log_lists_every_users_changes_newest_first(admin_client, other_user, sandbox_api):
    create(admin_client)
    store_key(other_user, sandbox_api.admin_key)
    from django.test import Client

    bob = Client()
    bob.force_login(other_user)
    bob.post(connector_url("connector_delete", GITHUB_CONNECTOR_ID))

    response = admin_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    what = '<td data-label="What">'
    assert page.index(what + "Delete connector <span") < page.index(what + "Create connector <span")  # newest first
    assert ">bob<" in page and ">alice<" in page
    assert GITHUB_CONNECTOR_ID in page and EMPTY_COLLECTION_ID in page
    assert "<strong>scope_config.repositories</strong>:\n  acme-corp/docs" in page
    assert "<strong>credential</strong>:\n  set" in page
    assert "{&#x27;" not in page  # no Python dict shown raw
    assert TOKEN not in page and REFRESH not in page
    # A connector still there links to its page; a deleted one does not.
    (created,) = connectors_in(sandbox_api, EMPTY_COLLECTION_ID)
    assert reverse("connector_detail", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, created["id"]]) in page
    assert connector_url("connector_detail", GITHUB_CONNECTOR_ID) not in page


def test_the_log_shows_what_an_edit_changed_readably(admin_client, sandbox_api):
    data = {
        "status": "active",
        "scope_repositories": "acme-corp/docs\nacme-corp/sdk-js",
        "scope_extra": "",
        "access_token": TOKEN,
    }
    admin_client.post(connector_url("connector_edit", GITHUB_CONNECTOR_ID), data)
    page = admin_client.get(URL).content.decode()
    assert '<span class="diff-add">+acme-corp/sdk-js</span>' in page
    assert '<span class="diff-remove">−acme-corp/platform-api</span>' in page
    assert "paused → active" in page
    assert "<strong>credential</strong>:\n  replaced" in page
    assert "{&#x27;" not in page and TOKEN not in page


def test_the_log_shows_errors(admin_client, sandbox_api):
    sandbox_api.add_rule(method="DELETE", status=500, detail="Database is on fire")
    admin_client.post(connector_url("connector_delete"))
    page = admin_client.get(URL).content.decode()
    assert "badge-failed" in page and "Database is on fire" in page


def test_the_log_filters_by_user_connector_action_and_outcome(admin_client):
    make_events(2, username="bob")
    make_events(3, username="alice", connector_id="other-connector")
    make_events(1, username="alice", action=AuditEvent.Action.CONNECTOR_DELETE, outcome="error", error="Boom")

    def listed(query):
        return admin_client.get(URL + query).context["page"].paginator.count

    assert listed("") == 6
    assert listed("?user=bob") == 2
    assert listed("?user=alice") == 4
    assert listed("?connector=other-connector") == 3
    assert listed(f"?connector={DRIVE_CONNECTOR_ID}&user=alice") == 1
    assert listed("?action=connector.delete") == 1
    assert listed("?outcome=error") == 1
    assert listed("?action=not-an-action") == 6  # an unknown filter value is ignored
    page = admin_client.get(URL + "?user=nobody").content.decode()
    assert "No changes recorded for these filters" in page
    page = admin_client.get(URL + "?user=bob").content.decode()
    assert '<option value="bob" selected>' in page


def test_the_log_is_paginated_and_keeps_the_filters(admin_client):
    make_events(120, username="bob")
    make_events(5, username="alice")
    page = admin_client.get(URL + "?user=bob").content.decode()
    assert "Page 1 of 3" in page and "120 events" in page
    assert "?user=bob&amp;page=2" in page
    response = admin_client.get(URL + "?user=bob&page=3")
    assert len(response.context["page"].object_list) == 20
    assert "Previous page" in response.content.decode() and "Next page" not in response.content.decode()
    assert admin_client.get(URL + "?page=999").status_code == 200  # past the end: the last page
    assert admin_client.get(URL + "?page=abc").status_code == 200


@pytest.mark.parametrize("key", [None, "aim_copied\u200bwith_a_zero_width_space"], ids=["no key", "unusable key"])
def test_the_log_needs_no_upstream_and_no_api_key(client, user, other_user, sandbox_api, key):
    make_events(1, user=user, changes={"status": {"from": "active", "to": "paused"}})
    make_events(1, user=other_user, username="bob")
    if key:
        store_key(user, key)
    client.force_login(user)  # no usable key: which spaces it reaches is unknown, so only alice's own events
    response = client.get(URL)
    assert response.status_code == 200 and "active → paused" in response.content.decode()
    assert [e.username for e in response.context["page"].object_list] == ["alice"]
    assert "store your API key</a> to see the changes" in response.content.decode()
    assert sandbox_api.requests() == []


# ----- who sees what ----------------------------------------------------------------------------------


@pytest.fixture
def events_in_two_spaces(user, other_user, django_user_model):
    """alice's key reaches both spaces, bob's only the first (Acme): each has done something in each, and carol
    in the first; alice and dave once on no space (an event about their own API key, say)."""
    carol = django_user_model.objects.create_user("carol")
    dave = django_user_model.objects.create_user("dave")
    private = {"scope_config": {"repositories": {"added": ["globex/private-lab-notes"], "removed": []}}}
    other = {"space_id": OTHER_SPACE_ID, "collection_id": OTHER_COLLECTION_ID, "connector_id": "globex-connector"}
    bobs_attempt = {**other, "connector_id": "bobs-attempt"}
    return {
        "alice acme": make_events(1, user=user, username="alice")[0],
        "alice globex": make_events(1, user=user, username="alice", changes=private, **other)[0],
        "alice no space": make_events(1, user=user, username="alice", space_id=None, collection_id=None)[0],
        "bob acme": make_events(1, user=other_user, username="bob")[0],
        "bob globex": make_events(1, user=other_user, username="bob", outcome="denied", **bobs_attempt)[0],
        "carol acme": make_events(1, user=carol, username="carol")[0],
        "dave no space": make_events(1, user=dave, username="dave", space_id=None, collection_id=None)[0],
    }


def signed_in(user, key=None):
    from django.test import Client

    if key:
        store_key(user, key)
    client = Client()
    client.force_login(user)
    return client


def listed(client, query=""):
    response = client.get(URL + query)
    assert response.status_code == 200
    return {e.id for e in response.context["page"].paginator.object_list}, response


def test_a_user_sees_their_own_events_and_those_on_spaces_their_key_reaches(
    user, other_user, sandbox_api, events_in_two_spaces
):
    event = events_in_two_spaces
    alice, bob = signed_in(user, sandbox_api.admin_key), signed_in(other_user, sandbox_api.limited_key)

    seen, _ = listed(alice)
    assert seen == {event[name].id for name in event if name != "dave no space"}  # not someone else's key event

    seen, response = listed(bob)  # the limited key reaches only Acme
    assert seen == {event["alice acme"].id, event["bob acme"].id, event["bob globex"].id, event["carol acme"].id}
    page = response.content.decode()
    assert "globex/private-lab-notes" not in page and "globex-connector" not in page  # alice's, on Globex
    assert "Yours, and those on the spaces your API key reaches." in page
    # The filters only narrow what bob may see; the user list offers only the authors he sees.
    assert list(response.context["usernames"]) == ["alice", "bob", "carol"]
    assert '<option value="dave"' not in page
    assert listed(bob, "?user=alice")[0] == {event["alice acme"].id}
    assert listed(bob, "?user=dave")[0] == set()
    assert listed(bob, "?connector=globex-connector")[0] == set()
    assert listed(bob, "?connector=bobs-attempt")[0] == {event["bob globex"].id}
    assert listed(bob, "?outcome=denied")[0] == {event["bob globex"].id}


def test_access_is_the_keys_now(user, other_user, sandbox_api, events_in_two_spaces):
    bob = signed_in(other_user, sandbox_api.limited_key)
    assert events_in_two_spaces["alice globex"].id not in listed(bob)[0]
    ApiKey.objects.filter(user=other_user).update(secret=sandbox_api.admin_key)  # his key now reaches Globex too
    assert events_in_two_spaces["alice globex"].id in listed(bob)[0]


@pytest.mark.parametrize("how", ["staff", "auditor"])
def test_staff_and_auditors_see_every_event(other_user, sandbox_api, events_in_two_spaces, how):
    if how == "staff":
        other_user.is_staff = True
        other_user.save()
    else:
        other_user.groups.add(Group.objects.get_or_create(name=AUDITORS_GROUP)[0])
    bob = signed_in(other_user, sandbox_api.limited_key)
    sandbox_api.clear_requests()
    seen, response = listed(bob)
    assert seen == {e.id for e in events_in_two_spaces.values()}
    assert list(response.context["usernames"]) == ["alice", "bob", "carol", "dave"]
    assert "globex/private-lab-notes" in response.content.decode()
    assert sandbox_api.requests() == []  # no need to ask which spaces the key reaches


def test_a_migration_creates_the_auditors_group():
    from importlib import import_module

    from django.apps import apps

    # (Not "the group exists now": a transactional test earlier in the run flushes what migrations wrote.)
    migration = import_module("connectors.migrations.0003_auditors_group")
    Group.objects.filter(name=AUDITORS_GROUP).delete()
    migration.create_group(apps, None)
    migration.create_group(apps, None)  # idempotent
    assert Group.objects.filter(name=AUDITORS_GROUP).count() == 1


@pytest.mark.parametrize("rule", [{"status": 503}, {"status": 401}, {"hang": True, "hang_seconds": 2}])
def test_when_aimable_cannot_say_which_spaces_only_the_users_own_events_are_shown(
    other_user, sandbox_api, settings, events_in_two_spaces, rule
):
    settings.AIMABLE_READ_TIMEOUT = 0.5
    bob = signed_in(other_user, sandbox_api.limited_key)
    sandbox_api.add_rule(path_contains="/v1/spaces", **rule)
    seen, response = listed(bob)
    assert seen == {events_in_two_spaces["bob acme"].id, events_in_two_spaces["bob globex"].id}
    assert list(response.context["usernames"]) == ["bob"]
    page = response.content.decode()
    if rule.get("status") == 401:  # asking again cannot fix a rejected key: the page says what can
        assert "Only your own changes are shown: Aimable refuses the key stored for you" in page
        assert "Update your API key" in page and "Try again" not in page
    else:
        assert "Only your own changes are shown: Aimable could not say which spaces your key reaches" in page
        assert "Try again" in page


def test_the_log_needs_a_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
