import html
from urllib.parse import quote

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from .. import oauth, pending, selectors, services
from ..aimable import errors
from ..aimable.client import validate_token
from ..forms import (
    ConnectorCreateForm,
    ConnectorEditForm,
    apply_upstream_errors,
    sign_idempotency_key,
    unsign_idempotency_key,
)
from ..models import RecentCollection
from ..paging import PageParams
from ..permissions import is_read_only
from ..providers import PROVIDERS, get_provider, unknown_provider
from ..templatetags.console import moment
from ..upstream import client_for

CONNECTOR_STATUSES = ("active", "paused", "error", "disconnected")


def _collection_context(request, client, space_id: str, collection_id: str) -> dict:
    """Names for the breadcrumb, remembered per user so that only the first visit asks the upstream."""
    recent = RecentCollection.objects.filter(user=request.user, space_id=space_id, collection_id=collection_id).first()
    space_name = recent.space_name if recent else ""
    collection_name = recent.collection_name if recent else ""
    if not collection_name:
        try:
            for collection in client.list_collections(space_id):
                if str(collection.collection_id) == collection_id:
                    collection_name = collection.name or ""
            space_name = next((s.name for s in client.list_spaces() if str(s.space_id) == space_id), "")
        except errors.AimableError:
            pass  # names are a nicety; the page works without them
    opened_lately = recent and collection_name and (timezone.now() - recent.opened_at).total_seconds() < 60
    if not opened_lately:  # no database write on every page of the same collection
        services.recent_collection_touch(
            user=request.user,
            space_id=space_id,
            collection_id=collection_id,
            space_name=space_name or "",
            collection_name=collection_name or "",
        )
    return {
        "space_id": space_id,
        "collection_id": collection_id,
        "space_name": space_name,
        "collection_name": collection_name,
    }


def _url_maker(name, space_id, collection_id):
    """reverse() once, then fill in each connector id: the list renders 100 rows without 400 reverse() calls."""
    template = reverse(name, args=[space_id, collection_id, "__connector__"])
    return lambda connector_id: template.replace("__connector__", quote(connector_id, safe=""))


# One row of the connector list, as HTML built here rather than with template tags: the list shows up to 100 rows
# and Django's per-variable template lookups cost about 17 ms per page on the benchmark machine (bench/bench.py,
# "list of 100 connectors"). Every value goes through html.escape; the markup stays in these few strings.
_ROW = (
    '<tr><td><a href="{detail}"><img src="{icon}" alt="" width="20" height="20" class="icon"> {provider}</a>'
    '<br><code class="small copyable">{id}</code></td>'
    '<td><span class="badge badge-{status}">{status_text}</span></td>'
    "<td>{scope}</td><td>{created}</td><td>{updated}</td>"
    '<td><span hx-get="{latest}" hx-trigger="load" hx-swap="outerHTML">'
    '<a href="{history}" class="small">Sync history</a></span></td>'
    "<td>{sync_now}</td></tr>"
)
_SYNC_NOW = (
    '<button type="submit" form="row-sync" formaction="{history}" name="provider_slug" value="{slug}"'
    ' class="small">Sync now</button>'
)
_TIME = '<time datetime="{iso}" title="{title}">{text}</time>'


def _escaped(**values) -> dict:
    return {k: html.escape(str(v), quote=True) for k, v in values.items()}


def _time_html(value, now) -> str:
    when = moment(value, now)
    return _TIME.format(**_escaped(**when)) if when else "—"


