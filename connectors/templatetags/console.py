"""The console's markup written once: badges, times and the "Sync now" button, as ``html_format`` helpers used by
the templates (as tags) and by the list rows built in Python (connectors/views/connectors.py)."""

import html
import re
from datetime import datetime, timedelta
from functools import lru_cache

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from .. import oauth
from ..naming import display_name, scope_label, settings_for

register = template.Library()

_CSS_TOKEN = re.compile(r"[^a-z0-9-]+")


def _escaped(arg, escape=html.escape) -> str:
    if type(arg) is str:  # most arguments: plain text (a SafeString is a str subclass, kept below)
        return escape(arg)
    marked = getattr(arg, "__html__", None)
    return marked() if marked is not None else escape(str(arg))


def html_format(template: str, *args) -> SafeString:
    """Django's format_html, escaping each argument the same way (markup that is already safe is kept), without its
    lazy-string machinery: the connector list builds its 100 rows with it, and format_html cost 3 ms of them."""
    return SafeString(template.format(*map(_escaped, args)))


@register.filter
def duration(value: timedelta | None) -> str:
    """1h 02m, 3m 07s, 12s."""
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def moment(value: datetime | None, now: datetime) -> dict | None:
    """A timestamp ready for <time>: ISO form, full UTC form for the tooltip, and "3 hours ago"."""
    if value is None:
        return None
    # isoformat, not strftime: strftime writes the year 1 as "1". One isoformat, cut for the tooltip and a future date.
    iso = value.isoformat()
    shown = iso.replace("T", " ", 1)
    return {
        "iso": iso,
        "title": shown[:19] + " UTC",
        "text": _ago(now - value) if value <= now else shown[:16],
    }


@register.filter
def ago(value: datetime | None) -> str:
    """ "3 hours ago", "just now"; a future time is shown as a date."""
    if value is None:
        return ""
    return moment(value, timezone.now())["text"]


@register.filter
def sentence(value) -> str:
    """Ends a message with a full stop, so the page's own words can follow it."""
    text = str(value or "").strip()
    return text if not text or text.endswith((".", "!", "?", ")")) else text + "."


def badge_html(status: str | None, label: str | None = None, title: str = "") -> SafeString:
    """A status badge; the class is derived from the status (whatever the upstream sent, it stays one CSS token).
    Kept for the next row with the same status (a list of 100 has a handful of different badges)."""
    try:
        return _badge_html(status, label, title)
    except TypeError:  # a value that cannot be a cache key (whatever the upstream sent)
        return _badge_html.__wrapped__(status, label, title)


@lru_cache(maxsize=256)
def _badge_html(status, label, title) -> SafeString:
    css = _CSS_TOKEN.sub("-", str(status or "unknown").lower()).strip("-") or "unknown"
    title_attr = html_format(' title="{}"', title) if title else ""
    return html_format('<span class="badge badge-{}"{}>{}</span>', css, title_attr, label or status or "unknown")


def when_html(value: datetime | None, now: datetime | None = None) -> SafeString:
    """A <time> with the exact time as its tooltip and "3 hours ago" as its text; a dash when there is none."""
    when = moment(value, now or timezone.now())
    if when is None:
        return html_format('<span class="muted">{}</span>', "—")
    return html_format('<time datetime="{}" title="{}">{}</time>', when["iso"], when["title"], when["text"])


def sync_now_html(
    url: str,
    *,
    form: str,
    provider_slug: str = "",
    small: bool = False,
    name: str = "",
    status: str = "",
    resume_url: str = "",
    reconnect_url: str = "",
    reconnect_label: str = "Reconnect",
) -> SafeString:
    """The "Sync now" button; it submits the page's shared sync form (``{% sync_form %}``) to ``url``. ``name``: the
    connector's, for the button's accessible name ("Sync <name> now"). A sync of a paused or disconnected connector
    cannot work: the button gives way to the fix, with the reason: Resume (submitted by the same form to
    ``resume_url``), or a link to Reconnect (or "Enter a new token" when the provider has no OAuth client here) at
    ``reconnect_url``. Without a fix URL (the user may not make it), the reason only."""
    size = SafeString(' class="small"') if small else ""
    state = str(status or "").lower()
    if state == "paused":
        fix = (
            html_format(
                '<button type="submit" form="{}" formaction="{}"{}{}>Resume</button>',
                form,
                resume_url,
                size,
                html_format(' aria-label="Resume {}"', name) if name else "",
            )
            if resume_url
            else ""
        )
        return html_format(
            '<span class="sync-blocked">{} <span class="small muted">{}</span></span>',
            fix,
            "Paused: resume it to sync." if resume_url else "Paused: an admin can resume it.",
        )
    if state == "disconnected":
        fix = (
            html_format(
                '<a href="{}" role="button"{}{}>{}</a>',
                reconnect_url,
                SafeString(' class="small secondary"') if small else SafeString(' class="secondary"'),
                html_format(' aria-label="{} for {}"', reconnect_label, name) if name else "",
                reconnect_label,
            )
            if reconnect_url
            else ""
        )
        return html_format(
            '<span class="sync-blocked">{} <span class="small muted">{}</span></span>',
            fix,
            "Disconnected: reconnect it to sync." if reconnect_url else "Disconnected: an admin can reconnect it.",
        )
    return html_format(
        '<button type="submit" form="{}" formaction="{}" name="provider_slug" value="{}"{}{}>Sync now</button>',
        form,
        url,
        provider_slug,
        size,
        html_format(' aria-label="Sync {} now"', name) if name else "",
    )


