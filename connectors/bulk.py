"""Bulk actions: sync, pause, resume or delete many connectors at once, as a background task.

``bulk_start`` records the action and its items in one transaction (audited) and enqueues ``run_bulk_action`` once
it commits. The task claims the action with a lease (a compare-and-set on ``lease_until``, renewed after each item),
then runs its pending items a few at a time, each claimed pending -> running before Aimable is asked, through the
audited services with the owner's own key: every item is audited. Closing the tab stops nothing; the page shows the
rows.

A worker that dies leaves the lease to run out; the alerts round's sweep (``resume_stalled``) enqueues the action
again. An item it left running is run again only when that is safe: a pause, resume or delete is idempotent, a sync
trigger is not (a second sync could start), so that one is marked "unknown", never retried.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections, transaction
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks import task

from . import naming, selectors, services
from .aimable import errors
from .aimable.client import AimableClient
from .aimable.deadlines import upstream_budget
from .aimable.types import Connector, is_path_id
from .audit import audited
from .models import AuditEvent, BulkAction, BulkItem
from .upstream import ApiKeyMissing, client_for

logger = logging.getLogger(__name__)

# Upstream calls in flight at once per action: enough to finish 40 items in a few seconds, few enough not to look
# like a flood to Aimable's rate limiter.
CONCURRENCY = 4
# A worker holds an action this long after its last finished item; one item takes at most a few upstream calls,
# each cut off at AIMABLE_DEADLINE.
LEASE = timedelta(minutes=2)
# "Select all N matching" and the checkboxes together: no more than this many connectors in one action.
MAX_ITEMS = 1000

UNKNOWN_MESSAGE = "The worker stopped during this sync trigger; not retried"
KEY_REJECTED_MESSAGE = "Aimable rejected the API key; nothing more was tried. Check the key on the API key page."
KEY_MISSING_MESSAGE = "No usable API key is stored; nothing was tried. Add one on the API key page."
STOPPED_MESSAGE = "Not tried: "

# Outcome -> the badge's status token (its colour): markup comes from {% badge %}.
OUTCOME_BADGES = {
    "started": "completed",
    "resumed": "completed",
    "deleted": "completed",
    "paused": "paused",
    "already paused": "paused",
    "already running": "running",
    "already active": "active",
    "already gone": "cancelled",
    "failed": "failed",
    "unknown": "stalled",
}


@dataclass(frozen=True)
class Target:
    """One connector picked for a bulk action."""

    space_id: str
    collection_id: str
    connector_id: str
    label: str = ""


# ----- starting ----------------------------------------------------------------------------------------------------


def bulk_start(*, user: AbstractBaseUser, kind: str, items: Iterable[Target]) -> BulkAction:
    """Records the action and its items, audited, and enqueues the task once they are committed."""
    if kind not in BulkAction.Kind.values:
        raise ValueError(f"Unknown bulk action: {kind!r}")
    targets = _unique(items)
    if not targets:
        raise ValueError("No connectors selected.")
    # A target from "Select all N matching" carries the overview's name (the team's, if any): read only the others.
    named = naming.names_for(t.connector_id for t in targets if not t.label)
    with transaction.atomic():
        action = BulkAction.objects.create(user=user, kind=kind, total=len(targets))
        BulkItem.objects.bulk_create(
            BulkItem(
                action=action,
                space_id=t.space_id,
                collection_id=t.collection_id,
                connector_id=t.connector_id,
                label=_label(t, named)[:300],
            )
            for t in targets
        )
        # The start, with the count; each item is audited by its own service call when it runs.
        with audited(user=user, action=AuditEvent.Action.BULK_START, changes={"kind": kind, "count": len(targets)}):
            pass
        transaction.on_commit(lambda: run_bulk_action.enqueue(action.pk))
    return action


def _unique(items: Iterable[Target]) -> list[Target]:
    seen: dict[tuple[str, str, str], Target] = {}
    for item in items:
        seen.setdefault((str(item.space_id), str(item.collection_id), item.connector_id), item)
    return list(seen.values())


def _label(target: Target, named: dict) -> str:
    return target.label or naming.display_name(connector_id=target.connector_id, named=named.get(target.connector_id))


# ----- running -----------------------------------------------------------------------------------------------------


@task()
def run_bulk_action(action_id: int) -> str:
    """Runs the action's pending items, if no other worker holds it. Safe to run twice."""
    return run(action_id)


