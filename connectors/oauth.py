"""OAuth 2.0 credential capture: one generic authorization-code flow for every provider in the registry.

The console is an OAuth client of each provider (authlib's requests client does the protocol). Providers are data
(``providers.Provider.oauth``) plus per-deployment settings (``settings.OAUTH_PROVIDERS``). What the flow keeps
between the redirect and the callback lives in the user's session, server-side:

- a *flow* per ``state``: the PKCE verifier, the redirect URI and what to do afterwards; taken out (single use)
  when the callback arrives, whatever happens next;
- a *draft* of the create form (its non-secret input and its signed idempotency token), so that the user comes
  back to the same form; the captured tokens themselves go to ``pending`` (encrypted), never into the draft.

Nothing here logs a token, a code or a state.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils.crypto import salted_hmac

from . import pending
from .idempotency import unsign_idempotency_key
from .providers import OAuthSpec, Provider, TokenResponseError, get_provider

logger = logging.getLogger("connectors.oauth")

_FLOWS = "oauth_flows"
_DRAFTS = "oauth_drafts"
FLOW_MAX_AGE = 15 * 60  # seconds a user may spend at the provider
DRAFT_MAX_AGE = 24 * 60 * 60  # as long as the create form's idempotency token
_MAX_FLOWS = 5
_MAX_DRAFTS = 5
_MAX_FIELD = 20_000  # characters kept per draft field
_MAX_USERINFO_BYTES = 64 * 1024
_MAX_ACCOUNT = 254  # an email address at most

# Where a provider says which account a token belongs to ("authorized as"), when its token answer does not. Slack's
# answer names the workspace already. A deployment that moves a provider's endpoints (OAUTH_<P>_TOKEN_URL, e.g. the
# sandbox) names this one too ("userinfo_url"), or the console does not ask: a token is never sent to a host the
# deployment did not choose.
USERINFO_URLS = {
    "google-drive": "https://www.googleapis.com/drive/v3/about?fields=user(emailAddress)",  # the Drive scope suffices
    "github": "https://api.github.com/user",
}


# ---------------------------------------------------------------------------------------------- errors


class OAuthFlowError(Exception):
    """Something a user is told about; ``message`` is safe to show (no token, no code)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StateError(OAuthFlowError):
    """The callback does not belong to a flow started here: missing, unknown, replayed or expired state."""


class TokenError(OAuthFlowError):
    """The token endpoint failed: unreachable, timed out, 4xx/5xx, or an answer without a usable token."""


# ---------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ClientConfig:
    """A provider's OAuth definition with this deployment's client and overrides applied."""

    provider: Provider
    spec: OAuthSpec
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    userinfo_url: str = ""

    @property
    def slug(self) -> str:
        return self.provider.slug

    @property
    def scope(self) -> str:
        return self.spec.scope_separator.join(self.scopes)


def config_for(slug: str) -> ClientConfig | None:
    """The provider's client configuration, or None when it has no OAuth definition or no client id."""
    provider = get_provider(slug)
    if provider is None or provider.oauth is None:
        return None
    conf = (getattr(settings, "OAUTH_PROVIDERS", None) or {}).get(slug) or {}
    client_id = (conf.get("client_id") or "").strip()
    if not client_id:
        return None
    spec = provider.oauth
    token_url = conf.get("token_url") or spec.token_url
    userinfo_url = conf.get("userinfo_url") or (USERINFO_URLS.get(slug, "") if token_url == spec.token_url else "")
    return ClientConfig(
        provider=provider,
        spec=spec,
        client_id=client_id,
        client_secret=conf.get("client_secret") or "",
        authorize_url=conf.get("authorize_url") or spec.authorize_url,
        token_url=token_url,
        scopes=tuple(conf.get("scopes") or spec.scopes),
        userinfo_url=userinfo_url,
    )


def callback_url(request, slug: str) -> str:
    """The redirect URI to register with the provider (and to send in the flow)."""
    path = reverse("oauth_callback", args=[slug])
    base = getattr(settings, "OAUTH_REDIRECT_BASE_URL", "")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def _timeout() -> float:
    return float(getattr(settings, "OAUTH_TIMEOUT", 10.0))


# authlib is imported by the two functions that use it, not with this module: it is 13 MB of every web process's
# memory (about 150 modules, joserfc's included) that only an OAuth sign-in needs (docs/performance.md).


def _client(config: ClientConfig, redirect_uri: str):
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        client_id=config.client_id,
        client_secret=config.client_secret,
        token_endpoint_auth_method=config.spec.token_auth_method,
        scope=config.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if config.spec.pkce else None,
        default_timeout=_timeout(),
    )


# ---------------------------------------------------------------------------------------------- the flow


