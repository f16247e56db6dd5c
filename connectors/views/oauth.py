"""Connect and Reconnect with a provider (OAuth), and the page that says how each provider is set up.

POST /oauth/<slug>/start/     from the create form (the whole form, via the Connect button's formaction) or from
                              a connector's Reconnect button; ``next`` says which, and is checked against the
                              console's own URLs (no open redirect).
GET  /oauth/<slug>/callback/  the provider sends the user back here with ``code`` and ``state`` (or ``error``).
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST, require_safe

from .. import oauth, pending, selectors, services
from ..aimable import errors
from ..forms import scope_field_name
from ..idempotency import new_idempotency_token, unsign_idempotency_key
from ..models import AuditEvent
from ..providers import PROVIDERS, get_provider
from ..upstream import client_for
from .base import SECRET_VARIABLES

logger = logging.getLogger("connectors.oauth")


@dataclass(frozen=True)
class Target:
    """Where a flow comes from and returns to: a collection's create form, or a connector's detail page."""

    kind: str  # "create" | "reconnect"
    space_id: str
    collection_id: str
    connector_id: str = ""


def resolve_next(value: str) -> Target | None:
    """Only the console's own create-form and connector pages are accepted as destinations."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return None
    try:
        match = resolve(urlsplit(value).path)
    except Resolver404:
        return None
    kwargs = {k: str(v) for k, v in match.kwargs.items()}
    if match.url_name == "connector_create":
        return Target("create", kwargs["space_id"], kwargs["collection_id"])
    if match.url_name == "connector_detail":
        return Target("reconnect", kwargs["space_id"], kwargs["collection_id"], kwargs["connector_id"])
    return None


def _provider_or_404(slug):
    provider = get_provider(slug)
    if provider is None or provider.oauth is None:
        raise Http404("No such provider.")
    return provider


def _create_url(space_id, collection_id, draft_id=None) -> str:
    url = reverse("connector_create", args=[space_id, collection_id])
    return f"{url}?{urlencode({'draft': draft_id})}" if draft_id else url


def _back(purpose: dict):
    if purpose.get("kind") == "reconnect":
        return redirect("connector_detail", purpose["space_id"], purpose["collection_id"], purpose["connector_id"])
    return HttpResponseRedirect(_create_url(purpose["space_id"], purpose["collection_id"], purpose.get("draft")))


def _error_page(request, provider, message, status=400):
    return render(request, "connectors/oauth_error.html", {"provider": provider, "message": message}, status=status)


@sensitive_variables(*SECRET_VARIABLES)
@sensitive_post_parameters(*pending.SECRET_FIELDS)  # Connect posts the whole create form
@require_POST
def oauth_start(request, provider_slug):
    provider = _provider_or_404(provider_slug)
    target = resolve_next(request.POST.get("next", ""))
    if target is None:
        return _error_page(
            request, provider, "This sign-in was not started from a connector form or a connector's page."
        )
    config = oauth.config_for(provider.slug)

    if target.kind == "create":
        # Keep the form's non-secret input (typed tokens are not kept: connecting replaces them).
        fields = {name: request.POST.get(name, "") for name in ("name", "description", "scope_extra")}
        for scope_field in provider.scope_fields:
            name = scope_field_name(scope_field.key)
            fields[name] = request.POST.get(name, "")
        token = request.POST.get("idempotency_token", "")
        key = unsign_idempotency_key(token, request.user)
        if key is None:
            token, key = new_idempotency_token(request.user)
        draft_id = oauth.draft_save(
            request,
            {
                "provider": provider.slug,
                "space_id": target.space_id,
                "collection_id": target.collection_id,
                "fields": fields,
                "idempotency_token": token,
                "idempotency_key": key,
            },
        )
        purpose = {
            "kind": "create",
            "space_id": target.space_id,
            "collection_id": target.collection_id,
            "draft": draft_id,
        }
    else:
        # The connector must exist, be reachable with the user's key, and belong to this provider.
        connector = selectors.connector_get(
            client=client_for(request.user),
            space_id=target.space_id,
            collection_id=target.collection_id,
            connector_id=target.connector_id,
        )
        if connector.provider_slug != provider.slug:
            return _error_page(request, provider, f"This connector is not a {provider.name} connector.")
        purpose = {
            "kind": "reconnect",
            "space_id": target.space_id,
            "collection_id": target.collection_id,
            "connector_id": connector.id,
        }

    if config is None:
        messages.error(
            request,
            f"Connecting with {provider.name} is not set up on this console (no OAuth client id): "
            "enter a token instead, or see the OAuth settings page.",
        )
        return _back(purpose)
    return HttpResponseRedirect(oauth.begin(request, config, purpose))


