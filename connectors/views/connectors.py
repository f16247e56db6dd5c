"""A collection's connectors: the list, create, detail (with its syncs panel), edit and delete."""

import logging
from collections.abc import Iterator
from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .. import charts, credentials, naming, oauth, pending, selectors, services
from ..aimable import errors
from ..alerts import selectors as alert_selectors
from ..alerts.page_forms import panel_forms
from ..forms import ConnectorCreateForm, ConnectorEditForm, apply_upstream_errors
from ..idempotency import new_idempotency_token, unsign_idempotency_key
from ..paging import PageParams
from ..permissions import can_change, is_read_only
from ..providers import PROVIDERS
from ..templatetags.alerts_tags import health_mark_html
from ..templatetags.console import (
    badge_html,
    html_format,
    reconnect_fix,
    scope_summary_html,
    shorten,
    sync_now_html,
    when_html,
)
from .base import (
    SECRET_VARIABLES,
    CollectionPage,
    ConnectorPage,
    collection_view,
    connector_view,
    render_page,
    render_streamed,
    retry_context,
)
from .syncs import latest_sync_cell_id, latest_syncs_loaders, local_next, status_context

logger = logging.getLogger(__name__)

CONNECTOR_STATUSES = ("active", "paused", "error", "disconnected")
ROW_SYNC_FORM = "row-sync"


def _url_maker(name, space_id, collection_id):
    """reverse() once, then fill in each connector id, quoted once per row (``quote(id, safe="")``): the list renders
    100 rows without 500 reverse() calls."""
    template = reverse(name, args=[space_id, collection_id, "__connector__"])
    return lambda quoted_id: template.replace("__connector__", quoted_id)


# One row of the connector list, built in Python with format_html rather than with template tags: the list shows up
# to 100 rows, and Django's per-variable template lookups cost about 17 ms per page on the benchmark machine
# (bench/bench.py, "list of 100 connectors"). The badge, time and button come from the same helpers as the templates.
_ROW = (
    '<tr><td><a href="{}" title="{}"><img src="{}" alt="" width="20" height="20" class="icon"> {}</a>'
    '<br><span class="small muted">{} · <code title="{}">{}</code></span></td>'
    '<td data-label="Status">{}</td><td data-label="Scope">{}</td><td data-label="Created">{}</td>'
    '<td data-label="Updated">{}</td>'
    '<td data-label="Latest sync"><span class="latest-sync" id="{}" aria-busy="true">'
    '<span class="loading-hint small muted">Loading… </span><a href="{}" class="small">Sync history</a></span></td>'
    "<td>{}</td></tr>"
)
# A connector whose id cannot be in a URL (the upstream's, unchecked): shown, but nothing links to it or polls it.
_UNLINKED_ROW = (
    '<tr><td><img src="{}" alt="" width="20" height="20" class="icon"> {}'
    '<br><span class="small muted">{} · '
    '<code class="copyable" title="This ID cannot be opened in the console">{}</code></span></td>'
    '<td data-label="Status">{}</td><td data-label="Scope">{}</td><td data-label="Created">{}</td>'
    '<td data-label="Updated">{}</td><td data-label="Latest sync"><span class="muted small">—</span></td><td></td></tr>'
)


# A row that could not be built (logged): the rest of the list is shown.
_BROKEN_ROW = (
    '<tr><td colspan="7"><span class="muted">Connector <code>{}</code> could not be shown here; '
    "its page may show it.</span></td></tr>"
)

NAME_CHARS = 80  # a connector's name as shown in a row or a breadcrumb; the whole name is in its tooltip


