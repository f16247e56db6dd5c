"""Reads of sync state, cached briefly so that many tabs watching one sync cost about one upstream read per
polling interval.

Every cache key includes a fingerprint of the user's credential: a response fetched with one key is never served
to a request made with another. With REDIS_URL set the cache is shared by every web process.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from .aimable.types import Sync

# A read is fresh for a bit less than one polling interval (settings.SYNC_CACHE_SECONDS); it is kept longer as the
# last copy, for the "reconnecting" view and for the requests that lose the race to refresh it.
STALE_SECONDS = 120
TERMINAL_SECONDS = 3600
LOCK_SECONDS = 5


def credential_fingerprint(secret: str, auth_scheme: str) -> str:
    return salted_hmac("connectors.selectors.credential", f"{auth_scheme}:{secret}").hexdigest()[:32]


def _key(fp, *parts):
    return "sync:" + fp + ":" + ":".join(parts)


def _cached_read(fp: str, parts: tuple[str, ...], fetch):
    """The cached value while it is fresh; else one upstream read (single flight across processes); while
    another request is already reading, the last copy (at most one interval old).

    Freshness is judged by the time stored with the value, not by the cache's expiry, which Redis counts in whole
    seconds.
    """
    key, now = _key(fp, *parts), time.time()
    entry = cache.get(key)
    if entry is not None and (entry["raw"].get("__terminal__") or now - entry["at"] < settings.SYNC_CACHE_SECONDS):
        return entry["raw"]
    lock_key = "sync-lock:" + key
    locked = cache.add(lock_key, 1, LOCK_SECONDS)
    if not locked and entry is not None:
        return entry["raw"]
    try:
        raw = fetch()
    finally:
        if locked:
            cache.delete(lock_key)
    # A finished sync never changes; a running one is kept for the "reconnecting" view.
    cache.set(key, {"raw": raw, "at": time.time()}, TERMINAL_SECONDS if raw.get("__terminal__") else STALE_SECONDS)
    return raw


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
    raw = _cached_read(
        fingerprint,
        ("get", connector_id, sync_id),
        lambda: _pack(client.get_sync(space_id, collection_id, connector_id, sync_id)),
    )
    return _unpack(raw)


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

    raw = _cached_read(fingerprint, ("latest", connector_id), fetch)
    return _unpack(raw)


def sync_latest_stale(*, fingerprint, connector_id) -> Sync | None:
    raw = _last_copy(fingerprint, "latest", connector_id)
    return _unpack(raw) if raw else None


def forget_connector_syncs(*, fingerprint, connector_id) -> None:
    """After a trigger or cancel: the next read goes upstream."""
    cache.delete(_key(fingerprint, "latest", connector_id))


def forget_sync(*, fingerprint, connector_id, sync_id) -> None:
    cache.delete(_key(fingerprint, "get", connector_id, sync_id))


# ----- progress, for "stalled" -----------------------------------------------------------------------------------


def sync_progress(*, fingerprint, sync: Sync, now: float | None = None) -> dict:
    """How long records_fetched has stood still while running: {"stalled": bool, "still_for": seconds}."""
    now = time.time() if now is None else now
    key = "sync:progress:" + fingerprint + ":" + sync.id
    if sync.is_terminal:
        cache.delete(key)
        return {"stalled": False, "still_for": 0}
    records = sync.records_fetched or 0
    seen = cache.get(key)
    if not seen or seen["records"] != records:
        cache.set(key, {"records": records, "since": now}, STALE_SECONDS * 30)
        return {"stalled": False, "still_for": 0}
    still_for = now - seen["since"]
    return {"stalled": still_for >= settings.SYNC_STALL_SECONDS, "still_for": still_for}
