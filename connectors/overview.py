"""Reads of the overview (/connectors/): every connector of every space and collection the user's key lists, with
the search, the filters, and each connector's latest syncs, health and freshness.

The three lists (spaces, collections, connectors) are read in parallel with bounded concurrency and kept briefly
per credential (LISTS_SECONDS), so that the rows request, the cells request and a CSV download read them once. What
each connector's newest syncs say is kept as long, so that the rows request right after the cells request, and a
CSV, do not read them again. A space or collection the key cannot reach is one row-group error; the rest is listed.

The newest syncs are read straight, not through the poll cache (``selectors.sync_newest``): its single flight costs
four cache round trips per connector, which on Redis doubled the time to fill a thousand cells
(bench/overview_bench.py); this module's own cache is read and written once per request (get_many, set_many).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field, replace
from functools import partial
from urllib.parse import urlencode

from django.core.cache import cache
from django.utils import timezone

from . import naming
from .aimable import errors
from .aimable.client import AimableClient
from .aimable.types import TERMINAL_SYNC_STATUSES, Collection, Connector, Space, Sync
from .alerts import health as health_rules
from .alerts.models import ConnectorHealth, ConnectorSettings
from .alerts.selectors import health_marks
from .models import AuditEvent
from .parallel import in_parallel
from .providers import PROVIDERS, get_provider
from .selectors import collections_all, connectors_all, overview_lists_key, overview_syncs_key

LISTS_SECONDS = 30  # the three lists, per credential
SYNCS_SECONDS = 30  # what a connector's newest syncs said, per credential: shown by the rows request and the CSV
SYNCS_REUSE_SECONDS = 10  # the cells request reuses a read this recent (made by the rows request a moment before)
SYNCS_READ = 10  # the newest syncs read per connector: enough to find the last success in most cases
MAX_ROWS = 2000  # rows shown (and their cells read) at once; the CSV has all
DEFAULT_FRESHNESS_HOURS = 24

STATUSES = {"active": "Active", "paused": "Paused", "error": "Error", "disconnected": "Disconnected"}
HEALTH = {
    "failing": "Failing",
    "running": "Running",
    "stale": "Stale",
    "needs_reauth": "Needs re-auth",
    "paused": "Paused",
    "healthy": "Healthy",
}
FRESHNESS = {"on_time": "On time", "late": "Late", "stale": "Stale"}
SORTS = {"name": "Name", "last_success": "Last success (oldest first)", "status": "Status"}
FILTER_FIELDS = ("q", "space", "collection", "provider", "status", "health", "sort")


# ----- the three lists ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupError:
    """A space or collection whose list failed: its rows are missing, and the page says why."""

    space_id: str
    space_name: str
    collection_id: str
    collection_name: str
    message: str
    no_access: bool

    @property
    def where(self) -> str:
        space = self.space_name or self.space_id
        if self.collection_id:
            return f"{space} / {self.collection_name or self.collection_id}"
        return space


@dataclass(frozen=True)
class Listing:
    spaces: list[Space]
    collections: dict[str, list[Collection]]  # space id -> its collections
    connectors: dict[tuple[str, str], list[Connector]]  # (space id, collection id) -> its connectors
    failed: list[GroupError]


def _group_error(exc: errors.AimableError, space: Space, collection: Collection | None = None) -> GroupError:
    no_access = isinstance(exc, errors.PermissionDeniedError | errors.NotFoundError)
    return GroupError(
        space_id=str(space.space_id),
        space_name=space.name,
        collection_id=str(collection.collection_id) if collection else "",
        collection_name=collection.name if collection else "",
        message="No access: your key cannot reach it." if no_access else exc.message,
        no_access=no_access,
    )


def _read_listing(client: AimableClient) -> Listing:
    spaces = [s for s in client.list_spaces() if s.linkable]
    by_id = {str(s.space_id): s for s in spaces}
    failed: list[GroupError] = []
    collections: dict[str, list[Collection]] = {}
    jobs = [(str(s.space_id), partial(collections_all, client=client, space_id=s.space_id)) for s in spaces]
    for space_id, found, exc in in_parallel(jobs):
        if exc is not None:
            failed.append(_group_error(exc, by_id[space_id]))
        else:
            collections[space_id] = [c for c in found if c.linkable]
    jobs = [
        (
            (space_id, str(c.collection_id)),
            partial(connectors_all, client=client, space_id=space_id, collection_id=c.collection_id),
        )
        for space_id, colls in collections.items()
        for c in colls
    ]
    connectors: dict[tuple[str, str], list[Connector]] = {}
    coll_by_id = {str(c.collection_id): c for colls in collections.values() for c in colls}
    for (space_id, collection_id), found, exc in in_parallel(jobs):
        if exc is not None:
            failed.append(_group_error(exc, by_id[space_id], coll_by_id[collection_id]))
        else:
            connectors[(space_id, collection_id)] = found
    return Listing(spaces=spaces, collections=collections, connectors=connectors, failed=failed)


# Changes recorded in the audit log that make a kept list or sync reading out of date. The audit log is in the
# database every process shares: a change made by another admin, or by the worker (a bulk action, a schedule), is
# seen at once even where each process keeps its own cache (local memory, as under `make run`).
LIST_CHANGES = (
    AuditEvent.Action.CONNECTOR_CREATE,
    AuditEvent.Action.CONNECTOR_UPDATE,
    AuditEvent.Action.CONNECTOR_DELETE,
    AuditEvent.Action.SCOPE_UPDATE,
    AuditEvent.Action.CREDENTIAL_UPDATE,
)
SYNC_CHANGES = (
    AuditEvent.Action.SYNC_TRIGGER,
    AuditEvent.Action.SYNC_CANCEL,
    AuditEvent.Action.SYNC_RETRY,
    AuditEvent.Action.SYNC_SCHEDULED,
    *LIST_CHANGES,
)


def _changed_since(at: float, actions, connector_ids=None) -> dict[str, float]:
    """Connector id -> the time of its latest change (of ``actions``) recorded since ``at``."""
    since = dt.datetime.fromtimestamp(at, dt.UTC)
    events = AuditEvent.objects.filter(action__in=actions, created_at__gte=since)
    if connector_ids is not None:
        events = events.filter(connector_id__in=list(connector_ids))
    changed: dict[str, float] = {}
    for connector_id, created_at in events.values_list("connector_id", "created_at"):
        changed[connector_id] = max(changed.get(connector_id, 0.0), created_at.timestamp())
    return changed


def listing(*, client: AimableClient) -> Listing:
    """Every space, collection and connector the key lists; kept LISTS_SECONDS per credential, unless a connector
    was created, changed or deleted through the console since."""
    key = overview_lists_key(client.cache_fingerprint)
    kept = cache.get(key)
    if isinstance(kept, dict) and not _changed_since(kept["at"], LIST_CHANGES):
        return kept["listing"]
    at = time.time()
    found = _read_listing(client)
    cache.set(key, {"at": at, "listing": found}, LISTS_SECONDS)
    return found


# ----- rows ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    space_id: str
    space_name: str
    collection_id: str
    collection_name: str
    connector_id: str
    name: str
    provider_slug: str
    provider_name: str
    status: str
    scope: tuple[tuple[str, str], ...]  # (label, value): the value's known name (or the value), and the value
    linkable: bool
    freshness_hours: int
    search_text: str = field(repr=False)
    named: ConnectorSettings | None = field(default=None, repr=False, compare=False)  # the team's name, scope names

    @property
    def key(self) -> str:
        """What a checkbox of the bulk actions carries."""
        return f"{self.space_id}:{self.collection_id}:{self.connector_id}"

    @property
    def dom_id(self) -> str:
        """A stable HTML id for this row's cells (a connector id may hold characters a CSS selector would not)."""
        return "ov-" + hashlib.blake2s(self.key.encode(), digest_size=8).hexdigest()

    @property
    def where(self) -> str:
        return f"{self.space_name or self.space_id} / {self.collection_name or self.collection_id}"