@register.simple_tag
def badge(status, label=None, title="") -> SafeString:
    return badge_html(status, label, title)


@register.simple_tag
def when(value) -> SafeString:
    return when_html(value)


def reconnect_fix(ids, provider_slug: str) -> tuple[str, str]:
    """Where a disconnected connector gets a new credential: the Reconnect at the top of its page when the provider has
    an OAuth client here, else the edit form's token field."""
    if oauth.config_for(provider_slug or "") is not None:
        return reverse("connector_detail", args=ids) + "#reconnect", "Reconnect"
    return reverse("connector_edit", args=ids) + "#credential", "Enter a new token"


@register.simple_tag(takes_context=True)
def sync_now(context, url, form="sync-form", provider_slug="", small=False, status="", name="") -> SafeString:
    """On a connector's pages: Resume (for who may change it) and Reconnect (its credential panel) are built here."""
    ids = [context.get("space_id"), context.get("collection_id"), context.get("connector_id")]
    resume_url = reconnect_url = ""
    reconnect_label = "Reconnect"
    if all(ids) and status and context.get("can_change"):
        resume_url = reverse("connector_resume", args=ids)
        reconnect_url, reconnect_label = reconnect_fix(ids, provider_slug)
    return sync_now_html(
        url,
        form=form,
        provider_slug=provider_slug,
        small=small,
        name=name,
        status=status,
        resume_url=resume_url,
        reconnect_url=reconnect_url,
        reconnect_label=reconnect_label,
    )


@register.inclusion_tag("includes/sync_form.html", takes_context=True)
def sync_form(context, form_id="sync-form"):
    """The one hidden form the page's "Sync now" buttons submit (with the page to come back to)."""
    request = context["request"]
    return {"form_id": form_id, "next": request.get_full_path(), "csrf_token": context.get("csrf_token")}


def shorten(text, limit: int) -> str:
    """At most ``limit`` characters, cut before escaping (an entity is never cut in half)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


SCOPE_NAME_CHARS = 80  # a scope value's name as shown; the whole name is in its tooltip


def scope_value_html(value, named=None, *, id_below: bool = False, plain: bool = False) -> SafeString:
    """A scope value by the name the provider's browse gave it, with its id on hover (or on a second line, to copy);
    the id itself (as code, or as plain text) when the console has not seen its name. ``named``: the connector's
    ConnectorSettings or None."""
    label = scope_label(value, named)
    if label == str(value):
        return html_format("{}", value) if plain else html_format('<code class="small copyable">{}</code>', value)
    if id_below:
        return html_format(
            '<span title="{}">{}</span><br><code class="small muted copyable">{}</code>',
            label,
            shorten(label, SCOPE_NAME_CHARS),
            value,
        )
    return html_format('<span title="{} ({})">{}</span>', label, value, shorten(label, SCOPE_NAME_CHARS))


def scope_summary_html(provider, scope_config, named=None, *, shown: int = 3) -> SafeString:
    """ "3 folders", and under it the first values by name (id on hover): the list's scope cell."""
    scope_config = scope_config if isinstance(scope_config, dict) else {}
    values = []
    for scope_field in provider.scope_fields:
        field_values = scope_config.get(scope_field.key)
        if isinstance(field_values, list):
            values.extend(str(v) for v in field_values if v not in (None, ""))
    summary = html_format("{}", provider.scope_summary(scope_config))
    if not values:
        return summary
    parts = SafeString(", ".join(scope_value_html(v, named) for v in values[:shown]))  # each one escaped
    more = html_format(" and {} more", len(values) - shown) if len(values) > shown else ""
    return html_format('{}<br><span class="small muted">{}{}</span>', summary, parts, more)


@register.simple_tag
def scope_value(value, named=None, id_below=False, plain=False) -> SafeString:
    return scope_value_html(value, named, id_below=id_below, plain=plain)


@register.simple_tag(takes_context=True)
def connector_title(context, limit: int = 80) -> str:
    """The connector's name for a heading or breadcrumb: the team's name, else "<Provider> <short id>". Uses the
    page's ``connector_named`` (its ConnectorSettings or None) when the view loaded it, else reads it (one query)."""
    connector_id = context.get("connector_id") or ""
    if "connector_named" in context:
        named = context["connector_named"]
    else:
        named = settings_for(connector_id) if connector_id else None
    provider = context.get("provider")
    title = display_name(connector_id=connector_id, provider_slug=provider.slug if provider else "", named=named)
    return shorten(title, limit)