def begin(request, config: ClientConfig, purpose: dict) -> str:
    """Starts a flow: stores state + PKCE verifier server-side and returns the provider's authorize URL."""
    from authlib.common.security import generate_token

    redirect_uri = callback_url(request, config.slug)
    verifier = generate_token(64) if config.spec.pkce else None
    client = _client(config, redirect_uri)
    try:
        url, state = client.create_authorization_url(
            config.authorize_url, code_verifier=verifier, **dict(config.spec.authorize_params)
        )
    finally:
        client.close()
    now = time.time()
    flows = {k: v for k, v in request.session.get(_FLOWS, {}).items() if now - v.get("created", 0) < FLOW_MAX_AGE}
    flows[state] = {
        "provider": config.slug,
        "verifier": verifier,
        "redirect_uri": redirect_uri,
        "purpose": purpose,
        "created": now,
    }
    while len(flows) > _MAX_FLOWS:
        flows.pop(next(iter(flows)))
    request.session[_FLOWS] = flows
    return url


def take_flow(request, slug: str, state: str) -> dict:
    """The flow this callback belongs to, removed from the session: a state works once."""
    if not state:
        raise StateError("The answer from the provider carried no state, so it cannot be matched to a sign-in.")
    flows = dict(request.session.get(_FLOWS, {}))
    flow = None
    for known in list(flows):
        if secrets.compare_digest(known.encode(), state.encode()):
            flow = flows.pop(known)
    request.session[_FLOWS] = flows
    if flow is None:
        raise StateError("This answer from the provider does not match a sign-in started here, or it was already used.")
    if flow.get("provider") != slug:
        raise StateError("This answer came back for another provider than the one the sign-in started with.")
    if time.time() - flow.get("created", 0) >= FLOW_MAX_AGE:
        raise StateError("This sign-in took too long and has expired.")
    return flow


def exchange(config: ClientConfig, flow: dict, code: str) -> tuple[dict, dict]:
    """Code -> (credential for Aimable, what may be shown: provider, scopes granted, account).

    Raises TokenError for every failure; nothing about the answer's content is logged."""
    from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
    from authlib.oauth2.client import DEFAULT_HEADERS

    client = _client(config, flow["redirect_uri"])
    extra = {"code_verifier": flow["verifier"]} if flow.get("verifier") else {}
    name = config.provider.name
    try:
        token = client.fetch_token(
            config.token_url,
            code=code,
            headers={**DEFAULT_HEADERS, **dict(config.spec.token_headers)},
            timeout=_timeout(),
            **extra,
        )
        parsed = config.spec.read_token(dict(token))
    except requests.Timeout:
        logger.warning("oauth token request to %s timed out", config.slug)
        raise TokenError(f"{name} did not answer in time.") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        logger.warning("oauth token request to %s failed with HTTP %s", config.slug, status)
        raise TokenError(f"{name} answered with an error (HTTP {status}).") from None
    except requests.RequestException as exc:
        logger.warning("oauth token request to %s failed: %s", config.slug, type(exc).__name__)
        raise TokenError(f"{name} could not be reached.") from None
    except AuthlibOAuthError as exc:
        error = safe_error_code(exc.error)
        logger.warning("oauth token request to %s refused: %s", config.slug, error)
        raise TokenError(f"{name} refused the sign-in ({error}).") from None
    except TokenResponseError as exc:
        logger.warning("oauth token response from %s unusable", config.slug)
        raise TokenError(f"{name} gave no usable credential: {exc}") from None
    except Exception as exc:  # a malformed answer must not become a 500 (or a traceback with the body)
        logger.warning("oauth token response from %s unreadable: %s", config.slug, type(exc).__name__)
        raise TokenError(f"{name} gave an answer the console cannot read.") from None
    finally:
        client.close()

    credential = {"access_token": parsed["access_token"]}
    if parsed.get("refresh_token"):
        credential["refresh_token"] = parsed["refresh_token"]
    if parsed.get("expires_in"):
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=parsed["expires_in"])
        credential["expires_at"] = expires.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    info = {
        "provider": config.slug,
        "scopes": parsed.get("scopes") or [],
        "account": _account_name(userinfo_account(config, credential["access_token"]) or parsed.get("account")),
        "expires_at": credential.get("expires_at", ""),
        "refreshable": "refresh_token" in credential,
    }
    remember_capture(credential, info)
    return credential, info


def _account_name(value) -> str:
    """An account's email or login as it may be shown and recorded: text, one line, short."""
    text = "".join(ch for ch in str(value or "") if ch.isprintable()).strip()
    return text[:_MAX_ACCOUNT]


def _account_in(answer) -> str:
    """The account's email or login in a userinfo answer (OpenID Connect, Drive's "about", GitHub's user)."""
    if not isinstance(answer, dict):
        return ""
    user = answer.get("user") if isinstance(answer.get("user"), dict) else {}
    for value in (answer.get("email"), user.get("emailAddress"), user.get("email"), answer.get("login")):
        if isinstance(value, str) and value.strip():
            return _account_name(value)
    return ""