def _scope_values(connector: Connector) -> list[str]:
    provider = get_provider(connector.provider_slug)
    config = connector.scope_config or {}
    keys = provider.scope_keys if provider else tuple(config)
    values = []
    for key in keys:
        value = config.get(key)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | int) and str(item):
                values.append(str(item))
    return values


def _rows(found: Listing) -> list[Row]:
    pairs = [
        (space, coll, connector)
        for space in found.spaces
        for coll in found.collections.get(str(space.space_id), [])
        for connector in found.connectors.get((str(space.space_id), str(coll.collection_id)), [])
    ]
    named = naming.names_for(c.id for _, _, c in pairs)
    rows = []
    for space, coll, connector in pairs:
        settings = named.get(connector.id)
        provider = get_provider(connector.provider_slug)
        name = naming.display_name(connector_id=connector.id, provider_slug=connector.provider_slug, named=settings)
        scope = tuple((naming.scope_label(v, settings), v) for v in _scope_values(connector))
        words = [name, connector.id, connector.provider_slug, provider.name if provider else ""]
        words += [part for pair in scope for part in pair]
        rows.append(
            Row(
                space_id=str(space.space_id),
                space_name=space.name,
                collection_id=str(coll.collection_id),
                collection_name=coll.name,
                connector_id=connector.id,
                name=name,
                provider_slug=connector.provider_slug,
                provider_name=provider.name if provider else (connector.provider_slug or "Unknown"),
                status=(connector.status or "").lower(),
                scope=scope,
                linkable=connector.linkable,
                freshness_hours=max(1, settings.freshness_hours if settings else DEFAULT_FRESHNESS_HOURS),
                search_text="\n".join(words).casefold(),
                named=settings,
            )
        )
    return rows


