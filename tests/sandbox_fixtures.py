"""Pytest fixtures for the Aimable sandbox. Import them from tests/conftest.py:

    from tests.sandbox_fixtures import sandbox, sandbox_clean  # noqa: F401

`sandbox` (session): a sandbox.SandboxServer running in a background thread on
127.0.0.1 with a free port, quiet, syncs lasting 2 s and no random sync failures. Its API:
    .url                      base URL, e.g. "http://127.0.0.1:54321" (no trailing slash)
    .admin_key, .limited_key  the demo API keys
    .reset()                  back to the seed; faults, rules, extra keys, clock and request log cleared
    .set_faults(**kw)         latency_ms, error_rate, error_status, timeout_rate, hang_seconds,
                              non_json_rate, rate_limit_rate, retry_after, sync_seconds, fail_rate
    .add_rule(**kw)           method, path_contains, times, status, body, detail, retry_after,
                              delay_ms, hang, hang_seconds, after_commit, passthrough
    .clear_rules()
    .requests()               the /v1 request log (list of dicts), .clear_requests()
    .credential(connector_id) the stored credential
    .add_key(key, principal, spaces="*")
    .register_oauth_client(client_id, redirect_uri)   until the next reset()
    .advance(seconds)         move the sandbox clock forward
    .state                    the SandboxState (take .state.lock for multi-step reads)
`sandbox_clean` (function): the same object, reset() before the test.

Its OAuth provider serves the clients of the console under Django's test client (tests/oauth/conftest.py:
sandbox_oauth_settings), registered with their callback URLs on http://testserver, as an app is registered with a
real provider; a live server (the browser tests) registers its own, whose port changes.
"""

import pytest

from sandbox import SandboxServer

SANDBOX_TEST_SETTINGS = {"sync_seconds": 2.0, "fail_rate": 0.0}
TEST_CONSOLE_OAUTH_CLIENTS = {
    f"console-{slug}": [f"http://testserver/oauth/{slug}/callback/"] for slug in ("google-drive", "slack", "github")
}


@pytest.fixture(scope="session")
def sandbox():
    server = SandboxServer(
        "127.0.0.1", 0, quiet=True, oauth_clients=TEST_CONSOLE_OAUTH_CLIENTS, **SANDBOX_TEST_SETTINGS
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_clean(sandbox):
    sandbox.reset()
    yield sandbox


def create_connector(sandbox_api, space_id: str, collection_id: str, *, provider_slug: str, token: str) -> str:
    """A connector made through the sandbox's API with its admin key (as another client of Aimable would): its id."""
    import uuid

    import requests

    response = requests.post(
        f"{sandbox_api.url}/v1/spaces/{space_id}/collections/{collection_id}/connectors",
        json={"provider_slug": provider_slug, "credential": {"access_token": token}, "scope_config": {}},
        headers={"Authorization": f"Bearer {sandbox_api.admin_key}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["data"]["id"]
