"""Writes. Each takes keyword arguments and does one thing a user asked for."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from . import oauth
from .aimable import errors
from .aimable.client import AimableClient
from .aimable.types import Connector, Sync
from .alerts.models import Watch
from .alerts.pausing import pause_for_key_change
from .audit import audited
from .models import ApiKey, AuditEvent, RecentCollection
from .principal import forget_stored_key
from .selectors import forget_connector_syncs, forget_listing, forget_sync
from .upstream import client_with_key


@transaction.atomic
def api_key_save(*, user: AbstractBaseUser, secret: str, auth_scheme: str, verified: bool) -> ApiKey:
    key, created = ApiKey.objects.select_for_update().get_or_create(
        user=user, defaults={"secret": secret, "auth_scheme": auth_scheme}
    )
    if not created and (key.secret, key.auth_scheme) != (secret, auth_scheme):
        # The new key may see other spaces: the watches read with the old one wait for their owner to resume them.
        pause_for_key_change(user=user, reason=Watch.Paused.KEY_REPLACED)
    key.secret = secret
    key.auth_scheme = auth_scheme
    key.verified_at = timezone.now() if verified else None
    key.save()
    forget_stored_key(user)
    return key


def api_key_check(*, secret: str, auth_scheme: str) -> None:
    """Asks the upstream whether it accepts the key; raises the client's error if not."""
    client_with_key(secret, auth_scheme).check_key()


@transaction.atomic
def api_key_delete(*, user: AbstractBaseUser) -> bool:
    deleted, _ = ApiKey.objects.filter(user=user).delete()
    forget_stored_key(user)
    if deleted:
        pause_for_key_change(user=user, reason=Watch.Paused.KEY_MISSING)
    return bool(deleted)


def recent_collection_touch(
    *, user: AbstractBaseUser, space_id: str, collection_id: str, space_name: str = "", collection_name: str = ""
) -> None:
    defaults = {"opened_at": timezone.now()}
    if space_name:
        defaults["space_name"] = space_name[:200]
    if collection_name:
        defaults["collection_name"] = collection_name[:200]
    RecentCollection.objects.update_or_create(
        user=user, space_id=space_id, collection_id=collection_id, defaults=defaults
    )
    # Keep the list short.
    stale = RecentCollection.objects.filter(user=user).values_list("pk", flat=True)[10:]
    RecentCollection.objects.filter(pk__in=list(stale)).delete()


def recent_collection_forget(*, user: AbstractBaseUser, space_id: str, collection_id: str) -> None:
    """A collection that is not there (or not for this key) is not one to offer again."""
    RecentCollection.objects.filter(user=user, space_id=space_id, collection_id=collection_id).delete()


# ----- connectors: each write goes to the upstream with the user's own client, and into the audit log -----


def _describe_scope_change(before: dict, after: dict) -> dict:
    """{"folder_ids": {"added": [...], "removed": [...]}, "include_shared": {"from": x, "to": y}}"""
    diff = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, list | type(None)) and isinstance(new, list | type(None)):
            old_set, new_set = list(old or []), list(new or [])
            diff[key] = {
                "added": [v for v in new_set if v not in old_set],
                "removed": [v for v in old_set if v not in new_set],
            }
        else:
            diff[key] = {"from": old, "to": new}
    return diff


def connector_create(
    *,
    user: AbstractBaseUser,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    provider_slug: str,
    credential: dict,
    scope_config: dict,
    idempotency_key: str,
    name: str = "",
) -> Connector:
    """``name``: the team's name for it (kept by the console, never sent to Aimable), recorded in the audit entry."""
    with audited(
        user=user,
        action=AuditEvent.Action.CONNECTOR_CREATE,
        space_id=space_id,
        collection_id=collection_id,
        provider_slug=provider_slug,
        changes={
            "scope_config": scope_config or {},
            "credential": "set",
            **_credential_origin(credential),
            **({"name": name} if name else {}),
        },
    ) as event:
        connector = client.create_connector(
            space_id,
            collection_id,
            provider_slug=provider_slug,
            credential=credential,
            scope_config=scope_config or None,
            idempotency_key=idempotency_key,
        )
        event.connector_id = connector.id
        # The same Idempotency-Key again (a resubmit after success) gives back the same connector: recorded once.
        event.skip = AuditEvent.objects.filter(
            action=AuditEvent.Action.CONNECTOR_CREATE, outcome=AuditEvent.Outcome.OK, connector_id=connector.id
        ).exists()
    forget_listing(fingerprint=client.cache_fingerprint)
    return connector