def connector_rows(
    space_id: str,
    collection_id: str,
    connectors,
    *,
    read_only: bool = False,
    can_change: bool = False,
    health: dict | None = None,
    names: dict | None = None,
) -> Iterator[SafeString]:
    """The list's rows as HTML, each built when it is asked for (a long page is sent while they are built: see
    connector_list); ``health``: the alerts' marks by connector id; ``names``: the console's ConnectorSettings by
    connector id (naming.names_for). A row that cannot be built is logged, and shown as such: the others are."""
    health = health or {}
    names = names or {}
    detail = _url_maker("connector_detail", space_id, collection_id)
    history = _url_maker("sync_list", space_id, collection_id)
    trigger = _url_maker("sync_trigger", space_id, collection_id)
    resume = _url_maker("connector_resume", space_id, collection_id)
    icons = {}
    now = timezone.now()

    def row(connector) -> SafeString:
        provider = selectors.provider_of(connector)
        if provider.icon not in icons:
            icons[provider.icon] = static(provider.icon)
        mark = health.get(connector.id)
        named = names.get(connector.id)
        title = naming.display_name(connector_id=connector.id, provider_slug=connector.provider_slug, named=named)
        cells = (
            badge_html(connector.status) + (SafeString(" ") + health_mark_html(mark) if mark else SafeString("")),
            scope_summary_html(provider, connector.scope_config, named),
            when_html(connector.created_at, now),
            when_html(connector.updated_at, now),
        )
        if not connector.linkable:
            return html_format(
                _UNLINKED_ROW, icons[provider.icon], shorten(title, NAME_CHARS), provider.name, connector.id, *cells
            )
        quoted = quote(connector.id, safe="")
        reconnect = {}
        if can_change and connector.status == "disconnected":
            url, label = reconnect_fix([space_id, collection_id, connector.id], connector.provider_slug)
            reconnect = {"reconnect_url": url, "reconnect_label": label}
        sync_now = (
            ""
            if read_only
            else sync_now_html(
                trigger(quoted),
                form=ROW_SYNC_FORM,
                provider_slug=connector.provider_slug,
                small=True,
                name=shorten(title, NAME_CHARS),
                status=connector.status,
                resume_url=resume(quoted) if can_change else "",
                **reconnect,
            )
        )
        return html_format(
            _ROW,
            detail(quoted),
            title,
            icons[provider.icon],
            shorten(title, NAME_CHARS),
            provider.name,
            connector.id,
            connector.id[:8],
            *cells,
            latest_sync_cell_id(connector.id),
            history(quoted),
            sync_now,
        )

    for connector in connectors:
        try:
            yield row(connector)
        except Exception:  # a bug meeting what the upstream sent: that row says so, the list is still shown
            logger.exception("connector list: a row could not be built")
            yield html_format(_BROKEN_ROW, shorten(connector.id, NAME_CHARS))


# A list longer than this is sent while its rows are built (render_streamed): the browser has the page's head, its
# styles and scripts, and the first rows, while the rest are built (about 35 us each, 100 a page at most).
STREAMED_ROWS = 25


@require_safe
@collection_view
def connector_list(request, page: CollectionPage):
    params = PageParams.from_request(request, default_limit=25)
    provider_filter = request.GET.get("provider", "")
    provider_filter = provider_filter if provider_filter in PROVIDERS else ""
    status_filter = request.GET.get("status", "")
    status_filter = status_filter if status_filter in CONNECTOR_STATUSES else ""

    context = page.context()
    rows, result, error = (), None, None
    try:
        result = selectors.connector_page(
            client=page.client,
            **page.ids,
            limit=params.limit,
            offset=params.offset,
            status=status_filter or None,
            provider_slug=provider_filter or None,
        )
    except errors.InPlaceError as exc:
        error = exc  # the frame renders, with a banner and a retry link
    else:
        page.visited()
        rows = connector_rows(
            page.space_id,
            page.collection_id,
            result.items,
            read_only=is_read_only(request.user),
            can_change=can_change(request.user),
            health=alert_selectors.health_marks([c.id for c in result.items]),
            names=naming.names_for(c.id for c in result.items),
        )
    context.update(
        {
            "page": result,
            "error": error,
            "params": params,
            "pager": params.pager(request, result),
            "providers": PROVIDERS.values(),
            "statuses": CONNECTOR_STATUSES,
            "provider_filter": provider_filter,
            "status_filter": status_filter,
            "filtered": bool(provider_filter or status_filter),
            "row_sync_form": ROW_SYNC_FORM,
            "latest_syncs_loaders": latest_syncs_loaders(
                page.space_id, page.collection_id, [c.id for c in result.items if c.linkable] if result else []
            ),
        }
    )
    if result is not None and len(result.items) > STREAMED_ROWS:
        return render_streamed(request, "connectors/connector_list.html", context, name="rows", parts=rows)
    context["rows"] = SafeString("\n".join(rows))
    return render_page(request, "connectors/connector_list.html", context)


