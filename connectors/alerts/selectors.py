"""Every read of the alert pages: the bell, the Notifications page, watches, health marks, freshness, schedules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.db.models import Prefetch

from ..database import raw_row_where, raw_rows_in, raw_rows_where
from ..naming import settings_for
from .models import Alert, ConnectorHealth, ConnectorSettings, Delivery, Schedule, Watch

NOTIFICATIONS_LIMIT = 50

# Worst first: the mark a connector shows is the worst state any watch of it saw.
_SEVERITY = {
    ConnectorHealth.State.NEEDS_REAUTH: 4,
    ConnectorHealth.State.FAILING: 3,
    ConnectorHealth.State.STALLED: 2,
    ConnectorHealth.State.STALE: 1,
    ConnectorHealth.State.OK: 0,
}


@dataclass
class NotificationsPage:
    watches: list[Watch]
    alerts: list[Alert]
    unread_ids: list
    more: bool  # older alerts exist beyond the ones listed


def notifications_page(user, *, limit: int = NOTIFICATIONS_LIMIT) -> NotificationsPage:
    """The user's watches with their channels, and their newest alerts with each delivery (three queries)."""
    watches = list(Watch.objects.filter(user=user).prefetch_related("channels"))
    alerts = list(
        Alert.objects.filter(user=user)
        .order_by("-created_at")
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at", "id")))[: limit + 1]
    )
    return NotificationsPage(
        watches=watches,
        alerts=alerts[:limit],
        unread_ids=[a.pk for a in alerts[:limit] if a.read_at is None],
        more=len(alerts) > limit,
    )


def health_marks(connector_ids) -> dict[str, ConnectorHealth]:
    """Per connector id, the worst current state any active watch saw (team-wide): needs re-auth, failing, stalled,
    stale, ok. One query for every row of a list; a connector nobody watches has no entry."""
    ids = [str(i) for i in connector_ids]
    if not ids:
        return {}
    marks: dict[str, ConnectorHealth] = {}
    select, where, column = _health_statement(connection.vendor)
    rows = raw_rows_in(
        ConnectorHealth,
        select=select,
        where=where,
        column=column,
        values=ids,
        params=["", ConnectorHealth.State.PAUSED],
    )
    for health in rows:
        current = marks.get(health.connector_id)
        if current is None or _SEVERITY.get(health.state, 0) > _SEVERITY.get(current.state, 0):
            marks[health.connector_id] = health
    return marks


@cache
def _health_statement(vendor: str) -> tuple[str, str, str]:
    """health_marks' statement: the health of every active watch (not paused) that is not paused itself."""
    quote = connection.ops.quote_name
    health, watch = ConnectorHealth._meta, Watch._meta
    column = lambda meta, name: f"{quote(meta.get_field(name).column)}"  # noqa: E731
    select = (
        f"SELECT h.* FROM {quote(health.db_table)} h INNER JOIN {quote(watch.db_table)} w "  # noqa: S608
        f"ON w.{quote(watch.pk.column)} = h.{column(health, 'watch')}"
    )
    where = f"w.{column(watch, 'paused')} = %s AND h.{column(health, 'state')} <> %s"
    return select, where, f"h.{column(health, 'connector_id')}"


def watches_by_target(user) -> dict[str, Watch]:
    """The user's watches by target (one query): what each Watch button on a page shows."""
    return {w.target: w for w in raw_rows_where(Watch, user=user.pk)}


def user_watch(user, pk: int) -> Watch | None:
    """One of the user's own watches (another admin's is None: a 404)."""
    return Watch.objects.filter(user=user, pk=pk).first()


def connector_settings(connector_id: str) -> ConnectorSettings:
    """The connector's team-wide settings; the defaults (not saved) when nobody changed them."""
    return settings_for(connector_id) or ConnectorSettings(connector_id=connector_id)


def schedule_for(connector_id: str) -> Schedule | None:
    return raw_row_where(Schedule, connector_id=connector_id)


def connector_panel(*, connector_id: str) -> dict:
    """What the connector page's alerts panel shows: its health mark, expected freshness and schedule."""
    return {
        "health": health_marks([connector_id]).get(connector_id),
        "connector_settings": connector_settings(connector_id),
        "schedule": schedule_for(connector_id),
    }
