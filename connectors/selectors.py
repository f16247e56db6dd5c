"""Reads: every upstream read a page makes, and the console's own reads (recent collections, the audit log).

Views call these and render; none of them knows about requests or templates. Page-level upstream errors (a
rejected key, no permission, not found) are left to propagate: the middleware renders them.

Sync state is cached briefly so that many tabs watching one sync cost about one upstream read per polling
interval. Every cache key includes a fingerprint of the user's stored key (its value, its row, when it was saved): a
response fetched with one key is never served to a request made with another, nor once the key is replaced or
removed. With REDIS_URL set the cache is shared by every web process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from .aimable import errors
from .aimable.client import AimableClient, validate_uuid
from .aimable.types import BrowseItem, Collection, Connector, Page, Space, Sync
from .database import raw_row_where
from .models import AuditEvent, RecentCollection
from .parallel import in_parallel
from .permissions import sees_every_audit_event
from .providers import Provider, get_provider, unknown_provider
from .upstream import anonymous_client, client_or_none

logger = logging.getLogger(__name__)

# A read is fresh for a bit less than one polling interval (settings.SYNC_CACHE_SECONDS); it is kept longer as the
# last copy, for the "reconnecting" view and for the requests that lose the race to refresh it.
STALE_SECONDS = 120
TERMINAL_SECONDS = 3600
LOCK_SECONDS = 5


def _key(fp, *parts):
    return "sync:" + fp + ":" + ":".join(parts)


def _cached_read(fp: str, parts: tuple[str, ...], fetch, *, also: tuple[str, ...] = ()):
    """The cached value while it is fresh; else one upstream read (single flight across processes); while
    another request is already reading, the last copy (at most one interval old). ``also``: other cache keys read in
    the same round trip (their values come back second, by key).

    Freshness is judged by the time stored with the value, not by the cache's expiry, which Redis counts in whole
    seconds. A fresh read costs one round trip to the cache; a refresh four (the read, the lock, the new copy, the
    unlock), around the upstream call.
    """
    key, now = _key(fp, *parts), time.time()
    found = cache.get_many([key, *also])
    entry = found.pop(key, None)
    if entry is not None and (entry["raw"].get("__terminal__") or now - entry["at"] < settings.SYNC_CACHE_SECONDS):
        return entry["raw"], found
    lock_key = "sync-lock:" + key
    locked = cache.add(lock_key, 1, LOCK_SECONDS)
    if not locked and entry is not None:
        return entry["raw"], found
    try:
        raw = fetch()
    finally:
        if locked:
            cache.delete(lock_key)
    # A finished sync never changes; a running one is kept for the "reconnecting" view.
    cache.set(key, {"raw": raw, "at": time.time()}, TERMINAL_SECONDS if raw.get("__terminal__") else STALE_SECONDS)
    return raw, found


def _last_copy(fp: str, *parts: str):
    entry = cache.get(_key(fp, *parts))
    return entry["raw"] if entry else None


def _pack(sync: Sync | None) -> dict:
    if sync is None:
        return {"__none__": True}
    return {**sync.raw, "__terminal__": sync.is_terminal}


def _unpack(raw: dict) -> Sync | None:
    if raw.get("__none__"):
        return None
    return Sync.from_api({k: v for k, v in raw.items() if k != "__terminal__"})


def sync_get(*, client, fingerprint, space_id, collection_id, connector_id, sync_id) -> Sync:
    return _sync_get_with_progress(
        client=client,
        fingerprint=fingerprint,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        sync_id=sync_id,
    )[0]


def _sync_get_with_progress(*, client, fingerprint, space_id, collection_id, connector_id, sync_id):
    """The sync (sync_get) and what the progress tracker last saw of it, in one round trip to the cache."""
    progress_key = _progress_key(fingerprint, sync_id)
    raw, found = _cached_read(
        fingerprint,
        ("get", connector_id, sync_id),
        lambda: _pack(client.get_sync(space_id, collection_id, connector_id, sync_id)),
        also=(progress_key,),
    )
    return _unpack(raw), found.get(progress_key)  # None: read, and nothing tracked yet


def sync_get_stale(*, fingerprint, connector_id, sync_id) -> Sync | None:
    raw = _last_copy(fingerprint, "get", connector_id, sync_id)
    return _unpack(raw) if raw else None


def sync_latest(*, client, fingerprint, space_id, collection_id, connector_id) -> Sync | None:
    def fetch():
        page = client.list_syncs(space_id, collection_id, connector_id, limit=1)
        latest = page.items[0] if page.items else None
        packed = _pack(latest)
        packed["__terminal__"] = False  # a new sync can start at any moment: never cache "latest" for long
        return packed

    raw, _ = _cached_read(fingerprint, ("latest", connector_id), fetch)
    return _unpack(raw)


def sync_newest(
    *, client, fingerprint, space_id, collection_id, connector_id, limit: int = 10
) -> tuple[list[Sync], bool]:
    """The connector's newest syncs (newest first) and whether that is all of them: one read through the poll cache
    (workers checking at once share it), for the background checks."""

    def fetch():
        page = client.list_syncs(space_id, collection_id, connector_id, limit=limit)
        return {"items": [s.raw for s in page.items], "complete": not page.has_next, "__terminal__": False}

    raw, _ = _cached_read(fingerprint, ("newest", str(limit), connector_id), fetch)
    return [Sync.from_api(item) for item in raw["items"]], raw["complete"]


def sync_latest_stale(*, fingerprint, connector_id) -> Sync | None:
    raw = _last_copy(fingerprint, "latest", connector_id)
    return _unpack(raw) if raw else None


def overview_lists_key(fingerprint: str) -> str:
    """The "All connectors" page's spaces, collections and connectors, kept briefly per credential."""
    return f"overview:lists:{fingerprint}"


