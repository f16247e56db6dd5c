"""A connector's credential as the console knows it: when it was set and by whom (from the audit log), which account
the provider authorized, whether it needs re-auth; and the shared "Reconnect" links.

A reconnect link is for a teammate who can sign in to the provider when the person who sees the problem cannot. It
is signed (a tampered link is refused before any database read), works once, for a day, and only for a signed-in
user whose own key can read the connector and who may reconnect (connectors.permissions). Only a hash of its token
is stored. The link is spent when its page's "Reconnect" is pressed: that is when it hands out an OAuth sign-in, so
a second press (or a second person) cannot start another.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db.models import Q
from django.utils import timezone

from . import oauth
from .aimable.types import Connector, Sync
from .alerts.health import CANCELLED, FAILED, failure_reason, is_credential_failure
from .audit import audited
from .models import AuditEvent, ReconnectLink

# ----- the credential panel --------------------------------------------------------------------------------------

Action = AuditEvent.Action
_HOW = {
    Action.CONNECTOR_CREATE: "when the connector was created",
    Action.CREDENTIAL_UPDATE: "with Reconnect",
    Action.CONNECTOR_UPDATE: "in Edit connector",
}


@dataclass(frozen=True)
class CredentialHealth:
    """What the credential panel shows."""

    event: AuditEvent | None  # the latest change of the credential the console recorded; None: set outside it
    needs_reauth: bool
    reason: str = ""  # why it needs re-auth
    reconnectable: bool = False  # the provider has an OAuth client here: Reconnect, and links to it, work

    @property
    def changed_at(self) -> datetime | None:
        return self.event.created_at if self.event else None

    @property
    def changed_by(self) -> str:
        return self.event.username if self.event else ""

    @property
    def how(self) -> str:
        return _HOW.get(self.event.action, "") if self.event else ""

    @property
    def authorized_as(self) -> str:
        changes = self.event.changes if self.event and isinstance(self.event.changes, dict) else {}
        value = changes.get("authorized_as")
        return value if isinstance(value, str) else ""


def credential_event(*, space_id: str, collection_id: str, connector_id: str) -> AuditEvent | None:
    """The latest credential change the console made to this connector and that worked: a create (which always
    sends one), a Reconnect, or an edit that replaced it."""
    return (
        AuditEvent.objects.filter(
            space_id=space_id, collection_id=collection_id, connector_id=connector_id, outcome=AuditEvent.Outcome.OK
        )
        .filter(
            Q(action__in=[Action.CONNECTOR_CREATE, Action.CREDENTIAL_UPDATE])
            | Q(action=Action.CONNECTOR_UPDATE, changes__has_key="credential")
        )
        .order_by("-created_at", "-id")
        .first()
    )


def needs_reauth(connector: Connector, syncs: list[Sync]) -> tuple[bool, str]:
    """As the alerts' health says it (connectors.alerts.health): the connector is disconnected, or its latest
    finished sync (a cancel aside) failed because the credential was refused."""
    last = next((s for s in syncs if s.is_terminal and s.status.lower() not in CANCELLED), None)
    credential_failed = last is not None and last.status.lower() in FAILED and is_credential_failure(last)
    if credential_failed:
        return True, failure_reason(last)
    if (connector.status or "").lower() == "disconnected":
        return True, "Aimable marks the connector disconnected: its credential no longer works."
    return False, ""


def credential_health(
    *, connector: Connector, syncs: list[Sync], space_id: str, collection_id: str, connector_id: str
) -> CredentialHealth:
    """The panel's data; ``syncs``: the newest syncs the page read already (the chart's), newest first."""
    reauth, reason = needs_reauth(connector, syncs)
    event = credential_event(space_id=space_id, collection_id=collection_id, connector_id=connector_id)
    reconnectable = oauth.config_for(connector.provider_slug or "") is not None
    return CredentialHealth(event=event, needs_reauth=reauth, reason=reason, reconnectable=reconnectable)


# ----- reconnect links -------------------------------------------------------------------------------------------

LINK_MAX_AGE = timedelta(hours=24)
_SALT = "connectors.credentials.reconnect-link"


class LinkError(Exception):
    """A link that cannot be used; ``message`` says why, for the page."""

    status = 404
    message = "This reconnect link is not valid. Ask for a new one."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        if message:
            self.message = message


class LinkInvalid(LinkError):
    pass


class LinkExpired(LinkError):
    status = 410
    message = "This reconnect link has expired (links work for 24 hours). Ask for a new one."


class LinkUsed(LinkError):
    status = 410
    message = "This reconnect link was already used: each link works once. Ask for a new one if it is still needed."


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def reconnect_link_create(
    *, user: AbstractBaseUser, space_id: str, collection_id: str, connector: Connector, connector_id: str
) -> tuple[ReconnectLink, str]:
    """A new link for the connector; returns the row and the token for its URL (shown once, never stored)."""
    raw = secrets.token_urlsafe(24)
    with audited(
        user=user,
        action=Action.RECONNECT_LINK_CREATE,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        provider_slug=connector.provider_slug,
    ) as event:
        link = ReconnectLink.objects.create(
            token_hash=_hash(raw),
            created_by=user,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
            provider_slug=(connector.provider_slug or "")[:64],
            expires_at=timezone.now() + LINK_MAX_AGE,
        )
        # What a reader of the log can tell links apart by (not the row's id): when it stops working.
        event.changes = {"expires": link.expires_at.isoformat(timespec="seconds")}
    return link, _signer().sign(raw)


def reconnect_link_get(*, token: str) -> ReconnectLink:
    """The link ``token`` names, if it can still be used; else LinkInvalid, LinkExpired or LinkUsed."""
    try:
        raw = _signer().unsign(token or "", max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except signing.BadSignature:
        raise LinkInvalid() from None
    link = ReconnectLink.objects.filter(token_hash=_hash(raw)).first()
    if link is None:
        raise LinkInvalid()
    if link.used_at is not None:
        raise LinkUsed()
    if link.expires_at <= timezone.now():
        raise LinkExpired()
    return link


def reconnect_link_use(*, user: AbstractBaseUser, link: ReconnectLink) -> None:
    """Spends the link (once, whoever presses first), audited under the user who uses it."""
    now = timezone.now()
    spent = ReconnectLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now, used_by=user
    )
    if not spent:
        raise LinkUsed() if ReconnectLink.objects.filter(pk=link.pk, used_at__isnull=False).exists() else LinkExpired()
    with audited(
        user=user,
        action=Action.RECONNECT_LINK_USE,
        space_id=str(link.space_id),
        collection_id=str(link.collection_id),
        connector_id=link.connector_id,
        provider_slug=link.provider_slug,
        changes={
            "shared_by": link.created_by.get_username() if link.created_by else "",
            "link_created": link.created_at.isoformat(timespec="seconds"),
        },
    ):
        pass
