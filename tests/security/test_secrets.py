"""Two team admins, each with their own API key and OAuth tokens, go through every page and every error path:
neither user's key nor any token appears in any response (body or headers) or in any log line."""

import io
import logging
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from sandbox import DEMO_SPACE_ID, EMPTY_COLLECTION_ID, ENGINEERING_FOLDER_ID
from tests.conftest import store_key
from tests.oauth.conftest import CREATE_URL, callback_path, create_form_data, decide, sandbox_oauth_settings, start
from tests.views.helpers import connectors_in, fail_fast, idempotency_token

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


class Seen:
    """Everything the console said: response bodies and headers, and every log record, raw and as formatted by the
    root logger's own handlers (with their filters)."""

    def __init__(self):
        self.responses: list[tuple[str, str]] = []
        self.stream = io.StringIO()

    def add(self, label, response):
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        body = response.content.decode(errors="replace") if not response.streaming else ""
        self.responses.append((f"{label} -> {response.status_code}", headers + "\n\n" + body))
        assert response.status_code < 500 or response.status_code in (502, 503), (label, response.status_code)
        return response


@pytest.fixture
def seen(caplog):
    caplog.set_level(logging.DEBUG)
    record = Seen()
    root = logging.getLogger()
    clones = []
    for handler in list(root.handlers):
        if handler.formatter is None:
            continue
        clone = logging.StreamHandler(record.stream)
        clone.setFormatter(handler.formatter)
        for f in handler.filters:
            clone.addFilter(f)
        root.addHandler(clone)
        clones.append(clone)
    record.caplog = caplog
    yield record
    for clone in clones:
        root.removeHandler(clone)


def logged(seen) -> str:
    raw = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.__dict__!r}" for r in seen.caplog.records)
    return seen.caplog.text + "\n" + seen.stream.getvalue() + "\n" + raw


@pytest.fixture
def two_admins(django_user_model, sandbox_api, settings):
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    users = {}
    for name in ("alice", "bob"):
        user = django_user_model.objects.create_user(name, password="correct-horse-battery")
        key = sandbox_api.add_key(f"aim_{name}_secret_{uuid.uuid4().hex}", principal=f"user-{name}")
        store_key(user, key, scheme="bearer" if name == "alice" else "x-api-key")
        client = Client()
        client.force_login(user)
        users[name] = {"user": user, "key": key, "client": client}
    return users


def secrets_of(sandbox_api, two_admins, extra=()) -> set[str]:
    values = {u["key"] for u in two_admins.values()} | set(extra)
    values |= set(sandbox_api.oauth_tokens())
    with sandbox_api.state.lock:
        connectors = list(sandbox_api.state.connectors.values())
    for connector in connectors:
        for value in (connector.get("credential") or {}).values():
            if isinstance(value, str) and len(value) >= 12:
                values.add(value)
    values |= {conf["client_secret"] for conf in sandbox_oauth_settings(sandbox_api.url).values()}
    return values


def connect_and_create(client, seen, sandbox_api) -> str:
    """alice: Connect Google Drive through the sandbox's consent page, then create the connector with it."""
    data = create_form_data(client, "google-drive", scope_folder_ids=ENGINEERING_FOLDER_ID)
    response = seen.add("oauth start", start(client, "google-drive", **data))
    back = seen.add("oauth callback", client.get(callback_path(decide(response["Location"]))))
    form = seen.add("create form after connect", client.get(back["Location"]))
    token = idempotency_token(form)
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=500, times=1)
    post = {"provider": "google-drive", "idempotency_token": token, "scope_folder_ids": ENGINEERING_FOLDER_ID}
    seen.add("create upstream 500", client.post(CREATE_URL, post))
    created = seen.add("create", client.post(CREATE_URL, post))
    assert created.status_code == 302, created.content.decode()[:2000]
    return created["Location"].rstrip("/").rsplit("/", 1)[-1]


def typed_tokens_create(client, seen, sandbox_api) -> tuple[str, list[str]]:
    """bob: types a Slack token, meets a 422 and a timeout, then creates the connector."""
    typed = [f"xoxb-bob-typed-{uuid.uuid4().hex}", f"xoxe-bob-refresh-{uuid.uuid4().hex}"]
    url = CREATE_URL
    token = idempotency_token(client.get(url + "?provider=slack"))
    post = {
        "provider": "slack",
        "idempotency_token": token,
        "access_token": typed[0],
        "refresh_token": typed[1],
        "scope_channel_ids": "C1",
    }
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=422, times=1)
    seen.add("create 422", client.post(url, post))
    seen.add("create invalid JSON", client.post(url, {**post, "scope_extra": "{nope"}))
    seen.add("create change provider", client.post(url, {**post, "change_provider": "1", "provider": "github"}))
    sandbox_api.add_rule(method="POST", path_contains="/connectors", hang=True, hang_seconds=2, times=1)
    seen.add("create timeout", client.post(url, post))
    response = seen.add("create", client.post(url, post))
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rstrip("/").rsplit("/", 1)[-1], typed


