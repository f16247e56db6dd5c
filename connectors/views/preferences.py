"""The user's own display choices: the theme (auto, light, dark), kept per user."""

from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .. import preferences


@require_POST
def theme_set(request):
    """Keep the picked theme and go back to the page the button was on."""
    try:
        preferences.theme_set(user=request.user, theme=request.POST.get("theme", ""))
    except ValueError:
        return HttpResponseBadRequest("Unknown theme.")
    target = request.POST.get("next", "")
    if not (target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
        target = "home"
    return redirect(target)


urlpatterns = [
    path("settings/theme/", theme_set, name="theme_set"),
]
