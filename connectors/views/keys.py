from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from .. import services
from ..aimable import errors
from ..forms import ApiKeyForm
from ..models import ApiKey
from .base import SECRET_VARIABLES


def _safe_next(request, default="home"):
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: redirect() would take anything else for a view name (and fail on it).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@sensitive_variables(*SECRET_VARIABLES)
@sensitive_post_parameters("secret")
@require_http_methods(["GET", "POST"])
def api_keys(request):
    current = ApiKey.objects.filter(user=request.user).first()
    form = ApiKeyForm(request.POST or None, initial={"auth_scheme": current.auth_scheme} if current else None)
    if request.method == "POST" and form.is_valid():
        secret, scheme = form.cleaned_data["secret"], form.cleaned_data["auth_scheme"]
        verified = False
        try:
            services.api_key_check(secret=secret, auth_scheme=scheme)
            verified = True
        except errors.AuthenticationError:
            form.add_error(
                "secret",
                "The Aimable API rejected this key. Check that you copied the whole key and that it is not revoked.",
            )
        except errors.PermissionDeniedError:
            # The key is genuine but may not list spaces; collections can still be opened by id.
            verified = True
        except errors.AimableError as exc:
            form.add_error(
                None,
                f"Could not check the key: {exc.message} Nothing was saved; try again in a moment.",
            )
        if verified:
            services.api_key_save(user=request.user, secret=secret, auth_scheme=scheme, verified=True)
            messages.success(request, "Your API key was checked with Aimable and saved.")
            return redirect(_safe_next(request, "api_keys"))
    return render(
        request,
        "connectors/api_keys.html",
        {"form": form, "current": current, "next": _safe_next(request, "")},
    )


@require_POST
def api_key_delete(request):
    if services.api_key_delete(user=request.user):
        messages.success(request, "Your API key was removed from the console.")
    return redirect("api_keys")
