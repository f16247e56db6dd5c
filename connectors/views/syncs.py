"""Syncs: start, watch live (htmx polling that stops for good), history, cancel, retry."""

import hashlib
from typing import NamedTuple
from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HTMX_STOP_POLLING

from .. import csv_export, selectors, services
from ..aimable import errors
from ..aimable.client import validate_token
from ..aimable.types import is_path_id
from ..middleware import upstream_error_title
from ..paging import PageParams
from .base import (
    CollectionPage,
    ConnectorPage,
    collection_view,
    connector_view,
    poll_interval,
    render_page,
    retry_context,
    status_context,
)

SYNC_STATUSES = ("running", "completed", "failed", "cancelled")


def _query_int(request, name: str, most: int) -> int:
    """A small count from the query string (``failures``, ``group``): 0 unless digits, at most ``most``."""
    value = request.GET.get(name, "0")
    return min(int(value), most) if value.isdigit() else 0


def _failures(request) -> int:
    return _query_int(request, "failures", 10)


def local_next(request, default: str) -> str:
    """The page a form came from, when it is a page of this site (redirect() would take anything else for a view
    name, and fail on it)."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _render_status(request, template: str, context: dict, *, partial: str | None = None):
    response = render_page(request, template, context, partial=partial)
    if request.htmx and not context["polling"]:
        response.status_code = HTMX_STOP_POLLING  # 286: htmx stops this poll for good
        if context.get("sync") is not None and context["sync"].is_terminal:
            response["HX-Trigger"] = "sync-finished"  # the connector page's chart redraws (its sync_chart partial)
    return response


@require_safe
@connector_view
def sync_detail(request, page: ConnectorPage, sync_id: str):
    sync_id = validate_token(sync_id, "sync_id")
    status = selectors.sync_status(client=page.client, **page.ids, sync_id=sync_id)
    context = status_context(page, status, failures=_failures(request))
    if not request.htmx:
        context = {**page.context(), **context}
    context = retry_context(page, context, connector=context.get("connector"))
    return _render_status(request, "connectors/sync_detail.html", context, partial="status")


LATEST_SYNC = "connectors/connector_list.html#latest_sync"
LATEST_SYNCS_SHOWN = 100  # the list's largest page
# The list's cells are loaded by as few requests as these allow (latest_syncs_loaders): 50 rows a request, and a request
# line well under what servers take (gunicorn's default limit is 4,094 bytes; an id may be 128 characters). Each
# request's running rows are then polled by a poller of their own, so no poll asks for more rows than a load did.
LATEST_SYNCS_PER_REQUEST = 50
LATEST_SYNCS_QUERY_CHARS = 3000
_GROUP_CHARS = len("&group=100")


def latest_sync_cell_id(connector_id: str) -> str:
    """A row's latest-sync cell's HTML id (a connector id may hold characters an id selector would not)."""
    return "latest-" + hashlib.blake2s(connector_id.encode(), digest_size=8).hexdigest()


class LatestSyncsLoader(NamedTuple):
    """One request that fills cells of the connector list: its URL, the HTML ids of the cells it fills (which stop
    saying they are loading once it has answered, whether it filled them or failed: console.js), and its group: the
    rows it loaded that still run are polled together, by the group's poller (``latest-syncs-poller-<group>``)."""

    url: str
    cell_ids: str
    group: int


def latest_syncs_loaders(space_id: str, collection_id: str, connector_ids: list[str]) -> list[LatestSyncsLoader]:
    """The requests that fill the connector list's latest-sync cells once the page is there (sync_latest_batch):
    one for a page of UUID-named connectors; more only when the ids would make one too long."""
    base = reverse("sync_latest_batch", args=[space_id, collection_id]) + "?"
    batches, query, cells, chars = [], [], [], _GROUP_CHARS
    for connector_id in connector_ids:
        part = "row=" + quote(connector_id, safe="")
        if query and (len(query) >= LATEST_SYNCS_PER_REQUEST or chars + len(part) > LATEST_SYNCS_QUERY_CHARS):
            batches.append((query, cells))
            query, cells, chars = [], [], _GROUP_CHARS
        query.append(part)
        cells.append(latest_sync_cell_id(connector_id))
        chars += len(part) + 1
    if query:
        batches.append((query, cells))
    return [
        LatestSyncsLoader(base + "&".join([*query, f"group={group}"]), " ".join(cells), group)
        for group, (query, cells) in enumerate(batches)
    ]


def _latest_sync_context(page: ConnectorPage, status: selectors.SyncStatus, *, failures: int, group: int = 0) -> dict:
    context = status_context(page, status, failures=failures)
    context["polling"] = status.reconnecting or bool(status.sync and not status.sync.is_terminal)
    context["cell_id"] = latest_sync_cell_id(page.connector_id)
    context["group"] = group
    return context


@require_safe
@connector_view
def sync_latest(request, page: ConnectorPage):
    """The latest sync of one connector, as a cell of the connector list (which loads its cells in batches, with
    sync_latest_batch). A running one starts the list's poller, which asks for every running row at once."""
    status = selectors.sync_latest_status(client=page.client, **page.ids)
    context = _latest_sync_context(page, status, failures=_failures(request))
    return _render_status(request, LATEST_SYNC, context)


