"""The alerts' markup written once: the health mark (also used by the connector list's rows built in Python), the
Watch button and the timezone select."""

from __future__ import annotations

import uuid
from functools import cache

from django import template
from django.utils.safestring import SafeString

from ..aimable.types import is_path_id
from ..alerts import selectors
from ..alerts.models import ConnectorHealth, Watch
from ..alerts.page_forms import timezone_choices
from .console import badge_html, html_format

register = template.Library()

# What each bad state says next to a connector; "ok" and "paused" show nothing.
HEALTH_LABELS = {
    ConnectorHealth.State.FAILING: "Failing",
    ConnectorHealth.State.STALLED: "Stalled",
    ConnectorHealth.State.STALE: "Stale",
    ConnectorHealth.State.NEEDS_REAUTH: "Needs re-auth",
}


def health_mark_html(health: ConnectorHealth | None) -> SafeString:
    """A badge for a connector a watch found unhealthy (its reason as the tooltip); nothing when it is healthy."""
    if health is None or health.state not in HEALTH_LABELS:
        return SafeString("")
    label = HEALTH_LABELS[health.state]
    return badge_html(f"health-{health.state}", label, health.reason or f"Alerts: {label.lower()}")


@register.simple_tag
def health_mark(health) -> SafeString:
    return health_mark_html(health)


def _watches(context) -> dict[str, Watch]:
    """The user's watches, read once per request however many Watch buttons the page has."""
    request = context["request"]
    watches = getattr(request, "_alert_watches", None)
    if watches is None:
        watches = request._alert_watches = selectors.watches_by_target(request.user)
    return watches


def _canonical(value) -> str:
    """A UUID as the watches store it (an upstream id may be upper case or without hyphens)."""
    try:
        return str(uuid.UUID(str(value))) if value else ""
    except ValueError:
        return str(value)


@register.inclusion_tag("alerts/_watch_button.html", takes_context=True)
def watch_button(context, scope, space_id, collection_id="", connector_id="", label=""):
    """**Watch** or **Stop watching** for a space, a collection or a connector; says so when a wider watch covers it
    already."""
    request = context["request"]
    watches = _watches(context)
    space_id, collection_id = _canonical(space_id), _canonical(collection_id)
    target = Watch.target_of(scope, space_id, collection_id, connector_id)
    covered_by = None
    if scope != Watch.Scope.SPACE:
        wider = [Watch.target_of(Watch.Scope.SPACE, space_id)]
        if scope == Watch.Scope.CONNECTOR:
            wider.insert(0, Watch.target_of(Watch.Scope.COLLECTION, space_id, collection_id))
        covered_by = next((watches[t] for t in wider if t in watches), None)
    return {
        "watch": watches.get(target),
        "covered_by": covered_by,
        "scope": scope,
        "space_id": space_id,
        "collection_id": collection_id or "",
        "connector_id": connector_id or "",
        "label": label or "",
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }


@cache
def _timezone_options() -> dict[str, str]:
    """Each timezone's <option>, escaped once per process."""
    return {name: str(html_format('<option value="{}">{}</option>', name, text)) for name, text in timezone_choices()}


@register.simple_tag
def timezone_select(field) -> SafeString:
    """The form's timezone <select>, rendered without 600 widget templates."""
    selected = str(field.value() or "UTC")
    options = _timezone_options()
    chosen = options.get(selected)
    body = "".join(options.values())
    if chosen:
        body = body.replace(chosen, chosen.replace("<option ", "<option selected ", 1), 1)
    invalid = SafeString(' aria-invalid="true"') if field.errors else ""
    return html_format(
        '<select name="{}" id="{}" aria-label="Timezone"{}>{}</select>',
        field.html_name,
        field.auto_id,
        invalid,
        SafeString(body),
    )


@register.filter
def path_id(value) -> bool:
    """Whether an id can be in a link (one an alert recorded from the upstream may not)."""
    return is_path_id(value)


@register.filter
def hhmm(value) -> str:
    """A time as the time input wants it (HH:MM); what the user typed, as typed."""
    if value is None:
        return ""
    return value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)
