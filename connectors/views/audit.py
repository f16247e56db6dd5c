from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .. import csv_export, naming, selectors
from ..aimable.types import is_path_id
from ..audit import change_lines
from ..models import AuditEvent


def _audit_log(request) -> tuple[dict, selectors.AuditLog]:
    """The filters in the query string, and the events they select: the page's and its CSV's alike."""
    filters = {
        "user": request.GET.get("user", "").strip(),
        "connector": request.GET.get("connector", "").strip(),
        "action": request.GET.get("action", ""),
        "outcome": request.GET.get("outcome", ""),
    }
    log = selectors.audit_events(
        user=request.user,
        username=filters["user"],
        connector_id=filters["connector"],
        action=filters["action"],
        outcome=filters["outcome"],
    )
    return filters, log


@require_safe
def audit_log(request):
    filters, log = _audit_log(request)
    page = Paginator(log.events, 50).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    names = naming.names_for({e.connector_id for e in page.object_list if e.connector_id})  # one query per page
    for event in page.object_list:
        event.named = names.get(event.connector_id)
        event.connector_name = event.named.name if event.named else ""
        event.change_lines = change_lines(event.changes)
        for line in event.change_lines:
            # scope values are shown by the names the provider's browse gave them (the id on hover)
            line["named"] = event.named if line["label"].startswith("scope_config") else None
            # a sync's id links to its page, when the connector's does and the id can be in a URL
            if line["label"] == "sync_id" and event.connector_linkable and is_path_id(str(line.get("text") or "")):
                line["url"] = reverse(
                    "sync_detail", args=[event.space_id, event.collection_id, event.connector_id, line["text"]]
                )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "connectors/audit_log.html",
        {
            "page": page,
            "log": log,
            "usernames": log.usernames,
            "actions": AuditEvent.Action.choices,
            "outcomes": AuditEvent.Outcome.choices,
            "filters": filters,
            "query": query.urlencode(),
        },
    )


@require_safe
def audit_csv(request):
    """The audit log with its filters, as CSV (every matching event, not one page)."""
    _, log = _audit_log(request)
    return csv_export.audit_csv(log.events)
