import os

import pytest

from connectors.models import ApiKey
from tests.sandbox_fixtures import sandbox, sandbox_clean  # noqa: F401 - fixtures

PASSWORD = "correct-horse-battery"

# Hermetic: every server the tests talk to is on loopback; a proxy the shell exports (http_proxy, ...) must not
# get in between (requests honours those variables, and so do the subprocesses that inherit them).
for _name in ("no_proxy", "NO_PROXY"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost"]))


def _clear_cache():
    """Empties this run's cache. On Redis, cache.clear() would empty the whole database: the entries of other runs
    sharing it too (their tests then fail, as ours would when they clear it); only this run's prefix goes."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]  # the backend itself (django.core.cache.cache is a proxy: no isinstance)
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Each test starts with an empty cache (the poll cache must not leak between tests)."""
    _clear_cache()
    yield
    _clear_cache()


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
