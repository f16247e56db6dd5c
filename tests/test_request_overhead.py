"""What each request costs the cache, the database and the process (issue 14): a poll served from the poll cache is
one cache round trip; the role and the stored key are one statement; a stored secret is not decrypted twice in a
minute; the environment is read once per upstream; one redis.Redis serves every command of a process; the request's
user comes with its role and key in one statement."""

from concurrent.futures import ThreadPoolExecutor
from unittest.mock import patch

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from connectors import fields, principal, selectors, services
from connectors.aimable import client as client_module
from connectors.aimable.types import Sync
from connectors.auth import ConsoleBackend
from connectors.models import ApiKey
from connectors.permissions import READ_ONLY_GROUP, role_of
from connectors.upstream import ApiKeyMissing, client_for

SECRET = "aim_test_overhead_SECRET_1234"


class CountingClient:
    cache_fingerprint = "fp-overhead"

    def __init__(self):
        self.calls = 0

    def get_sync(self, space_id, collection_id, connector_id, sync_id):
        self.calls += 1
        return Sync.from_api({"id": sync_id, "status": "running", "records_fetched": 7, "metadata": {}})


class CacheCalls:
    """Counts the cache operations (each is one round trip to Redis)."""

    def __init__(self, monkeypatch):
        self.names, self.depth = [], 0
        for name in ("get", "get_many", "add", "set", "delete", "set_many", "delete_many"):
            original = getattr(cache, name)
            monkeypatch.setattr(cache, name, self._counted(name, original))

    def _counted(self, name, original):
        def counted(*args, **kwargs):
            if not self.depth:  # the local-memory cache's get_many calls its get: one operation all the same
                self.names.append(name)
            self.depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1

        return counted


def status(client):
    return selectors.sync_status(client=client, space_id="sp", collection_id="co", connector_id="c1", sync_id="s1")


def test_a_poll_served_from_the_cache_is_one_round_trip(settings, monkeypatch):
    settings.SYNC_CACHE_SECONDS = 60
    client = CountingClient()
    first = status(client)  # the refresh: read, lock, upstream, new copy, unlock, progress
    assert not first.progress["stalled"] and client.calls == 1
    calls = CacheCalls(monkeypatch)
    again = status(client)
    assert client.calls == 1
    assert calls.names == ["get_many"]  # the sync and its progress together
    assert again.sync.records_fetched == 7 and again.progress["stalled"] is False


def test_a_refresh_costs_four_round_trips_and_the_progress_one_more_only_when_it_moved(settings, monkeypatch):
    settings.SYNC_CACHE_SECONDS = 0  # every read goes upstream
    client = CountingClient()
    status(client)
    calls = CacheCalls(monkeypatch)
    status(client)  # records_fetched did not move: nothing to write for the progress
    assert client.calls == 2
    assert calls.names == ["get_many", "add", "delete", "set"]


def test_the_first_poll_reads_the_untracked_progress_with_the_sync(settings, monkeypatch):
    settings.SYNC_CACHE_SECONDS = 60
    calls = CacheCalls(monkeypatch)
    status(CountingClient())
    assert calls.names == ["get_many", "add", "delete", "set", "set"]  # the last: the progress, first seen


def test_stall_tracking_still_works_through_the_combined_read(settings, monkeypatch):
    settings.SYNC_CACHE_SECONDS = 0
    settings.SYNC_STALL_SECONDS = 60
    now = [1_000_000.0]
    monkeypatch.setattr(selectors.time, "time", lambda: now[0])
    client = CountingClient()
    assert not status(client).progress["stalled"]
    now[0] += 61
    assert status(client).progress["stalled"]


@pytest.mark.django_db
def test_role_and_key_come_in_one_statement(user):
    ApiKey.objects.create(user=user, secret=SECRET, auth_scheme="x-api-key")
    user.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    with CaptureQueriesContext(connection) as queries:
        assert role_of(user) == READ_ONLY_GROUP
        api = client_for(user)
        client_for(user)
    assert len(queries.captured_queries) == 1
    assert api._api_key == SECRET and api.auth_scheme == "x-api-key"
    assert SECRET not in queries.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_no_key_stored_and_a_team_admin(user):
    assert role_of(user) == ""
    with pytest.raises(ApiKeyMissing):
        client_for(user)