def connector_rows(space_id, collection_id, connectors, *, read_only=False) -> list[dict]:
    """Everything a row of the list shows, computed once in Python, with the row's HTML."""
    detail = _url_maker("connector_detail", space_id, collection_id)
    latest = _url_maker("sync_latest", space_id, collection_id)
    history = _url_maker("sync_list", space_id, collection_id)
    icons = {}
    now = timezone.now()
    rows = []
    for connector in connectors:
        provider = provider_of(connector)
        if provider.icon not in icons:
            icons[provider.icon] = static(provider.icon)
        values = _escaped(
            detail=detail(connector.id),
            icon=icons[provider.icon],
            provider=provider.name,
            id=connector.id,
            status=connector.status,
            status_text=connector.status or "unknown",
            scope=provider.scope_summary(connector.scope_config),
            latest=latest(connector.id),
            history=history(connector.id),
            slug=connector.provider_slug,
        )
        sync_now = "" if read_only else _SYNC_NOW.format(**values)
        row_html = _ROW.format(
            **values,
            created=_time_html(connector.created_at, now),
            updated=_time_html(connector.updated_at, now),
            sync_now=sync_now,
        )
        rows.append({"connector": connector, "provider": provider, "html": mark_safe(row_html)})  # noqa: S308
    return rows


def provider_of(connector):
    return get_provider(connector.provider_slug) or unknown_provider(connector.provider_slug)


@require_GET
def connector_list(request, space_id, collection_id):
    space_id, collection_id = str(space_id), str(collection_id)
    client = client_for(request.user)
    params = PageParams.from_request(request, default_limit=25)
    provider_filter = request.GET.get("provider", "")
    provider_filter = provider_filter if provider_filter in PROVIDERS else ""
    status_filter = request.GET.get("status", "")
    status_filter = status_filter if status_filter in CONNECTOR_STATUSES else ""

    context = _collection_context(request, client, space_id, collection_id)
    rows, page, error = [], None, None
    try:
        page = client.list_connectors(
            space_id,
            collection_id,
            limit=params.limit,
            offset=params.offset,
            status=status_filter or None,
            provider_slug=provider_filter or None,
        )
        rows = connector_rows(space_id, collection_id, page.items, read_only=is_read_only(request.user))
    except (errors.PermissionDeniedError, errors.NotFoundError):
        services.recent_collection_forget(user=request.user, space_id=space_id, collection_id=collection_id)
        raise  # whole-page errors, rendered by the middleware
    except errors.AuthenticationError:
        raise
    except errors.AimableError as exc:
        error = exc  # the frame renders, with a banner and a retry link
    context.update(
        {
            "rows": rows,
            "page": page,
            "error": error,
            "params": params,
            "pager": params.pager(request, page),
            "providers": PROVIDERS.values(),
            "statuses": CONNECTOR_STATUSES,
            "provider_filter": provider_filter,
            "status_filter": status_filter,
            "filtered": bool(provider_filter or status_filter),
        }
    )
    return render(request, "connectors/connector_list.html", context)


def _connector_context(request, client, space_id, collection_id, connector_id):
    """The connector and the names around it; an unknown connector is a 404 page naming it."""
    context = _collection_context(request, client, space_id, collection_id)
    try:
        connector = client.get_connector(space_id, collection_id, connector_id)
    except errors.NotFoundError as exc:
        if "connector" not in exc.message.lower():
            # Aimable names what is missing (the space or the collection): say that, not "no such connector".
            raise Http404(f"{exc.message.rstrip('.')}: check the space and collection IDs in the address.") from None
        raise Http404("No such connector in this collection: it may have been deleted.") from None
    provider = provider_of(connector)
    context.update(
        {
            "connector": connector,
            "connector_id": connector.id,
            "provider": provider,
            "scope_summary": provider.scope_summary(connector.scope_config),
        }
    )
    return context


def _ids(space_id, collection_id, connector_id):
    """Path ids, validated before any upstream call: a bad connector id is a 404 at once."""
    return str(space_id), str(collection_id), validate_token(connector_id, "connector_id")