@require_safe
@collection_view
def sync_latest_batch(request, page: CollectionPage):
    """The latest sync of the connector list's rows (``?row=<connector id>``, repeated), read side by side, each cell
    swapped in place by its id: the list's cells once after the page (latest_syncs_loaders), then every 2 s its running
    rows, in one request for the rows of one loader (``group``) however many run. Stops (286) when none runs any more;
    backs off while Aimable fails. A row the upstream refuses says so in its cell, and is not asked for again."""
    failures, group = _failures(request), _query_int(request, "group", LATEST_SYNCS_SHOWN)  # group: its loader's
    connector_ids = [i for i in dict.fromkeys(request.GET.getlist("row")[:LATEST_SYNCS_SHOWN]) if is_path_id(i)]
    read = selectors.sync_latest_statuses(client=page.client, **page.ids, connector_ids=connector_ids)
    cells, polling, reconnecting = [], False, False
    for connector_id, status, error in read:
        if error is None:
            row = ConnectorPage(request, page.client, page.space_id, page.collection_id, connector_id)
            context = _latest_sync_context(row, status, failures=failures, group=group)
            polling = polling or context["polling"]
            reconnecting = reconnecting or context["reconnecting"]
        else:
            context = {
                "cell_id": latest_sync_cell_id(connector_id),
                "row_error": error,
                "row_error_title": upstream_error_title(error),
            }
        cells.append(render_to_string(LATEST_SYNC, {**context, "oob": True}, request))
    next_failures = failures + 1 if reconnecting else 0
    context = {**page.ids, "cells": cells, "polling": polling, "interval": poll_interval(next_failures), "group": group}
    context["next_failures"] = next_failures
    response = render_page(request, "connectors/connector_list.html", context, partial="latest_syncs")
    if not polling:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_safe
@connector_view
def sync_list(request, page: ConnectorPage):
    """The sync history."""
    context = page.context()
    params = PageParams.from_request(request, default_limit=25)
    status_filter = request.GET.get("status", "")
    status_filter = status_filter if status_filter in SYNC_STATUSES else ""
    result, error = None, None
    try:
        result = selectors.sync_page(
            client=page.client, **page.ids, limit=params.limit, offset=params.offset, status=status_filter or None
        )
    except errors.InPlaceError as exc:
        error = exc
    context.update(
        {
            "page": result,
            "syncs": result.items if result else [],
            "error": error,
            "params": params,
            "pager": params.pager(request, result),
            "statuses": SYNC_STATUSES,
            "status_filter": status_filter,
        }
    )
    return render_page(request, "connectors/sync_list.html", context)


@require_POST
@connector_view
def sync_trigger(request, page: ConnectorPage):
    return _start(request, page, retry_of="")


@require_POST
@connector_view
def sync_retry(request, page: ConnectorPage, sync_id: str):
    return _start(request, page, retry_of=validate_token(sync_id, "sync_id"))


def _start(request, page: ConnectorPage, *, retry_of: str):
    back = local_next(request, reverse("connector_detail", args=page.path_args))
    try:
        sync = services.sync_trigger(
            user=request.user,
            client=page.client,
            **page.ids,
            provider_slug=request.POST.get("provider_slug", "")[:64],
            retry_of=retry_of,
        )
    except errors.ConflictError as exc:
        running = selectors.running_sync(client=page.client, **page.ids)
        if running is not None and running.linkable:
            messages.info(request, "A sync is already running for this connector: here it is.")
            return redirect("sync_detail", *page.path_args, running.id)
        if running is not None:
            messages.info(request, "A sync is already running for this connector.")
            return redirect(back)
        messages.warning(request, f"The sync could not start: {exc.message}")
        return redirect(back)
    except errors.InPlaceError as exc:
        messages.error(request, f'The sync did not start: {exc.message} Press "Sync now" to try again.')
        return redirect(back)
    messages.success(request, "Sync started again." if retry_of else "Sync started.")
    if not sync.linkable:  # its page cannot be addressed: the page it was started from shows it
        return redirect(back)
    return redirect("sync_detail", *page.path_args, sync.id)


@require_POST
@connector_view
def sync_cancel(request, page: ConnectorPage):
    sync_id = request.POST.get("sync_id", "")
    sync_id = validate_token(sync_id, "sync_id") if sync_id else ""
    try:
        services.sync_cancel(
            user=request.user,
            client=page.client,
            **page.ids,
            provider_slug=request.POST.get("provider_slug", "")[:64],
            sync_id=sync_id,
        )
        level, text = messages.SUCCESS, "Sync cancelled."
    except errors.ConflictError:
        level, text = messages.INFO, "There was no running sync to cancel: it had already finished."
    except errors.InPlaceError as exc:
        level, text = messages.ERROR, f"The sync was not cancelled: {exc.message} Try again."
    if request.htmx and sync_id:
        # In place: the status partial turns "cancelled" (or says why not).
        status = selectors.sync_status(client=page.client, **page.ids, sync_id=sync_id)
        context = {**retry_context(page, status_context(page, status)), "notice": text}
        return _render_status(request, "connectors/sync_detail.html", context, partial="status")
    messages.add_message(request, level, text)
    back = (
        reverse("sync_detail", args=[*page.path_args, sync_id])
        if sync_id
        else reverse("connector_detail", args=page.path_args)
    )
    return redirect(local_next(request, back))


@require_safe
@connector_view
def sync_list_csv(request, page: ConnectorPage):
    """The sync history (its status filter kept), as CSV."""
    status_filter = request.GET.get("status", "")
    syncs = csv_export.sync_history(
        client=page.client, **page.ids, status=status_filter if status_filter in SYNC_STATUSES else None
    )
    return csv_export.sync_csv(syncs, connector_id=page.connector_id)
