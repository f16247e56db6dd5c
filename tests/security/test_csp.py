"""The Content Security Policy: strict (nothing inline, nothing evaluated, no framing), and templates that need no
exception to it. The browser test (tests/e2e/test_csp.py) shows htmx works under it."""

import re
from pathlib import Path

import pytest

from tests.oauth.conftest import sandbox_oauth_settings

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_the_policy(admin_client):
    directives = policy(admin_client.get("/"))
    assert directives == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
    header = admin_client.get("/").headers["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header


def test_every_response_has_it(client, sandbox_api):
    for response in (client.get("/accounts/login/"), client.get("/healthz"), client.get("/no-such-page/")):
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_form_action_allows_exactly_the_configured_oauth_providers_authorize_origins(
    admin_client, settings, sandbox_api
):
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    settings.OAUTH_PROVIDERS["github"]["authorize_url"] = "https://github.com/login/oauth/authorize"
    settings.OAUTH_PROVIDERS["slack"]["authorize_url"] = "https://slack.com/oauth/v2/authorize"
    directives = policy(admin_client.get("/"))
    # No wildcard (https://*.slack.com): nothing under the providers' domains but their authorize origins.
    assert directives["form-action"] == ["'self'", sandbox_api.url, "https://slack.com", "https://github.com"]
    assert directives["script-src"] == ["'self'"]


TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
INLINE = {
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "<style> element": re.compile(r"<style[\s>]", re.I),
    "inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "htmx attribute that evaluates": re.compile(
        r"\s(hx-on|hx-vars|data-hx-on)[\w:-]*\s*=|hx-vals\s*=\s*['\"]js:", re.I
    ),
    "htmx trigger filter (evaluated)": re.compile(r"hx-trigger\s*=\s*\"[^\"]*\[", re.I),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_templates_have_nothing_inline(template):
    text = template.read_text()
    found = [name for name, pattern in INLINE.items() if pattern.search(text)]
    assert not found, f"{template.name}: {', '.join(found)}"


def test_htmx_config_turns_off_what_would_need_unsafe_inline():
    base = (ROOT / "templates" / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base