def overview_syncs_key(fingerprint: str, connector_id: str) -> str:
    """What a connector's newest syncs said, for the "All connectors" page, per credential."""
    return f"overview:syncs:{fingerprint}:{connector_id}"


def forget_connector_syncs(*, fingerprint, connector_id) -> None:
    """After a trigger or cancel: the next read goes upstream (the pages' and the overview's)."""
    cache.delete_many([_key(fingerprint, "latest", connector_id), overview_syncs_key(fingerprint, connector_id)])


def forget_listing(*, fingerprint) -> None:
    """After a create, an edit or a delete: the overview lists again."""
    cache.delete(overview_lists_key(fingerprint))


def forget_sync(*, fingerprint, connector_id, sync_id) -> None:
    cache.delete(_key(fingerprint, "get", connector_id, sync_id))


# ----- progress, for "stalled" -----------------------------------------------------------------------------------


_NOT_READ = object()


def _progress_key(fingerprint: str, sync_id: str) -> str:
    return "sync:progress:" + fingerprint + ":" + sync_id


def sync_progress(*, fingerprint, sync: Sync, now: float | None = None, seen=_NOT_READ) -> dict:
    """How long records_fetched has stood still while running: {"stalled": bool, "still_for": seconds}. ``seen``:
    the tracker's entry when the caller read it already (sync_status reads it with the sync)."""
    now = time.time() if now is None else now
    key = _progress_key(fingerprint, sync.id)
    if sync.is_terminal:
        if seen is not None:  # tracked, or not read yet
            cache.delete(key)
        return {"stalled": False, "still_for": 0}
    records = sync.records_fetched or 0
    if seen is _NOT_READ:
        seen = cache.get(key)
    if not seen or seen["records"] != records:
        cache.set(key, {"records": records, "since": now}, STALE_SECONDS * 30)
        return {"stalled": False, "still_for": 0}
    still_for = now - seen["since"]
    return {"stalled": still_for >= settings.SYNC_STALL_SECONDS, "still_for": still_for}


