"""Read-only team members (the "Read-only" group) see every page and change nothing: no button that changes
anything, every change refused with a 403 page and recorded in the audit log as "denied", nothing sent upstream."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from connectors.models import ApiKey, AuditEvent
from connectors.permissions import ALLOWED_POSTS, CHANGES, READ_PAGES
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, ENGINEERING_FOLDER_ID
from tests.conftest import _clear_cache
from tests.security.conftest import CONNECTOR, CONNECTOR_CHANGES, IDS, A, running_sync_id
from tests.views.helpers import HTMX, upstream_writes

pytestmark = pytest.mark.django_db

# Every change the console offers: (label, URL, method, data, the action the audit log records).
CHANGE_REQUESTS = [
    ("create", *CONNECTOR_CHANGES["create"]),
    ("edit", *CONNECTOR_CHANGES["edit"]),
    ("delete", *CONNECTOR_CHANGES["delete"]),
    ("browse-save", *CONNECTOR_CHANGES["scope"]),
    (
        "browse-diff",
        reverse("connector_browse", args=CONNECTOR),
        "post",
        {"seen:folder_ids": ENGINEERING_FOLDER_ID},
        A.SCOPE_UPDATE,
    ),
    ("sync", reverse("sync_trigger", args=CONNECTOR), "post", {"provider_slug": "google-drive"}, A.SYNC_TRIGGER),
    ("retry", reverse("sync_retry", args=[*CONNECTOR, "sync-1"]), "post", {}, A.SYNC_RETRY),
    ("cancel", reverse("sync_cancel", args=CONNECTOR), "post", {"sync_id": "sync-1"}, A.SYNC_CANCEL),
    (
        "connect",
        reverse("oauth_start", args=["google-drive"]),
        "post",
        {"next": reverse("connector_create", args=IDS)},
        A.CONNECTOR_CREATE,
    ),
    ("reconnect", *CONNECTOR_CHANGES["reconnect"]),
    ("callback", *CONNECTOR_CHANGES["callback"]),
]


@pytest.mark.parametrize(
    ("label", "url", "method", "data", "action"), CHANGE_REQUESTS, ids=[r[0] for r in CHANGE_REQUESTS]
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_every_change_is_refused_audited_and_never_sent(
    read_only_client, read_only_user, sandbox_api, oauth_configured, label, url, method, data, action, htmx
):
    sandbox_api.clear_requests()
    response = getattr(read_only_client, method)(url, data, **(HTMX if htmx else {}))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You have read-only access" in page and 'id="main"' in page
    assert upstream_writes(sandbox_api) == []
    event = AuditEvent.objects.get()
    assert (event.user, event.action, event.outcome) == (read_only_user, action, AuditEvent.Outcome.DENIED)
    if label not in ("connect", "callback"):
        assert str(event.collection_id) == DEMO_COLLECTION_ID
    if label in ("edit", "delete", "browse-save", "sync", "cancel", "reconnect"):
        assert event.connector_id == DRIVE_CONNECTOR_ID


@pytest.mark.parametrize("name", ["connector_create", "connector_edit", "connector_delete"])
def test_pages_that_only_change_are_refused_but_not_audited(read_only_client, name):
    args = IDS if name == "connector_create" else CONNECTOR
    response = read_only_client.get(reverse(name, args=args))
    assert response.status_code == 403
    assert "You have read-only access" in response.content.decode()
    assert not AuditEvent.objects.exists()  # looking at a form changes nothing


def test_refused_gets_are_recorded_at_most_once_a_minute_per_user_and_path(
    read_only_client, read_only_user, django_user_model, oauth_configured
):
    """A link on another site can make a read-only user's browser GET an OAuth callback again and again."""
    callback = reverse("oauth_callback", args=["google-drive"])
    for n in range(5):
        assert read_only_client.get(f"{callback}?code=c{n}&state=s").status_code == 403
    assert AuditEvent.objects.count() == 1
    assert read_only_client.get(reverse("oauth_callback", args=["slack"]) + "?code=c").status_code == 403
    assert AuditEvent.objects.count() == 2  # another path: its own record
    dave = django_user_model.objects.create_user("dave")
    dave.groups.add(read_only_user.groups.get())
    read_only_client.force_login(dave)
    assert read_only_client.get(callback).status_code == 403
    assert AuditEvent.objects.filter(user=dave).count() == 1  # another user: their own record
    for _ in range(3):  # a POST is a deliberate attempt: each one is recorded
        assert read_only_client.post(reverse("connector_delete", args=CONNECTOR)).status_code == 403
    assert AuditEvent.objects.filter(user=dave).count() == 4
    _clear_cache()  # a minute later: the entry that held back the repeats has expired
    assert read_only_client.get(callback).status_code == 403
    assert AuditEvent.objects.filter(user=dave).count() == 5


