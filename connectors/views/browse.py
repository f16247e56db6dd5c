"""Browse a connector's resources as a tree, tick what to sync, see the difference, save it as scope_config."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from .. import naming, selectors, services
from ..aimable import errors
from ..templatetags.console import shorten
from .base import ConnectorPage, connector_view, render_page


def _scope_key_for(provider, item) -> str | None:
    for scope_field in provider.scope_fields:
        if item.type in scope_field.selectable_types:
            return scope_field.key
    return None


_PENDING_KEY = "scope_pending"  # session: {connector key: {"base": saved scope, "scope": ticked scope}}
_PENDING_KEPT = 5
_ANCESTORS_KEPT = 20


def _pending_key(page: ConnectorPage) -> str:
    return "/".join((page.space_id, page.collection_id, page.connector_id))


def _pending_get(request, page: ConnectorPage, saved: dict | None) -> dict | None:
    """The ticks not saved yet (kept in the session so that "Back to the tree", the browser's Back and expanding a
    folder all show them); forgotten when the saved scope changed since (``saved`` None: not known here)."""
    kept = request.session.get(_PENDING_KEY, {}).get(_pending_key(page))
    if not kept or (saved is not None and kept.get("base") != saved):
        return None
    return kept.get("scope")


def _pending_keep(request, page: ConnectorPage, saved: dict, scope: dict) -> None:
    kept = dict(request.session.get(_PENDING_KEY, {}))
    kept.pop(_pending_key(page), None)
    kept[_pending_key(page)] = {"base": saved, "scope": scope}
    while len(kept) > _PENDING_KEPT:  # oldest first
        kept.pop(next(iter(kept)))
    request.session[_PENDING_KEY] = kept


def _pending_drop(request, page: ConnectorPage) -> None:
    kept = dict(request.session.get(_PENDING_KEY, {}))
    if kept.pop(_pending_key(page), None) is not None:
        request.session[_PENDING_KEY] = kept


def _in_scope(provider, scope_config: dict) -> set[str]:
    fields = [scope_config.get(f.key) for f in provider.scope_fields]
    return {str(v) for values in fields if isinstance(values, list) for v in values}


def _included_by(request, page: ConnectorPage, provider, scope_config: dict, parent_id: str | None) -> str | None:
    """The name of the ticked folder that includes this level (the parent or an ancestor the tree passed), if any:
    its items are synced with it, so they are shown ticked, not as if left out."""
    if not parent_id:
        return None
    chain = _ancestors(request, parent_id)
    ticked = _in_scope(provider, scope_config)
    folder = next((item_id for item_id in reversed(chain) if item_id in ticked), None)
    if folder is None:
        return None
    named = naming.settings_for(page.connector_id)
    return ((named.scope_names or {}) if named else {}).get(folder) or folder


def _ancestors(request, parent_id: str | None) -> list[str]:
    """The folders above the level shown (its parent last), passed along when a folder is opened, so that a ticked
    one is known at any depth."""
    return [*request.GET.getlist("ancestors")[:_ANCESTORS_KEPT], parent_id] if parent_id else []


def _ancestors_query(ancestors: list[str]) -> str:
    return urlencode([("ancestors", a) for a in ancestors[-_ANCESTORS_KEPT:]])


def _rows(provider, items, scope_config, *, included_by: str | None = None):
    rows = []
    for item in items:
        key = _scope_key_for(provider, item)
        rows.append(
            {
                "item": item,
                "scope_key": key,
                "checked": bool(key) and item.id in (scope_config.get(key) or []),
                "included_by": included_by,
                "expandable": item.is_container,
            }
        )
    return rows


def _stray_rows(provider, rows, scope_config: dict, names: dict) -> list[dict]:
    """Scope values the top level did not show: typed at create time, inside a folder, or unknown to the provider.
    Each is a row of its own that can be unticked."""
    shown = {(row["scope_key"], row["item"].id) for row in rows}
    top_level_keys = {row["scope_key"] for row in rows}
    stray = []
    for scope_field in provider.scope_fields:
        if scope_field.key not in top_level_keys:  # chosen inside containers (GitHub's repositories): not here
            continue
        values = scope_config.get(scope_field.key)
        for value in values if isinstance(values, list) else []:
            if (scope_field.key, str(value)) not in shown:
                stray.append({"id": str(value), "scope_key": scope_field.key, "name": names.get(str(value), "")})
    return stray


def _remember_names(page: ConnectorPage, rows) -> None:
    """The names of the choosable items this level showed, so that scope values are shown by name everywhere."""
    naming.scope_names_remember(
        **page.ids, names={row["item"].id: row["item"].name for row in rows if row["scope_key"]}
    )


def _saved_summary(provider, scope: dict, names: dict) -> str:
    """ "2 folders. In scope: Engineering, Design": the "Scope saved" message, values by name where the console
    knows them."""
    values = [str(v) for f in provider.scope_fields if isinstance(scope.get(f.key), list) for v in scope[f.key]]
    summary = provider.scope_summary(scope)
    if not values:
        return summary
    shown = ", ".join(shorten(names.get(v) or v, 60) for v in values[:5])
    return f"{summary}. In scope: {shown}{f' and {len(values) - 5} more' if len(values) > 5 else ''}"


def _selection_from_post(post, provider, current: dict) -> tuple[dict, dict]:
    """The new scope_config and the display names of what the page showed.

    Items the page never loaded (folders not expanded) keep their current state: only what was seen can change.
    """
    new_scope = dict(current)
    names = {}
    for scope_field in provider.scope_fields:
        key = scope_field.key
        seen = post.getlist(f"seen:{key}")
        selected = set(post.getlist(f"select:{key}")) & set(seen)
        before = list(current.get(key) or [])
        kept = [v for v in before if v not in seen or v in selected]
        added = [v for v in seen if v in selected and v not in before]
        merged = list(dict.fromkeys(kept + added))
        if merged or key in current:
            new_scope[key] = merged
        for item_id in seen:
            names[item_id] = post.get(f"name:{item_id}", "")
    return new_scope, names


def _diff(provider, current: dict, new: dict, names: dict) -> list[dict]:
    diff = []
    for scope_field in provider.scope_fields:
        before, after = current.get(scope_field.key) or [], new.get(scope_field.key) or []
        added = [{"id": v, "name": names.get(v, "")} for v in after if v not in before]
        removed = [{"id": v, "name": names.get(v, "")} for v in before if v not in after]
        if added or removed:
            diff.append({"field": scope_field, "added": added, "removed": removed, "total": len(after)})
    return diff


@require_http_methods(["GET", "POST"])
@connector_view
def connector_browse(request, page: ConnectorPage):
    if request.method == "POST":
        return _review(request, page)
    parent_id = request.GET.get("parent_id") or None
    offset = request.GET.get("offset", "0")
    offset = int(offset) if offset.isdigit() else 0
    if request.htmx:  # the children of one folder, expanding in place: no need to read the connector again
        return _children(request, page, parent_id, offset)

    context = page.context()
    connector = context["connector"]
    current = dict(connector.scope_config or {})
    ticked = _pending_get(request, page, current)
    shown_scope = current if ticked is None else ticked
    level, error = None, None
    try:
        level = selectors.browse_level(
            user=request.user,
            client=page.client,
            **page.ids,
            parent_id=parent_id,
            offset=offset,
            connector=connector,
        )
    except errors.InPlaceError as exc:
        error = exc
    rows, stray = [], []
    if level:
        included_by = _included_by(request, page, level.provider, shown_scope, parent_id)
        rows = _rows(level.provider, level.page.items, shown_scope, included_by=included_by)
        _remember_names(page, rows)
    named = naming.settings_for(page.connector_id)
    names = dict(named.scope_names or {}) if named else {}
    if level and not parent_id and not offset:
        stray = _stray_rows(level.provider, rows, shown_scope, names)
    context.update(
        {
            "connector_named": named,
            "rows": rows,
            "stray_rows": stray,
            "ancestors_query": _ancestors_query(_ancestors(request, parent_id)),
            "page": level.page if level else None,
            "browse_error": error,
            "parent_id": parent_id,
            "next_offset": level.page.next_offset if level and level.page.has_next else None,
            "current_scope": current,
            "diff": _diff(context["provider"], current, ticked, names) if ticked is not None else [],
        }
    )
    return render_page(request, "connectors/connector_browse.html", context)


def _review(request, page: ConnectorPage):
    """What the ticks change (htmx: the difference, in place), and saving it; "Back to the tree" keeps the ticks."""
    context = page.context()
    connector, provider = context["connector"], context["provider"]
    current = dict(connector.scope_config or {})
    if "discard" in request.POST:
        _pending_drop(request, page)
        return redirect("connector_detail", *page.path_args)
    # Items the page did not show keep their pending state (ticked in a folder now closed), else their saved one.
    ticked = _pending_get(request, page, current)
    new_scope, posted_names = _selection_from_post(request.POST, provider, current if ticked is None else ticked)
    named = naming.settings_for(page.connector_id)
    # What the page showed, over what an earlier browse showed (a value unticked in a folder not opened this time).
    names = {**(named.scope_names if named else {}), **{k: v for k, v in posted_names.items() if v}}
    diff = _diff(provider, current, new_scope, names)
    if diff:
        _pending_keep(request, page, current, new_scope)
    else:
        _pending_drop(request, page)
    if "back" in request.POST:
        return redirect("connector_browse", *page.path_args)
    saving = "save" in request.POST
    if saving and diff:
        try:
            services.connector_update(
                user=request.user,
                client=page.client,
                **page.collection_ids,
                connector=connector,
                changes={"scope_config": new_scope},
            )
        except errors.InPlaceError as exc:
            context["save_error"] = exc
        else:
            _pending_drop(request, page)
            messages.success(request, f"Scope saved: {_saved_summary(provider, new_scope, names)}.")
            return redirect("connector_detail", *page.path_args)
    context.update(
        {
            "connector_named": named,
            "diff": diff,
            "new_scope": new_scope,
            "posted": [
                (name, value)
                for name in request.POST
                if name.startswith(("seen:", "select:", "name:"))
                for value in request.POST.getlist(name)
            ],
            # Without JavaScript (or after a failed save): the review page lists the change and can save it.
            "review": True,
        }
    )
    return render_page(request, "connectors/connector_browse.html", context, partial=None if saving else "diff")


def _children(request, page: ConnectorPage, parent_id: str | None, offset: int):
    context = {**page.ids, "parent_id": parent_id, "rows": [], "next_offset": None}
    try:
        level = selectors.browse_level(
            user=request.user, client=page.client, **page.ids, parent_id=parent_id, offset=offset
        )
    except errors.InPlaceError as exc:
        context.update({"children_error": exc, "retry_offset": offset})
    else:
        ticked = _pending_get(request, page, level.scope_config)
        scope = level.scope_config if ticked is None else ticked
        rows = _rows(
            level.provider,
            level.page.items,
            scope,
            included_by=_included_by(request, page, level.provider, scope, parent_id),
        )
        _remember_names(page, rows)
        context.update(
            {
                "rows": rows,
                "ancestors_query": _ancestors_query(_ancestors(request, parent_id)),
                "next_offset": level.page.next_offset if level.page.has_next else None,
            }
        )
    return render_page(request, "connectors/connector_browse.html", context, partial="children")
