"""Small dataclasses parsed from Aimable API responses, and the envelope/pagination rules.

Parsing is tolerant: missing or null fields become ``None``/empty, unknown extra fields are ignored but kept
in ``.raw``. Only a wrong overall shape, or an item without an id, is a :class:`BadResponseError`.

Values enter the console here, so this is where they are checked for what the console does with them: a date that
cannot be told in UTC becomes ``None`` (shown as "—"); an id that cannot be put in a URL path is kept (and shown)
but says so (``linkable`` is false), so that no page links to it, polls it or sends it back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from .errors import BadResponseError

__all__ = [
    "TERMINAL_SYNC_STATUSES",
    "BrowseItem",
    "Collection",
    "Connector",
    "Page",
    "Space",
    "Sync",
    "is_path_id",
    "is_uuid",
    "parse_datetime",
    "unwrap_list",
    "unwrap_object",
]

T = TypeVar("T")

TERMINAL_SYNC_STATUSES = frozenset({"completed", "failed", "cancelled", "succeeded", "canceled", "error"})
CONTAINER_TYPES = frozenset({"folder", "organization", "directory", "drive", "workspace"})

# An opaque id (connector_id, sync_id) that can be one segment of a URL path, the console's and Aimable's alike.
_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_UUID_FORM = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def is_path_id(value: Any) -> bool:
    """Whether ``value`` can be a path segment: letters, digits and ``_.:-``, at most 128, never ``/`` or ``..``."""
    return isinstance(value, str) and bool(_PATH_ID.fullmatch(value)) and ".." not in value


def is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID (hyphens optional): what a space or collection id in a path must be."""
    return isinstance(value, uuid.UUID) or (isinstance(value, str) and bool(_UUID_FORM.fullmatch(value)))


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 (``Z`` allowed) to an aware UTC datetime; naive values are taken as UTC; junk becomes None, and so
    does a time that cannot be told in UTC (year 1 east of Greenwich, year 9999 west of it)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _require_id(obj: dict[str, Any], kind: str, *keys: str) -> str:
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return str(value)
    raise BadResponseError(f"The Aimable API returned a {kind} without an id.")


@dataclass(frozen=True)
class Space:
    space_id: str
    name: str
    description: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Space:
        return cls(
            space_id=_require_id(obj, "space", "space_id", "id"),
            name=_str(obj.get("name")) or "",
            description=_str(obj.get("description")),
            raw=obj,
        )

    @property
    def linkable(self) -> bool:
        return is_uuid(self.space_id)


@dataclass(frozen=True)
class Collection:
    collection_id: str
    space_id: str | None
    name: str
    description: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Collection:
        return cls(
            collection_id=_require_id(obj, "collection", "collection_id", "id"),
            space_id=_str(obj.get("space_id")),
            name=_str(obj.get("name")) or "",
            description=_str(obj.get("description")),
            raw=obj,
        )

    @property
    def linkable(self) -> bool:
        return is_uuid(self.collection_id)


@dataclass(frozen=True)
class Connector:
    id: str
    collection_id: str | None
    provider_slug: str
    principal_id: str | None
    scope_config: dict[str, Any]
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Connector:
        return cls(
            id=_require_id(obj, "connector", "id", "connector_id"),
            collection_id=_str(obj.get("collection_id")),
            provider_slug=_str(obj.get("provider_slug")) or "",
            principal_id=_str(obj.get("principal_id")),
            scope_config=_dict(obj.get("scope_config")),
            status=_str(obj.get("status")) or "",
            created_at=parse_datetime(obj.get("created_at")),
            updated_at=parse_datetime(obj.get("updated_at")),
            raw=obj,
        )

    @property
    def linkable(self) -> bool:
        """Whether a page may link to it (its id can be a URL path segment); if not, it is shown as text only."""
        return is_path_id(self.id)


