"""Operators (the "Operator" group) may start, cancel and retry syncs, one at a time or in bulk, and change nothing
else: no button for it, every other change refused with a 403 page and audited as "denied", nothing sent upstream."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors.models import AuditEvent, BulkAction
from connectors.permissions import OPERATOR_GROUP, is_operator
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID
from tests.security.conftest import CONNECTOR, CONNECTOR_CHANGES, IDS, A, running_sync_id, sync_started
from tests.views.helpers import HTMX, upstream_writes

pytestmark = pytest.mark.django_db

DRIVE_ITEM = f"{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{DRIVE_CONNECTOR_ID}"


def test_operators_sync_cancel_and_retry_against_the_sandbox(operator_client, operator_user, sandbox_api):
    sync_id = sync_started(
        operator_client.post(reverse("sync_trigger", args=CONNECTOR), {"provider_slug": "google-drive"})
    )
    cancelled = operator_client.post(reverse("sync_cancel", args=CONNECTOR), {"sync_id": sync_id}, **HTMX)
    assert cancelled.status_code == 286 and "cancelled" in cancelled.content.decode()
    retried = sync_started(operator_client.post(reverse("sync_retry", args=[*CONNECTOR, sync_id])))
    assert retried != sync_id
    events = AuditEvent.objects.filter(user=operator_user).order_by("id")
    assert [(e.action, e.outcome) for e in events] == [
        (A.SYNC_TRIGGER, AuditEvent.Outcome.OK),
        (A.SYNC_CANCEL, AuditEvent.Outcome.OK),
        (A.SYNC_RETRY, AuditEvent.Outcome.OK),
    ]
    assert [r["method"] for r in upstream_writes(sandbox_api)] == ["POST", "POST", "POST"]


def test_operators_may_sync_in_bulk(operator_client, sandbox_api):
    response = operator_client.post(reverse("bulk_start"), {"kind": "sync", "item": [DRIVE_ITEM]})
    assert response.status_code == 302 and BulkAction.objects.get().kind == BulkAction.Kind.SYNC


# Every change an operator may not make: (label, URL, method, data, the action the audit log records).
REFUSED = [
    *((label, *CONNECTOR_CHANGES[label]) for label in ("create", "edit", "delete", "scope", "reconnect", "callback")),
    (
        "schedule",
        reverse("connector_schedule", args=CONNECTOR),
        "post",
        {"kind": "every", "every_hours": "6", "provider_slug": "google-drive"},
        A.SCHEDULE_UPDATE,
    ),
    ("freshness", reverse("connector_freshness", args=CONNECTOR), "post", {"hours": "12"}, A.FRESHNESS_UPDATE),
    ("bulk pause", reverse("bulk_start"), "post", {"kind": "pause", "item": [DRIVE_ITEM]}, A.BULK_START),
    ("bulk resume", reverse("bulk_start"), "post", {"kind": "resume", "item": [DRIVE_ITEM]}, A.BULK_START),
    (
        "bulk delete",
        reverse("bulk_start"),
        "post",
        {"kind": "delete", "item": [DRIVE_ITEM], "confirm_count": "1"},
        A.BULK_START,
    ),
]


@pytest.mark.parametrize(("label", "url", "method", "data", "action"), REFUSED, ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_other_changes_are_refused_audited_and_never_sent(
    operator_client, operator_user, sandbox_api, oauth_configured, label, url, method, data, action, htmx
):
    sandbox_api.clear_requests()
    response = getattr(operator_client, method)(url, data, **(HTMX if htmx else {}))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You have operator access" in page and 'id="main"' in page
    assert upstream_writes(sandbox_api) == []
    assert not BulkAction.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.user, event.action, event.outcome) == (operator_user, action, AuditEvent.Outcome.DENIED)
    assert event.error == "Operator access"
    if label in ("edit", "delete", "scope", "reconnect", "schedule", "freshness"):
        assert event.connector_id == DRIVE_CONNECTOR_ID


@pytest.mark.parametrize("name", ["connector_create", "connector_edit", "connector_delete"])
def test_pages_that_only_change_are_refused(operator_client, name):
    response = operator_client.get(reverse(name, args=IDS if name == "connector_create" else CONNECTOR))
    assert response.status_code == 403 and "You have operator access" in response.content.decode()


HIDDEN = [
    ">New connector</a>",
    ">Create the first connector</a>",
    ">Edit connector</a>",
    ">Delete connector</a>",
    ">Reconnect Google Drive</button>",
    "enter a new token</a>",
    "give it one</a>",
    ">Save schedule</button>",
    reverse("connector_freshness", args=CONNECTOR),
    'value="pause"',
    'value="resume"',
    'value="delete"',
]
SHOWN = [">Sync now</button>", ">Sync selected</button>", ">Cancel sync</button>"]


def seen_pages(client, sync_id) -> str:
    urls = [
        reverse("connector_list", args=IDS),
        reverse("connector_detail", args=CONNECTOR),
        reverse("sync_detail", args=[*CONNECTOR, sync_id]),
        reverse("overview_rows"),  # the overview's rows and bulk bar, which htmx asks for
        reverse("home"),
    ]
    pages = []
    for url in urls:
        response = client.get(url, **(HTMX if url == reverse("overview_rows") else {}))
        assert response.status_code == 200, (url, response.status_code)
        pages.append(response.content.decode())
    return "".join(pages)


def test_operators_see_sync_controls_and_no_other_change_buttons(operator_client, admin_client, oauth_configured):
    sync_id = running_sync_id(admin_client)
    seen = seen_pages(operator_client, sync_id)
    assert [b for b in HIDDEN if b in seen] == []
    assert [b for b in SHOWN if b not in seen] == []
    assert "badge-operator" in seen and "badge-read-only" not in seen  # the badge in the top bar
    # A team admin sees them all (the same pages, the same sandbox), and no badge.
    admin_seen = seen_pages(admin_client, sync_id)
    missing = [b for b in HIDDEN if b not in admin_seen and b not in (">Create the first connector</a>",)]
    assert missing == [] or missing == ["enter a new token</a>"]
    assert "badge-operator" not in admin_seen


def test_read_only_wins_over_operator(operator_user):
    assert is_operator(operator_user)
    operator_user.groups.add(Group.objects.get_or_create(name="Read-only")[0])
    del operator_user._console_role
    assert not is_operator(operator_user)


def test_a_migration_creates_the_group():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("connectors.migrations.0006_operator_and_team")
    Group.objects.filter(name=OPERATOR_GROUP).delete()
    migration.create_group(apps, None)
    migration.create_group(apps, None)  # idempotent
    assert Group.objects.filter(name=OPERATOR_GROUP).count() == 1