@sensitive_variables(*SECRET_VARIABLES)  # the code, the flow's PKCE verifier, the tokens it brings
# GET only (not require_safe's HEAD too, as the pages): the one GET that changes something, spending a one-time code.
@require_GET
def oauth_callback(request, provider_slug):
    provider = _provider_or_404(provider_slug)
    try:
        flow = oauth.take_flow(request, provider.slug, request.GET.get("state", ""))
    except oauth.StateError as exc:
        logger.warning("oauth callback for %s rejected: state not valid", provider.slug)
        return _error_page(request, provider, f"{exc.message} Nothing was changed. Start again from the console.")
    purpose = flow["purpose"]
    creating = purpose.get("kind") == "create"

    error = request.GET.get("error")
    if error:
        if error == "access_denied":
            messages.info(
                request,
                f"You cancelled at {provider.name}; nothing was connected."
                + (" Your form is as you left it." if creating else " The connector keeps its current credential."),
            )
        else:
            messages.error(
                request,
                f"{provider.name} did not grant access ({oauth.safe_error_code(error)}). Nothing was changed; "
                "try again, or enter a token instead.",
            )
        return _back(purpose)

    code = request.GET.get("code", "")
    config = oauth.config_for(provider.slug)
    if not code or config is None:
        messages.error(
            request,
            f"{provider.name} sent no authorization code back. Nothing was changed; try again."
            if config is not None
            else f"Connecting with {provider.name} is no longer set up on this console. Nothing was changed.",
        )
        return _back(purpose)
    try:
        credential, info = oauth.exchange(config, flow, code)
    except oauth.TokenError as exc:
        messages.error(
            request, f"Connecting with {provider.name} failed: {exc.message} Nothing was changed; try again."
        )
        return _back(purpose)

    if creating:
        draft = oauth.draft_get(request, purpose.get("draft"))
        if draft is None:
            messages.error(request, "The connector form expired while you were away. Please fill it in again.")
            return HttpResponseRedirect(_create_url(purpose["space_id"], purpose["collection_id"]))
        pending.keep(request, draft["idempotency_key"], credential)
        oauth.connected(request, purpose["draft"], credential, info)
        messages.success(request, f'Connected to {provider.name}. Check the form, then press "Create connector".')
        return _back(purpose)
    return _reconnect(request, provider, purpose, credential)


def _reconnect(request, provider, purpose, credential):
    space_id, collection_id = purpose["space_id"], purpose["collection_id"]
    client = client_for(request.user)
    connector = selectors.connector_get(
        client=client, space_id=space_id, collection_id=collection_id, connector_id=purpose["connector_id"]
    )
    try:
        services.connector_update(
            user=request.user,
            client=client,
            space_id=space_id,
            collection_id=collection_id,
            connector=connector,
            changes={"credential": credential},  # only the credential: the scope stays as it is
            action=AuditEvent.Action.CREDENTIAL_UPDATE,
        )
    except errors.InPlaceError as exc:
        messages.error(
            request,
            f"{provider.name} was connected, but Aimable did not take the new credential: {exc.message} "
            'Nothing was changed; press "Reconnect" to try again.',
        )
        return _back(purpose)
    messages.success(
        request, f"Reconnected with {provider.name}: the connector has a new credential; its scope is unchanged."
    )
    return _back(purpose)


@require_safe
def oauth_settings(request):
    rows = []
    for provider in PROVIDERS.values():
        if provider.oauth is None:
            continue
        config = oauth.config_for(provider.slug)
        rows.append(
            {
                "provider": provider,
                "configured": config is not None,
                "env_prefix": "OAUTH_" + provider.slug.upper().replace("-", "_") + "_",
                "client_id": config.client_id if config else "",
                "has_secret": bool(config and config.client_secret),
                "authorize_url": config.authorize_url if config else provider.oauth.authorize_url,
                "token_url": config.token_url if config else provider.oauth.token_url,
                "scopes": config.scopes if config else provider.oauth.scopes,
                "pkce": provider.oauth.pkce,
                "callback_url": oauth.callback_url(request, provider.slug),
            }
        )
    return render(request, "connectors/oauth_settings.html", {"rows": rows})