def run(action_id: int, *, now: datetime | None = None) -> str:
    now = now or timezone.now()
    lease = now + LEASE
    claimed = (
        BulkAction.objects.filter(pk=action_id, finished_at__isnull=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(lease_until=lease, started_at=Coalesce("started_at", Value(now)))
    )
    if not claimed:
        return "skipped"  # finished, gone, or another worker holds it
    action = BulkAction.objects.select_related("user").get(pk=action_id)
    _recover_abandoned(action, now=now)
    try:
        client = client_for(action.user)
    except (ApiKeyMissing, errors.AuthenticationError):
        _fail_remaining(action, KEY_MISSING_MESSAGE)
        return _finish(action, lease)
    runner = _Runner(action, client, lease)
    runner.run()
    if runner.lost:
        return "superseded"  # the lease ran out mid-way and another worker took over: it finishes the action
    if runner.stop_reason:
        _fail_remaining(action, runner.stop_reason)
    return _finish(action, runner.lease)


def _recover_abandoned(action: BulkAction, *, now: datetime) -> None:
    """Items a dead worker left running (this worker holds the lease now, so nobody else is on them)."""
    running = BulkItem.objects.filter(action=action, state=BulkItem.State.RUNNING)
    if action.kind == BulkAction.Kind.SYNC:
        # Aimable may have started the sync before the worker died: a second trigger could start another one.
        running.update(state=BulkItem.State.DONE, outcome="unknown", message=UNKNOWN_MESSAGE, finished_at=now)
    else:
        running.update(state=BulkItem.State.PENDING)


def _fail_remaining(action: BulkAction, message: str) -> None:
    BulkItem.objects.filter(action=action, state=BulkItem.State.PENDING).update(
        state=BulkItem.State.DONE, outcome="failed", message=message, finished_at=timezone.now()
    )


def _finish(action: BulkAction, lease: datetime) -> str:
    if BulkItem.objects.filter(action=action).exclude(state=BulkItem.State.DONE).exists():
        return "unfinished"
    BulkAction.objects.filter(pk=action.pk, lease_until=lease).update(finished_at=timezone.now(), lease_until=None)
    return "finished"


class _Runner:
    """One worker's pass over an action's pending items, CONCURRENCY at a time."""

    def __init__(self, action: BulkAction, client: AimableClient, lease: datetime) -> None:
        self.action = action
        self.client = client
        self.lease = lease
        self.lost = False
        self.stop_reason = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def run(self) -> None:
        # Read once: what an item says (its ids, its label) does not change; its state is claimed item by item.
        pending = list(BulkItem.objects.filter(action=self.action, state=BulkItem.State.PENDING))
        workers = min(_concurrency(), len(pending))
        if workers <= 1:
            for item in pending:
                self._one(item)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"bulk-{self.action.pk}") as pool:
            # Each item in a copy of this context: whatever context variables the caller set (a request id for
            # the audit) reach the threads.
            for future in [pool.submit(contextvars.copy_context().run, self._in_thread, item) for item in pending]:
                future.result()

    def _in_thread(self, item: BulkItem) -> None:
        try:
            self._one(item)
        finally:
            connections.close_all()  # this thread's own connections: the pool's threads end with the action

    def _one(self, item: BulkItem) -> None:
        item_pk = item.pk
        try:
            if self._stop.is_set():
                return  # the key was rejected or the lease lost: the item stays pending
            if not BulkItem.objects.filter(pk=item_pk, state=BulkItem.State.PENDING).update(
                state=BulkItem.State.RUNNING
            ):
                return  # another worker has it
            with upstream_budget(settings.AIMABLE_DEADLINE):
                outcome, message, label = _perform(self.action, item, self.client)
            if outcome == "failed" and message == KEY_REJECTED_MESSAGE:
                self.stop_reason = STOPPED_MESSAGE + KEY_REJECTED_MESSAGE
                self._stop.set()
            done = {"state": BulkItem.State.DONE, "outcome": outcome, "message": message[:2000]}
            if label:
                done["label"] = label[:300]
            BulkItem.objects.filter(pk=item_pk, state=BulkItem.State.RUNNING).update(**done, finished_at=timezone.now())
            self._renew()
        except Exception:
            # An item's unexpected failure must not stop the others; the item stays running and is settled (not
            # re-run, for a sync) when the action is resumed.
            logger.exception("Bulk action %s: item %s failed unexpectedly", self.action.pk, item_pk)

    def _renew(self) -> None:
        with self._lock:
            if self.lost:
                return
            lease = timezone.now() + LEASE
            if BulkAction.objects.filter(pk=self.action.pk, lease_until=self.lease).update(lease_until=lease):
                self.lease = lease
            else:
                self.lost = True
                self._stop.set()


def _concurrency() -> int:
    """CONCURRENCY, but one at a time on an in-memory SQLite database (the tests'): its connections share one cache,
    where a second writer fails at once ("table is locked") instead of waiting its turn."""
    database = connections["default"]
    return 1 if database.vendor == "sqlite" and database.is_in_memory_db() else CONCURRENCY


