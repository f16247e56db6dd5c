"""Reads of sync state, cached briefly so that many tabs watching one sync cost about one upstream read per
polling interval.

Every cache key includes a fingerprint of the user's credential: a response fetched with one key is never served
to a request made with another. With REDIS_URL set the cache is shared by every web process.
"""

import time

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from .aimable import errors
from .aimable.types import Sync

# A fresh read is reused for a bit less than one polling interval; a stale copy stays for the "reconnecting"
# view and for the requests that lose the race to refresh it.
FRESH_SECONDS = 1.8
STALE_SECONDS = 120
TERMINAL_SECONDS = 3600
LOCK_SECONDS = 5


def credential_fingerprint(secret: str, auth_scheme: str) -> str:
    return salted_hmac("connectors.selectors.credential", f"{auth_scheme}:{secret}").hexdigest()[:32]


def _fresh_key(fp, *parts):
    return "sync:fresh:" + fp + ":" + ":".join(parts)


def _stale_key(fp, *parts):
    return "sync:stale:" + fp + ":" + ":".join(parts)


def _cached_read(fp: str, parts: tuple[str, ...], fetch):
    """The fresh value, else one upstream read (single flight across processes), else, while another request is
    already reading, the stale copy."""
    fresh_key, stale_key = _fresh_key(fp, *parts), _stale_key(fp, *parts)
    raw = cache.get(fresh_key)
    if raw is not None:
        return raw
    lock_key = "sync:lock:" + fp + ":" + ":".join(parts)
    if not cache.add(lock_key, 1, LOCK_SECONDS):
        stale = cache.get(stale_key)
        if stale is not None:
            return stale  # someone is refreshing it right now: this is at most one interval old
    try:
        raw = fetch()
    except errors.AimableError:
        cache.delete(lock_key)
        raise
    if raw.get("__terminal__"):
        cache.set_many({fresh_key: raw, stale_key: raw}, TERMINAL_SECONDS)  # a finished sync never changes
    else:
        cache.set(fresh_key, raw, FRESH_SECONDS)
        cache.set(stale_key, raw, STALE_SECONDS)
    cache.delete(lock_key)
    return raw


def stale_copy(fp: str, *parts: str):
    return cache.get(_stale_key(fp, *parts))


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
    raw = stale_copy(fingerprint, "get", connector_id, sync_id)
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
    raw = stale_copy(fingerprint, "latest", connector_id)
    return _unpack(raw) if raw else None


def forget_connector_syncs(*, fingerprint, connector_id) -> None:
    """After a trigger or cancel: the next read goes upstream."""
    cache.delete_many(
        [_fresh_key(fingerprint, "latest", connector_id), _stale_key(fingerprint, "latest", connector_id)]
    )


def forget_sync(*, fingerprint, connector_id, sync_id) -> None:
    cache.delete_many(
        [_fresh_key(fingerprint, "get", connector_id, sync_id), _stale_key(fingerprint, "get", connector_id, sync_id)]
    )


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