@sensitive_variables(*SECRET_VARIABLES)
@sensitive_post_parameters(*pending.SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@collection_view
def connector_create(request, page: CollectionPage):
    context = page.context()
    data = request.POST if request.method == "POST" else None
    slug = (data or request.GET).get("provider") or "google-drive"
    slug = slug if slug in PROVIDERS else "google-drive"
    # Back from "Connect <provider>" (?draft=...): the form's input was kept server-side (connectors/oauth.py).
    draft = oauth.draft_for_form(request, page.space_id, page.collection_id) if data is None else None
    slug = draft["provider"] if draft else slug

    key = unsign_idempotency_key(data.get("idempotency_token", ""), request.user) if data is not None else None
    kept = pending.get(request, key) if key else None
    kept = oauth.usable_for(request, kept, slug)  # not a credential Connect captured for another provider

    if data is not None and "change_provider" in data:
        # Without JavaScript: the user picked another provider and asked for its fields.
        token, credential = _keep_for_next_try(request, data, key, kept)
        form = ConnectorCreateForm(
            user=request.user,
            provider_slug=slug,
            kept_secret_hint=pending.masked(credential),
            initial={k: v for k, v in data.dict().items() if k not in pending.SECRET_FIELDS}
            | {"idempotency_token": token},
        )
        return _render_create(request, form, context=context)

    form = ConnectorCreateForm(
        data,
        user=request.user,
        provider_slug=slug,
        kept_secret_hint=pending.masked(kept),
        initial=oauth.draft_initial(draft),
    )
    if data is None:
        if request.htmx:  # the provider changed: its scope fields, in place
            oauth.mark_connected(request, form, request.GET.get("idempotency_token", ""))
        return _render_create(request, form, context=context)
    if not form.is_valid():
        token, credential = _keep_for_next_try(request, data, key, kept)
        return _render_create(request, _with_token(form, token, credential), context=context)

    key = form.cleaned_data["idempotency_token"]
    credential = {**(kept or {}), **form.credential_changes()}
    pending.keep(request, key, credential)  # until Aimable has it: a failed try keeps it for the next
    try:
        connector = services.connector_create(
            user=request.user,
            client=page.client,
            **page.ids,
            provider_slug=form.scope_provider.slug,
            credential=credential,
            scope_config=form.scope_config(),
            idempotency_key=key,
            name=form.naming()["name"],
        )
    except errors.ValidationError as exc:
        # Nothing was created: the corrected request gets a new key.
        apply_upstream_errors(form, exc)
        return _render_create(request, _with_new_token(request, form, credential), context=context)
    except errors.IdempotencyKeyReusedError:
        form.add_error(
            None,
            "This form was already sent once with other values, and that earlier try may have created a connector. "
            "Check the connector list before creating it again; submitting now creates a new one.",
        )
        return _render_create(request, _with_new_token(request, form, credential), context=context)
    except errors.InPlaceError as exc:
        # Maybe created, maybe not (or the same request is still running): the same key again can never create a
        # second one.
        form.add_error(
            None,
            f'The connector could not be created: {exc.message} Your input is kept; press "Create connector" '
            "again to retry (it will not create a duplicate).",
        )
        form.kept_secret_hint = pending.masked(credential)
        return _render_create(request, form, context=context)

    pending.drop(request, key)
    page.visited()
    named = None
    if any(form.naming().values()):  # the create's own audit row has the name: this one is not audited again
        named = naming.connector_name_set(
            user=request.user, **page.ids, connector_id=connector.id, **form.naming(), audit=False
        )
    messages.success(request, f"{_called(form.scope_provider, named)} created.")
    if connector.linkable and (
        missing := selectors.scope_ids_not_found(client=page.client, **page.ids, connector=connector)
    ):
        messages.warning(
            request,
            f"{form.scope_provider.name} does not list {', '.join(shorten(v, 60) for v in missing[:5])}"
            f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''} at its top level: check the ID"
            f"{'s' if len(missing) > 1 else ''}, or untick {'them' if len(missing) > 1 else 'it'} under "
            '"Browse and choose scope".',
        )
    if not connector.linkable:  # its page cannot be addressed: the list shows it
        return redirect("connector_list", page.space_id, page.collection_id)
    return redirect("connector_detail", page.space_id, page.collection_id, connector.id)


