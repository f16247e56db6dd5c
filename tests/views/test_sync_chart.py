"""The sync history chart on a connector's page: a server-drawn SVG, its table, its figures and its refresh."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from connectors import charts
from connectors.aimable.client import AimableClient
from connectors.aimable.types import Page, Sync
from connectors.selectors import SyncHistory
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DISCONNECTED_CONNECTOR_ID, DRIVE_CONNECTOR_ID
from tests.views.helpers import HTMX

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def detail_url(connector_id=DRIVE_CONNECTOR_ID):
    return reverse("connector_detail", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id])


def chart_url(connector_id=DRIVE_CONNECTOR_ID):
    return reverse("sync_chart", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id])


def svg_of(page: str) -> str:
    match = re.search(r"<svg class=\"sync-chart-svg\".*?</svg>", page, re.S)
    assert match, "no chart on the page"
    return match.group(0)


def add_syncs(sandbox_api, connector_id, count, *, start=None, **overrides):
    state = sandbox_api.state
    start = state.now() - 100 * 86400 if start is None else start
    with state.lock:
        for i in range(count):
            values = {
                "status": "failed" if i % 5 == 4 else "completed",
                "records": 100 + i,
                "created": start + i * 3600,
                "duration": 60 + i,
                "metadata": {"error": "Rate limited"} if i % 5 == 4 else {},
                **overrides,
            }
            state.add_seed_sync(
                f"extra-{i:03d}",
                connector_id,
                values["status"],
                values["records"],
                values["created"],
                values["duration"],
                values["metadata"],
            )


def sync(**fields):
    raw = {
        "id": fields.pop("id", "s1"),
        "status": "completed",
        "records_fetched": 10,
        "created_at": "2026-05-01T10:00:00Z",
        "completed_at": "2026-05-01T10:02:00Z",
        **fields,
    }
    return Sync.from_api(raw)


def test_the_page_draws_the_chart_with_a_title_per_bar_and_a_summary(admin_client):
    page = admin_client.get(detail_url()).content.decode()
    svg = svg_of(page)
    assert 'role="img"' in svg and 'aria-label="Sync history, the last' in svg
    bars = svg.count('class="chart-bar ')
    assert bars >= 1
    assert svg.count("<title>Sync ") == bars
    assert "style=" not in svg  # the CSP allows no inline style
    assert "Show as a table" in page and "Success rate" in page and "Median duration" in page


def test_at_most_30_bars_and_the_table_has_the_same_rows(admin_client, sandbox_api):
    add_syncs(sandbox_api, DRIVE_CONNECTOR_ID, 40)
    page = admin_client.get(detail_url()).content.decode()
    svg = svg_of(page)
    assert svg.count('class="chart-bar ') == 30
    table = page.split("Show as a table", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 31  # the header and 30 syncs
    # failed bars are hatched and signed, not only coloured
    assert 'fill="url(#sync-chart-hatch)"' in svg and "✕" in svg and "✓" in svg
    # the syncs in the table link to their pages
    assert reverse("sync_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID]) in table


def test_hostile_values_do_not_break_it(admin_client, monkeypatch):
    hostile = [
        {"id": "neg", "status": "completed", "records_fetched": -50, "created_at": "2026-05-01T10:00:00Z"},
        {"id": "huge", "status": "completed", "records_fetched": 10**30, "created_at": "2026-05-01T10:00:00Z"},
        {"id": "odd", "status": '<script>alert("x")</script>', "records_fetched": "many"},
        {"id": "back", "status": "completed", "created_at": "2026-05-01T10:00:00Z", "completed_at": "2026-04-01"},
        {"id": "nodate", "status": None, "records_fetched": None, "created_at": "yesterday", "completed_at": 7},
        {"id": "bool", "status": 42, "records_fetched": True, "metadata": "not a dict"},
    ]
    page = Page(items=[Sync.from_api(raw) for raw in hostile], limit=30, offset=0)
    monkeypatch.setattr(AimableClient, "list_syncs", lambda self, *a, **kw: page)
    response = admin_client.get(detail_url())
    assert response.status_code == 200
    body = response.content.decode()
    svg = svg_of(body)
    assert svg.count('class="chart-bar ') == len(hostile)
    assert "<script>alert" not in body
    assert "&lt;script&gt;" in svg  # the unknown status, escaped, in its title
    assert "more than 1,000,000,000,000,000" in svg
    assert "start time not known" in svg and "records not known" in svg and "time not known" in svg
    assert "-50" not in svg and "nan" not in svg.lower()


def test_stats_success_rate_median_and_records_per_minute():
    syncs = [
        sync(id="run", status="running", records_fetched=300, created_at="2026-05-01T11:57:00Z", completed_at=None),
        sync(id="c", status="cancelled", completed_at="2026-05-01T10:10:00Z"),
        sync(id="f", status="failed", completed_at="2026-05-01T10:04:00Z"),
        sync(id="a", status="completed", completed_at="2026-05-01T10:01:00Z"),
        sync(id="b", status="succeeded", completed_at="2026-05-01T10:03:00Z"),
    ]
    chart = charts.SyncChart(SyncHistory(syncs=syncs), now=NOW)
    stats = chart.stats
    assert (stats.succeeded, stats.finished, stats.success_rate) == (2, 3, 67)  # a cancel is not a failure
    assert stats.median == timedelta(minutes=3, seconds=30)  # of 1, 3, 4 and 10 minutes
    assert stats.records_per_minute == 100  # 300 records in 3 minutes
    assert chart.running and "running for 3m 00s" in chart.svg
    assert [row.sync.id for row in chart.rows] == ["run", "c", "f", "a", "b"]
    assert [bar.sync.id for bar in chart.bars] == ["b", "a", "f", "c", "run"]


def test_no_rate_without_a_running_sync_and_no_chart_without_syncs():
    chart = charts.SyncChart(SyncHistory(syncs=[sync()]), now=NOW)
    assert chart.stats.records_per_minute is None and not chart.running
    assert charts.SyncChart(SyncHistory(syncs=[]), now=NOW).empty


def test_the_refresh_partial_and_its_triggers(admin_client):
    response = admin_client.get(chart_url(), **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="sync-chart"' in body and 'hx-trigger="sync-finished from:body"' in body
    assert "<svg" in body


def test_the_chart_polls_while_a_sync_runs(admin_client, sandbox_api):
    sandbox_api.set_faults(sync_seconds=600)
    trigger = reverse("sync_trigger", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    admin_client.post(trigger)
    body = admin_client.get(chart_url(), **HTMX).content.decode()
    assert "sync-finished from:body, every 10s" in body
    assert "Records per minute" in body


def test_a_finished_sync_tells_the_page_to_redraw_the_chart(admin_client, sandbox_api):
    sandbox_api.set_faults(sync_seconds=0)
    trigger = reverse("sync_trigger", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    response = admin_client.post(trigger)
    status = admin_client.get(response["Location"], **HTMX)
    assert status.status_code == 286 and status["HX-Trigger"] == "sync-finished"


def test_upstream_trouble_is_said_in_place(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains="/sync", status=503, times=10)
    body = admin_client.get(chart_url(), **HTMX).content.decode()
    assert "Could not load the sync history" in body


def test_the_disconnected_connector_has_its_chart(admin_client):
    page = admin_client.get(detail_url(DISCONNECTED_CONNECTOR_ID)).content.decode()
    svg = svg_of(page)
    assert svg.count('class="chart-bar ') == 2


def test_the_slots_fit_the_syncs_drawn_newest_on_the_right():
    import re

    def bar_xs(count):
        svg = charts.SyncChart(SyncHistory(syncs=[sync(id=f"s{i}") for i in range(count)]), now=NOW).svg
        return [float(x) for x in re.findall(r'<rect class="chart-bar [^"]*" x="([\d.]+)"', svg)]

    nine = bar_xs(9)  # nine of at least ten slots: the bars fill the width, not its right third
    slot = charts.PLOT_W / 10
    assert nine[0] < charts.LEFT + 2 * slot and nine[-1] > charts.WIDTH - charts.RIGHT - slot
    many = bar_xs(30)  # thirty: thirty slots, the oldest at the left edge
    assert many[0] < charts.LEFT + charts.PLOT_W / 30
