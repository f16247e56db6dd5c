"""All connectors on one page (/connectors/): the page at once, its rows from one htmx request, the latest-sync cells
of every shown row from one more, and the same rows as CSV.

The rows are built in Python with the console's markup helpers, as the connector list's are: the page may show a
thousand of them.
"""

from urllib.parse import quote

from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from .. import csv_export
from .. import overview as selectors
from ..permissions import is_read_only
from ..providers import PROVIDERS, get_provider, unknown_provider
from ..templatetags.console import badge_html, html_format, scope_value_html, when_html
from ..upstream import client_for
from .base import render_page

TEMPLATE = "overview/overview.html"
SCOPE_SHOWN = 3  # scope values under a row's name; the rest as "+N more"

_FRESHNESS_BADGES = {"on_time": "completed", "late": "stale", "stale": "failed"}


_SPACE, _COLLECTION = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


def _collection_urls():
    """reverse() once, then fill in the ids: a thousand rows without a thousand reverse() calls. Returns the
    collection's connector list URL of a row; a connector's page is that URL and its quoted id."""
    template = reverse("connector_list", args=[_SPACE, _COLLECTION])
    return lambda row: template.replace(_SPACE, row.space_id).replace(_COLLECTION, row.collection_id)


def _connector_url(collection_url: str, row: selectors.Row) -> str:
    return collection_url + quote(row.connector_id, safe="") + "/"


def _scope_html(row: selectors.Row) -> SafeString:
    if not row.scope:
        return SafeString("")
    parts = [scope_value_html(value, row.named, plain=True) for _, value in row.scope[:SCOPE_SHOWN]]
    more = len(row.scope) - SCOPE_SHOWN
    if more > 0:
        parts.append(html_format('<span class="muted">+{} more</span>', more))
    return html_format('<br><span class="small muted">{}</span>', SafeString(", ".join(parts)))


def latest_cell(result: selectors.OverviewResult, row: selectors.Row, connector_url: str) -> SafeString:
    info = result.infos.get(row.key)
    if not row.linkable:
        return html_format('<span class="muted small">{}</span>', "—")
    if info is None:
        return html_format('<span class="muted small" aria-busy="true">{}</span>', "Loading…")
    if info.error:
        return badge_html("reconnecting", "Unknown", info.error)
    if info.snapshot:
        status = badge_html(info.latest_status) if info.latest_status else html_format("{}", "No sync seen")
        return html_format(
            '{}<br><span class="small muted snapshot">checked {}</span>', status, when_html(info.checked_at, result.now)
        )
    if not info.latest_status:
        return html_format('<span class="muted small">{}</span>', "Never synced")
    status = badge_html(info.latest_status)
    if info.latest_id:
        status = html_format(
            '<a href="{}">{}</a>', connector_url + "syncs/" + quote(info.latest_id, safe="") + "/", status
        )
    records = info.latest_records or 0
    what = "records so far" if info.running else "records"
    return html_format(
        '{}<br><span class="small muted">{} {} · {}</span>',
        status,
        records,
        what,
        when_html(info.latest_at, result.now),
    )


def success_cell(result: selectors.OverviewResult, row: selectors.Row) -> SafeString:
    info = result.infos.get(row.key)
    if info is None or info.error or not row.linkable:
        return html_format('<span class="muted small">{}</span>', "—")
    if info.last_success:
        return when_html(info.last_success, result.now)
    if info.success_before:
        return html_format('<span class="small">before {}</span>', when_html(info.success_before, result.now))
    return html_format('<span class="muted small">{}</span>', "Never")


def freshness_cell(result: selectors.OverviewResult, row: selectors.Row) -> SafeString:
    state = result.freshness_of(row)
    if not state:
        return html_format('<span class="muted small">{}</span>', "—")
    expected = f"Expected a successful sync every {row.freshness_hours} h"
    return badge_html(_FRESHNESS_BADGES[state], selectors.FRESHNESS[state], expected)


# data-label: each cell's column, shown before it when a phone shows the rows as cards (console.css).
_ROW = (
    '<tr id="{}">{}<td>{}{}</td><td class="small" data-label="Where"><a href="{}">{}</a></td>'
    '<td data-label="Provider"><img src="{}" alt="" width="20" height="20" class="icon"> {}</td>'
    '<td data-label="Status">{}</td>{}</tr>'
)
# A row's three sync cells: in its row, and again (out of band, by id) when the cells request fills them.
_SYNC_CELLS = (
    '<td id="{}-sync"{} data-label="Latest sync">{}</td>'
    '<td id="{}-success"{} data-label="Last success">{}</td>'
    '<td id="{}-fresh"{} data-label="Freshness">{}</td>'
)
_OOB = SafeString(' hx-swap-oob="true"')
_CHECKBOX = (
    '<td class="card-select"><input type="checkbox" name="item" value="{}" form="bulk-form" '
    'aria-label="Select {}"></td>'
)


