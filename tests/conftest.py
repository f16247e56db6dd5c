import pytest

from connectors.models import ApiKey
from tests.sandbox_fixtures import sandbox, sandbox_clean  # noqa: F401 - fixtures

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test starts with an empty cache (the poll cache must not leak between tests)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sandbox_api(settings, sandbox_clean):  # noqa: F811
    """The console talks to a freshly reset sandbox over real HTTP."""
    settings.AIMABLE_API_URL = sandbox_clean.url
    return sandbox_clean


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password=PASSWORD)


def store_key(user, secret, scheme="bearer"):
    return ApiKey.objects.create(user=user, secret=secret, auth_scheme=scheme)


@pytest.fixture
def admin_client(client, user, sandbox_api):
    """Signed in as alice, who has stored the sandbox's all-spaces key."""
    store_key(user, sandbox_api.admin_key)
    client.force_login(user)
    return client
