"""One check round: every active watch, read with its owner's own key, turned into health and alerts.

Upstream reads per round are bounded: per key, one collections list per watched space, one connectors list per
collection, and one read of the newest syncs per connector, however many of that key's watches overlap on it (and
through the poll cache, so two rounds at once share them). Reads run in parallel (ALERTS_CONCURRENCY); the database
work runs after them, one compare-and-set per watched connector, so a change of state is alerted once per watch even
when two workers check at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import selectors
from ..aimable import errors
from ..aimable.client import AimableClient
from ..aimable.types import Connector
from ..naming import names_for
from ..providers import get_provider
from ..upstream import ApiKeyMissing, client_for
from . import health
from .models import CheckRound, ConnectorHealth, ConnectorSettings, Watch
from .notify import notify

logger = logging.getLogger(__name__)

SYNCS_READ = 10  # the newest syncs read per connector: enough for "N failures in a row" (N <= 10)
STUCK_ROUND = dt.timedelta(minutes=10)  # a round started this long ago and not finished died with its worker
SPECIFICITY = {Watch.Scope.CONNECTOR: 0, Watch.Scope.COLLECTION: 1, Watch.Scope.SPACE: 2}


@dataclass
class Reads:
    """What one key read this round, and what failed."""

    client: AimableClient
    collections_of_space: dict[str, list] = field(default_factory=dict)  # space -> [Collection]
    connectors: dict[tuple[str, str], list[Connector]] = field(default_factory=dict)  # (space, coll) -> connectors
    syncs: dict[str, tuple[list, bool]] = field(default_factory=dict)  # connector id -> (newest syncs, complete)
    failed: dict[tuple, errors.AimableError] = field(default_factory=dict)  # ("space"|"collection"|..., ids) -> error
    rejected: errors.AimableError | None = None
    team_names: dict[str, str] | None = None  # connector id -> the team's name, loaded once (_team_names)


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.value += 1


def ensure_round(now: float | None = None) -> int | None:
    """Creates this slot's round and enqueues it, unless some worker did already (the slot is unique): called by
    every worker between tasks, so rounds go on whichever workers live. Returns the slot if this call created it."""
    from .tasks import check_round

    interval = max(1, int(settings.ALERTS_CHECK_SECONDS))
    slot = int((time.time() if now is None else now) // interval)
    if CheckRound.objects.filter(slot=slot).exists():
        return None
    with transaction.atomic():
        _, created = CheckRound.objects.get_or_create(slot=slot)
        if created:
            check_round.enqueue(slot)  # the task row commits with the round row, or neither does
    return slot if created else None


def run_round(slot: int) -> dict:
    now = timezone.now()
    claimed = CheckRound.objects.filter(slot=slot, started_at__isnull=True).update(started_at=now)
    if not claimed:
        return {"slot": slot, "skipped": "already started"}
    busy = CheckRound.objects.filter(slot__lt=slot, started_at__gt=now - STUCK_ROUND, finished_at__isnull=True).exists()
    result = {"slot": slot}
    try:
        result.update(sweep())
        if busy:
            result["skipped"] = "the previous round is still running"
        else:
            result.update(check_watches(now=now))
    except Exception as exc:
        logger.exception("Check round %s failed", slot)
        CheckRound.objects.filter(slot=slot).update(finished_at=timezone.now(), error=f"{type(exc).__name__}")
        raise
    CheckRound.objects.filter(slot=slot).update(
        finished_at=timezone.now(),
        watches=result.get("watches", 0),
        connectors=result.get("connectors", 0),
        upstream_reads=result.get("upstream_reads", 0),
        alerts=result.get("alerts", 0),
    )
    return result


def sweep() -> dict:
    """Deliveries that are due again (a retry's time came, or a dead worker's lease ran out) and due schedules."""
    from .. import bulk
    from .delivery import due_deliveries
    from .notify import enqueue_deliveries
    from .schedules import run_due

    due = due_deliveries()
    enqueue_deliveries(due)
    return {
        "deliveries_requeued": len(due),
        "schedules_run": run_due(),
        "bulk_actions_resumed": bulk.resume_stalled(),
        "pruned": prune(),
    }


def prune(now: dt.datetime | None = None) -> int:
    """Forgets what nobody reads any more: finished task results after a day (a week when failed), rounds after a
    week. Alerts and deliveries stay: they are the record."""
    from django.db.models import Q
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    day, week = now - dt.timedelta(days=1), now - dt.timedelta(days=7)
    tasks, _ = (
        DBTaskResult.objects.finished()
        .filter(Q(status="SUCCESSFUL", finished_at__lte=day) | Q(status="FAILED", finished_at__lte=week))
        .delete()
    )
    rounds, _ = CheckRound.objects.filter(created_at__lte=week).delete()
    return tasks + rounds


# ----- the checks --------------------------------------------------------------------------------------------------


def check_watches(*, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    watches = list(
        Watch.objects.filter(paused="", user__is_active=True).select_related("user").prefetch_related("channels")
    )
    by_user: dict[int, list[Watch]] = defaultdict(list)
    for watch in watches:
        by_user[watch.user_id].append(watch)
    reads_count = Counter()
    all_reads: dict[int, Reads] = {}
    for user_id, user_watches in by_user.items():
        try:
            all_reads[user_id] = Reads(client=client_for(user_watches[0].user))
        except ApiKeyMissing:
            _pause(user_watches, Watch.Paused.KEY_MISSING)

    with ThreadPoolExecutor(max_workers=max(1, settings.ALERTS_CONCURRENCY)) as pool:
        _read_all(pool, by_user, all_reads, reads_count)

    alerts = connectors_checked = 0
    freshness = _freshness()
    healths: dict[int, dict[str, ConnectorHealth]] = defaultdict(dict)  # watch -> connector id -> its health row
    for row in ConnectorHealth.objects.filter(watch__in=[w for uid in all_reads for w in by_user[uid]]):
        healths[row.watch_id][row.connector_id] = row
    for user_id, reads in all_reads.items():
        user_watches = by_user[user_id]
        if reads.rejected is not None:
            _pause(user_watches, Watch.Paused.KEY_REJECTED)
            continue
        # One alert per change per connector for each admin: where their watches overlap, the narrowest one (the
        # connector's own, then its collection's, then its space's) speaks for the connector, with its channels.
        claimed: set[str] = set()
        for watch in sorted(user_watches, key=lambda w: (SPECIFICITY[w.scope], w.pk)):
            made, checked = _check_watch(
                watch, reads, now=now, freshness=freshness, claimed=claimed, existing=healths[watch.pk]
            )
            alerts += made
            connectors_checked += checked
    return {
        "watches": len(watches),
        "connectors": connectors_checked,
        "upstream_reads": reads_count.value,
        "alerts": alerts,
    }


def _collections_of(watch: Watch, reads: Reads) -> list[tuple[str, str]]:
    space = str(watch.space_id)
    if watch.scope == Watch.Scope.SPACE:
        return [(space, str(c.collection_id)) for c in reads.collections_of_space.get(space, [])]
    return [(space, str(watch.collection_id))]


def _read_all(pool, by_user, all_reads: dict[int, Reads], counter: Counter) -> None:
    def run(fn, *args):
        try:
            return fn(*args)
        finally:
            counter.add()

    def gather(jobs):
        futures = [(key, reads, pool.submit(run, fn, *args)) for key, reads, fn, args in jobs]
        out = []
        for key, reads, future in futures:
            try:
                out.append((key, reads, future.result()))
            except errors.AuthenticationError as exc:
                reads.rejected = exc
            except errors.AimableError as exc:
                reads.failed[key] = exc
        return out

    # 1. The collections of each watched space.
    jobs = []
    for user_id, reads in all_reads.items():
        spaces = {str(w.space_id) for w in by_user[user_id] if w.scope == Watch.Scope.SPACE}
        jobs += [(("space", space), reads, _list_collections, (reads.client, space)) for space in sorted(spaces)]
    for (_, space), reads, collections in gather(jobs):
        reads.collections_of_space[space] = [c for c in collections if c.linkable]

    # 2. The connectors of each collection a watch covers: one list per collection per key.
    jobs = []
    for user_id, reads in all_reads.items():
        if reads.rejected:
            continue
        pairs = {pair for w in by_user[user_id] for pair in _collections_of(w, reads)}
        jobs += [(("collection", *pair), reads, _list_connectors, (reads.client, *pair)) for pair in sorted(pairs)]
    for (_, space, coll), reads, connectors in gather(jobs):
        reads.connectors[(space, coll)] = connectors

    # 3. The newest syncs of each watched connector: one read per connector per key.
    jobs = []
    for user_id, reads in all_reads.items():
        if reads.rejected:
            continue
        wanted: dict[str, tuple[str, str]] = {}
        for w in by_user[user_id]:
            for pair in _collections_of(w, reads):
                for c in reads.connectors.get(pair, []):
                    if w.scope != Watch.Scope.CONNECTOR or c.id == w.connector_id:
                        wanted[c.id] = pair
        for cid, (space, coll) in sorted(wanted.items()):
            jobs.append((("syncs", cid), reads, _newest_syncs, (reads.client, space, coll, cid)))
    for (_, cid), reads, result in gather(jobs):
        reads.syncs[cid] = result


def _list_collections(client: AimableClient, space_id: str) -> list:
    return selectors.collections_all(client=client, space_id=space_id)


def _list_connectors(client: AimableClient, space_id: str, collection_id: str) -> list[Connector]:
    found = selectors.connectors_all(client=client, space_id=space_id, collection_id=collection_id)
    return [c for c in found if c.linkable]


def _newest_syncs(client: AimableClient, space_id: str, collection_id: str, connector_id: str):
    return selectors.sync_newest(
        client=client,
        fingerprint=client.cache_fingerprint,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        limit=SYNCS_READ,
    )


def _freshness() -> dict[str, dt.timedelta]:
    return {
        s.connector_id: dt.timedelta(hours=max(1, s.freshness_hours))
        for s in ConnectorSettings.objects.only("connector_id", "freshness_hours")
    }


def _check_watch(
    watch: Watch, reads: Reads, *, now, freshness, claimed: set[str], existing: dict[str, ConnectorHealth]
) -> tuple[int, int]:
    """Health and alerts for one watch's connectors, except those a narrower watch of the same admin speaks for
    (``claimed``, which this adds to). ``existing``: the watch's health rows by connector id, read before the round
    (a connector without one gets one here). Returns (alerts made, connectors checked)."""
    space = str(watch.space_id)
    if watch.scope == Watch.Scope.SPACE:
        error = reads.failed.get(("space", space))
        if _pause_on(watch, error):
            return 0, 0
    pairs = _collections_of(watch, reads)
    connectors: list[tuple[str, str, Connector]] = []
    for pair in pairs:
        error = reads.failed.get(("collection", *pair))
        if error is not None:
            if watch.scope != Watch.Scope.SPACE and _pause_on(watch, error):
                return 0, 0
            continue  # a passing failure (or one collection of a space): the rest is still checked
        for c in reads.connectors.get(pair, []):
            if watch.scope != Watch.Scope.CONNECTOR or c.id == watch.connector_id:
                connectors.append((*pair, c))
    if watch.scope == Watch.Scope.CONNECTOR and not connectors:
        if not any(("collection", *pair) in reads.failed for pair in pairs):
            _pause([watch], Watch.Paused.GONE)
        return 0, 0

    connectors = [(space_id, coll, c) for space_id, coll, c in connectors if c.id not in claimed]
    claimed.update(c.id for _, _, c in connectors)
    made = checked = 0
    for space_id, collection_id, connector in connectors:
        syncs = reads.syncs.get(connector.id)
        if syncs is None:
            continue  # its read failed this round: nothing is concluded from nothing
        prev = existing.get(connector.id)
        if prev is None:
            prev, _ = ConnectorHealth.objects.get_or_create(
                watch=watch,
                connector_id=connector.id[:128],
                defaults={"space_id": space_id, "collection_id": collection_id},
            )
        seen = health.Seen(
            connector=connector,
            syncs=syncs[0],
            complete=syncs[1],
            freshness=freshness.get(connector.id, dt.timedelta(hours=24)),
            stall_after=dt.timedelta(seconds=settings.SYNC_STALL_SECONDS),
            failure_threshold=watch.failure_threshold,
            daily_reminder=watch.daily_reminder,
        )
        name = _name(connector, watch, reads, collection_id)
        outcome = health.assess(prev, seen, now=now, name=name)
        checked += 1
        with transaction.atomic():
            updated = ConnectorHealth.objects.filter(pk=prev.pk, version=prev.version).update(
                **outcome.fields, version=F("version") + 1
            )
            if not updated:
                continue  # another worker recorded this connector's state meanwhile: its alerts are its own
            for event in outcome.events:
                alert = notify(
                    user=watch.user,
                    watch=watch,
                    kind=event.kind,
                    dedupe_key=f"w{watch.pk}:{connector.id}:v{prev.version + 1}:{event.kind}",
                    message=event.message[:2000],
                    space_id=space_id,
                    collection_id=collection_id,
                    connector_id=connector.id[:128],
                    provider_slug=connector.provider_slug[:64],
                    label=name[:300],
                    sync_id=event.sync_id[:128],
                    status=event.status[:32],
                    reason=event.reason,
                )
                made += alert is not None
    return made, checked


def _team_names(reads: Reads) -> dict[str, str]:
    """The team's names of every connector this key read: one query, the first time an alert needs a name."""
    if reads.team_names is None:
        ids = {c.id for connectors in reads.connectors.values() for c in connectors}
        reads.team_names = {cid: s.name for cid, s in names_for(ids).items() if s.name}
    return reads.team_names