# ----- what the newest syncs say --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncInfo:
    """A connector's latest sync and last success: read now, or a snapshot the background checks kept."""

    latest_status: str = ""  # "" when it never synced
    latest_at: dt.datetime | None = None
    latest_records: int | None = None
    latest_id: str = ""
    last_success: dt.datetime | None = None
    success_before: dt.datetime | None = None  # no success among the newest read: it is older than this
    last_failed: bool = False  # the latest finished sync failed
    credential_failure: bool = False  # ... because the credential was refused
    checked_at: dt.datetime | None = None  # a snapshot: when the background checks saw it
    error: str = ""  # the read failed: nothing is known

    @property
    def snapshot(self) -> bool:
        return self.checked_at is not None

    @property
    def running(self) -> bool:
        return bool(self.latest_status) and self.latest_status.lower() not in TERMINAL_SYNC_STATUSES

    @classmethod
    def from_syncs(cls, syncs: list[Sync], complete: bool) -> SyncInfo:
        latest = syncs[0] if syncs else None
        finished = [s for s in syncs if s.is_terminal and s.status.lower() not in health_rules.CANCELLED]
        last_finished = finished[0] if finished else None
        success = next((s for s in finished if s.status.lower() in health_rules.SUCCEEDED), None)
        failed = last_finished is not None and last_finished.status.lower() in health_rules.FAILED
        oldest = syncs[-1] if syncs else None
        return cls(
            latest_status=latest.status if latest else "",
            latest_at=(latest.completed_at or latest.created_at) if latest else None,
            latest_records=latest.records_fetched if latest else None,
            latest_id=latest.id if latest and latest.linkable else "",
            last_success=(success.completed_at or success.created_at) if success else None,
            success_before=oldest.created_at if success is None and not complete and oldest else None,
            last_failed=failed,
            credential_failure=failed and health_rules.is_credential_failure(last_finished),
        )

    @classmethod
    def from_snapshot(cls, mark: ConnectorHealth) -> SyncInfo:
        return cls(
            latest_status=mark.latest_sync_status,
            last_success=mark.last_success_at,
            last_failed=mark.state in (ConnectorHealth.State.FAILING, ConnectorHealth.State.NEEDS_REAUTH),
            credential_failure=mark.state == ConnectorHealth.State.NEEDS_REAUTH,
            checked_at=mark.checked_at or timezone.now(),
        )


def freshness(row: Row, info: SyncInfo | None, now: dt.datetime) -> str:
    """On time (a success within the expected freshness), late (within twice it), stale (beyond, or never); ""
    when nothing is known yet."""
    if info is None or info.error:
        return ""
    since = info.last_success or info.success_before
    if since is None:
        return "stale"
    window = dt.timedelta(hours=row.freshness_hours)
    age = now - since
    if age <= window:
        return "on_time"
    return "late" if age <= 2 * window and info.last_success else "stale"


def health(row: Row, info: SyncInfo | None, now: dt.datetime) -> str:
    """failing, running, stale, needs_reauth, paused or healthy; "" when it needs the syncs and they are unknown."""
    if row.status == "disconnected" or (info is not None and info.credential_failure):
        return "needs_reauth"
    if row.status == "paused":
        return "paused"
    if info is None or info.error:
        return "failing" if row.status == "error" else ""
    if info.running:
        return "running"
    if info.last_failed or row.status == "error":
        return "failing"
    if freshness(row, info, now) == "stale":
        return "stale"
    return "healthy"


def _syncs_key(client: AimableClient, row: Row) -> str:
    return overview_syncs_key(client.cache_fingerprint, row.connector_id)


