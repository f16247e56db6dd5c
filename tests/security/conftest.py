import pytest
from django.contrib.auth.models import Group
from django.test import Client

from connectors.permissions import READ_ONLY_GROUP
from tests.conftest import store_key


@pytest.fixture
def read_only_user(django_user_model):
    carol = django_user_model.objects.create_user("carol", password="correct-horse-battery")
    # A migration makes the group; get_or_create because browser tests (live_server) flush every table after them.
    carol.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    return carol


@pytest.fixture
def read_only_client(read_only_user, sandbox_api):
    """carol, a read-only team member, signed in with the sandbox's all-spaces key."""
    store_key(read_only_user, sandbox_api.admin_key)
    client = Client()
    client.force_login(read_only_user)
    return client