def _called(provider, named) -> str:
    """ "Google Drive connector", with the team's name when it has one: for the messages after a change."""
    if named is not None and named.name:
        return f"{provider.name} connector “{shorten(named.name, NAME_CHARS)}”"
    return f"{provider.name} connector"


def _keep_for_next_try(request, data, key: str | None, kept: dict | None) -> tuple[str, dict]:
    """Keeps the typed secrets for the form shown again. Returns the signed token the form carries next (a fresh
    one if the posted one was missing, forged or another user's: otherwise the form could never be sent again) and
    the credential now kept for it."""
    token = data.get("idempotency_token", "")
    if key is None:
        token, key = new_idempotency_token(request.user)
    return token, pending.keep_typed(request, key, data, kept)


def _with_token(form, token: str, credential: dict):
    form.data = form.data.copy()
    form.data["idempotency_token"] = token
    form.kept_secret_hint = pending.masked(credential)
    return form


def _with_new_token(request, form, credential: dict):
    token, key = new_idempotency_token(request.user)
    pending.keep(request, key, credential)
    return _with_token(form, token, credential)


def _render_create(request, form, *, context):
    oauth.mark_connected(request, form)  # "Connected" rather than a masked token when Connect captured it
    return render_page(
        request,
        "connectors/connector_form.html",
        {**context, "form": form, "providers": PROVIDERS.values()},
        partial="provider_fields" if request.method == "GET" else None,
    )


# Fields of the upstream object shown in their own rows (or never, as the credential).
_SHOWN_FIELDS = frozenset(
    {"id", "collection_id", "provider_slug", "principal_id", "scope_config", "status", "created_at", "updated_at"}
) | {"credential"}


def _scope_rows(provider, scope_config: dict) -> list[dict]:
    """Each scope field that is set, with its values (shown by name where the console has seen them)."""
    return [
        {"label": f.label, "values": scope_config.get(f.key) or []}
        for f in provider.scope_fields
        if f.key in scope_config
    ]


@require_safe
@connector_view
def connector_detail(request, page: ConnectorPage):
    if request.htmx:  # the syncs panel, loaded after the page: no need to read the connector again
        panel = {**page.ids, "panel_error": None, "recent": [], "latest": None}
        try:
            recent = selectors.sync_recent(client=page.client, **page.ids)
        except errors.InPlaceError as exc:
            panel["panel_error"] = exc
        else:
            latest = retry_context(page, status_context(page, recent.latest)) if recent.latest else None
            panel.update({"recent": recent.recent, "latest": latest})
        return render_page(request, "connectors/connector_detail.html", panel, partial="syncs_panel")

    context = page.context()
    connector, provider = context["connector"], context["provider"]
    scope_config = connector.scope_config or {}
    panel = alert_selectors.connector_panel(connector_id=page.connector_id)  # health, freshness, schedule
    named = panel["connector_settings"]  # the same row as the team's name: not read twice
    context.update(
        {
            "connector_named": named if named.pk else None,
            "scope_rows": _scope_rows(provider, scope_config),
            "other_scope": {k: v for k, v in scope_config.items() if k not in provider.scope_keys},
            "extra_fields": {k: v for k, v in connector.raw.items() if k not in _SHOWN_FIELDS},
        }
    )
    context.update({**panel, **panel_forms(panel)})
    history = selectors.sync_history(client=page.client, **page.ids)  # the chart's 30 syncs, one read
    context["chart"] = charts.SyncChart(history)
    context["credential"] = credentials.credential_health(connector=connector, syncs=history.syncs, **page.ids)
    # The one Reconnect sits at the top when the connector is disconnected, or failed on its credential.
    context["reconnect_at_top"] = connector.status == "disconnected" or (
        connector.status == "error" and context["credential"].needs_reauth
    )
    return render_page(request, "connectors/connector_detail.html", context)


