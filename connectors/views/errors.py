from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def not_found(request, exception=None):
    message = ""
    if exception is not None and exception.args and isinstance(exception.args[0], str):
        message = exception.args[0]  # e.g. "No such connector"; never a path or a secret
    return render(request, "404.html", {"message": message}, status=404)


def server_error(request):
    # No context processors: the request that failed may have failed in one of them.
    return HttpResponseServerError(
        loader.get_template("500.html").render({"request_id": getattr(request, "request_id", "")})
    )
