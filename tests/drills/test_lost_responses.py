"""A create whose answer is lost (the upstream committed, then the connection failed or timed out), and a double
POST race: the user's retry, or two identical POSTs at once, create exactly one connector."""

import threading

import pytest
from django.urls import reverse

from sandbox import DEMO_ADMIN_KEY, DEMO_SPACE_ID, EMPTY_COLLECTION_ID
from tests.processes import (  # noqa: F401 - fixtures
    Browser,
    collected_static,
    free_port,
    prepare_database,
    processes,
    production_env,
    sandbox_control,
    store_api_key,
)
from tests.views.helpers import connectors_in, fail_fast, idempotency_token, upstream_writes

URL = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
TOKEN = "ya29.lost-answer-secret-token-9876"


def _form(client):
    return {
        "idempotency_token": idempotency_token(client.get(URL)),
        "provider": "google-drive",
        "access_token": TOKEN,
        "scope_folder_ids": "1LOST",
        "scope_extra": "",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "lost",
    [
        pytest.param({"status": 504}, id="gateway-timeout-after-commit"),
        pytest.param({"hang": True, "hang_seconds": 2}, id="connection-hangs-after-commit"),
    ],
)
def test_a_lost_answer_then_the_same_post_again_creates_one_connector(admin_client, sandbox_api, settings, lost):
    fail_fast(settings)  # read timeout 0.5 s
    sandbox_api.add_rule(method="POST", path_contains="/connectors", after_commit=True, **lost)
    data = _form(admin_client)

    first = admin_client.post(URL, data)
    assert first.status_code == 200
    assert "it will not create a duplicate" in first.content.decode()
    assert len(connectors_in(sandbox_api, EMPTY_COLLECTION_ID)) == 1  # the upstream did create it

    retry = admin_client.post(URL, data)  # the browser sends exactly the same POST again
    assert retry.status_code == 302
    (connector,) = connectors_in(sandbox_api, EMPTY_COLLECTION_ID)
    assert retry.url.endswith(f"/connectors/{connector['id']}/")
    writes = upstream_writes(sandbox_api)
    assert len(writes) == 2 and len({w["idempotency_key"] for w in writes}) == 1


def test_two_identical_posts_at_once_create_one_connector(processes, collected_static, tmp_path):  # noqa: F811
    """The same form sent twice at once (a double click with no JavaScript, two tabs) to a real gunicorn with
    threads, both requests in flight at the upstream together: one connector, and both land on it."""
    sandbox = processes.sandbox()
    env = production_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/console.sqlite3",
        STATIC_ROOT=collected_static,
        AIMABLE_API_URL=sandbox,
        PORT=free_port(),
    )
    prepare_database(env, "racer", "a-long-test-password-42")
    console = processes.gunicorn("console", env)
    browser = Browser(console)
    browser.sign_in("racer", "a-long-test-password-42")
    store_api_key(browser, DEMO_ADMIN_KEY)

    data = {
        **browser.form_tokens(URL),
        "provider": "google-drive",
        "access_token": TOKEN,
        "scope_folder_ids": "1RACE",
        "scope_extra": "",
    }
    # Both POSTs reach the upstream, and wait there together before it answers.
    sandbox_control(
        sandbox,
        "POST",
        "rules",
        {"method": "POST", "path_contains": "/connectors", "times": 2, "delay_ms": 600, "passthrough": True},
    )
    barrier = threading.Barrier(2)
    responses = [None, None]

    def submit(i):
        barrier.wait(5)
        responses[i] = browser.post(URL, data)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert [r.status_code for r in responses] == [302, 302], [r.text[:2000] for r in responses if r is not None]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    created = sandbox_control(sandbox, "GET", "requests")
    posts = [r for r in created if r["method"] == "POST" and r["path"].endswith("/connectors")]
    assert len(posts) == 2 and len({p["idempotency_key"] for p in posts}) == 1
    listed = browser.http.get(
        f"{sandbox}/v1/spaces/{DEMO_SPACE_ID}/collections/{EMPTY_COLLECTION_ID}/connectors",
        headers={"Authorization": f"Bearer {DEMO_ADMIN_KEY}"},
        timeout=10,
    ).json()
    assert len(listed["data"]) == 1
    assert responses[0].headers["Location"].endswith(f"/connectors/{listed['data'][0]['id']}/")