# ----- sync status: the fresh read, else the last copy ---------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    """What a status partial shows: the sync (or the last copy while Aimable fails), and how it is doing."""

    sync: Sync | None
    sync_id: str = ""
    progress: dict = field(default_factory=dict)
    reconnecting: bool = False
    error: errors.AimableError | None = None

    @property
    def running_for(self) -> timedelta | None:
        sync = self.sync
        if sync is None or sync.is_terminal or sync.created_at is None:
            return None
        return datetime.now(UTC) - sync.created_at

    @property
    def failure_reason(self) -> str:
        sync = self.sync
        if sync is None or sync.status.lower() not in ("failed", "error"):
            return ""
        metadata = sync.metadata or {}
        reason = metadata.get("error") or metadata.get("message") or metadata.get("detail") or ""
        return str(reason) if reason else "Aimable gave no reason."

    @property
    def finished(self) -> bool:
        """Nothing more will change: polling can stop for good."""
        return self.sync is not None and self.sync.is_terminal and not self.reconnecting


def _with_progress(
    client: AimableClient, sync: Sync | None, *, sync_id: str = "", seen=_NOT_READ, **kwargs
) -> SyncStatus:
    progress = sync_progress(fingerprint=client.cache_fingerprint, sync=sync, seen=seen) if sync else {}
    return SyncStatus(sync=sync, sync_id=sync.id if sync else sync_id, progress=progress, **kwargs)


def sync_status(
    *, client: AimableClient, space_id: str, collection_id: str, connector_id: str, sync_id: str
) -> SyncStatus:
    """One sync for a polled partial: a fresh (cached) read, else the last copy, marked "reconnecting".

    A sync that does not exist, a rejected key or a missing permission is a page error (raised).
    """
    try:
        sync, seen = _sync_get_with_progress(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
            sync_id=sync_id,
        )
    except errors.NotFoundError as exc:
        raise exc.reword("No such sync for this connector.") from None
    except errors.InPlaceError as exc:
        stale = sync_get_stale(fingerprint=client.cache_fingerprint, connector_id=connector_id, sync_id=sync_id)
        return _with_progress(client, stale, sync_id=sync_id, reconnecting=True, error=exc)
    return _with_progress(client, sync, seen=seen)


def sync_latest_status(*, client: AimableClient, space_id: str, collection_id: str, connector_id: str) -> SyncStatus:
    """A connector's latest sync, for a row of a list: a fresh (cached) read, else the last copy."""
    try:
        sync = sync_latest(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
        )
    except errors.InPlaceError as exc:
        stale = sync_latest_stale(fingerprint=client.cache_fingerprint, connector_id=connector_id)
        return _with_progress(client, stale, reconnecting=True, error=exc)
    return _with_progress(client, sync)


# The connector list's cells are read at most this many at a time: a page of 50 rows comes back in a few waves of 20 ms
# reads, without 50 threads at once in a worker whose GIL the status polls it serves share.
LATEST_CONCURRENCY = 8


def sync_latest_statuses(
    *, client: AimableClient, space_id: str, collection_id: str, connector_ids: list[str]
) -> list[tuple[str, SyncStatus | None, errors.AimableError | None]]:
    """Each connector's latest sync (as sync_latest_status), read side by side, in order: the connector list's cells.
    A row the upstream refuses (no such connector, no permission, even a rejected key) comes back with its error, for
    its cell to say so; the other rows are shown."""
    jobs = [
        (
            connector_id,
            partial(
                sync_latest_status,
                client=client,
                space_id=space_id,
                collection_id=collection_id,
                connector_id=connector_id,
            ),
        )
        for connector_id in connector_ids
    ]
    return in_parallel(jobs, concurrency=LATEST_CONCURRENCY, fatal=())


def running_sync(*, client: AimableClient, space_id: str, collection_id: str, connector_id: str) -> Sync | None:
    """The sync that is running now, if the latest few show one; ``None`` when unknown."""
    try:
        page = client.list_syncs(space_id, collection_id, connector_id, limit=5)
    except errors.InPlaceError:
        return None
    return next((s for s in page.items if not s.is_terminal), None)


@dataclass(frozen=True)
class RecentSyncs:
    """The syncs panel of a connector's page."""

    recent: list[Sync]
    has_more: bool
    latest: SyncStatus | None


def sync_recent(*, client: AimableClient, space_id: str, collection_id: str, connector_id: str) -> RecentSyncs:
    page = client.list_syncs(space_id, collection_id, connector_id, limit=5)
    latest = _with_progress(client, page.items[0]) if page.items else None
    return RecentSyncs(recent=list(page.items), has_more=page.has_next, latest=latest)


