"""Browse a connector's resources as a tree, tick what to sync, see the difference, save it as scope_config."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..aimable import errors
from .base import ConnectorPage, connector_view, render_page


def _scope_key_for(provider, item) -> str | None:
    for scope_field in provider.scope_fields:
        if item.type in scope_field.selectable_types:
            return scope_field.key
    return None


def _rows(provider, items, scope_config):
    rows = []
    for item in items:
        key = _scope_key_for(provider, item)
        rows.append(
            {
                "item": item,
                "scope_key": key,
                "checked": bool(key) and item.id in (scope_config.get(key) or []),
                "expandable": item.is_container,
            }
        )
    return rows


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
    context.update(
        {
            "rows": _rows(level.provider, level.page.items, level.scope_config) if level else [],
            "page": level.page if level else None,
            "browse_error": error,
            "parent_id": parent_id,
            "next_offset": level.page.next_offset if level and level.page.has_next else None,
            "current_scope": dict(connector.scope_config or {}),
            "diff": [],
        }
    )
    return render_page(request, "connectors/connector_browse.html", context)


def _review(request, page: ConnectorPage):
    """What the ticks change (htmx: the difference, in place), and saving it."""
    context = page.context()
    connector, provider = context["connector"], context["provider"]
    current = dict(connector.scope_config or {})
    new_scope, names = _selection_from_post(request.POST, provider, current)
    diff = _diff(provider, current, new_scope, names)
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
            messages.success(request, f"Scope saved: {provider.scope_summary(new_scope)}.")
            return redirect("connector_detail", *page.path_args)
    context.update(
        {
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
        context.update(
            {
                "rows": _rows(level.provider, level.page.items, level.scope_config),
                "next_offset": level.page.next_offset if level.page.has_next else None,
            }
        )
    return render_page(request, "connectors/connector_browse.html", context, partial="children")
