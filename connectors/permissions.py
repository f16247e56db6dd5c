"""Read-only team members: members of the "Read-only" group see every page and change nothing.

The rule lives here and is enforced in one place (connectors.middleware.ReadOnlyMiddleware); templates hide the
buttons with the ``read_only`` flag of the context processor. Every URL of the console is classified below, and a
test fails when a new one is not.
"""

import hashlib
from urllib.parse import urlsplit

from django.core.cache import cache
from django.urls import Resolver404, resolve

from .aimable import errors
from .aimable.client import validate_token
from .models import AuditEvent

READ_ONLY_GROUP = "Read-only"
# Members see every user's audit events, as staff do; everyone else sees their own and those on spaces their key
# reaches (connectors.selectors.audit_events).
AUDITORS_GROUP = "Auditors"


def _oauth_start_action(request):
    return (
        AuditEvent.Action.CONNECTOR_CREATE
        if _resolve(request.POST.get("next", "")).get("url_name") == "connector_create"
        else AuditEvent.Action.CREDENTIAL_UPDATE
    )


# URLs that change something: refused to read-only users, each refusal audited as "denied" under this action.
CHANGES = {
    "connector_create": AuditEvent.Action.CONNECTOR_CREATE,
    "connector_edit": AuditEvent.Action.CONNECTOR_UPDATE,
    "connector_delete": AuditEvent.Action.CONNECTOR_DELETE,
    "connector_browse": AuditEvent.Action.SCOPE_UPDATE,  # its POST; its GET (the tree) is for everyone
    "sync_trigger": AuditEvent.Action.SYNC_TRIGGER,
    "sync_retry": AuditEvent.Action.SYNC_RETRY,
    "sync_cancel": AuditEvent.Action.SYNC_CANCEL,
    "oauth_start": _oauth_start_action,
    "oauth_callback": AuditEvent.Action.CREDENTIAL_UPDATE,  # a GET that finishes a Connect or a Reconnect
    "connector_freshness": AuditEvent.Action.FRESHNESS_UPDATE,  # team-wide settings of a connector
    "connector_schedule": AuditEvent.Action.SCHEDULE_UPDATE,
}
# Of those, the ones refused whatever the method: pages that exist only to make the change.
REFUSED_PAGES = {"connector_create", "connector_edit", "connector_delete", "oauth_callback"}

# POSTs a read-only user may make: their own API key and password, signing in and out, "open by IDs" on the
# home page (a redirect), and their own watches and notifications (they change what is sent to them, nothing else).
ALLOWED_POSTS = {
    "api_keys",
    "api_key_delete",
    "home",
    "login",
    "logout",
    "password_change",
    "watch_add",
    "watch_remove",
    "watch_resume",
    "watch_update",
    "notifications_read",
    "channel_add",
    "channel_test",
    "channel_rotate",
    "channel_remove",
}

# GET-only pages (their views refuse other methods), listed so that the classification above is complete.
READ_PAGES = {
    "audit_log",
    "oauth_settings",
    "connector_list",
    "connector_detail",
    "sync_latest",
    "sync_list",
    "sync_detail",
    "healthz",
    "password_change_done",
    "notifications",
    "notifications_outbox",
}

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def is_read_only(user) -> bool:
    """True for a signed-in member of the Read-only group (a superuser too: the membership is explicit)."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_console_read_only", None)
    if cached is None:
        cached = user.groups.filter(name=READ_ONLY_GROUP).exists()
        user._console_read_only = cached
    return cached


def sees_every_audit_event(user) -> bool:
    """Staff and members of the Auditors group see the whole audit log, whatever their key reaches."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_staff or user.is_superuser or user.groups.filter(name=AUDITORS_GROUP).exists()


def refuses(request, url_name: str) -> bool:
    """Whether this request is a change that a read-only user may not make."""
    if url_name in REFUSED_PAGES:
        return True
    return request.method not in SAFE_METHODS and url_name not in ALLOWED_POSTS


def denied_event(request, url_name: str, view_kwargs: dict) -> dict | None:
    """The audit entry's fields for a refused change, or None when the request only asked for a page."""
    if url_name not in CHANGES or (request.method in SAFE_METHODS and url_name != "oauth_callback"):
        return None
    action = CHANGES[url_name]
    kwargs = dict(view_kwargs)
    if url_name == "oauth_start":
        kwargs.update(_resolve(request.POST.get("next", "")).get("kwargs", {}))
    provider = view_kwargs.get("provider_slug") or request.POST.get("provider_slug") or request.POST.get("provider")
    return {
        "action": action(request) if callable(action) else action,
        "space_id": kwargs.get("space_id"),
        "collection_id": kwargs.get("collection_id"),
        "connector_id": _safe_token(kwargs.get("connector_id")),
        "provider_slug": (provider or "")[:64],
    }


# A refused GET (an OAuth callback) is recorded at most once per user, path and this many seconds.
REFUSED_GET_SECONDS = 60


def records_refusal(request) -> bool:
    """Whether a refused change goes into the audit log. A refused POST always does; a refused GET is what a link
    on another site can make a read-only user's browser send, again and again, so only its first in a minute
    (per user and path) does: the log shows the attempt without being flooded."""
    if request.method not in SAFE_METHODS:
        return True
    path = hashlib.sha256(request.path.encode()).hexdigest()[:32]  # any length or character: a safe cache key
    return cache.add(f"read-only-refused:{request.user.pk}:{path}", 1, REFUSED_GET_SECONDS)


def _safe_token(value) -> str:
    try:
        return validate_token(value, "connector_id") if value else ""
    except errors.InvalidIdError:
        return ""


def _resolve(path: str) -> dict:
    if not path.startswith("/") or path.startswith("//"):
        return {}
    try:
        match = resolve(urlsplit(path).path)
    except Resolver404:
        return {}
    return {"url_name": match.url_name, "kwargs": match.kwargs}
