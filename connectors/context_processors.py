from functools import cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from . import principal
from .permissions import OPERATOR_GROUP, READ_ONLY_GROUP, can_change, role_of
from .preferences import THEMES, theme_choice


def shown_url(url: str) -> str:
    """A URL as a page may show it: no user name or password, no query string or fragment (either may hold a token)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def console(request):
    user = getattr(request, "user", None)
    signed_in = getattr(user, "is_authenticated", False)
    role = role_of(user)  # read once per request: ReadOnlyMiddleware asked already (role_of keeps it on the user)
    return {
        # For signed-in users only: which upstream the console talks to is not for whoever opens the sign-in page.
        "aimable_api_url": shown_url(settings.AIMABLE_API_URL) if signed_in else "",
        "debug": settings.DEBUG,
        # Read-only team members see no button that changes anything (the middleware refuses the change anyway).
        "read_only": role == READ_ONLY_GROUP,
        # Operators see Sync now, Cancel and Retry, and no other button that changes something; can_change is
        # false for both roles (and for whoever is not signed in).
        "operator": role == OPERATOR_GROUP,
        "can_change": can_change(user),
        # The bell's number. A callable, counted once when a template shows it: partials and polls never ask.
        "unread_alerts": cache(lambda: principal.top_bar(user).unread_alerts) if signed_in else 0,
        # The user's theme ("auto": no data-theme, Pico follows the system), read once when a page shows it.
        "theme": cache(lambda: theme_choice(theme=principal.top_bar(user).theme if signed_in else THEMES.AUTO)),
    }
