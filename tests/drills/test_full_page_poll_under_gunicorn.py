"""The connector list's cells endpoint takes up to 100 rows in one GET (`?row=<id>`, repeated; the list's own
requests ask for at most 50): 100 UUID-named rows make a request line of about 4.3 KB, over gunicorn's default limit
(4,094 bytes), which would refuse it (414) before the console saw it. The console as the Procfile runs it takes it.
"""

import html
import uuid

import pytest

from connectors.views.syncs import latest_sync_cell_id
from tests.hostile_upstream import HostileUpstream
from tests.processes import (  # noqa: F401 - fixtures
    Browser,
    collected_static,
    free_port,
    prepare_database,
    processes,
    production_env,
    store_api_key,
)

pytestmark = pytest.mark.slow

PASSWORD = "a-long-test-password-42"
SPACE, COLLECTION = str(uuid.uuid4()), str(uuid.uuid4())


def test_a_poll_of_a_hundred_running_rows_is_answered(processes, collected_static, tmp_path):  # noqa: F811
    with HostileUpstream() as upstream:  # every read: no syncs yet
        env = production_env(
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            STATIC_ROOT=collected_static,
            AIMABLE_API_URL=upstream.url,
            PORT=free_port(),
        )
        prepare_database(env, "poller", PASSWORD)
        browser = Browser(processes.gunicorn("console", env))
        browser.sign_in("poller", PASSWORD)
        store_api_key(browser, "sk-full-page-poll-key")
        rows = [str(uuid.uuid4()) for _ in range(100)]
        path = f"/spaces/{SPACE}/collections/{COLLECTION}/latest-syncs/?failures=0&" + "&".join(
            f"row={r}" for r in rows
        )
        assert len(f"GET {path} HTTP/1.1") > 4094
        response = browser.get(path, headers={"HX-Request": "true"})
    assert response.status_code == 286, response.text[:2000]  # answered: none runs any more, the poller stops
    body = html.unescape(response.text)
    assert all(f'id="{latest_sync_cell_id(r)}" hx-swap-oob="true"' in body for r in rows)
    assert body.count("Never synced") == 100