def _known_infos(client: AimableClient, rows: list[Row], *, within: float) -> dict[str, SyncInfo]:
    """What the newest syncs said when read less than ``within`` seconds ago, by row key."""
    keys = {_syncs_key(client, row): row for row in rows}
    now = time.time()
    entries = {key: entry for key, entry in cache.get_many(list(keys)).items() if now - entry["at"] < within}
    if not entries:
        return {}
    # A sync started or cancelled through the console (by anyone, the worker included) since a reading: read again.
    changed = _changed_since(
        min(entry["at"] for entry in entries.values()), SYNC_CHANGES, {keys[key].connector_id for key in entries}
    )
    return {
        keys[key].key: entry["info"]
        for key, entry in entries.items()
        if changed.get(keys[key].connector_id, 0.0) < entry["at"]
    }


def _newest(client: AimableClient, row: Row) -> tuple[list[Sync], bool]:
    page = client.list_syncs(row.space_id, row.collection_id, row.connector_id, limit=SYNCS_READ)
    return list(page.items), not page.has_next


def read_infos(client: AimableClient, rows: list[Row], *, reuse: float = SYNCS_REUSE_SECONDS) -> dict[str, SyncInfo]:
    """Each row's newest syncs, read in parallel (a read made less than ``reuse`` seconds ago is used as is)."""
    infos = _known_infos(client, rows, within=reuse)
    todo = [row for row in rows if row.key not in infos and row.linkable]
    fresh = {}
    started = time.time()  # a reading is as old as its request: a change made meanwhile makes it out of date
    for row, result, exc in in_parallel([(row, partial(_newest, client, row)) for row in todo]):
        if exc is not None:
            infos[row.key] = SyncInfo(error=exc.message)
            continue
        infos[row.key] = fresh[_syncs_key(client, row)] = SyncInfo.from_syncs(*result)
    cache.set_many({key: {"at": started, "info": info} for key, info in fresh.items()}, SYNCS_SECONDS)
    return infos


def _snapshot_infos(client: AimableClient, rows: list[Row]) -> dict[str, SyncInfo]:
    """What is known without an upstream read: a read of the last SYNCS_SECONDS, else the background checks'
    snapshot (with its age)."""
    infos = _known_infos(client, rows, within=SYNCS_SECONDS)
    missing = {row.connector_id: row for row in rows if row.key not in infos}
    for connector_id, mark in health_marks(missing).items():
        infos[missing[connector_id].key] = SyncInfo.from_snapshot(mark)
    return infos


# ----- filters ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    q: str = ""
    space: str = ""
    collection: str = ""
    provider: str = ""
    status: str = ""
    health: str = ""
    sort: str = "name"
    notes: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query) -> Filters:
        """The filters as typed (the page shows them at once); ``checked`` drops the unknown ones."""
        values = {name: str(query.get(name, "")).strip()[:200] for name in FILTER_FIELDS}
        return cls(**{**values, "sort": values["sort"] or "name"})

    def query_string(self, **changes) -> str:
        """The filters in the URL (only the ones set), with ``changes``."""
        values = {name: getattr(self, name) for name in FILTER_FIELDS}
        values.update(changes)
        if values.get("sort") == "name":
            values["sort"] = ""
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def narrowed(self) -> bool:
        return any(getattr(self, name) for name in FILTER_FIELDS if name != "sort")


def _unknown(what: str, value: str) -> str:
    shown = value if len(value) <= 60 else value[:59] + "…"
    return f"Unknown {what} '{shown}' ignored."


def checked(filters: Filters, found: Listing) -> Filters:
    """The filters with every value the page does not know dropped, each with a note (never an error)."""
    notes, fixed = list(filters.notes), {}
    providers = set(PROVIDERS) | {c.provider_slug for cs in found.connectors.values() for c in cs}
    checks = (
        ("space", "space", [str(s.space_id) for s in found.spaces]),
        ("collection", "collection", [str(c.collection_id) for cs in found.collections.values() for c in cs]),
        ("provider", "provider", providers),
        ("status", "status", STATUSES),
        ("health", "health", HEALTH),
        ("sort", "sort order", SORTS),
    )
    for name, what, known in checks:
        value = getattr(filters, name)
        if not value:
            continue
        canonical = {k.lower(): k for k in known}.get(value.lower())
        if canonical is None:
            notes.append(_unknown(what, value))
            fixed[name] = "name" if name == "sort" else ""
        else:
            fixed[name] = canonical
    return replace(filters, **fixed, notes=tuple(notes))


