import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from connectors.models import AuditEvent
from connectors.permissions import OPERATOR_GROUP, READ_ONLY_GROUP
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, ENGINEERING_FOLDER_ID
from tests.conftest import PASSWORD, store_key
from tests.oauth.conftest import sandbox_oauth_settings

IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
CONNECTOR = [*IDS, DRIVE_CONNECTOR_ID]
A = AuditEvent.Action

# Changes refused to read-only users and to operators alike: label -> (URL, method, data, the action the audit log
# records).
CONNECTOR_CHANGES = {
    "create": (
        reverse("connector_create", args=IDS),
        "post",
        {"provider": "google-drive", "access_token": "ya29.x", "scope_folder_ids": "f1"},
        A.CONNECTOR_CREATE,
    ),
    "edit": (reverse("connector_edit", args=CONNECTOR), "post", {"status": "paused"}, A.CONNECTOR_UPDATE),
    "delete": (reverse("connector_delete", args=CONNECTOR), "post", {}, A.CONNECTOR_DELETE),
    "scope": (
        reverse("connector_browse", args=CONNECTOR),
        "post",
        {"seen:folder_ids": ENGINEERING_FOLDER_ID, "save": "1"},
        A.SCOPE_UPDATE,
    ),
    "reconnect": (
        reverse("oauth_start", args=["google-drive"]),
        "post",
        {"next": reverse("connector_detail", args=CONNECTOR)},
        A.CREDENTIAL_UPDATE,
    ),
    "callback": (
        reverse("oauth_callback", args=["google-drive"]) + "?code=c&state=s",
        "get",
        None,
        A.CREDENTIAL_UPDATE,
    ),
}


def member_of(django_user_model, username: str, group: str):
    user = django_user_model.objects.create_user(username, password=PASSWORD)
    # A migration makes the group; get_or_create because browser tests (live_server) flush every table after them.
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def signed_in(user, key: str) -> Client:
    store_key(user, key)
    client = Client()
    client.force_login(user)
    return client


def sync_started(response) -> str:
    """The id of the sync a "Sync now" or "Retry" started (the page it redirects to)."""
    assert response.status_code == 302, response.status_code
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


def running_sync_id(client) -> str:
    """Starts a sync of the Drive connector; its id."""
    return sync_started(client.post(reverse("sync_trigger", args=CONNECTOR), {"provider_slug": "google-drive"}))


@pytest.fixture
def read_only_user(django_user_model):
    return member_of(django_user_model, "carol", READ_ONLY_GROUP)


@pytest.fixture
def read_only_client(read_only_user, sandbox_api):
    """carol, a read-only team member, signed in with the sandbox's all-spaces key."""
    return signed_in(read_only_user, sandbox_api.admin_key)


@pytest.fixture
def operator_user(django_user_model):
    return member_of(django_user_model, "olive", OPERATOR_GROUP)


@pytest.fixture
def operator_client(operator_user, sandbox_api):
    """olive, an operator, signed in with the sandbox's all-spaces key."""
    return signed_in(operator_user, sandbox_api.admin_key)


@pytest.fixture
def oauth_configured(settings, sandbox_api):
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