HISTORY_SYNCS = 30  # the sync history chart of a connector's page


@dataclass(frozen=True)
class SyncHistory:
    """A connector's newest syncs (newest first) for its chart, or why Aimable could not give them."""

    syncs: list[Sync]
    complete: bool = True  # that is all of them
    error: errors.AimableError | None = None


def sync_history(
    *, client: AimableClient, space_id: str, collection_id: str, connector_id: str, limit: int = HISTORY_SYNCS
) -> SyncHistory:
    """One read of the newest ``limit`` syncs, through the poll cache (every tab showing the chart shares it). A
    transient failure is returned for the chart to say so in place; a page error is raised."""
    try:
        syncs, complete = sync_newest(
            client=client,
            fingerprint=client.cache_fingerprint,
            space_id=space_id,
            collection_id=collection_id,
            connector_id=connector_id,
            limit=limit,
        )
    except errors.InPlaceError as exc:
        return SyncHistory(syncs=[], error=exc)
    return SyncHistory(syncs=syncs, complete=complete)


def sync_page(
    *,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector_id: str,
    limit: int,
    offset: int,
    status: str | None = None,
) -> Page[Sync]:
    return client.list_syncs(space_id, collection_id, connector_id, limit=limit, offset=offset, status=status)


# ----- spaces, collections, connectors -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceCollections:
    space: Space
    collections: list[Collection]
    error: errors.AimableError | None = None


def spaces_with_collections(*, client: AimableClient) -> list[SpaceCollections]:
    """Every space the key lists, each with its collections. One space's collections failing does not hide the
    others: that space says why. A rejected key fails the whole read."""
    entries = []
    for space in client.list_spaces():
        if not space.linkable:  # no URL, here or upstream, can carry its id: listed, but it cannot be opened
            error = errors.BadResponseError("Aimable gave this space an ID that is not a UUID.")
            entries.append(SpaceCollections(space, [], error))
            continue
        try:
            entries.append(SpaceCollections(space, client.list_collections(space.space_id)))
        except (errors.InPlaceError, errors.PermissionDeniedError, errors.NotFoundError) as exc:
            entries.append(SpaceCollections(space, [], exc))
    return entries


def recent_collections(*, user: AbstractBaseUser, limit: int = 10) -> QuerySet[RecentCollection]:
    return RecentCollection.objects.filter(user=user)[:limit]


@dataclass(frozen=True)
class CollectionNames:
    space_name: str
    collection_name: str
    seen_lately: bool  # opened in the last minute with its names known: no need to record the visit again


def collection_names(
    *, user: AbstractBaseUser, client: AimableClient, space_id: str, collection_id: str
) -> CollectionNames:
    """Names for the breadcrumb, remembered per user so that only the first visit asks the upstream."""
    recent = raw_row_where(RecentCollection, user=user.pk, space_id=space_id, collection_id=collection_id)
    space_name = recent.space_name if recent else ""
    collection_name = recent.collection_name if recent else ""
    if not collection_name:
        try:
            collection_name = next(
                (c.name or "" for c in client.list_collections(space_id) if str(c.collection_id) == collection_id), ""
            )
            space_name = next((s.name or "" for s in client.list_spaces() if str(s.space_id) == space_id), "")
        except errors.AimableError:
            pass  # names are a nicety: the page works without them, and its own read reports the real error
    seen_lately = bool(recent and collection_name and (timezone.now() - recent.opened_at).total_seconds() < 60)
    return CollectionNames(space_name=space_name, collection_name=collection_name, seen_lately=seen_lately)


def connector_page(
    *,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    limit: int,
    offset: int,
    status: str | None = None,
    provider_slug: str | None = None,
) -> Page[Connector]:
    return client.list_connectors(
        space_id, collection_id, limit=limit, offset=offset, status=status, provider_slug=provider_slug
    )


# A server that pages forever is cut off there: 20 pages of 100 collections or connectors.
MAX_PAGES = 20


