"""The one entry point of the pages under a collection: ids validated, the user's client built, names loaded.

    @require_safe
    @connector_view
    def connector_detail(request, page: ConnectorPage): ...

A malformed id is a 404 before any upstream call; a user without a stored key is sent to the API key page; every
upstream page error is rendered by connectors.middleware. Views only parse the request, call selectors or
services through ``page``, and render.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import wraps
from itertools import chain

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString

from .. import selectors, services
from ..aimable import errors
from ..aimable.client import AimableClient, validate_token
from ..aimable.types import Connector, is_path_id
from ..alerts.health import FAILED, is_credential_failure
from ..providers import Provider
from ..upstream import client_for


@dataclass
class CollectionPage:
    request: HttpRequest
    client: AimableClient
    space_id: str
    collection_id: str
    _names: selectors.CollectionNames | None = field(default=None, init=False, repr=False)

    def context(self) -> dict:
        """The breadcrumb's names."""
        self._names = selectors.collection_names(
            user=self.request.user, client=self.client, space_id=self.space_id, collection_id=self.collection_id
        )
        return {
            "space_id": self.space_id,
            "collection_id": self.collection_id,
            "space_name": self._names.space_name,
            "collection_name": self._names.collection_name,
        }

    def visited(self) -> None:
        """Call once the page's own read worked: the home page offers the collection under "Recently opened"
        (so a collection that is not there, or not for this key, is never offered)."""
        names = self._names
        if names is None or names.seen_lately:  # no database write on every page of the same collection
            return
        services.recent_collection_touch(
            user=self.request.user,
            space_id=self.space_id,
            collection_id=self.collection_id,
            space_name=names.space_name,
            collection_name=names.collection_name,
        )

    @property
    def collection_ids(self) -> dict:
        return {"space_id": self.space_id, "collection_id": self.collection_id}

    @property
    def ids(self) -> dict:
        """The path ids as keyword arguments for selectors and services."""
        return self.collection_ids


@dataclass
class ConnectorPage(CollectionPage):
    connector_id: str

    @property
    def ids(self) -> dict:
        return {**self.collection_ids, "connector_id": self.connector_id}

    @property
    def path_args(self) -> tuple[str, str, str]:
        return self.space_id, self.collection_id, self.connector_id

    def context(self, connector: Connector | None = None) -> dict:
        """The collection's context, the connector (read unless given; a 404 page when it is gone) and its
        provider."""
        if connector is None:
            connector = selectors.connector_get(client=self.client, **self.ids)
        context = super().context()
        self.visited()
        provider: Provider = selectors.provider_of(connector)
        context.update(
            {
                "connector": connector,
                # Links use the id the page was opened with (checked by @connector_view), never the upstream's echo.
                "connector_id": self.connector_id,
                "provider": provider,
                "scope_summary": provider.scope_summary(connector.scope_config),
            }
        )
        return context


def collection_view(view):
    @wraps(view)
    def wrapper(request, space_id, collection_id, **kwargs):
        page = CollectionPage(request, client_for(request.user), str(space_id), str(collection_id))
        return view(request, page, **kwargs)

    return wrapper


def connector_view(view):
    @wraps(view)
    def wrapper(request, space_id, collection_id, connector_id, **kwargs):
        connector_id = validate_token(connector_id, "connector_id")  # before anything else: a bad id is a 404
        page = ConnectorPage(request, client_for(request.user), str(space_id), str(collection_id), connector_id)
        return view(request, page, **kwargs)

    return wrapper


def render_streamed(request, template: str, context: dict, *, name: str, parts: Iterable[str]) -> StreamingHttpResponse:
    """The whole page, sent while ``parts`` (what the template shows as ``{{ name }}``) are built: the template is
    rendered first, around a marker, so that whatever can fail (the upstream, the database, the session, the CSRF
    cookie, the messages) has done so before the first byte and still picks the status; then the part before the
    marker goes out, each part as it is built, and the part after. ``parts`` must be markup already escaped, built
    without the database or the upstream (a failure among them is the caller's to show in place)."""
    marker = f"<!--{secrets.token_hex(16)}-->"
    html = render_to_string(template, {**context, name: SafeString(marker)}, request)
    head, found, tail = html.partition(marker)
    if not found:
        raise ValueError(f"{template} does not show {{{{ {name} }}}}")
    response = StreamingHttpResponse(chain((head,), parts, (tail,)), content_type="text/html; charset=utf-8")
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_page(request, template: str, context: dict, *, partial: str | None = None, status: int = 200):
    """The whole page, or ``template#partial`` when htmx asks: the one signal that picks a partial."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response: HttpResponse = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))  # one URL, two bodies: caches must tell them apart
    return response


# What holds a typed or issued secret in the views that take credentials (the API key page, create, edit, Connect
# and its callback) and in what they call (pending, services, the OAuth exchange, the client's body and headers).
# With @sensitive_variables(*SECRET_VARIABLES) and @sensitive_post_parameters on the posted fields, error reports
# (the DEBUG page, mailed tracebacks) show these as stars.
SECRET_VARIABLES = (
    "secret",
    "api_key",
    "credential",
    "kept",
    "typed",
    "changes",
    "code",
    "flow",
    "token",
    "parsed",
    "body",
    "json",
    "headers",
    "all_headers",
)


MAX_BACKOFF_SECONDS = 30


def poll_interval(failures: int) -> int:
    """2 s while all is well; after failures 4, 8, 16, 30 s."""
    base = settings.SYNC_POLL_SECONDS
    return base if failures <= 0 else min(base * 2**failures, MAX_BACKOFF_SECONDS)


def retry_context(page: ConnectorPage, context: dict, *, connector: Connector | None = None) -> dict:
    """Retry cannot work while the connector is disconnected: the status says "Give it a new credential first"
    instead. The connector is read only when Retry would be offered (a sync that ended without completing), unless
    the page has it."""
    sync = context["sync"]
    if not (context["sync_id"] and sync is not None and sync.is_terminal):
        return context
    if (sync.status or "").lower() in ("completed", "succeeded"):
        return context
    if connector is None:
        try:
            connector = selectors.connector_or_none(client=page.client, **page.ids)
        except errors.InPlaceError:  # not known just now: Retry stays, and says why if it fails
            return context
    return {**context, "connector_status": (connector.status or "").lower() if connector else ""}


def status_context(page: ConnectorPage, status: selectors.SyncStatus, *, failures: int = 0) -> dict:
    """What the status partial needs; while Aimable fails, the poll backs off."""
    failures = failures + 1 if status.reconnecting else 0
    return {
        **page.ids,
        "sync": status.sync,
        # Blank when the upstream's id cannot be in a URL: the sync is shown, but not linked, polled or retried.
        "sync_id": status.sync_id if is_path_id(status.sync_id) else "",
        "failure_reason": status.failure_reason,
        # Retrying cannot fix a refused credential: the status offers Reconnect beside Retry.
        "credential_failure": bool(
            status.sync and (status.sync.status or "").lower() in FAILED and is_credential_failure(status.sync)
        ),
        "running_for": status.running_for,
        "progress": status.progress,
        "polling": not status.finished,
        "reconnecting": status.reconnecting,
        "upstream_error": status.error,
        "interval": poll_interval(failures),
        "next_failures": failures,
        "stall_seconds": settings.SYNC_STALL_SECONDS,
    }