def _sync_cells_html(
    result: selectors.OverviewResult, row: selectors.Row, connector_url: str, *, oob: bool
) -> SafeString:
    swap = _OOB if oob else ""
    return html_format(
        _SYNC_CELLS,
        row.dom_id,
        swap,
        latest_cell(result, row, connector_url),
        row.dom_id,
        swap,
        success_cell(result, row),
        row.dom_id,
        swap,
        freshness_cell(result, row),
    )


def overview_rows_html(result: selectors.OverviewResult, *, read_only: bool) -> list[SafeString]:
    collection_url = _collection_urls()
    icons: dict[str, str] = {}
    rows = []
    for row in result.rows:
        provider = get_provider(row.provider_slug) or unknown_provider(row.provider_slug)
        if provider.icon not in icons:
            icons[provider.icon] = static(provider.icon)
        listed = collection_url(row)
        connector_url = _connector_url(listed, row)
        name = (
            html_format('<a href="{}">{}</a>', connector_url, row.name) if row.linkable else html_format("{}", row.name)
        )
        rows.append(
            html_format(
                _ROW,
                row.dom_id,
                "" if read_only else html_format(_CHECKBOX, row.key, row.name),
                name,
                _scope_html(row),
                listed,
                row.where,
                icons[provider.icon],
                row.provider_name,
                badge_html(row.status or "unknown"),
                _sync_cells_html(result, row, connector_url, oob=False),
            )
        )
    return rows


def _cells_html(result: selectors.OverviewResult) -> SafeString:
    """Every shown row's three sync cells, each swapped in place by its id (out of band)."""
    collection_url = _collection_urls()
    return SafeString(
        "".join(
            _sync_cells_html(result, row, _connector_url(collection_url(row), row), oob=True) for row in result.rows
        )
    )


def _form_context(request, filters: selectors.Filters) -> dict:
    return {
        "filters": filters,
        "query_string": filters.query_string(),
        "providers": [(p.slug, p.name) for p in PROVIDERS.values()],
        "statuses": selectors.STATUSES.items(),
        "healths": selectors.HEALTH.items(),
        "sorts": selectors.SORTS.items(),
        "read_only": is_read_only(request.user),
    }


def _summary(result: selectors.OverviewResult) -> list[dict]:
    return [
        {
            "health": health,
            "label": label,
            "count": result.counts[health],
            "query": result.filters.query_string(health=health),
            "current": result.filters.health == health,
        }
        for health, label in selectors.HEALTH.items()
    ]


def _result_context(request, result: selectors.OverviewResult, *, rows: bool = True) -> dict:
    context = _form_context(request, result.filters)
    context.update(
        {
            "result": result,
            "rows": overview_rows_html(result, read_only=context["read_only"]) if rows else [],
            "summary": _summary(result),
            "matching_count": result.matching,
            "all_query": result.filters.query_string(health=""),
        }
    )
    return context


@require_safe
def overview(request):
    """The page at once, without an upstream call: the filters, and a placeholder that asks for the rows."""
    client_for(request.user)  # no key stored: the API key page (the middleware), before anything is shown
    return render_page(request, TEMPLATE, _form_context(request, selectors.Filters.from_query(request.GET)))


@require_safe
def overview_rows(request):
    """The rows (htmx), or the whole page with them (without JavaScript)."""
    result = selectors.overview(user=request.user, client=client_for(request.user), query=request.GET)
    return render_page(request, TEMPLATE, _result_context(request, result), partial="rows")


@require_safe
def overview_cells(request):
    """Every shown row's latest sync, last success and freshness, and the summary: one request for all rows."""
    result = selectors.overview(user=request.user, client=client_for(request.user), query=request.GET, fresh=True)
    if not request.htmx:  # without JavaScript: the whole page, its cells filled
        return render_page(request, TEMPLATE, _result_context(request, result))
    context = _result_context(request, result, rows=False)
    context["cells"] = _cells_html(result)
    return render_page(request, TEMPLATE, context, partial="cells")


@require_safe
def overview_csv(request):
    result = selectors.overview(
        user=request.user, client=client_for(request.user), query=request.GET, fresh=True, limit=None
    )
    return csv_export.overview_csv(result)


urlpatterns = [
    path("connectors/", overview, name="overview"),
    path("connectors/rows/", overview_rows, name="overview_rows"),
    path("connectors/cells/", overview_cells, name="overview_cells"),
    path("connectors/csv/", overview_csv, name="overview_csv"),
]
