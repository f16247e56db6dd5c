import logging
import re
import time
import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from .aimable import errors
from .logging import request_id_var
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
            logger.info(
                "%s %s %s %.0fms",
                request.method,
                request.path,  # never the query string: it may hold an OAuth code
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            return response
        finally:
            request_id_var.reset(token)


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
    """Turns upstream failures that a view did not handle into a readable page: never a 500, never a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ApiKeyMissing):
            messages.info(request, "Store your Aimable API key first: every request to Aimable is made with it.")
            url = reverse("api_keys") + "?" + urlencode({"next": request.get_full_path()})
            return redirect(url)
        if isinstance(exception, errors.InvalidIdError):
            raise Http404(f"No such {exception.field.replace('_', ' ')}") from None
        if isinstance(exception, errors.AimableError):
            return upstream_error_response(request, exception)
        return None


def upstream_error_response(request, exception, *, template="errors/upstream.html"):
    title, status = next(
        ((t, s) for cls, (t, s) in _UPSTREAM_PAGES.items() if isinstance(exception, cls)),
        ("The Aimable API had a problem", 502),
    )
    logger.warning("upstream error %s on %s: %s", type(exception).__name__, request.path, exception)
    context = {
        "title": title,
        "error": exception,
        "is_auth_error": isinstance(exception, errors.AuthenticationError),
        "retry_url": request.get_full_path(),
    }
    if request.htmx:
        # A fragment: the page around it stays as it is.
        return render(request, "errors/upstream.html#banner", context, status=200)
    response = render(request, template, context, status=status)
    retry_after = getattr(exception, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(int(retry_after))
    return response
