"""The console's markup written once: badges, times and the "Sync now" button, as ``html_format`` helpers used by
the templates (as tags) and by the list rows built in Python (connectors/views/connectors.py)."""

import html
import re
from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

register = template.Library()

_CSS_TOKEN = re.compile(r"[^a-z0-9-]+")


def html_format(template: str, *args) -> SafeString:
    """Django's format_html, escaping each argument the same way (markup that is already safe is kept), without its
    lazy-string machinery: the connector list builds its 100 rows with it, and format_html cost 3 ms of them."""
    return SafeString(
        template.format(*(arg.__html__() if hasattr(arg, "__html__") else html.escape(str(arg)) for arg in args))
    )


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
    # isoformat, not strftime: strftime writes the year 1 as "1"
    return {
        "iso": value.isoformat(),
        "title": value.isoformat(sep=" ", timespec="seconds")[:19] + " UTC",
        "text": _ago(now - value) if value <= now else value.isoformat(sep=" ", timespec="minutes")[:16],
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
    """A status badge; the class is derived from the status (whatever the upstream sent, it stays one CSS token)."""
    css = _CSS_TOKEN.sub("-", str(status or "unknown").lower()).strip("-") or "unknown"
    title_attr = html_format(' title="{}"', title) if title else ""
    return html_format('<span class="badge badge-{}"{}>{}</span>', css, title_attr, label or status or "unknown")


def when_html(value: datetime | None, now: datetime | None = None) -> SafeString:
    """A <time> with the exact time as its tooltip and "3 hours ago" as its text; a dash when there is none."""
    when = moment(value, now or timezone.now())
    if when is None:
        return html_format('<span class="muted">{}</span>', "—")
    return html_format('<time datetime="{}" title="{}">{}</time>', when["iso"], when["title"], when["text"])


def sync_now_html(url: str, *, form: str, provider_slug: str = "", small: bool = False) -> SafeString:
    """The "Sync now" button; it submits the page's shared sync form (``{% sync_form %}``) to ``url``."""
    return html_format(
        '<button type="submit" form="{}" formaction="{}" name="provider_slug" value="{}"{}>Sync now</button>',
        form,
        url,
        provider_slug,
        SafeString(' class="small"') if small else "",
    )


@register.simple_tag
def badge(status, label=None, title="") -> SafeString:
    return badge_html(status, label, title)


@register.simple_tag
def when(value) -> SafeString:
    return when_html(value)


@register.simple_tag
def sync_now(url, form="sync-form", provider_slug="", small=False) -> SafeString:
    return sync_now_html(url, form=form, provider_slug=provider_slug, small=small)


@register.inclusion_tag("includes/sync_form.html", takes_context=True)
def sync_form(context, form_id="sync-form"):
    """The one hidden form the page's "Sync now" buttons submit (with the page to come back to)."""
    request = context["request"]
    return {"form_id": form_id, "next": request.get_full_path(), "csrf_token": context.get("csrf_token")}