def _name(connector: Connector, watch: Watch, reads: Reads, collection_id: str) -> str:
    provider = get_provider(connector.provider_slug)
    what = provider.name if provider else (connector.provider_slug or "Connector")
    team_name = _team_names(reads).get(connector.id[:128])
    where = ""
    for collections in reads.collections_of_space.values():
        where = next((c.name for c in collections if str(c.collection_id) == collection_id and c.name), where)
    if not where and watch.label:  # "<connector> in <collection>", or "<space> / <collection>"
        if watch.scope == Watch.Scope.CONNECTOR and " in " in watch.label:
            where = watch.label.rsplit(" in ", 1)[1]
        elif watch.scope == Watch.Scope.COLLECTION:
            where = watch.label.split(" / ")[-1]
    short = connector.id[:8]
    called = f"{team_name[:200]} ({what})" if team_name else f"{what} ({short})"
    return f"{called} in {where}" if where else called


def _pause_on(watch: Watch, error: errors.AimableError | None) -> bool:
    if isinstance(error, errors.PermissionDeniedError):
        _pause([watch], Watch.Paused.NO_ACCESS)
        return True
    if isinstance(error, errors.NotFoundError):
        _pause([watch], Watch.Paused.GONE)
        return True
    return False


def _pause(watches: list[Watch], reason: str) -> None:
    """Pauses the watches and tells their owner, once per pause."""
    from .pausing import pause_watches

    if watches:
        pause_watches(watches=watches, reason=reason)