@require_safe
@connector_view
def sync_chart(request, page: ConnectorPage):
    """The sync history chart alone: the page's chart asks for it when a sync finishes, and while one runs."""
    chart = charts.SyncChart(selectors.sync_history(client=page.client, **page.ids))
    return render_page(request, "connectors/connector_detail.html#sync_chart", {**page.ids, "chart": chart})


@sensitive_variables(*SECRET_VARIABLES)
@sensitive_post_parameters(*pending.SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
@connector_view
def connector_edit(request, page: ConnectorPage):
    context = page.context()
    connector, provider = context["connector"], context["provider"]
    kept_key = f"edit:{connector.id}"
    if request.method == "GET":
        pending.drop(request, kept_key)  # a fresh form starts without a credential from an earlier try
    kept = pending.get(request, kept_key) if request.method == "POST" else None
    named = naming.settings_for(page.connector_id)
    context.update({"connector_named": named, "scope_rows": _scope_rows(provider, connector.scope_config or {})})
    form = ConnectorEditForm(
        request.POST or None,
        connector=connector,
        provider=provider,
        kept_secret_hint=pending.masked(kept),
        named=named,
    )
    if request.method == "POST":
        if form.is_valid():
            changes = form.changes(kept_credential=kept)
            renamed = form.naming_changed()
            if not changes and not renamed:
                messages.info(request, "Nothing changed.")
                return redirect("connector_detail", *page.path_args)
            try:
                if changes:  # the name and description are the console's own: a rename alone calls no Aimable
                    services.connector_update(
                        user=request.user,
                        client=page.client,
                        **page.collection_ids,
                        connector=connector,
                        changes=changes,
                    )
            except errors.ValidationError as exc:
                apply_upstream_errors(form, exc)
            except errors.InPlaceError as exc:
                form.add_error(None, f'Your changes were not saved: {exc.message} Press "Save changes" to try again.')
            else:
                if renamed:
                    naming.connector_name_set(user=request.user, **page.ids, **form.naming())
                pending.drop(request, kept_key)
                messages.success(request, "Changes saved.")
                return redirect("connector_detail", *page.path_args)
        # Shown again: a credential typed in this try is kept (encrypted, server-side) for the next one.
        form.kept_secret_hint = pending.masked(pending.keep_typed(request, kept_key, request.POST, kept))
    context["form"] = form
    return render_page(request, "connectors/connector_edit.html", context)


@require_POST
@connector_view
def connector_resume(request, page: ConnectorPage):
    """Resumes a paused connector: the fix offered where "Sync now" cannot work."""
    back = local_next(request, reverse("connector_detail", args=page.path_args))
    connector = selectors.connector_get(client=page.client, **page.ids)
    try:
        services.connector_update(
            user=request.user,
            client=page.client,
            **page.collection_ids,
            connector=connector,
            changes={"status": "active"},
        )
    except errors.InPlaceError as exc:
        messages.error(request, f"The connector was not resumed: {exc.message} Try again.")
    else:
        messages.success(request, 'Resumed: the connector syncs again. Press "Sync now" to start a sync.')
    return redirect(back)


@require_http_methods(["GET", "POST"])
@connector_view
def connector_delete(request, page: ConnectorPage):
    if request.method == "POST":
        connector = selectors.connector_or_none(client=page.client, **page.ids)
        if connector is None:
            messages.info(request, "That connector was already deleted.")
            return redirect("connector_list", page.space_id, page.collection_id)
        try:
            deleted = services.connector_delete(
                user=request.user, client=page.client, **page.collection_ids, connector=connector
            )
        except errors.InPlaceError as exc:
            context = page.context(connector)  # not read again: Aimable just failed
            context["error"] = exc
            return render_page(request, "connectors/connector_delete.html", context)
        if deleted:
            named = naming.settings_for(page.connector_id)
            messages.success(request, f"{_called(selectors.provider_of(connector), named)} deleted.")
        else:
            messages.info(request, "That connector was already deleted.")
        return redirect("connector_list", page.space_id, page.collection_id)

    context = page.context()
    # The same cached read as the list's "Latest sync" cell; the confirmation works without it.
    latest = selectors.sync_latest_status(client=page.client, **page.ids).sync
    context["running_sync"] = latest if latest is not None and not latest.is_terminal else None
    return render_page(request, "connectors/connector_delete.html", context)