def _perform(action: BulkAction, item: BulkItem, client: AimableClient) -> tuple[str, str, str]:
    """Does one item through the audited services; returns (outcome, message, a better label or "")."""
    ids = {"space_id": str(item.space_id), "collection_id": str(item.collection_id)}
    user = action.user
    try:
        if action.kind == BulkAction.Kind.SYNC:
            return _sync(user, client, item, ids)
        connector = selectors.connector_or_none(client=client, connector_id=item.connector_id, **ids)
        label = _better_label(item, connector)
        if action.kind == BulkAction.Kind.DELETE:
            # Gone already: the DELETE still goes, so the audit says "already deleted" like the single delete.
            deleted = services.connector_delete(user=user, client=client, connector=_target_of(item, connector), **ids)
            return ("deleted" if deleted else "already gone"), "", label
        wanted = "paused" if action.kind == BulkAction.Kind.PAUSE else "active"
        before = connector.status if connector else ""
        # Sent even when it is so already, or the connector is gone: every item is audited (a missing one as the
        # service's 404), and a PATCH to the same status changes nothing.
        services.connector_update(
            user=user, client=client, connector=_target_of(item, connector), changes={"status": wanted}, **ids
        )
        if wanted == "paused":
            return ("already paused" if before == "paused" else "paused"), "", label
        return ("already active" if before == "active" else "resumed"), "", label
    except errors.AuthenticationError:
        return "failed", KEY_REJECTED_MESSAGE, ""
    except errors.AimableError as exc:
        return "failed", exc.message, ""


def _sync(user, client: AimableClient, item: BulkItem, ids: dict) -> tuple[str, str, str]:
    try:
        services.sync_trigger(user=user, client=client, connector_id=item.connector_id, **ids)
    except errors.ConflictError as exc:
        # 409: a sync running already, or the connector is paused. Reading it tells which; never a second trigger.
        connector = selectors.connector_or_none(client=client, connector_id=item.connector_id, **ids)
        label = _better_label(item, connector)
        if connector is not None and connector.status == "paused":
            return "paused", exc.message, label
        return "already running", exc.message, label
    return "started", "", ""


def _target_of(item: BulkItem, connector: Connector | None) -> Connector:
    """The connector as read, or one that only has the id (it was not there to read)."""
    return connector or Connector.from_api({"id": item.connector_id})


def _better_label(item: BulkItem, connector: Connector | None) -> str:
    """The provider's name in place of the bare "Connector 1a2b3c4d", once the connector was read."""
    if connector is None or not connector.provider_slug:
        return ""
    if item.label and item.label != naming.display_name(connector_id=item.connector_id):
        return ""  # a name the team gave, or the overview's: kept
    return naming.display_name(connector_id=item.connector_id, provider_slug=connector.provider_slug)


# ----- the sweep ---------------------------------------------------------------------------------------------------


def stalled_actions(now: datetime | None = None) -> list[int]:
    """Unfinished actions nobody holds: the lease ran out (the worker died), or none was ever taken for a LEASE
    (the enqueue was lost). Enqueuing one twice is harmless: the second task finds it held or finished."""
    now = now or timezone.now()
    return list(
        BulkAction.objects.filter(finished_at__isnull=True)
        .filter(Q(lease_until__lte=now) | Q(lease_until__isnull=True, created_at__lte=now - LEASE))
        .values_list("pk", flat=True)[:1000]
    )


def resume_stalled(now: datetime | None = None) -> int:
    """Enqueues the stalled actions again; returns how many."""
    stalled = stalled_actions(now)
    for action_id in stalled:
        run_bulk_action.enqueue(action_id)
    return len(stalled)


# ----- reads -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkProgress:
    action: BulkAction
    done: int
    total: int
    items: list[BulkItem]

    @property
    def finished(self) -> bool:
        return self.action.finished_at is not None

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            if item.state == BulkItem.State.DONE:
                out[item.outcome] = out.get(item.outcome, 0) + 1
        return out


def bulk_get(*, user: AbstractBaseUser, pk: int) -> BulkAction:
    """The user's own action (staff: anyone's); ``BulkAction.DoesNotExist`` otherwise."""
    actions = BulkAction.objects.all() if user.is_staff else BulkAction.objects.filter(user=user)
    return actions.get(pk=pk)


def bulk_progress(*, action: BulkAction) -> BulkProgress:
    items = list(action.items.all())
    for item in items:
        item.badge_status = OUTCOME_BADGES.get(item.outcome, "pending") if item.outcome else item.state
        item.linkable = item.outcome not in ("deleted", "already gone")
    done = sum(1 for item in items if item.state == BulkItem.State.DONE)
    return BulkProgress(action=action, done=done, total=action.total, items=items)


def bulk_recent(*, user: AbstractBaseUser, limit: int = 20) -> QuerySet[BulkAction]:
    """The user's latest actions, each with how many of its items are done."""
    return BulkAction.objects.filter(user=user).annotate(
        done=Count("items", filter=Q(items__state=BulkItem.State.DONE))
    )[:limit]


def matching_targets(*, user: AbstractBaseUser, client: AimableClient, query) -> list[Target]:
    """ "Select all N matching": the overview's rows for its filter query, as targets."""
    from . import overview

    return [
        Target(str(row.space_id), str(row.collection_id), str(row.connector_id), str(row.name or ""))
        for row in overview.matching_rows(user=user, client=client, query=query)
        if is_path_id(str(row.connector_id))  # an id no request can carry cannot be acted on (nor linked)
    ]
