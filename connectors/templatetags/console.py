from datetime import datetime, timedelta

from django import template

register = template.Library()


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
    return {
        "iso": value.isoformat(),
        "title": value.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "text": _ago(now - value) if value <= now else value.strftime("%Y-%m-%d %H:%M"),
    }


@register.filter
def ago(value: datetime | None) -> str:
    """ "3 hours ago", "just now"; a future time is shown as a date."""
    from django.utils import timezone

    if value is None:
        return ""
    return moment(value, timezone.now())["text"]


@register.filter
def sentence(value) -> str:
    """Ends a message with a full stop, so the page's own words can follow it."""
    text = str(value or "").strip()
    return text if not text or text.endswith((".", "!", "?", ")")) else text + "."