@pytest.mark.django_db
def test_a_saved_or_removed_key_is_read_again_and_names_new_cache_entries(user):
    services.api_key_save(user=user, secret=SECRET, auth_scheme="bearer", verified=True)
    before = client_for(user).cache_fingerprint
    services.api_key_save(user=user, secret=SECRET + "2", auth_scheme="bearer", verified=True)
    replaced = client_for(user)
    assert replaced._api_key == SECRET + "2" and replaced.cache_fingerprint != before
    services.api_key_delete(user=user)
    with pytest.raises(ApiKeyMissing):
        client_for(user)


@pytest.mark.django_db
def test_a_key_no_configured_key_decrypts_is_missing(user, settings):
    ApiKey.objects.create(user=user, secret=SECRET, auth_scheme="bearer")
    settings.FIELD_ENCRYPTION_KEYS = ["bmV3LWZpZWxkLWtleS1vbmx5LTAxMjM0NTY3ODlhYmM="]
    assert principal.stored_key(user).usable is False
    with pytest.raises(ApiKeyMissing):
        client_for(user)


def test_a_stored_secret_is_decrypted_once_a_minute(monkeypatch):
    token = fields.encrypt(SECRET)
    decryptions = []
    original = fields.decrypt
    monkeypatch.setattr(fields, "decrypt", lambda t: decryptions.append(t) or original(t))
    now = [100.0]
    monkeypatch.setattr(fields.time, "monotonic", lambda: now[0])
    fields._decrypted.clear()
    assert [fields.decrypt_stored(token) for _ in range(5)] == [SECRET] * 5
    assert len(decryptions) == 1
    now[0] += fields.DECRYPTED_SECONDS + 1
    assert fields.decrypt_stored(token) == SECRET
    assert len(decryptions) == 2
    assert fields.decrypt_stored(fields.encrypt(SECRET)) == SECRET  # the same secret saved again: a new token
    assert len(decryptions) == 3
    fields._decrypted.clear()


def test_the_environment_is_read_once_per_upstream(monkeypatch):
    client_module._environment_settings.cache_clear()
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "curl_ca_bundle"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    try:
        proxies, verify = client_module._environment_settings("https://api.aimable.example")
        assert proxies.get("https") == "http://proxy.example:3128"
        assert verify == "/etc/ssl/certs/ca-certificates.crt"
        assert client_module._environment_settings("https://api.internal.example")[0] == {}  # NO_PROXY
        monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")
        assert client_module._environment_settings("https://api.aimable.example")[0] == proxies  # read once
    finally:
        client_module._environment_settings.cache_clear()
    assert client_module.shared_session().trust_env is False


def test_one_redis_client_per_server_for_every_thread():
    """Django keeps a cache object per thread: they share one client, so a thread does not connect afresh."""
    from console.cache import SharedClientRedisCacheClient

    redis_cache = SharedClientRedisCacheClient(["redis://127.0.0.1:6379/0"])
    assert redis_cache.get_client("a") is redis_cache.get_client("b", write=True)
    with ThreadPoolExecutor(1) as other_thread:
        its_own = other_thread.submit(lambda: SharedClientRedisCacheClient(["redis://127.0.0.1:6379/0"])).result()
    assert its_own.get_client("a") is redis_cache.get_client("a")
    assert SharedClientRedisCacheClient(["redis://127.0.0.1:6379/1"]).get_client() is not redis_cache.get_client()


@pytest.mark.django_db
def test_the_request_user_comes_with_its_role_and_key_in_one_statement(client, user):
    ApiKey.objects.create(user=user, secret=SECRET, auth_scheme="x-api-key")
    user.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    client.force_login(user)  # the first listed backend with get_user: ConsoleBackend
    request = RequestFactory().get("/")
    request.session = client.session
    assert request.session["_auth_user_backend"] == "connectors.auth.ConsoleBackend"  # the session read first
    with CaptureQueriesContext(connection) as queries:
        loaded = get_user(request)
        assert loaded.pk == user.pk and loaded.username == user.username and loaded.is_active
        assert loaded.date_joined == user.date_joined and loaded.password == user.password
        assert role_of(loaded) == READ_ONLY_GROUP
        assert client_for(loaded)._api_key == SECRET
    assert len(queries.captured_queries) == 1
    assert SECRET not in queries.captured_queries[0]["sql"]
    assert ConsoleBackend().get_user(user.pk + 1000) is None
    user.is_active = False
    user.save()
    assert ConsoleBackend().get_user(user.pk) is None


