import sys

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from ..database import database_unavailable_response, is_database_error


def not_found(request, exception=None):
    message = ""
    if exception is not None and exception.args and isinstance(exception.args[0], str):
        message = exception.args[0]  # e.g. "No such connector"; never a path or a secret
    return render(request, "404.html", {"message": message}, status=404)


def server_error(request):
    exc = sys.exc_info()[1]  # handler500 runs inside Django's `except`: the exception is still at hand
    if is_database_error(exc):
        # e.g. the session or the user could not be read: say what is wrong, with a 503 the platform understands.
        return database_unavailable_response(request, exc)
    # No context processors: the request that failed may have failed in one of them.
    return HttpResponseServerError(
        loader.get_template("500.html").render({"request_id": getattr(request, "request_id", "")})
    )
