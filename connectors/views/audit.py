from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..audit import change_lines
from ..models import AuditEvent


@require_GET
def audit_log(request):
    events = AuditEvent.objects.all()
    username = request.GET.get("user", "").strip()
    connector_id = request.GET.get("connector", "").strip()
    action = request.GET.get("action", "")
    outcome = request.GET.get("outcome", "")
    if username:
        events = events.filter(username=username)
    if connector_id:
        events = events.filter(connector_id=connector_id)
    if action in AuditEvent.Action.values:
        events = events.filter(action=action)
    if outcome in AuditEvent.Outcome.values:
        events = events.filter(outcome=outcome)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
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
            "usernames": AuditEvent.objects.order_by("username").values_list("username", flat=True).distinct(),
            "actions": AuditEvent.Action.choices,
            "outcomes": AuditEvent.Outcome.choices,
            "filters": {"user": username, "connector": connector_id, "action": action, "outcome": outcome},
            "query": query.urlencode(),
        },
    )
