import logging
import re
import time
import uuid

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import urlencode
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect

from .aimable import errors, upstream_budget
from .audit import record_denied
from .database import DATABASE_ERRORS
from .logging import request_id_var
from .permissions import ROLES, denied_event, records_refusal, refuses, role_of
from .security import oauth_form_action_sources
from .upstream import ApiKeyMissing

logger = logging.getLogger("connectors.requests")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id (the PaaS router's X-Request-ID when it is sane), logs it, and echoes it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = round((time.monotonic() - started) * 1000)
            logger.info(
                "%s %s %s %.0fms",
                request.method,
                request.path,  # never the query string: it may hold an OAuth code
                response.status_code,
                duration_ms,
                # Fields of their own in JSON logs (LOG_FORMAT=json).
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                },
            )
            return response
        finally:
            request_id_var.reset(token)


class UpstreamBudgetMiddleware:
    """One budget per request for waiting on the Aimable API: however many calls a page makes, together they wait
    at most AIMABLE_DEADLINE; a call that finds it spent raises UpstreamTimeoutError (shown with "Try again")."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with upstream_budget(settings.AIMABLE_DEADLINE):
            return self.get_response(request)


# What a user sees for each upstream failure: a title, and the HTTP status our page answers with.
_UPSTREAM_PAGES = {
    errors.AuthenticationError: ("Your API key was rejected", 403),
    errors.PermissionDeniedError: ("Your key has no access to this space/collection", 403),
    errors.NotFoundError: ("Not found", 404),
    errors.RateLimitedError: ("The Aimable API is busy", 503),
    errors.UnavailableError: ("The Aimable API is not reachable", 503),
    errors.UpstreamError: ("The Aimable API had a problem", 502),
    errors.BadResponseError: ("The Aimable API gave an unexpected answer", 502),
}


class UpstreamErrorMiddleware:
    """Renders every upstream failure a view did not show in place: page errors (a rejected key, no permission,
    not found) and any in-place error the view had no place for. The same way on every page and every partial;
    never a 500, never a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ApiKeyMissing):
            if request.htmx:
                return upstream_error_response(request, exception)
            messages.info(request, "Store your Aimable API key first: every request to Aimable is made with it.")
            url = reverse("api_keys") + "?" + urlencode({"next": request.get_full_path()})
            return redirect(url)
        if isinstance(exception, errors.InvalidIdError):
            raise Http404(f"No such {exception.field.replace('_', ' ')}") from None
        if isinstance(exception, errors.AimableError):
            return upstream_error_response(request, exception)
        return None


# Form fields never echoed back into a page.
_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "secret", "password", "client_secret"})


def _beyond_title(message: str, title: str) -> str:
    """What the message says beyond the page's title, which the page shows already: under "The Aimable API had a
    problem", the message "The Aimable API had a problem (HTTP 503)." says "HTTP 503", not the title twice."""
    if not message.lower().startswith(title.lower()):
        return message
    rest = message[len(title) :].strip(" .:")
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return rest[:1].upper() + rest[1:]


def _title_and_status(exception: errors.AimableError) -> tuple[str, int]:
    return next(
        ((t, s) for cls, (t, s) in _UPSTREAM_PAGES.items() if isinstance(exception, cls)),
        ("The Aimable API had a problem", 502),
    )


def upstream_error_title(exception: errors.AimableError) -> str:
    """What an upstream failure is called on its page, for a part of a page that says it in a few words (a cell)."""
    return _title_and_status(exception)[0]


def upstream_error_response(request, exception):
    if isinstance(exception, ApiKeyMissing):
        title, status = "No API key stored", 403
    else:
        title, status = _title_and_status(exception)
        logger.warning("upstream error %s on %s: %s", type(exception).__name__, request.path, exception)
    context = {
        "title": title,
        "error": exception,
        "detail": _beyond_title(str(getattr(exception, "message", "") or exception), title),
        "is_auth_error": isinstance(exception, errors.AuthenticationError),
        "is_key_missing": isinstance(exception, ApiKeyMissing),
        # Asking again does not make a missing collection appear: say what to check instead of "Try again".
        "is_not_found": isinstance(exception, errors.NotFoundError),
        "is_denied": isinstance(exception, errors.PermissionDeniedError),
        # From a part of a page, "Try again" reloads the page the user is on, not the part.
        "retry_url": (request.htmx.current_url_abs_path or "") if request.htmx else request.get_full_path(),
    }
    if request.htmx:
        # A fragment in place of the part that asked; the page around it stays. Asking again cannot fix a page
        # error, so a polling part stops for good (286) and says why.
        stop = not isinstance(exception, errors.InPlaceError)
        response = render(request, "errors/upstream.html#banner", context, status=HTMX_STOP_POLLING if stop else 200)
        patch_vary_headers(response, ("HX-Request",))
        return response
    if request.method == "POST":
        # "Try again" sends the same form again, so that the user's input is not lost; typed secrets are not
        # put into the page (they are typed again).
        context["retry_post"] = [
            (name, value)
            for name, values in request.POST.lists()
            if name != "csrfmiddlewaretoken" and name not in _SECRET_FIELDS
            for value in values
        ]
        context["retry_dropped_secret"] = any(request.POST.get(name) for name in _SECRET_FIELDS)
    response = render(request, "errors/upstream.html", context, status=status)
    retry_after = getattr(exception, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(int(retry_after))
    return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy, plus the configured OAuth providers' origins in form-action (read per request, so a
    provider configured in the environment, or by a test, is allowed without a second list to keep in step)."""

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        sources = oauth_form_action_sources()
        if sources and not report_only:
            parts.update = {**(parts.update or {}), "form-action": sources}
        return parts


class ReadOnlyMiddleware:
    """Members of the Read-only group may look at everything and change nothing; members of the Operator group may
    also run syncs (permissions.ROLES says what each role may change, its refusal page and its audit reason). Every
    other change they attempt is refused here with a 403 page, and recorded in the audit log as "denied". The admin
    site has its own permissions.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or match.namespace == "admin":
            return None
        role = role_of(request.user)
        url_name = match.url_name or ""
        if not role or not refuses(request, url_name, role):
            return None
        rules = ROLES[role]
        event = denied_event(request, url_name, view_kwargs)
        if event is not None and records_refusal(request):
            record_denied(user=request.user, reason=rules.reason, **event)
        logger.info("%s user %s refused %s %s", role, request.user.pk, request.method, url_name)
        return render(request, rules.refusal_page, status=403)


class SignedInNoStoreMiddleware:
    """Every answer to a signed-in user says `Cache-Control: private, no-store`, redirects and error pages included:
    Back after a delete must not show the deleted connector, with its buttons, from the browser's cache; no shared
    cache may keep one user's page. Static files are answered earlier (WhiteNoise), /healthz has never_cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        try:
            signed_in = request.user.is_authenticated
        except DATABASE_ERRORS:  # the user could not be read: the answer is the database page, no-store already
            return response
        if signed_in:
            patch_cache_control(response, private=True, no_store=True)
        return response


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's, except for a part of a page that htmx asks for (a polled cell, once the session expired): the whole
    page goes to the sign-in form (HX-Redirect), with `next` the page the user was on. A redirect would swap the
    sign-in page into the cell."""

    def handle_no_permission(self, request, view_func):
        if not request.htmx:
            return super().handle_no_permission(request, view_func)
        login_url = resolve_url(self.get_login_url(view_func))
        current = request.htmx.current_url_abs_path  # None unless on this site
        if current:
            login_url = redirect_to_login(current, login_url, self.get_redirect_field_name(view_func)).url
        return HttpResponseClientRedirect(login_url)
