"""Bulk actions: start one from the overview's selection, watch its progress live, and find it again later."""

import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HTMX_STOP_POLLING

from .. import bulk
from ..aimable import errors
from ..aimable.client import validate_token
from ..models import BulkAction
from ..upstream import client_for
from .base import render_page


class BulkStartForm(forms.Form):
    """The overview's bulk bar: which action, and either the ticked rows or "all matching" the overview's filter."""

    kind = forms.ChoiceField(choices=BulkAction.Kind.choices)
    all_matching = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4000)
    confirm_count = forms.IntegerField(
        label="Type the number of connectors to delete", required=False, min_value=0, max_value=bulk.MAX_ITEMS
    )

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        self.picked = data.getlist("item")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_matching"):
            cleaned["targets"] = self._ticked()
        return cleaned

    def _ticked(self) -> list[bulk.Target]:
        """ "<space_id>:<collection_id>:<connector_id>" per ticked row."""
        targets = []
        for value in self.picked[: bulk.MAX_ITEMS + 1]:
            space_id, _, rest = value.partition(":")
            collection_id, _, connector_id = rest.partition(":")
            try:
                targets.append(
                    bulk.Target(
                        str(uuid.UUID(space_id)),
                        str(uuid.UUID(collection_id)),
                        validate_token(connector_id, "connector_id"),
                    )
                )
            except (ValueError, errors.InvalidIdError):
                raise forms.ValidationError("A selected connector is not one the console can act on.") from None
        return targets


@require_POST
def bulk_start(request):
    form = BulkStartForm(request.POST)
    filters = QueryDict(request.POST.get("query", "")[:4000]).urlencode()  # re-encoded: only a query string
    back = reverse("overview") + (f"?{filters}" if filters else "")
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or "That bulk action could not be started.")
        return redirect(back)
    data = form.cleaned_data
    if data["all_matching"]:
        query = QueryDict(data["query"])
        targets = bulk.matching_targets(user=request.user, client=client_for(request.user), query=query)
    else:
        targets = data["targets"]
    if not targets:
        messages.error(request, "Select at least one connector first.")
        return redirect(back)
    if len(targets) > bulk.MAX_ITEMS:
        messages.error(request, f"At most {bulk.MAX_ITEMS} connectors at once: narrow the filter.")
        return redirect(back)
    if data["kind"] == BulkAction.Kind.DELETE and data["confirm_count"] != len(targets):
        return _confirm_delete(request, form, targets)
    action = bulk.bulk_start(user=request.user, kind=data["kind"], items=targets)
    return redirect("bulk_detail", action.pk)


def _confirm_delete(request, form: BulkStartForm, targets: list[bulk.Target]):
    """Nothing deleted: the same selection again, with the count to type."""
    typed = form.cleaned_data["confirm_count"]
    error = (
        "Type the number of connectors to delete to confirm."
        if typed is None
        else f"You typed {typed}, but {len(targets)} connectors are selected: nothing was deleted."
    )
    context = {
        "count": len(targets),
        "targets": targets,
        "error": error,
        "all_matching": form.cleaned_data["all_matching"],
        "query": form.cleaned_data["query"],
        "picked": form.picked,
    }
    return render_page(request, "bulk/confirm_delete.html", context, status=200 if typed is None else 422)


@require_safe
def bulk_detail(request, pk: int):
    try:
        action = bulk.bulk_get(user=request.user, pk=pk)
    except BulkAction.DoesNotExist:
        raise Http404("No such bulk action.") from None
    progress = bulk.bulk_progress(action=action)
    context = {"action": action, "progress": progress}
    if not request.htmx:
        # This action is left out: its own progress above is polled, a row for it here would not be.
        others = bulk.bulk_recent(user=request.user, limit=11)
        context["recent"] = [other for other in others if other.pk != action.pk][:10]
    response = render_page(request, "bulk/bulk_detail.html", context, partial="progress")
    if request.htmx and progress.finished:
        response.status_code = HTMX_STOP_POLLING  # 286: htmx stops polling this part for good
    return response


@require_safe
def bulk_list(request):
    return render_page(request, "bulk/bulk_list.html", {"recent": bulk.bulk_recent(user=request.user)})


urlpatterns = [
    path("connectors/bulk/", bulk_list, name="bulk_list"),
    path("connectors/bulk/start/", bulk_start, name="bulk_start"),
    path("connectors/bulk/<int:pk>/", bulk_detail, name="bulk_detail"),
]
