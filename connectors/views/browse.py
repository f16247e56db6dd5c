"""Browse a connector's resources as a tree, tick what to sync, see the difference, save it as scope_config."""

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .. import services
from ..aimable import errors
from ..providers import get_provider, unknown_provider
from ..upstream import client_for
from .connectors import _connector_context, _ids

BROWSE_PAGE = 50


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
def connector_browse(request, space_id, collection_id, connector_id):
    space_id, collection_id, connector_id = _ids(space_id, collection_id, connector_id)
    client = client_for(request.user)
    parent_id = request.GET.get("parent_id") or None
    offset = max(int(request.GET.get("offset", "0")) if request.GET.get("offset", "0").isdigit() else 0, 0)

    # The children of one folder, for the tree (htmx): no need to fetch the connector again.
    if request.method == "GET" and request.GET.get("fragment") == "children":
        return _children(request, client, space_id, collection_id, connector_id, parent_id, offset)

    context = _connector_context(request, client, space_id, collection_id, connector_id)
    connector, provider = context["connector"], context["provider"]
    current = dict(connector.scope_config or {})

    if request.method == "POST":
        new_scope, names = _selection_from_post(request.POST, provider, current)
        diff = _diff(provider, current, new_scope, names)
        if "save" in request.POST and diff:
            try:
                services.connector_update(
                    user=request.user,
                    client=client,
                    space_id=space_id,
                    collection_id=collection_id,
                    connector=connector,
                    changes={"scope_config": new_scope},
                )
            except errors.ValidationError as exc:
                context["save_error"] = exc
            except (errors.AuthenticationError, errors.PermissionDeniedError, errors.NotFoundError):
                raise
            except errors.AimableError as exc:
                context["save_error"] = exc
            else:
                messages.success(request, f"Scope saved: {provider.scope_summary(new_scope)}.")
                return redirect("connector_detail", space_id, collection_id, connector.id)
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
            }
        )
        if request.htmx and "save" not in request.POST:
            return render(request, "connectors/connector_browse.html#diff", context)
        # Without JavaScript (or after a failed save): the review page lists the change and can save it.
        context["review"] = True
        return render(request, "connectors/connector_browse.html", context)

    try:
        page = client.browse(
            space_id, collection_id, connector_id, parent_id=parent_id, limit=BROWSE_PAGE, offset=offset
        )
    except errors.NotFoundError:
        raise Http404("No such folder in this connector.") from None
    except (errors.AuthenticationError, errors.PermissionDeniedError):
        raise
    except errors.AimableError as exc:
        page, context["browse_error"] = None, exc
    _remember_tree(request, connector)
    context.update(
        {
            "rows": _rows(provider, page.items, current) if page else [],
            "page": page,
            "parent_id": parent_id,
            "next_offset": page.next_offset if page and page.has_next else None,
            "current_scope": current,
            "connector_id": connector_id,  # the tree partial is shared with the children fragment
            "diff": [],
        }
    )
    return render(request, "connectors/connector_browse.html", context)


def _tree_cache_key(request, connector_id) -> str:
    return f"browse-scope:{request.user.pk}:{connector_id}"


def _remember_tree(request, connector) -> None:
    """The browse page remembers the connector's provider and scope so expanding a folder costs one upstream call."""
    cache.set(
        _tree_cache_key(request, connector.id),
        {"provider": connector.provider_slug, "scope": connector.scope_config or {}},
        600,
    )


def _children(request, client, space_id, collection_id, connector_id, parent_id, offset):
    context = {
        "space_id": space_id,
        "collection_id": collection_id,
        "connector_id": connector_id,
        "parent_id": parent_id,
    }
    try:
        remembered = cache.get(_tree_cache_key(request, connector_id))
        if remembered is None:
            connector = client.get_connector(space_id, collection_id, connector_id)
            _remember_tree(request, connector)
            remembered = {"provider": connector.provider_slug, "scope": connector.scope_config or {}}
        page = client.browse(
            space_id, collection_id, connector_id, parent_id=parent_id, limit=BROWSE_PAGE, offset=offset
        )
    except errors.AimableError as exc:
        context.update({"children_error": exc, "rows": [], "retry_offset": offset})
        return render(request, "connectors/connector_browse.html#children", context)
    provider = get_provider(remembered["provider"]) or unknown_provider(remembered["provider"])
    context.update(
        {
            "rows": _rows(provider, page.items, remembered["scope"]),
            "next_offset": page.next_offset if page.has_next else None,
        }
    )
    return render(request, "connectors/connector_browse.html#children", context)