@pytest.mark.django_db
def test_a_session_signed_in_through_model_backend_stays_signed_in(client, user):
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("api_keys"))
    assert response.status_code == 200 and response.wsgi_request.user.pk == user.pk
    assert client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"


@pytest.mark.django_db
def test_a_sign_in_is_answered_by_console_backend_and_a_wrong_password_checked_once(client, django_user_model):
    django_user_model.objects.create_user("ada", password="right-password-123")
    checks = []
    original = ModelBackend.authenticate

    def counted(self, *args, **kwargs):
        checks.append(type(self).__name__)
        return original(self, *args, **kwargs)

    failures = []
    user_login_failed.connect(receiver := lambda **kwargs: failures.append(kwargs), weak=False)
    try:
        with patch.object(ModelBackend, "authenticate", counted):
            response = client.post(reverse("login"), {"username": "ada", "password": "wrong-password"})
            assert response.status_code == 200 and "_auth_user_id" not in client.session
            assert checks == ["ConsoleBackend"] and len(failures) == 1  # not checked again by ModelBackend
            client.post(reverse("login"), {"username": "ada", "password": "right-password-123"})
    finally:
        user_login_failed.disconnect(receiver)
    assert client.session["_auth_user_backend"] == "connectors.auth.ConsoleBackend"


@pytest.mark.django_db
def test_through_request_users_lazy_object_too(user):
    """request.user is a lazy object around the user: what the user was loaded with is found through it."""
    ApiKey.objects.create(user=user, secret=SECRET, auth_scheme="bearer")
    lazy = SimpleLazyObject(lambda: ConsoleBackend().get_user(user.pk))
    with CaptureQueriesContext(connection) as queries:
        assert role_of(lazy) == "" and client_for(lazy)._api_key == SECRET
        assert principal.top_bar(lazy) == principal.TopBar(theme="auto", unread_alerts=0)
    assert len(queries.captured_queries) == 1
    principal.forget_stored_key(lazy)
    principal.forget_top_bar(lazy)
    with CaptureQueriesContext(connection) as queries:
        client_for(lazy)
        principal.top_bar(lazy)
    assert len(queries.captured_queries) == 1  # read again, once


@pytest.mark.django_db
def test_names_and_health_marks_of_many_ids_in_one_statement_per_500(user, other_user):
    from connectors import naming
    from connectors.alerts import selectors as alert_selectors
    from connectors.alerts.models import ConnectorHealth, ConnectorSettings, Watch

    space, collection = "7a5f3b1d-8e2c-4f1a-b9c0-1d2e3f4a5b6c", "5d1f8a3c-2b9e-4c6d-a7f0-8e4b2d6c9a13"
    ids = [f"conn-{i:04d}" for i in range(1200)]
    named = ids[::7]
    ConnectorSettings.objects.bulk_create(
        ConnectorSettings(connector_id=i, space_id=space, collection_id=collection, name=f"Name {i}") for i in named
    )
    watch = Watch.objects.create(user=user, scope=Watch.Scope.SPACE, space_id=space)
    paused = Watch.objects.create(user=other_user, scope=Watch.Scope.SPACE, space_id=space, paused="key_replaced")
    states = {ids[5]: "failing", ids[700]: "needs_reauth", ids[701]: "paused", ids[1100]: "stale"}
    for connector_id, state in states.items():
        ConnectorHealth.objects.create(
            watch=watch, space_id=space, collection_id=collection, connector_id=connector_id, state=state
        )
    ConnectorHealth.objects.create(  # a paused watch marks nothing
        watch=paused, space_id=space, collection_id=collection, connector_id=ids[6], state="failing"
    )
    with CaptureQueriesContext(connection) as queries:
        names = naming.names_for(ids)
        marks = alert_selectors.health_marks(ids)
    assert len(queries.captured_queries) == 6  # 1,200 ids: 3 statements each
    assert set(names) == set(named) and names[named[3]].name == f"Name {named[3]}"
    assert {i: m.state for i, m in marks.items()} == {ids[5]: "failing", ids[700]: "needs_reauth", ids[1100]: "stale"}
    assert all(isinstance(m, ConnectorHealth) for m in marks.values())