@require_http_methods(["GET", "POST"])
def connector_create(request, space_id, collection_id):
    space_id, collection_id = str(space_id), str(collection_id)
    client = client_for(request.user)
    context = _collection_context(request, client, space_id, collection_id)
    data = request.POST if request.method == "POST" else None
    slug = (data or request.GET).get("provider") or "google-drive"
    slug = slug if slug in PROVIDERS else "google-drive"
    # Back from "Connect <provider>" (?draft=...): the form's input was kept server-side (connectors/oauth.py).
    draft = oauth.draft_for_form(request, space_id, collection_id) if data is None else None
    slug = draft["provider"] if draft else slug

    idempotency_key = None
    if data is not None:
        idempotency_key = unsign_idempotency_key(data.get("idempotency_token", ""), request.user)
    kept = pending.get(request, idempotency_key) if idempotency_key else None
    kept = oauth.usable_for(request, kept, slug)  # not a credential Connect captured for another provider

    if data is not None and "change_provider" in data:
        # Without JavaScript: the user picked another provider and asked for its fields.
        token, credential = _keep_typed_secrets(request, data, idempotency_key, kept)
        form = ConnectorCreateForm(
            user=request.user,
            provider_slug=slug,
            kept_secret_hint=pending.masked(credential),
            initial={**data.dict(), "idempotency_token": token},
        )
        form.initial.pop("access_token", None)
        form.initial.pop("refresh_token", None)
        return _render_create(request, context, form)

    form = ConnectorCreateForm(
        data,
        user=request.user,
        provider_slug=slug,
        kept_secret_hint=pending.masked(kept),
        initial=oauth.draft_initial(draft),
    )
    if request.htmx and request.method == "GET" and request.htmx.target == "provider-fields":
        oauth.mark_connected(request, form, request.GET.get("idempotency_token", ""))
        return render(request, "connectors/connector_form.html#provider_fields", {**context, "form": form})
    if data is None or not form.is_valid():
        if data is not None:
            token, credential = _keep_typed_secrets(request, data, idempotency_key, kept)
            form.data = form.data.copy()
            form.data["idempotency_token"] = token
            form.kept_secret_hint = pending.masked(credential)
        return _render_create(request, context, form)

    idempotency_key = form.cleaned_data["idempotency_token"]
    credential = {**(kept or {}), **form.credential_changes()}
    try:
        connector = services.connector_create(
            user=request.user,
            client=client,
            space_id=space_id,
            collection_id=collection_id,
            provider_slug=form.scope_provider.slug,
            credential=credential,
            scope_config=form.scope_config(),
            idempotency_key=idempotency_key,
        )
    except errors.ValidationError as exc:
        # Nothing was created: keep the secret, and use a new key for the corrected request.
        pending.keep(request, idempotency_key, credential)
        apply_upstream_errors(form, exc)
        return _render_create(request, context, _with_new_key(form, request, credential))
    except errors.ConflictError:
        pending.keep(request, idempotency_key, credential)
        form.add_error(
            None,
            "This form was already sent once with other values, and that earlier try may have created a connector. "
            "Check the connector list before creating it again; submitting now creates a new one.",
        )
        return _render_create(request, context, _with_new_key(form, request, credential))
    except (errors.AuthenticationError, errors.PermissionDeniedError):
        raise
    except errors.AimableError as exc:
        # Maybe created, maybe not: keep the same key so that trying again can never create a second one.
        pending.keep(request, idempotency_key, credential)
        form.add_error(
            None,
            f'The connector could not be created: {exc.message} Your input is kept; press "Create connector" '
            "again to retry (it will not create a duplicate).",
        )
        form.kept_secret_hint = pending.masked(credential)
        return _render_create(request, context, form, status=200)

    pending.drop(request, idempotency_key)
    messages.success(request, f"{form.scope_provider.name} connector created.")
    return redirect("connector_detail", space_id, collection_id, connector.id)


def _keep_typed_secrets(request, data, idempotency_key, kept) -> tuple[str, dict]:
    """Password inputs are never echoed back, so a form shown again keeps what was typed in them server-side.

    Returns the signed token the form carries next (a fresh one if the posted one was missing, forged or another
    user's: otherwise the form could never be sent again) and the credential now kept for it.
    """
    typed = {
        name: value
        for name in ("access_token", "refresh_token")
        if 0 < len(value := (data.get(name) or "").strip()) <= 4096
    }
    credential = {**(kept or {}), **typed}
    token = data.get("idempotency_token", "")
    if idempotency_key is None:
        token = sign_idempotency_key(request.user)
        idempotency_key = unsign_idempotency_key(token, request.user)
    if credential:
        pending.keep(request, idempotency_key, credential)
    return token, credential