def _all_pages(read_page, max_pages: int = MAX_PAGES) -> list:
    items, offset = [], 0
    for _ in range(max_pages):
        page = read_page(offset)
        items += page.items
        if not page.has_next or not page.items:
            break
        offset = page.next_offset
    return items


def collections_all(*, client: AimableClient, space_id: str) -> list[Collection]:
    """Every collection of a space, page after page (the overview and the background checks must see them all)."""
    return _all_pages(lambda offset: client.collection_page(space_id, limit=100, offset=offset))


def syncs_all(
    *,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector_id: str,
    status: str | None = None,
    max_pages: int = MAX_PAGES,
) -> list[Sync]:
    """A connector's syncs, newest first, page after page (at most ``max_pages`` of 100)."""
    return _all_pages(
        lambda offset: client.list_syncs(
            space_id, collection_id, connector_id, limit=100, offset=offset, status=status
        ),
        max_pages,
    )


def connectors_all(*, client: AimableClient, space_id: str, collection_id: str) -> list[Connector]:
    """Every connector of a collection, page after page."""
    return _all_pages(lambda offset: client.list_connectors(space_id, collection_id, limit=100, offset=offset))


def connector_get(*, client: AimableClient, space_id: str, collection_id: str, connector_id: str) -> Connector:
    """The connector; a 404 says what is missing: the connector, or the space or collection around it."""
    try:
        return client.get_connector(space_id, collection_id, connector_id)
    except errors.NotFoundError as exc:
        if "connector" in exc.message.lower():
            raise exc.reword("No such connector in this collection: it may have been deleted.") from None
        # Aimable names what is missing (the space or the collection): say that, not "no such connector".
        raise exc.reword(f"{exc.message.rstrip('.')}: check the space and collection IDs in the address.") from None


def connector_or_none(
    *, client: AimableClient, space_id: str, collection_id: str, connector_id: str
) -> Connector | None:
    """The connector, or ``None`` when Aimable says it is not there (e.g. already deleted)."""
    try:
        return client.get_connector(space_id, collection_id, connector_id)
    except errors.NotFoundError:
        return None


def provider_of(connector: Connector) -> Provider:
    return get_provider(connector.provider_slug) or unknown_provider(connector.provider_slug)


# ----- browse ----------------------------------------------------------------------------------------------------

BROWSE_PAGE = 50
_TREE_SECONDS = 600


@dataclass(frozen=True)
class BrowseLevel:
    """One level of a connector's resource tree, with what the tree needs to tick the boxes."""

    provider: Provider
    scope_config: dict
    page: Page[BrowseItem]


def _tree_key(user: AbstractBaseUser, client: AimableClient, connector_id: str) -> str:
    # With the stored key's fingerprint: what was read with a key replaced or removed since is not used.
    return f"browse-scope:{user.pk}:{client.cache_fingerprint}:{connector_id}"


def browse_level(
    *,
    user: AbstractBaseUser,
    client: AimableClient,
    space_id: str,
    collection_id: str,
    connector_id: str,
    parent_id: str | None,
    offset: int = 0,
    connector: Connector | None = None,
) -> BrowseLevel:
    """The children of ``parent_id`` (the top level when ``None``).

    The connector's provider and scope are remembered for a few minutes, so that expanding a folder costs one
    upstream call; pass ``connector`` when the page already has it.
    """
    key = _tree_key(user, client, connector_id)
    if connector is None:
        remembered = cache.get(key)
        if remembered is None:
            connector = connector_get(
                client=client, space_id=space_id, collection_id=collection_id, connector_id=connector_id
            )
    if connector is not None:
        remembered = {"provider": connector.provider_slug, "scope": connector.scope_config or {}}
        cache.set(key, remembered, _TREE_SECONDS)
    try:
        page = client.browse(
            space_id, collection_id, connector_id, parent_id=parent_id, limit=BROWSE_PAGE, offset=offset
        )
    except errors.NotFoundError as exc:
        if parent_id and "connector" not in exc.message.lower():
            raise exc.reword("No such folder in this connector.") from None
        raise
    provider = get_provider(remembered["provider"]) or unknown_provider(remembered["provider"])
    return BrowseLevel(provider=provider, scope_config=remembered["scope"], page=page)