def test_the_audit_log_shows_the_denied_attempt(read_only_client, admin_client):
    read_only_client.post(reverse("connector_delete", args=CONNECTOR))
    page = admin_client.get(reverse("audit_log") + "?outcome=denied").content.decode()
    assert "carol" in page and "Denied" in page and "Read-only access" in page


CHANGE_BUTTONS = [
    ">New connector</a>",
    ">Create the first connector</a>",
    ">Sync now</button>",
    ">Edit connector</a>",
    ">Delete connector</a>",
    ">Reconnect Google Drive</button>",
    "enter a new token</a>",
    ">Cancel sync</button>",
    ">Retry</button>",
    ">Save scope</button>",
    ">Review changes</button>",
    "hx-post",
    'method="post" action="/spaces',
]


# Pages htmx asks for a part of: the same URL answers with that part.
PARTIALS = {"syncs panel", "sync status"}
PARTIAL = {"HTTP_HX_REQUEST": "true"}


def pages(sync_id) -> dict[str, str]:
    return {
        "list": reverse("connector_list", args=IDS),
        "detail": reverse("connector_detail", args=CONNECTOR),
        "syncs panel": reverse("connector_detail", args=CONNECTOR),
        "sync history": reverse("sync_list", args=CONNECTOR),
        "sync": reverse("sync_detail", args=[*CONNECTOR, sync_id]),
        "sync status": reverse("sync_detail", args=[*CONNECTOR, sync_id]),
        "browse": reverse("connector_browse", args=CONNECTOR),
        "audit": reverse("audit_log"),
        "home": reverse("home"),
        "oauth settings": reverse("oauth_settings"),
    }


def test_read_only_users_see_every_page_without_change_buttons(read_only_client, admin_client, oauth_configured):
    sync_id = running_sync_id(admin_client)
    for name, url in pages(sync_id).items():
        response = read_only_client.get(url, **(PARTIAL if name in PARTIALS else {}))
        assert response.status_code == 200, (name, response.status_code)
        page = response.content.decode()
        shown = [b for b in CHANGE_BUTTONS if b in page]
        assert not shown, f"{name} shows {shown}"
    # The tree's boxes show the scope, disabled.
    browse = read_only_client.get(pages(sync_id)["browse"]).content.decode()
    assert re.search(r'<input type="checkbox"[^>]* checked disabled>', browse)
    assert "Read-only" in read_only_client.get("/").content.decode()  # the badge in the nav


def test_team_admins_still_see_the_buttons(admin_client, oauth_configured):
    sync_id = running_sync_id(admin_client)
    seen = "".join(
        admin_client.get(url, **(PARTIAL if name in PARTIALS else {})).content.decode()
        for name, url in pages(sync_id).items()
    )
    for button in CHANGE_BUTTONS:
        if button not in (">Create the first connector</a>", "enter a new token</a>", ">Retry</button>"):
            assert button in seen, button
    assert "badge-read-only" not in seen


def test_read_only_users_manage_their_own_key_and_open_collections(read_only_client, read_only_user, sandbox_api):
    response = read_only_client.post(reverse("api_keys"), {"secret": sandbox_api.limited_key, "auth_scheme": "bearer"})
    assert response.status_code == 302
    assert ApiKey.objects.get(user=read_only_user).secret == sandbox_api.limited_key
    response = read_only_client.post(reverse("home"), {"space_id": DEMO_SPACE_ID, "collection_id": DEMO_COLLECTION_ID})
    assert response.status_code == 302
    assert read_only_client.post(reverse("api_key_delete")).status_code == 302
    assert not ApiKey.objects.filter(user=read_only_user).exists()
    assert not AuditEvent.objects.exists()


def test_admin_site_is_left_to_its_own_permissions(read_only_client):
    assert read_only_client.get("/admin/").status_code == 302  # not staff: the admin's own login


def _url_names(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            yield from _url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name


def test_every_url_is_classified():
    """A new URL must be put in one of the lists of connectors/permissions.py, or this fails."""
    names = set(_url_names(get_resolver().url_patterns))
    classified = set(CHANGES) | ALLOWED_POSTS | READ_PAGES
    assert names - classified == set()
    assert classified - names == set()


def test_a_migration_creates_the_group():
    from importlib import import_module

    from django.apps import apps
    from django.contrib.auth.models import Group

    migration = import_module("connectors.migrations.0002_read_only_group")
    Group.objects.filter(name="Read-only").delete()
    migration.create_group(apps, None)
    migration.create_group(apps, None)  # idempotent
    assert Group.objects.filter(name="Read-only").count() == 1
