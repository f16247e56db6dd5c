"""Team roles. Members of the "Read-only" group see every page and change nothing; members of the "Operator" group
may also start, cancel and retry syncs (one at a time or in bulk), and change nothing else; everyone else is a team
admin. Staff users manage the team (/team/).

The rule lives here and is enforced in one place (connectors.middleware.ReadOnlyMiddleware); templates hide the
buttons with the ``read_only`` (no change at all) and ``can_change`` (changes beyond syncing) flags of the context
processor. Every URL of the console is classified below, and a test fails when a new one is not.
"""

import contextlib
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.cache import cache
from django.urls import Resolver404, resolve

from .aimable import errors
from .aimable.client import validate_token
from .models import AuditEvent

READ_ONLY_GROUP = "Read-only"
OPERATOR_GROUP = "Operator"
# Members see every user's audit events, as staff do; everyone else sees their own and those on spaces their key
# reaches (connectors.selectors.audit_events).
AUDITORS_GROUP = "Auditors"


def _oauth_start_action(request):
    return (
        AuditEvent.Action.CONNECTOR_CREATE
        if _resolve(request.POST.get("next", "")).get("url_name") == "connector_create"
        else AuditEvent.Action.CREDENTIAL_UPDATE
    )


# URLs that change something: refused to read-only users (and to operators, but for OPERATOR_CHANGES), each refusal
# audited as "denied" under this action.
CHANGES = {
    "connector_create": AuditEvent.Action.CONNECTOR_CREATE,
    "connector_edit": AuditEvent.Action.CONNECTOR_UPDATE,
    "connector_delete": AuditEvent.Action.CONNECTOR_DELETE,
    "connector_resume": AuditEvent.Action.CONNECTOR_UPDATE,  # a paused connector's "Resume", beside "Sync now"
    "connector_browse": AuditEvent.Action.SCOPE_UPDATE,  # its POST; its GET (the tree) is for everyone
    "sync_trigger": AuditEvent.Action.SYNC_TRIGGER,
    "sync_retry": AuditEvent.Action.SYNC_RETRY,
    "sync_cancel": AuditEvent.Action.SYNC_CANCEL,
    "oauth_start": _oauth_start_action,
    "oauth_callback": AuditEvent.Action.CREDENTIAL_UPDATE,  # a GET that finishes a Connect or a Reconnect
    "connector_freshness": AuditEvent.Action.FRESHNESS_UPDATE,  # team-wide settings of a connector
    "connector_schedule": AuditEvent.Action.SCHEDULE_UPDATE,
    "reconnect_link_create": AuditEvent.Action.RECONNECT_LINK_CREATE,  # share a Reconnect link: a change
    "reconnect_link": AuditEvent.Action.RECONNECT_LINK_USE,  # a shared link's page: only for who may reconnect
    "reconnect_link_start": AuditEvent.Action.RECONNECT_LINK_USE,
    "bulk_start": AuditEvent.Action.BULK_START,  # sync, pause, resume or delete many connectors
}
# Of those, the ones refused whatever the method: pages that exist only to make the change.
REFUSED_PAGES = {
    "connector_create",
    "connector_edit",
    "connector_delete",
    "oauth_callback",
    "reconnect_link",
    "reconnect_link_start",
}

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
    # The team page: staff only (its views check), whatever their role; the invitation link is for the invitee.
    "team",
    "team_invite",
    "team_member_update",
    "team_member_deactivate",
    "team_member_reactivate",
    "team_accept",
    # Their own theme: what they see, nothing of the team's.
    "theme_set",
}

# Of CHANGES, what an operator may do: run syncs. A bulk action only when it is a sync (see refuses).
OPERATOR_CHANGES = frozenset({"sync_trigger", "sync_retry", "sync_cancel", "bulk_start"})


@dataclass(frozen=True)
class RoleRules:
    """What a role may still change, and how the middleware refuses the rest."""

    may_change: frozenset  # of CHANGES
    refusal_page: str
    reason: str  # the audit log's reason for a refusal


# Every role but team admin, in precedence order: read-only wins over operator for a member of both groups.
ROLES = {
    READ_ONLY_GROUP: RoleRules(frozenset(), "errors/read_only.html", "Read-only access"),
    OPERATOR_GROUP: RoleRules(OPERATOR_CHANGES, "team/operator_refused.html", "Operator access"),
}

# GET-only pages (their views refuse other methods), listed so that the classification above is complete.
READ_PAGES = {
    "audit_log",
    "oauth_settings",
    "connector_list",
    "connector_detail",
    "sync_latest",
    "sync_latest_batch",
    "sync_chart",
    "sync_list",
    "sync_detail",
    "healthz",
    "password_change_done",
    "notifications",
    "notifications_outbox",
    "overview",
    "overview_rows",
    "overview_cells",
    "overview_csv",
    "audit_csv",
    "sync_list_csv",
    "bulk_list",
    "bulk_detail",
}

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def role_of(user) -> str:
    """READ_ONLY_GROUP, OPERATOR_GROUP or "" (a team admin) for a signed-in user; read-only wins when both. A superuser
    too: the membership is explicit. Read once per request (the user object of a request is its own)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    cached = getattr(user, "_console_role", None)
    if cached is None:
        from .principal import role_loaded_with_key  # it needs ROLES, from here

        cached = role_loaded_with_key(user)
    return cached


def remember_role(user, role: str) -> None:
    """Sets role_of's memo (connectors.principal reads the role with the stored key)."""
    user._console_role = role


def role_among(group_names) -> str:
    """The role that group names give: READ_ONLY_GROUP, OPERATOR_GROUP or "" (a team admin)."""
    names = set(group_names)
    return next((role for role in ROLES if role in names), "")


def forget_role(user) -> None:
    """Drops role_of's memo, after the user's groups changed."""
    with contextlib.suppress(AttributeError):
        del user._console_role  # the user's own attribute, through request.user's lazy object too


def is_read_only(user) -> bool:
    """True for a signed-in member of the Read-only group."""
    return role_of(user) == READ_ONLY_GROUP


def is_operator(user) -> bool:
    """True for a signed-in member of the Operator group (and not of Read-only): syncs, nothing else."""
    return role_of(user) == OPERATOR_GROUP


def can_change(user) -> bool:
    """Whether a signed-in user may change connectors (create, edit, delete, scope, reconnect, schedules)."""
    return bool(getattr(user, "is_authenticated", False)) and not role_of(user)


def sees_every_audit_event(user) -> bool:
    """Staff and members of the Auditors group see the whole audit log, whatever their key reaches."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_staff or user.is_superuser or user.groups.filter(name=AUDITORS_GROUP).exists()


def refuses(request, url_name: str, role: str) -> bool:
    """Whether this request is a change that a member of ``role`` (a key of ROLES) may not make."""
    if url_name in REFUSED_PAGES:
        return True
    if request.method in SAFE_METHODS or url_name in ALLOWED_POSTS:
        return False
    if url_name in ROLES[role].may_change:
        return url_name == "bulk_start" and request.POST.get("kind") != "sync"
    return True


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
