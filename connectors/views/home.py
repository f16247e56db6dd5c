from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ..aimable import errors
from ..forms import OpenCollectionForm
from ..models import RecentCollection
from ..upstream import client_for


@require_http_methods(["GET", "POST"])
def home(request):
    client = client_for(request.user)
    form = OpenCollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return redirect("connector_list", **form.cleaned_data)

    spaces, error = [], None
    try:
        for space in client.list_spaces():
            try:
                collections = client.list_collections(space.space_id)
                space_error = None
            except errors.AimableError as exc:
                collections, space_error = [], exc
            spaces.append({"space": space, "collections": collections, "error": space_error})
    except errors.AimableError as exc:
        error = exc
    return render(
        request,
        "connectors/home.html",
        {
            "spaces": spaces,
            "error": error,
            "form": form,
            "recent": RecentCollection.objects.filter(user=request.user)[:10],
        },
    )
