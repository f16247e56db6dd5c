"""The sandbox as an OAuth 2.0 provider for Google Drive, Slack and GitHub, so the console's "Connect" and
"Reconnect" work with no internet.

    GET  /oauth/<provider>/authorize   a consent page with "Allow" and "Deny" (authorization-code flow)
    POST /oauth/<provider>/authorize   the user's decision: redirects to redirect_uri with code+state, or with
                                       error=access_denied
    POST /oauth/<provider>/token       code (+ PKCE S256 verifier when a challenge was sent) -> tokens, in the
                                       provider's own shape (Google: RFC 6749 with a refresh token; Slack:
                                       oauth.v2.access with "ok" and a bot token; GitHub: no refresh, no expiry);
                                       also grant_type=refresh_token
    GET  /oauth/<provider>/userinfo    the account an issued access token belongs to (Authorization: Bearer):
                                       {"email", "login"}, as a provider's userinfo endpoint would say it

Only registered clients are served, and only at their registered redirect URIs (exactly, as Google requires):
anything else gets an error page, never a redirect, so the consent page cannot send a code to another site.
Clients are registered when the sandbox starts (``--oauth-client CLIENT_ID=REDIRECT_URI``, kept across resets) or
later (``register_client``; the control API's ``POST /_sandbox/oauth-clients``). Codes are single use and live 10
minutes. Issued tokens are recorded in the state (``state.oauth_tokens``); the sandbox accepts them, like any
non-empty token, as connector credentials. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

from .state import SandboxState

PROVIDERS = {"google-drive": "Google Drive", "slack": "Slack", "github": "GitHub"}
# The one account that signs in at the sandbox's consent page.
ACCOUNT = {"email": "demo.admin@example.com", "login": "demo-admin"}
CODE_TTL = 600
ACCESS_TTL = 3599

# (status, headers, body, content type)
Answer = tuple[int, dict, bytes, str]


def _json(status: int, payload: dict) -> Answer:
    return status, {"Cache-Control": "no-store"}, json.dumps(payload).encode(), "application/json"


def _html(status: int, body: str, headers: dict | None = None) -> Answer:
    return status, dict(headers or {}), body.encode(), "text/html; charset=utf-8"


def _redirect(url: str) -> Answer:
    return 302, {"Location": url, "Cache-Control": "no-store"}, b"", "text/plain"


def _with_query(url: str, params: dict) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return url + ("&" if urlsplit(url).query else "?") + query


def _page(title: str, inner: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>"
        + html.escape(title)
        + "</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}"
        "button{font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem}code{background:#eee;padding:0 .25rem}"
        ".muted{color:#666;font-size:.9rem}</style></head><body>" + inner + "</body></html>"
    )


def _error_page(text: str) -> Answer:
    return _html(400, _page("Sandbox OAuth error", f"<h1>Sign-in error</h1><p>{html.escape(text)}</p>"))


def _valid_redirect_uri(value: str) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def register_client(state: SandboxState, client_id: str, redirect_uri: str) -> None:
    """Lets ``client_id`` sign users in and send them back to ``redirect_uri`` (one call per redirect URI)."""
    if not isinstance(client_id, str) or not client_id:
        raise ValueError("client_id must be a non-empty string.")
    if not isinstance(redirect_uri, str) or not _valid_redirect_uri(redirect_uri):
        raise ValueError("redirect_uri must be an absolute http(s) URL without a fragment.")
    with state.lock:
        state.oauth_clients.setdefault(client_id, set()).add(redirect_uri)


def handle(state: SandboxState, method: str, path: str, query: str, headers: dict, body: bytes) -> Answer:
    """Answer one /oauth/... request. ``headers`` has lower-cased names."""
    parts = [p for p in path.split("/") if p]
    if len(parts) != 3 or parts[0] != "oauth" or parts[1] not in PROVIDERS:
        return _json(404, {"detail": "Not Found"})
    provider, action = parts[1], parts[2]
    if action == "authorize" and method in ("GET", "HEAD"):
        return _authorize_page(state, provider, dict(parse_qsl(query, keep_blank_values=True)))
    if action == "authorize" and method == "POST":
        return _decide(state, provider, dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    if action == "token" and method == "POST":
        return _token(state, provider, headers, dict(parse_qsl(body.decode("utf-8", "replace"))))
    if action == "userinfo" and method in ("GET", "HEAD"):
        return _userinfo(state, provider, headers)
    return _json(405, {"detail": "Method Not Allowed"})


_FLOW_FIELDS = ("client_id", "redirect_uri", "scope", "user_scope", "state", "code_challenge", "code_challenge_method")


def _check_authorize(state: SandboxState, params: dict) -> str | None:
    client_id = params.get("client_id")
    if not client_id:
        return "client_id is missing."
    if not _valid_redirect_uri(params.get("redirect_uri", "")):
        return "redirect_uri is missing or not an absolute http(s) URL."
    with state.lock:
        registered = sorted(state.oauth_clients.get(client_id, ()))
    if not registered:
        return f"The client {client_id} is not registered with the sandbox (--oauth-client CLIENT_ID=REDIRECT_URI)."
    if params["redirect_uri"] not in registered:
        return f"redirect_uri is not one registered for the client {client_id}: " + ", ".join(registered)
    if params.get("response_type", "code") != "code":
        return "Only response_type=code is supported."
    if params.get("code_challenge") and params.get("code_challenge_method", "plain") != "S256":
        return "Only code_challenge_method=S256 is supported."
    return None


def _authorize_page(state: SandboxState, provider: str, params: dict) -> Answer:
    problem = _check_authorize(state, params)
    if problem:
        return _error_page(problem)
    name = PROVIDERS[provider]
    scopes = [s for s in params.get("scope", "").replace(",", " ").split() if s]
    hidden = "".join(
        f'<input type=hidden name="{field}" value="{html.escape(params[field])}">'
        for field in _FLOW_FIELDS
        if params.get(field)
    )
    scope_list = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes) or "<li>basic access</li>"
    inner = (
        f"<h1>{html.escape(name)} (sandbox)</h1>"
        f"<p>The app <code>{html.escape(params['client_id'])}</code> asks to read your {html.escape(name)} "
        f"content:</p><ul>{scope_list}</ul>"
        f'<form method=post action="/oauth/{provider}/authorize">{hidden}'
        "<button type=submit name=decision value=allow>Allow</button>"
        "<button type=submit name=decision value=deny>Deny</button></form>"
        f"<p class=muted>Simulated by the Aimable sandbox: you go back to "
        f"<code>{html.escape(params['redirect_uri'])}</code>.</p>"
    )
    return _html(200, _page(f"Allow access to {name}?", inner), {"Cache-Control": "no-store"})


def _decide(state: SandboxState, provider: str, form: dict) -> Answer:
    problem = _check_authorize(state, form)
    if problem:
        return _error_page(problem)
    if form.get("decision") != "allow":
        return _redirect(_with_query(form["redirect_uri"], {"error": "access_denied", "state": form.get("state")}))
    code = secrets.token_urlsafe(24)
    with state.lock:
        _store(state)["codes"][code] = {
            "provider": provider,
            "client_id": form["client_id"],
            "redirect_uri": form["redirect_uri"],
            "scope": form.get("scope", ""),
            "code_challenge": form.get("code_challenge") or None,
            "expires": state.now() + CODE_TTL,
        }
    return _redirect(_with_query(form["redirect_uri"], {"code": code, "state": form.get("state")}))


def _store(state: SandboxState) -> dict:
    """The OAuth part of the state: codes and refresh tokens (emptied by reset())."""
    return state.oauth


def _client_id(headers: dict, form: dict) -> str:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return form.get("client_id", "")


def _error(provider: str, error: str, description: str) -> Answer:
    """Each provider reports token errors its own way."""
    if provider == "slack":
        return _json(200, {"ok": False, "error": error})
    if provider == "github":
        return _json(200, {"error": error, "error_description": description})
    return _json(400, {"error": error, "error_description": description})


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _token(state: SandboxState, provider: str, headers: dict, form: dict) -> Answer:
    client_id = _client_id(headers, form)
    grant = form.get("grant_type", "")
    bad_code = {"slack": "invalid_code", "github": "bad_verification_code"}.get(provider, "invalid_grant")
    with state.lock:
        store = _store(state)
        if grant == "authorization_code":
            entry = store["codes"].pop(form.get("code", ""), None)  # single use, even when the rest is wrong
            if entry is None or entry["provider"] != provider or entry["expires"] < state.now():
                return _error(provider, bad_code, "The code is unknown, used or expired.")
            if entry["client_id"] != client_id:
                return _error(provider, "invalid_client", "The code was issued to another client.")
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return _error(provider, "invalid_grant", "redirect_uri does not match the authorization request.")
            if entry["code_challenge"]:
                verifier = form.get("code_verifier", "")
                if not verifier or not secrets.compare_digest(_s256(verifier), entry["code_challenge"]):
                    return _error(provider, "invalid_grant", "code_verifier does not match the code_challenge.")
            scope = entry["scope"]
        elif grant == "refresh_token" and provider != "github":
            entry = store["refresh"].get(form.get("refresh_token", ""))
            if entry is None or entry["client_id"] != client_id:
                return _error(provider, "invalid_grant", "The refresh token is unknown.")
            scope = entry["scope"]
        else:
            return _error(provider, "unsupported_grant_type", "Use authorization_code or refresh_token.")
        return _json(200, _issue(state, store, provider, client_id, scope, form.get("refresh_token")))


def _issue(state: SandboxState, store: dict, provider: str, client_id: str, scope: str, old_refresh) -> dict:
    prefix = {"google-drive": "ya29.sandbox-", "slack": "xoxb-sandbox-", "github": "gho_sandbox"}[provider]
    access_token = prefix + secrets.token_urlsafe(24)
    now = state.now()
    record = {"provider": provider, "client_id": client_id, "scope": scope, "issued_at": now}
    if provider == "github":  # an OAuth app: no refresh token, no expiry
        state.oauth_tokens[access_token] = record
        return {"access_token": access_token, "token_type": "bearer", "scope": scope.replace(" ", ",")}
    refresh_prefix = "1//sandbox-" if provider == "google-drive" else "xoxe-sandbox-"
    refresh_token = old_refresh or refresh_prefix + secrets.token_urlsafe(24)
    store["refresh"][refresh_token] = {"client_id": client_id, "scope": scope}
    state.oauth_tokens[access_token] = {**record, "expires_at": now + ACCESS_TTL}
    if provider == "slack":  # oauth.v2.access with token rotation on: the bot token at the top level
        return {
            "ok": True,
            "access_token": access_token,
            "token_type": "bot",
            "scope": scope.replace(" ", ","),
            "bot_user_id": "U0SANDBOXBOT",
            "app_id": "A0SANDBOX",
            "team": {"id": "T0SANDBOX", "name": "Acme Corp (sandbox)"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "U0DEMOADMIN"},
            "refresh_token": refresh_token,
            "expires_in": ACCESS_TTL,
        }
    return {
        "access_token": access_token,
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh_token,
        "scope": scope,
        "token_type": "Bearer",
    }


def _userinfo(state: SandboxState, provider: str, headers: dict) -> Answer:
    auth = headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    with state.lock:
        record = state.oauth_tokens.get(token) if token else None
    if record is None or record["provider"] != provider or record.get("expires_at", float("inf")) < state.now():
        return _json(401, {"error": "invalid_token", "error_description": "The access token is unknown or expired."})
    return _json(200, dict(ACCOUNT))


def issued(state: SandboxState) -> dict:
    """Tokens issued so far: {access_token: {provider, client_id, scope, issued_at, expires_at?}}."""
    with state.lock:
        return {k: dict(v) for k, v in state.oauth_tokens.items()}
