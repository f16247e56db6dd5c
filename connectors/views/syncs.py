"""Syncs: trigger, watch live (htmx polling that stops for good), history, cancel, retry."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from .. import selectors, services
from ..aimable import errors
from ..aimable.client import validate_token
from ..paging import PageParams
from ..upstream import client_for
from .connectors import _connector_context, _ids

SYNC_STATUSES = ("running", "completed", "failed", "cancelled")
MAX_BACKOFF_SECONDS = 30


def _poll_interval(failures: int) -> int:
    """2 s while all is well; after failures 4, 8, 16, 30 s."""
    base = settings.SYNC_POLL_SECONDS
    return base if failures <= 0 else min(base * 2**failures, MAX_BACKOFF_SECONDS)


def _failures(request) -> int:
    value = request.GET.get("failures", "0")
    return min(int(value), 10) if value.isdigit() else 0


def _local_next(request, default: str) -> str:
    target = request.POST.get("next", "")
    # A path on this site only: redirect() would take anything else for a view name (and fail on it).
    # A fragment's URL (e.g. the syncs panel that htmx loads into the detail page) is not a page to go back to.
    if (
        target.startswith("/")
        and "fragment=" not in target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return target
    return default


def _status_context(request, client, ids, sync, *, sync_id="", reconnecting=False, failures=0, error=None):
    space_id, collection_id, connector_id = ids
    progress = selectors.sync_progress(fingerprint=client.cache_fingerprint, sync=sync) if sync else {}
    now = datetime.now(UTC)
    running_for = (now - sync.created_at) if sync and sync.created_at and not sync.is_terminal else None
    return {
        "space_id": space_id,
        "collection_id": collection_id,
        "connector_id": connector_id,
        "sync": sync,
        "sync_id": sync.id if sync else sync_id,
        "failure_reason": _failure_reason(sync),
        "running_for": running_for,
        "progress": progress,
        "polling": sync is None or not sync.is_terminal or reconnecting,
        "reconnecting": reconnecting,
        "upstream_error": error,
        "interval": _poll_interval(failures + 1 if reconnecting else 0),
        "next_failures": failures + 1 if reconnecting else 0,
        "stall_seconds": settings.SYNC_STALL_SECONDS,
    }


def _failure_reason(sync) -> str:
    if sync is None or sync.status.lower() not in ("failed", "error"):
        return ""
    metadata = sync.metadata or {}
    reason = metadata.get("error") or metadata.get("message") or metadata.get("detail") or ""
    return str(reason) if reason else "Aimable gave no reason."


def _read_sync_for_status(request, client, ids, sync_id):
    """The sync, or the last copy we had while the upstream fails (then the partial says "reconnecting")."""
    space_id, collection_id, connector_id = ids
    failures = _failures(request)
    try:
        sync = selectors.sync_get(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
            sync_id=sync_id,
        )
        return _status_context(request, client, ids, sync, failures=0)
    except errors.NotFoundError:
        raise Http404("No such sync for this connector.") from None
    except (errors.AuthenticationError, errors.PermissionDeniedError):
        raise
    except errors.AimableError as exc:
        stale = selectors.sync_get_stale(
            fingerprint=client.cache_fingerprint, connector_id=connector_id, sync_id=sync_id
        )
        return _status_context(
            request, client, ids, stale, sync_id=sync_id, reconnecting=True, failures=failures, error=exc
        )


def _render_partial(request, template, context):
    response = render(request, template, context)
    if request.htmx and not context["polling"]:
        response.status_code = HTMX_STOP_POLLING  # 286: htmx stops this poll for good
    return response


@require_GET
def sync_detail(request, space_id, collection_id, connector_id, sync_id):
    ids = _ids(space_id, collection_id, connector_id)
    sync_id = validate_token(sync_id, "sync_id")
    client = client_for(request.user)
    if request.GET.get("fragment") == "status":
        context = _read_sync_for_status(request, client, ids, sync_id)
        return _render_partial(request, "connectors/sync_detail.html#status", context)
    context = _connector_context(request, client, *ids)
    context.update(_read_sync_for_status(request, client, ids, sync_id))
    return render(request, "connectors/sync_detail.html", context)


@require_GET
def sync_latest(request, space_id, collection_id, connector_id):
    """The latest sync of one connector, for a row of the connector list; polls only while it runs."""
    ids = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    failures = _failures(request)
    try:
        sync = selectors.sync_latest(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=ids[0],
            collection_id=ids[1],
            connector_id=ids[2],
        )
        context = _status_context(request, client, ids, sync)
        context["polling"] = bool(sync and not sync.is_terminal)
    except errors.AimableError as exc:
        stale = selectors.sync_latest_stale(fingerprint=client.cache_fingerprint, connector_id=ids[2])
        context = _status_context(request, client, ids, stale, reconnecting=True, failures=failures, error=exc)
    return _render_partial(request, "connectors/connector_list.html#latest_sync", context)


@require_http_methods(["GET", "POST"])
def sync_list(request, space_id, collection_id, connector_id):
    ids = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    if request.method == "POST":
        return _trigger(request, client, ids)
    if request.GET.get("fragment") == "panel":
        return _panel(request, client, ids)

    context = _connector_context(request, client, *ids)
    params = PageParams.from_request(request, default_limit=25)
    status_filter = request.GET.get("status", "")
    status_filter = status_filter if status_filter in SYNC_STATUSES else ""
    page, error = None, None
    try:
        page = client.list_syncs(*ids, limit=params.limit, offset=params.offset, status=status_filter or None)
    except (errors.AuthenticationError, errors.PermissionDeniedError, errors.NotFoundError):
        raise
    except errors.AimableError as exc:
        error = exc
    context.update(
        {
            "page": page,
            "syncs": page.items if page else [],
            "error": error,
            "params": params,
            "pager": params.pager(request, page),
            "statuses": SYNC_STATUSES,
            "status_filter": status_filter,
        }
    )
    return render(request, "connectors/sync_list.html", context)


def _panel(request, client, ids):
    """The syncs panel of the connector detail page, loaded after the page."""
    context = {"space_id": ids[0], "collection_id": ids[1], "connector_id": ids[2]}
    try:
        recent = client.list_syncs(*ids, limit=5)
        latest = recent.items[0] if recent.items else None
        context.update({"recent": recent.items, "has_more": recent.has_next})
        context["latest"] = _status_context(request, client, ids, latest) if latest else None
    except errors.AimableError as exc:
        context["panel_error"] = exc
    return render(request, "connectors/connector_detail.html#syncs_panel", context)


def _trigger(request, client, ids):
    space_id, collection_id, connector_id = ids
    detail_url = reverse("connector_detail", args=ids)
    retry_of = request.POST.get("retry_of", "")
    try:
        retry_of = validate_token(retry_of, "sync_id") if retry_of else ""
        sync = services.sync_trigger(
            user=request.user,
            client=client,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
            provider_slug=request.POST.get("provider_slug", "")[:64],
            retry_of=retry_of,
        )
    except errors.ConflictError as exc:
        running = _running_sync(client, ids)
        if running is not None:
            messages.info(request, "A sync is already running for this connector: here it is.")
            return redirect("sync_detail", *ids, running.id)
        messages.warning(request, f"The sync could not start: {exc.message}")
        return redirect(_local_next(request, detail_url))
    except (errors.AuthenticationError, errors.PermissionDeniedError):
        raise
    except errors.NotFoundError:
        raise Http404("No such connector in this collection: it may have been deleted.") from None
    except errors.AimableError as exc:
        messages.error(request, f'The sync did not start: {exc.message} Press "Sync now" to try again.')
        return redirect(_local_next(request, detail_url))
    messages.success(request, "Sync started." if not retry_of else "Sync started again.")
    return redirect("sync_detail", *ids, sync.id)


def _running_sync(client, ids):
    try:
        page = client.list_syncs(*ids, limit=5)
    except errors.AimableError:
        return None
    return next((s for s in page.items if not s.is_terminal), None)


@require_POST
def sync_cancel(request, space_id, collection_id, connector_id):
    ids = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    sync_id = request.POST.get("sync_id", "")
    sync_id = validate_token(sync_id, "sync_id") if sync_id else ""
    back = reverse("sync_detail", args=[*ids, sync_id]) if sync_id else reverse("connector_detail", args=ids)
    try:
        services.sync_cancel(
            user=request.user,
            client=client,
            space_id=ids[0],
            collection_id=ids[1],
            connector_id=ids[2],
            provider_slug=request.POST.get("provider_slug", "")[:64],
            sync_id=sync_id,
        )
        level, text = messages.SUCCESS, "Sync cancelled."
    except errors.ConflictError:
        level, text = messages.INFO, "There was no running sync to cancel: it had already finished."
    except (errors.AuthenticationError, errors.PermissionDeniedError):
        raise
    except errors.AimableError as exc:
        level, text = messages.ERROR, f"The sync was not cancelled: {exc.message} Try again."
    if request.htmx and sync_id:
        # In place: the status partial turns "cancelled" (or says why not).
        context = _read_sync_for_status(request, client, ids, sync_id)
        context["notice"] = text
        return _render_partial(request, "connectors/sync_detail.html#status", context)
    messages.add_message(request, level, text)
    return redirect(_local_next(request, back))
