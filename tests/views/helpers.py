"""Small helpers shared by the connector view tests (views against the sandbox over real HTTP)."""

import html
import re

from connectors.aimable.client import AimableClient

HTMX = {"HTTP_HX_REQUEST": "true"}

_TOKEN = re.compile(r'name="idempotency_token" value="([^"]+)"')


def idempotency_token(response) -> str:
    """The signed idempotency token the create form carries in its hidden field."""
    match = _TOKEN.search(response.content.decode())
    assert match, "the create form has no idempotency_token field"
    return html.unescape(match.group(1))


def connectors_in(sandbox_api, collection_id) -> list[dict]:
    with sandbox_api.state.lock:
        return [dict(c) for c in sandbox_api.state.connectors.values() if c["collection_id"] == collection_id]


def upstream_writes(sandbox_api) -> list[dict]:
    return [r for r in sandbox_api.requests() if r["method"] in ("POST", "PATCH", "DELETE", "PUT")]


def spy_on_upstream(monkeypatch) -> list[dict]:
    """Records every call the client sends: method, path and the JSON body exactly as sent.

    (The sandbox's request log has no bodies; a PATCH must carry only what changed.)
    """
    calls: list[dict] = []
    original = AimableClient._send

    def send(self, method, path, **kwargs):
        calls.append({"method": method, "path": path, "json": kwargs.get("json")})
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(AimableClient, "_send", send)
    return calls


def fail_fast(settings) -> None:
    """A short read timeout, so that a hanging sandbox turns into a timeout quickly."""
    settings.AIMABLE_READ_TIMEOUT = 0.5
    settings.AIMABLE_DEADLINE = 3.0


def assert_readable_error_page(response, *, status, text) -> str:
    """An upstream failure: the page frame renders with the message; never a 500, never a traceback."""
    assert response.status_code == status, response.status_code
    page = response.content.decode()
    assert text in page
    assert "Aimable Connectors" in page and 'id="main"' in page  # the frame
    assert "Traceback" not in page and "Server Error (500)" not in page
    return page