def userinfo_account(config: ClientConfig, access_token: str) -> str:
    """Which account the provider says the token belongs to; "" when it has no such endpoint or does not say.
    Never fails the flow: the credential works without it."""
    if not config.userinfo_url:
        return ""
    try:
        with requests.get(
            config.userinfo_url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=_timeout(),
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                logger.warning("oauth userinfo request to %s answered HTTP %s", config.slug, response.status_code)
                return ""
            body = response.raw.read(_MAX_USERINFO_BYTES + 1, decode_content=True)
        if len(body) > _MAX_USERINFO_BYTES:
            return ""
        return _account_in(json.loads(body))
    except (requests.RequestException, ValueError, OSError) as exc:
        logger.warning("oauth userinfo request to %s failed: %s", config.slug, type(exc).__name__)
        return ""


def _capture_key(credential: dict | None) -> str:
    fingerprint = credential_fingerprint(credential)
    return f"oauth-capture:{fingerprint}" if fingerprint else ""


def remember_capture(credential: dict, info: dict) -> None:
    """Remembers, for as long as a create form keeps a captured credential, that Connect captured it and for which
    account: the audit entry of the change that sends it says so (services), without keeping the token."""
    key = _capture_key(credential)
    if key:
        cache.set(key, {"provider": info.get("provider", ""), "account": info.get("account", "")}, DRAFT_MAX_AGE)


def captured(credential: dict | None) -> dict | None:
    """{"provider", "account"} when ``credential`` is one Connect or Reconnect captured; None for a typed one."""
    key = _capture_key(credential)
    return cache.get(key) if key else None


_CODE_RE = re.compile(r"[^A-Za-z0-9_.:-]")


def safe_error_code(value) -> str:
    """An OAuth error code, shortened and stripped to harmless characters for messages and logs."""
    return _CODE_RE.sub("", str(value or "unknown_error"))[:64] or "unknown_error"


# ---------------------------------------------------------------------------------------------- drafts


def draft_save(request, data: dict) -> str:
    """Keeps a create form's non-secret input; returns an opaque id for the URL."""
    now = time.time()
    drafts = {k: v for k, v in request.session.get(_DRAFTS, {}).items() if now - v.get("created", 0) < DRAFT_MAX_AGE}
    draft_id = secrets.token_urlsafe(12)
    data = dict(data)
    data["fields"] = {k: str(v)[:_MAX_FIELD] for k, v in (data.get("fields") or {}).items()}
    drafts[draft_id] = {**data, "created": now}
    while len(drafts) > _MAX_DRAFTS:
        drafts.pop(next(iter(drafts)))
    request.session[_DRAFTS] = drafts
    return draft_id


def draft_get(request, draft_id: str | None) -> dict | None:
    if not draft_id:
        return None
    draft = request.session.get(_DRAFTS, {}).get(draft_id)
    if not draft or time.time() - draft.get("created", 0) >= DRAFT_MAX_AGE:
        return None
    return dict(draft)


def draft_update(request, draft_id: str, **changes) -> None:
    drafts = dict(request.session.get(_DRAFTS, {}))
    if draft_id in drafts:
        drafts[draft_id] = {**drafts[draft_id], **changes}
        request.session[_DRAFTS] = drafts


def draft_for_form(request, space_id: str, collection_id: str) -> dict | None:
    """The draft named by ``?draft=`` for this collection's create form, or None."""
    draft = draft_get(request, request.GET.get("draft"))
    if not draft or draft.get("space_id") != space_id or draft.get("collection_id") != collection_id:
        return None
    return draft


def draft_initial(draft: dict | None) -> dict | None:
    """The create form's ``initial`` rebuilt from a draft: same provider, scope input and idempotency token."""
    if not draft:
        return None
    return {**draft.get("fields", {}), "provider": draft["provider"], "idempotency_token": draft["idempotency_token"]}


def credential_fingerprint(credential: dict | None) -> str:
    """Identifies a captured credential without keeping (or being able to give back) its token."""
    token = (credential or {}).get("access_token") or ""
    return salted_hmac("connectors.oauth.credential", token).hexdigest() if token else ""


def connected(request, draft_id: str, credential: dict, info: dict) -> None:
    """Records on the draft that this credential was captured by Connect (what may be shown about it)."""
    draft_update(request, draft_id, connected=info, fingerprint=credential_fingerprint(credential))


def connected_for(request, credential: dict | None) -> dict | None:
    """What Connect captured (provider, scopes, account) if ``credential`` is a credential it captured, unchanged."""
    fingerprint = credential_fingerprint(credential)
    if not fingerprint:
        return None
    for draft in request.session.get(_DRAFTS, {}).values():
        if draft.get("connected") and secrets.compare_digest(draft.get("fingerprint", ""), fingerprint):
            return dict(draft["connected"])
    return None


def usable_for(request, credential: dict | None, slug: str) -> dict | None:
    """A kept credential, unless Connect captured it for another provider than the one now chosen."""
    info = connected_for(request, credential)
    return None if info and info.get("provider") != slug else credential


def mark_connected(request, form, token: str | None = None) -> None:
    """Shows "Connected" on a create form whose kept credential came from Connect, instead of a masked token."""
    if token is None:
        token = form.data.get("idempotency_token") if form.is_bound else form.initial.get("idempotency_token")
    key = unsign_idempotency_key(token, request.user) if token else None
    info = connected_for(request, pending.get(request, key)) if key else None
    if info and form.scope_provider is not None and info.get("provider") == form.scope_provider.slug:
        form.oauth_connected = info
        form.kept_secret_hint = ""