def pages(collection_id, connector_id, sync_id) -> list[tuple[str, str, dict]]:
    ids = [DEMO_SPACE_ID, collection_id, connector_id]
    return [
        ("home", reverse("home"), {}),
        ("list", reverse("connector_list", args=ids[:2]), {}),
        ("create form", reverse("connector_create", args=ids[:2]), {}),
        ("detail", reverse("connector_detail", args=ids), {}),
        ("syncs panel", reverse("connector_detail", args=ids), HTMX),
        ("sync history", reverse("sync_list", args=ids), {}),
        ("latest sync", reverse("sync_latest", args=ids), HTMX),
        ("sync", reverse("sync_detail", args=[*ids, sync_id]), {}),
        ("sync status", reverse("sync_detail", args=[*ids, sync_id]), HTMX),
        ("browse", reverse("connector_browse", args=ids), {}),
        (
            "browse children",
            reverse("connector_browse", args=ids) + f"?parent_id={ENGINEERING_FOLDER_ID}",
            HTMX,
        ),
        ("edit", reverse("connector_edit", args=ids), {}),
        ("delete", reverse("connector_delete", args=ids), {}),
        ("api keys", reverse("api_keys"), {}),
        ("audit", reverse("audit_log"), {}),
        ("oauth settings", reverse("oauth_settings"), {}),
        ("not found", "/no-such-page/", {}),
    ]


ERRORS = [
    {"status": 401},
    {"status": 403},
    {"status": 404},
    {"status": 422},
    {"status": 500},
    {"status": 503, "retry_after": 7},
    {"status": 429, "retry_after": 3},
    {"status": 502, "body": "html"},
    {"status": 200, "body": "html"},
]


def test_no_secret_in_any_page_or_log_line(two_admins, sandbox_api, settings, seen):
    fail_fast(settings)
    alice, bob = two_admins["alice"]["client"], two_admins["bob"]["client"]
    alice_connector = connect_and_create(alice, seen, sandbox_api)
    bob_connector, typed = typed_tokens_create(bob, seen, sandbox_api)

    # Reconnect (alice), edits with new tokens through a 422 and a 500 (bob), a sync each.
    detail = reverse("connector_detail", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, alice_connector])
    response = seen.add("reconnect start", alice.post(reverse("oauth_start", args=["google-drive"]), {"next": detail}))
    seen.add("reconnect callback", alice.get(callback_path(decide(response["Location"]))))
    edit = reverse("connector_edit", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, bob_connector])
    new_token = f"xoxb-bob-new-{uuid.uuid4().hex}"
    typed.append(new_token)
    for rule in ({"status": 422}, {"status": 500}, None):
        if rule:
            sandbox_api.add_rule(method="PATCH", **rule)
        seen.add(
            f"edit {rule}", bob.post(edit, {"status": "active", "access_token": new_token, "scope_channel_ids": "C1"})
        )
    sync_ids = {}
    for name, client, connector in (("alice", alice, alice_connector), ("bob", bob, bob_connector)):
        response = seen.add(
            "sync", client.post(reverse("sync_trigger", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, connector]))
        )
        sync_ids[name] = response["Location"].rstrip("/").rsplit("/", 1)[-1]

    # Every page, as is and after each kind of upstream failure; and the hang (a timeout) on a few.
    for name, client, connector in (("alice", alice, alice_connector), ("bob", bob, bob_connector)):
        for label, url, headers in pages(EMPTY_COLLECTION_ID, connector, sync_ids[name]):
            seen.add(f"{name} {label}", client.get(url, **headers))
            for error in ERRORS:
                sandbox_api.add_rule(times=1, **error)
                seen.add(f"{name} {label} {error}", client.get(url, **headers))
                sandbox_api.clear_rules()
        for label, url, headers in pages(EMPTY_COLLECTION_ID, connector, sync_ids[name])[1:4]:
            sandbox_api.add_rule(times=1, hang=True, hang_seconds=2)
            seen.add(f"{name} {label} timeout", client.get(url, **headers))
            sandbox_api.clear_rules()

    # The key page's error paths: a rejected key, and an upstream that fails while checking it.
    for rule in ({"status": 401}, {"status": 500}, {"hang": True, "hang_seconds": 2}):
        sandbox_api.add_rule(times=1, **rule)
        seen.add(
            f"key {rule}", bob.post(reverse("api_keys"), {"secret": two_admins["bob"]["key"], "auth_scheme": "bearer"})
        )
    seen.add(
        "key rejected",
        alice.post(reverse("api_keys"), {"secret": "aim_wrong_" + uuid.uuid4().hex, "auth_scheme": "bearer"}),
    )
    # The other user's connector pages: their key reaches it, but the pages must not show the credential.
    seen.add(
        "alice on bob's",
        alice.get(reverse("connector_detail", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, bob_connector])),
    )
    # Deleting, after an upstream failure.
    sandbox_api.add_rule(method="DELETE", status=500, times=1)
    delete = reverse("connector_delete", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, bob_connector])
    seen.add("delete 500", bob.post(delete))
    seen.add("delete", bob.post(delete))

    assert len(connectors_in(sandbox_api, EMPTY_COLLECTION_ID)) == 1
    secrets = secrets_of(sandbox_api, two_admins, typed)
    # Both keys, OAuth access and refresh tokens (Connect and Reconnect), typed tokens, the OAuth client secrets.
    for prefix in (
        "aim_alice_",
        "aim_bob_",
        "ya29.sandbox-",
        "1//sandbox-",
        "xoxb-bob-typed-",
        "xoxe-bob-refresh-",
        "xoxb-bob-new-",
        "secret-google-drive",
    ):
        assert any(s.startswith(prefix) for s in secrets), prefix
    assert sum(s.startswith("ya29.sandbox-") for s in secrets) >= 2
    leaks = [(label, s) for label, text in seen.responses for s in secrets if s in text]
    assert not leaks, leaks[:5]
    text = logged(seen)
    assert len(seen.caplog.records) > 200  # the logs were captured
    leaked = [s for s in secrets if s in text]
    assert not leaked, leaked
