"""Helpers for the OAuth tests: providers configured against the sandbox's own OAuth provider, and the steps a
browser would take (start -> provider page -> callback) done with Django's test client and plain HTTP."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, EMPTY_COLLECTION_ID

CREATE_URL = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
SLUGS = ("google-drive", "slack", "github")


def sandbox_oauth_settings(base_url: str) -> dict:
    return {
        slug: {
            "client_id": f"console-{slug}",
            "client_secret": f"secret-{slug}",
            "authorize_url": f"{base_url}/oauth/{slug}/authorize",
            "token_url": f"{base_url}/oauth/{slug}/token",
            "scopes": None,
        }
        for slug in SLUGS
    }


@pytest.fixture
def oauth_sandbox(settings, sandbox_api):
    """Every provider's OAuth client points at the sandbox."""
    settings.OAUTH_PROVIDERS = sandbox_oauth_settings(sandbox_api.url)
    return sandbox_api


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def detail_url(connector_id, collection_id=DEMO_COLLECTION_ID):
    return reverse("connector_detail", args=[DEMO_SPACE_ID, collection_id, connector_id])


def create_form_data(client, slug="google-drive", **fields):
    """The create form as the browser posts it when "Connect" is pressed (formaction = the start URL)."""
    from tests.views.helpers import idempotency_token

    data = {
        "idempotency_token": idempotency_token(client.get(CREATE_URL + f"?provider={slug}")),
        "provider": slug,
        "access_token": "",
        "refresh_token": "",
        "scope_extra": "",
        "next": CREATE_URL,
    }
    data.update(fields)
    return data


def start(client, slug="google-drive", **data):
    """POST /oauth/<slug>/start/; returns the response (a redirect to the provider's authorize URL)."""
    return client.post(reverse("oauth_start", args=[slug]), data)


def decide(authorize_url: str, decision: str = "allow") -> str:
    """The user at the sandbox's consent page: returns where the sandbox sends the browser back (the callback)."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    assert "Allow" in page.text and "Deny" in page.text
    params = query(authorize_url)
    form = {
        k: params[k]
        for k in ("client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
        if k in params
    }
    form["decision"] = decision
    answer = requests.post(authorize_url.split("?")[0], data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def callback_path(location: str) -> str:
    """The console-relative callback URL (path + query) from an absolute redirect."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"