def _matches(row: Row, filters: Filters, terms: list[str]) -> bool:
    return (
        (not filters.space or row.space_id == filters.space)
        and (not filters.collection or row.collection_id == filters.collection)
        and (not filters.provider or row.provider_slug == filters.provider)
        and (not filters.status or row.status == filters.status)
        and all(term in row.search_text for term in terms)
    )


def _sorted(rows: list[Row], sort: str, infos: dict[str, SyncInfo]) -> list[Row]:
    by_name = sorted(rows, key=lambda r: (r.name.casefold(), r.where.casefold(), r.connector_id))
    if sort == "status":
        return sorted(by_name, key=lambda r: r.status)
    if sort == "last_success":
        never = dt.datetime.min.replace(tzinfo=dt.UTC)

        def last(row: Row):
            info = infos.get(row.key)
            return (info.last_success or never) if info else never

        return sorted(by_name, key=last)
    return by_name


# ----- the overview ----------------------------------------------------------------------------------------------


@dataclass
class OverviewResult:
    filters: Filters
    rows: list[Row]  # matching, sorted, at most MAX_ROWS
    matching: int  # rows matching the filters (the table may show fewer)
    total: int  # every connector listed
    failed: list[GroupError]
    infos: dict[str, SyncInfo]  # by row key: what is known of each shown row's syncs
    counts: dict[str, int]  # the summary: health -> rows matching every filter but health
    unknown: int  # of those, the rows whose health waits on their syncs
    spaces: list[tuple[str, str]]  # (id, name) for the filters
    collections: list[tuple[str, str, str]]  # (space id, id, "space / collection")
    fresh: bool = False  # the infos were read now (no cells request needed)
    now: dt.datetime = field(default_factory=timezone.now)

    @property
    def pending(self) -> list[Row]:
        """Shown rows whose cells still wait for a read (not read now, in the last seconds)."""
        return [] if self.fresh else [r for r in self.rows if r.linkable]

    def health_of(self, row: Row) -> str:
        return health(row, self.infos.get(row.key), self.now)

    def freshness_of(self, row: Row) -> str:
        return freshness(row, self.infos.get(row.key), self.now)


def overview(
    *, user, client: AimableClient, query, fresh: bool = False, limit: int | None = MAX_ROWS
) -> OverviewResult:
    """The rows matching ``query`` (the page's GET parameters), with what is known of their syncs.

    ``fresh``: read every shown row's newest syncs now (the cells request, the CSV); otherwise only what is known
    without a read, unless the health filter or the sort by last success needs them."""
    found = listing(client=client)
    filters = checked(Filters.from_query(query), found)
    terms = filters.q.casefold().split()
    all_rows = _rows(found)
    candidates = [row for row in all_rows if _matches(row, filters, terms)]
    needs_syncs = fresh or bool(filters.health) or filters.sort == "last_success"
    if needs_syncs:
        infos = read_infos(client, candidates, reuse=SYNCS_SECONDS if not fresh else SYNCS_REUSE_SECONDS)
    else:
        infos = _snapshot_infos(client, candidates)
    now = timezone.now()
    states = [health(row, infos.get(row.key), now) for row in candidates]
    counts = dict.fromkeys(HEALTH, 0)
    for state in filter(None, states):
        counts[state] += 1
    if filters.health:
        candidates = [row for row, state in zip(candidates, states, strict=True) if state == filters.health]
    matching = _sorted(candidates, filters.sort, infos)
    shown = matching[:limit] if limit else matching
    spaces = [(str(s.space_id), s.name or str(s.space_id)) for s in found.spaces]
    space_names = dict(reversed(spaces))  # the first space of an id, should the upstream list one twice
    return OverviewResult(
        filters=filters,
        rows=shown,
        matching=len(matching),
        total=len(all_rows),
        failed=found.failed,
        infos=infos,
        counts=counts,
        unknown=states.count(""),
        spaces=spaces,
        collections=[
            (space_id, str(c.collection_id), f"{space_names.get(space_id, space_id)} / {c.name or c.collection_id}")
            for space_id, colls in found.collections.items()
            for c in colls
        ],
        fresh=needs_syncs,
        now=now,
    )


def matching_rows(*, user, client: AimableClient, query) -> list[Row]:
    """Every row matching the overview's filters in ``query`` (for "Select all N matching")."""
    return overview(user=user, client=client, query=query, limit=None).rows
