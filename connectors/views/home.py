"""The home page: the spaces and collections the user's key lists, the ones opened lately, and "Open by IDs"."""

from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from .. import selectors
from ..aimable import errors
from ..forms import OpenCollectionForm
from ..upstream import client_for
from .base import render_page


@require_http_methods(["GET", "POST"])
def home(request):
    client = client_for(request.user)
    form = OpenCollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return redirect("connector_list", **form.cleaned_data)

    spaces, error = [], None
    try:
        spaces = selectors.spaces_with_collections(client=client)
    except errors.InPlaceError as exc:
        error = exc  # "Open by IDs" and the recent collections still work
    context = {
        "spaces": spaces,
        "error": error,
        "form": form,
        "recent": selectors.recent_collections(user=request.user),
    }
    return render_page(request, "connectors/home.html", context)