def _with_new_key(form, request, credential):
    new_token = sign_idempotency_key(request.user)
    new_key = unsign_idempotency_key(new_token, request.user)
    pending.keep(request, new_key, credential)
    form.data = form.data.copy()
    form.data["idempotency_token"] = new_token
    form.kept_secret_hint = pending.masked(credential)
    return form


def _render_create(request, context, form, status=200):
    oauth.mark_connected(request, form)  # "Connected" rather than a masked token when Connect captured it
    return render(
        request,
        "connectors/connector_form.html",
        {**context, "form": form, "providers": PROVIDERS.values()},
        status=status,
    )


@require_GET
def connector_detail(request, space_id, collection_id, connector_id):
    space_id, collection_id, connector_id = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    context = _connector_context(request, client, space_id, collection_id, connector_id)
    connector = context["connector"]
    provider = context["provider"]
    scope_rows = [
        {"label": f.label, "values": connector.scope_config.get(f.key) or []}
        for f in provider.scope_fields
        if f.key in (connector.scope_config or {})
    ]
    other_scope = {k: v for k, v in (connector.scope_config or {}).items() if k not in provider.scope_keys}
    context.update(
        {
            "scope_rows": scope_rows,
            "other_scope": other_scope,
            "extra_fields": {
                k: v
                for k, v in connector.raw.items()
                if k
                not in {
                    "id",
                    "collection_id",
                    "provider_slug",
                    "principal_id",
                    "scope_config",
                    "status",
                    "created_at",
                    "updated_at",
                    "credential",
                }
            },
        }
    )
    return render(request, "connectors/connector_detail.html", context)


@require_http_methods(["GET", "POST"])
def connector_edit(request, space_id, collection_id, connector_id):
    space_id, collection_id, connector_id = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    context = _connector_context(request, client, space_id, collection_id, connector_id)
    connector, provider = context["connector"], context["provider"]
    form = ConnectorEditForm(request.POST or None, connector=connector, provider=provider)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("connector_detail", space_id, collection_id, connector.id)
        try:
            services.connector_update(
                user=request.user,
                client=client,
                space_id=space_id,
                collection_id=collection_id,
                connector=connector,
                changes=changes,
            )
        except errors.ValidationError as exc:
            apply_upstream_errors(form, exc)
        except errors.NotFoundError:
            raise Http404("This connector no longer exists: it may have been deleted.") from None
        except (errors.AuthenticationError, errors.PermissionDeniedError):
            raise
        except errors.AimableError as exc:
            form.add_error(None, f'Your changes were not saved: {exc.message} Press "Save changes" to try again.')
        else:
            messages.success(request, "Changes saved.")
            return redirect("connector_detail", space_id, collection_id, connector.id)
    context["form"] = form
    return render(request, "connectors/connector_edit.html", context)


@require_http_methods(["GET", "POST"])
def connector_delete(request, space_id, collection_id, connector_id):
    space_id, collection_id, connector_id = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    try:
        context = _connector_context(request, client, space_id, collection_id, connector_id)
    except Http404:
        if request.method == "POST":
            messages.info(request, "That connector was already deleted.")
            return redirect("connector_list", space_id, collection_id)
        raise
    connector = context["connector"]
    if request.method == "POST":
        try:
            services.connector_delete(
                user=request.user, client=client, space_id=space_id, collection_id=collection_id, connector=connector
            )
        except errors.NotFoundError:
            pass  # gone already: what the user wanted
        except (errors.AuthenticationError, errors.PermissionDeniedError):
            raise
        except errors.AimableError as exc:
            context["error"] = exc
            return render(request, "connectors/connector_delete.html", context)
        messages.success(request, f"{context['provider'].name} connector deleted.")
        return redirect("connector_list", space_id, collection_id)

    running = None
    try:  # the same cached read as the list's "Latest sync" cell
        latest = selectors.sync_latest(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
        )
        running = latest if latest is not None and not latest.is_terminal else None
    except errors.AimableError:
        pass  # the confirmation works without it
    context["running_sync"] = running
    return render(request, "connectors/connector_delete.html", context)
