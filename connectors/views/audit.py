from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .. import selectors
from ..audit import change_lines
from ..models import AuditEvent


@require_safe
def audit_log(request):
    username = request.GET.get("user", "").strip()
    connector_id = request.GET.get("connector", "").strip()
    action = request.GET.get("action", "")
    outcome = request.GET.get("outcome", "")
    log = selectors.audit_events(
        user=request.user,
        username=username,
        connector_id=connector_id,
        action=action,
        outcome=outcome,
    )
    page = Paginator(log.events, 50).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for event in page.object_list:
        event.change_lines = change_lines(event.changes)
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
            "filters": {"user": username, "connector": connector_id, "action": action, "outcome": outcome},
            "query": query.urlencode(),
        },
    )