def _credential_origin(credential: dict | None) -> dict:
    """For a credential's audit entry (the credential panel reads it): the account the provider authorized, when
    Connect or Reconnect captured the credential and the provider named it. Never the secret."""
    capture = oauth.captured(credential) or {}
    return {"authorized_as": capture["account"]} if capture.get("account") else {}


def connector_update(
    *,
    user: AbstractBaseUser,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector: Connector,
    changes: dict,
    action: str | None = None,
) -> Connector:
    """PATCHes only ``changes``; the audit entry says what changed (a credential only as "replaced")."""
    described = {}
    if "scope_config" in changes:
        described["scope_config"] = _describe_scope_change(connector.scope_config or {}, changes["scope_config"])
    if "status" in changes:
        described["status"] = {"from": connector.status, "to": changes["status"]}
    if "credential" in changes:
        described["credential"] = "replaced"
        described.update(_credential_origin(changes["credential"]))
    if action is None:
        action = (
            AuditEvent.Action.SCOPE_UPDATE if set(changes) == {"scope_config"} else AuditEvent.Action.CONNECTOR_UPDATE
        )
    with audited(
        user=user,
        action=action,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector.id,
        provider_slug=connector.provider_slug,
        changes=described,
    ):
        updated = client.update_connector(space_id, collection_id, connector.id, **changes)
    forget_listing(fingerprint=client.cache_fingerprint)
    return updated


def connector_delete(
    *, user: AbstractBaseUser, client: AimableClient, space_id: str, collection_id: str, connector: Connector
) -> bool:
    """Deletes the connector; ``False`` when it was already gone (which is what the user wanted)."""
    with audited(
        user=user,
        action=AuditEvent.Action.CONNECTOR_DELETE,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector.id,
        provider_slug=connector.provider_slug,
        changes={"scope_config": connector.scope_config or {}},
    ) as event:
        try:
            client.delete_connector(space_id, collection_id, connector.id)
        except errors.NotFoundError:
            event.changes = {**event.changes, "already_deleted": True}
            return False
        finally:
            forget_listing(fingerprint=client.cache_fingerprint)
    return True


# ----- syncs -------------------------------------------------------------------------------------------------


def sync_trigger(
    *,
    user: AbstractBaseUser,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector_id: str,
    provider_slug: str = "",
    retry_of: str = "",
) -> Sync:
    """Starts a sync. Never retried automatically: there is no idempotency key for it."""
    action = AuditEvent.Action.SYNC_RETRY if retry_of else AuditEvent.Action.SYNC_TRIGGER
    with audited(
        user=user,
        action=action,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        provider_slug=provider_slug,
        changes={"retry_of": retry_of} if retry_of else {},
    ) as event:
        sync = client.trigger_sync(space_id, collection_id, connector_id)
        event.changes = {**event.changes, "sync_id": sync.id}
    forget_connector_syncs(fingerprint=client.cache_fingerprint, connector_id=connector_id)
    return sync


def sync_cancel(
    *,
    user: AbstractBaseUser,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector_id: str,
    provider_slug: str = "",
    sync_id: str = "",
) -> Sync | None:
    with audited(
        user=user,
        action=AuditEvent.Action.SYNC_CANCEL,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        provider_slug=provider_slug,
        changes={"sync_id": sync_id} if sync_id else {},
    ):
        sync = client.cancel_sync(space_id, collection_id, connector_id)
    forget_connector_syncs(fingerprint=client.cache_fingerprint, connector_id=connector_id)
    if sync_id:
        forget_sync(fingerprint=client.cache_fingerprint, connector_id=connector_id, sync_id=sync_id)
    return sync