@dataclass(frozen=True)
class Sync:
    id: str
    connector_id: str | None
    status: str
    records_fetched: int | None
    metadata: dict[str, Any]
    created_at: datetime | None
    completed_at: datetime | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> Sync:
        connector_id = obj.get("collection_connector_id", obj.get("connector_id"))
        return cls(
            id=_require_id(obj, "sync", "id", "sync_id"),
            connector_id=_str(connector_id),
            status=_str(obj.get("status")) or "",
            records_fetched=_int(obj.get("records_fetched")),
            metadata=_dict(obj.get("metadata")),
            created_at=parse_datetime(obj.get("created_at")),
            completed_at=parse_datetime(obj.get("completed_at")),
            raw=obj,
        )

    @property
    def linkable(self) -> bool:
        """Whether a page may link to it or poll it (its id can be a URL path segment)."""
        return is_path_id(self.id)

    @property
    def is_terminal(self) -> bool:
        """Finished for good; unknown statuses are treated as still running (and polled)."""
        return self.status.lower() in TERMINAL_SYNC_STATUSES

    @property
    def duration(self) -> timedelta | None:
        if self.created_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.created_at


@dataclass(frozen=True)
class BrowseItem:
    id: str
    name: str
    type: str
    has_children: bool | None
    parent_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, obj: dict[str, Any]) -> BrowseItem:
        item_id = _require_id(obj, "resource", "id")
        return cls(
            id=item_id,
            name=_str(obj.get("name")) or item_id,
            type=_str(obj.get("type")) or "",
            has_children=_bool(obj.get("has_children")),
            parent_id=_str(obj.get("parent_id")),
            raw=obj,
        )

    @property
    def is_container(self) -> bool:
        return bool(self.has_children) or self.type.lower() in CONTAINER_TYPES


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call.

    ``fetched`` is how many items the server returned before local filtering; paging arithmetic uses it,
    so filtering an item out never makes the next page skip or repeat anything.
    """

    items: list[T]
    limit: int
    offset: int
    total: int | None = None
    next_cursor: str | None = None
    has_more: bool | None = None
    fetched: int | None = None
    request_id: str | None = field(default=None, compare=False)
    # ids of everything the server returned (before filtering): lets iterators notice a repeated page
    fetched_ids: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def _fetched(self) -> int:
        return len(self.items) if self.fetched is None else self.fetched

    @property
    def has_next(self) -> bool:
        if self._fetched == 0:
            return False
        if self.has_more is not None:
            return self.has_more
        if self.total is not None:
            return self.offset + self._fetched < self.total
        if self.next_cursor:
            return True
        return self._fetched >= self.limit

    @property
    def next_offset(self) -> int:
        return self.offset + self._fetched


def unwrap_object(body: Any) -> dict[str, Any]:
    """``{"data": {...}}`` or a bare object."""
    if isinstance(body, dict):
        if "data" in body:
            data = body["data"]
            if isinstance(data, dict):
                return data
            raise BadResponseError()
        return body
    raise BadResponseError()


@dataclass(frozen=True)
class ListEnvelope:
    items: list[dict[str, Any]]
    total: int | None = None
    next_cursor: str | None = None
    has_more: bool | None = None


def unwrap_list(body: Any) -> ListEnvelope:
    """A bare array, or ``{"data": [...]}`` with optional ``total``/``next_cursor``/``has_more``/``meta``."""
    if isinstance(body, list):
        items, meta = body, {}
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        items = body["data"]
        meta = {**_dict(body.get("meta")), **{k: v for k, v in body.items() if k != "data"}}
    else:
        raise BadResponseError()
    if not all(isinstance(item, dict) for item in items):
        raise BadResponseError()
    pagination = _dict(meta.get("pagination"))
    total = _int(_first(meta, pagination, "total", "total_count"))
    next_cursor = _str(_first(meta, pagination, "next_cursor"))
    has_more = _bool(_first(meta, pagination, "has_more"))
    return ListEnvelope(items=items, total=total, next_cursor=next_cursor or None, has_more=has_more)


def _first(meta: dict[str, Any], pagination: dict[str, Any], *keys: str) -> Any:
    for source in (meta, pagination):
        for key in keys:
            if source.get(key) is not None:
                return source[key]
    return None
