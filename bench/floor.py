"""Django's floor on this machine, for `make bench`: the least a signed-in Django page can cost here.

A Django project of one module, run by bench.py under the console's own gunicorn.conf.py (same workers, threads and
keep-alive), on the console's database and cache (DATABASE_URL, REDIS_URL: sessions in cached_db on Redis, as the
console keeps them). It has what any signed-in Django page has and nothing of the console's: the session, CSRF and
authentication middlewares, ModelBackend, and a one-line template. Two pages:

- ``/page``: the one-line template for the signed-in user (issue 14's "bare Django view");
- ``/proxy?path=...``: the same, after one GET of ``path`` on the upstream with the bench's API key (requests, one
  shared session): what a signed-in Django proxy of one upstream call costs.

``/signin`` signs the bench's user in (this module serves only the bench, on 127.0.0.1). ``python bench/floor.py
migrate`` creates its tables. Nothing here is part of the console.
"""

import os
import sys

import environ
import requests
from django.conf import settings

env = environ.Env()
DATABASE = env.db("DATABASE_URL")
DATABASE.update({"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True})
REDIS_URL = os.environ.get("REDIS_URL", "")
ONE_LINE = "<p>{{ user.username }} {{ n }}</p>"
settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ["SECRET_KEY"],
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    DATABASES={"default": DATABASE},
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    },
    SESSION_ENGINE="django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db",
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "loaders": [("django.template.loaders.locmem.Loader", {"one.html": ONE_LINE})],
            },
        }
    ],
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import login  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.urls import path  # noqa: E402

UPSTREAM = os.environ.get("AIMABLE_API_URL", "")
KEY = os.environ.get("FLOOR_API_KEY", "")
_upstream = requests.Session()
_upstream.trust_env = False


def signin(request):
    user, _ = User.objects.get_or_create(username="floor")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("signed in")


@login_required
def page(request):
    return render(request, "one.html", {"n": 1})


@login_required
def proxy(request):
    response = _upstream.get(UPSTREAM + request.GET["path"], headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    return render(request, "one.html", {"n": len(response.content)}, status=response.status_code)


urlpatterns = [path("signin", signin), path("page", page), path("proxy", proxy)]
application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