_TOP_LEVEL_PAGES_CHECKED = 4  # at most 200 items read to check what a create typed in


def scope_ids_not_found(*, client: AimableClient, space_id: str, collection_id: str, connector: Connector) -> list[str]:
    """The scope values typed at create time that the provider's top level does not list (a typo, or the form's own
    example), for a warning; only for scope fields chosen at the top level (Slack's channels, Drive's folders: one
    inside a folder is reported too). Empty when the top level cannot be read: the warning is a courtesy."""
    provider = provider_of(connector)
    scope = connector.scope_config or {}
    wanted = {f.key: [str(v) for v in scope.get(f.key) or [] if v] for f in provider.scope_fields}
    if not any(wanted.values()):
        return []
    found: dict[str, set[str]] = {}
    offset = 0
    try:
        for _ in range(_TOP_LEVEL_PAGES_CHECKED):
            page = client.browse(space_id, collection_id, connector.id, limit=BROWSE_PAGE, offset=offset)
            for item in page.items:
                for f in provider.scope_fields:
                    if item.type in f.selectable_types:
                        found.setdefault(f.key, set()).add(item.id)
            if not page.has_next:
                break
            offset = page.next_offset
        else:
            return []  # more than was read: cannot tell
    except errors.AimableError:
        return []
    return [v for key, values in wanted.items() if key in found for v in values if v not in found[key]]


# ----- the audit log ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLog:
    """The audit events a user may see (filtered), and the authors of those events for the user filter."""

    events: QuerySet[AuditEvent]
    usernames: QuerySet
    sees_all: bool
    key_missing: bool = False  # no usable key: only the user's own events are listed
    error: errors.AimableError | None = None  # Aimable could not say which spaces the key reaches: the same

    @property
    def key_rejected(self) -> bool:
        """Aimable refused the key itself: asking again cannot help, storing another key can."""
        return isinstance(self.error, errors.AuthenticationError)


def audit_events(
    *,
    user: AbstractBaseUser,
    username: str = "",
    connector_id: str = "",
    action: str = "",
    outcome: str = "",
) -> AuditLog:
    """The events ``user`` may see. Aimable's permissions apply unchanged: a user sees their own events and those
    on the spaces their key lists now (asked each time: access taken away is gone at once); an event without a space
    (e.g. on an API key) only its author. Staff and Auditors see all (no key read, no upstream call). Without a
    usable key, or when Aimable cannot say, only the user's own events: the log is never wider than what is known."""
    own = AuditEvent.objects.filter(user=user)
    key_missing, error = False, None
    sees_all = sees_every_audit_event(user)
    client = None if sees_all else client_or_none(user)
    if sees_all:
        visible = AuditEvent.objects.all()
    elif client is None:
        visible, key_missing = own, True
    else:
        try:
            space_ids = _uuids(space.space_id for space in client.list_spaces())
        except errors.AimableError as exc:  # a rejected key too: the user's own events need no upstream
            visible, error = own, exc
        else:
            visible = AuditEvent.objects.filter(Q(user=user) | Q(space_id__in=space_ids))
    events = visible
    if username:
        events = events.filter(username=username)
    if connector_id:
        events = events.filter(connector_id=connector_id)
    if action in AuditEvent.Action.values:
        events = events.filter(action=action)
    if outcome in AuditEvent.Outcome.values:
        events = events.filter(outcome=outcome)
    usernames = visible.order_by("username").values_list("username", flat=True).distinct()
    return AuditLog(events=events, usernames=usernames, sees_all=sees_all, key_missing=key_missing, error=error)


def _uuids(values) -> list[str]:
    """The values that are UUIDs (an id from upstream that is not one matches no event)."""
    valid = []
    for value in values:
        try:
            valid.append(validate_uuid(value, "space_id"))
        except errors.InvalidIdError:
            continue
    return valid


# ----- health ------------------------------------------------------------------------------------------------------


def upstream_healthy() -> bool:
    """Whether Aimable's health endpoint answers, within the health check's short budget."""
    try:
        anonymous_client().health()
    except errors.AimableError as exc:
        logger.warning("upstream health check failed: %s", exc)
        return False
    return True
