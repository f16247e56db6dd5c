"""CSV downloads: the overview, the audit log and a connector's sync history, streamed row by row.

Every cell is written by the csv module (quoting), and a cell a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is made inert with a leading ``'`` (OWASP's advice for CSV
injection). Nothing secret is ever in a row: credentials are never read here, and an audit event's changes show
only that a secret field changed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from . import overview as overview_reads
from . import selectors
from .aimable.client import AimableClient
from .aimable.types import Sync

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SECRET_KEYS = frozenset({"credential", "access_token", "refresh_token", "secret", "password", "client_secret", "token"})
SYNC_PAGES = 20  # of 100 syncs: the history's CSV holds at most 2,000 (the newest)


def inert(value) -> str:
    """A cell's text, never a formula."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object that hands back what csv.writer writes: each row becomes one chunk of the response."""

    def write(self, value: str) -> str:
        return value


def stream(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([inert(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


# ----- the overview ------------------------------------------------------------------------------------------------

OVERVIEW_HEADER = [
    "Name",
    "Connector ID",
    "Space",
    "Space ID",
    "Collection",
    "Collection ID",
    "Provider",
    "Status",
    "Scope",
    "Latest sync status",
    "Latest sync at (UTC)",
    "Latest sync records",
    "Last success (UTC)",
    "Freshness",
    "Expected freshness (hours)",
    "Health",
]


def overview_csv(result: overview_reads.OverviewResult) -> StreamingHttpResponse:
    def rows():
        for row in result.rows:
            info = result.infos.get(row.key)
            fresh, health = result.freshness_of(row), result.health_of(row)
            yield [
                row.name,
                row.connector_id,
                row.space_name,
                row.space_id,
                row.collection_name,
                row.collection_id,
                row.provider_name,
                row.status,
                "; ".join(label if label == value else f"{label} ({value})" for label, value in row.scope),
                info.latest_status if info else "",
                info.latest_at if info else None,
                info.latest_records if info else None,
                info.last_success if info else None,
                overview_reads.FRESHNESS.get(fresh, ""),
                row.freshness_hours,
                overview_reads.HEALTH.get(health, ""),
            ]

    return stream("connectors", OVERVIEW_HEADER, rows())


# ----- the audit log -----------------------------------------------------------------------------------------------

AUDIT_HEADER = [
    "When (UTC)",
    "Who",
    "Action",
    "Provider",
    "Space ID",
    "Collection ID",
    "Connector ID",
    "Outcome",
    "Error",
    "Changes",
    "Request ID",
]


def _without_secrets(value):
    if isinstance(value, dict):
        return {k: "(changed)" if k.lower() in SECRET_KEYS else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def audit_csv(events) -> StreamingHttpResponse:
    """``events``: the audit log's filtered queryset (what the user may see), newest first."""

    def rows():
        for event in events.iterator(chunk_size=500):
            yield [
                event.created_at,
                event.username,
                event.get_action_display(),
                event.provider_slug,
                event.space_id,
                event.collection_id,
                event.connector_id,
                event.get_outcome_display(),
                event.error,
                json.dumps(_without_secrets(event.changes or {}), sort_keys=True, default=str) if event.changes else "",
                event.request_id,
            ]

    return stream("audit-log", AUDIT_HEADER, rows())


# ----- a connector's sync history --------------------------------------------------------------------------------

SYNC_HEADER = ["Sync ID", "Status", "Records", "Started (UTC)", "Completed (UTC)", "Duration (seconds)", "Error"]


def sync_history(
    *, client: AimableClient, space_id: str, collection_id: str, connector_id: str, status: str | None = None
) -> list[Sync]:
    """The connector's syncs, newest first, at most SYNC_PAGES pages: read before the response starts, so that an
    upstream error is the page's (the middleware's), not a cut-off file."""
    return selectors.syncs_all(
        client=client,
        space_id=space_id,
        collection_id=collection_id,
        connector_id=connector_id,
        status=status,
        max_pages=SYNC_PAGES,
    )


def sync_csv(syncs: list[Sync], *, connector_id: str) -> StreamingHttpResponse:
    def rows():
        for sync in syncs:
            metadata = sync.metadata or {}
            reason = metadata.get("error") or metadata.get("message") or ""
            yield [
                sync.id,
                sync.status,
                sync.records_fetched,
                sync.created_at,
                sync.completed_at,
                int(sync.duration.total_seconds()) if sync.duration else None,
                reason if isinstance(reason, str) else json.dumps(reason, default=str),
            ]

    safe_id = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in connector_id)[:64]
    return stream(f"syncs-{safe_id}", SYNC_HEADER, rows())
