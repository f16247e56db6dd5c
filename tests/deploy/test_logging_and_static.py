"""Production logging (JSON lines with the request id, never a query string; one access line per request under
gunicorn) and static files (whitenoise: hashed, compressed names with a long, immutable cache)."""

import io
import json
import logging
import re

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from connectors.logging import JsonFormatter, RequestIdFilter
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID
from tests.processes import (  # noqa: F401 - fixtures
    closed_port,
    collected_static,
    free_port,
    processes,
    production_env,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """The root logger's lines as the production handler writes them (the formatter and filter of LOGGING)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_production_logs_are_json_lines_on_stdout():
    handler = django_settings.LOGGING["handlers"]["stdout"]
    assert handler["stream"] == "ext://sys.stdout" and "request_id" in handler["filters"]
    assert django_settings.LOG_FORMAT == "json"  # the default with DEBUG off
    assert django_settings.LOGGING["formatters"][handler["formatter"]]["()"] == "connectors.logging.JsonFormatter"


def test_every_line_of_a_request_carries_its_id_and_never_the_query_string(admin_client, sandbox_api, log_lines):
    url = reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
    response = admin_client.get(
        url + "?provider=slack&code=oauth-code-must-not-be-logged", HTTP_X_REQUEST_ID="router-req-0123456789"
    )
    assert response.status_code == 200 and response["X-Request-ID"] == "router-req-0123456789"

    lines = log_lines()
    mine = [line for line in lines if line["request_id"] == "router-req-0123456789"]
    # The request line and the upstream calls it made, all with the router's id.
    assert any(line["logger"] == "connectors.aimable" for line in mine)
    (request_line,) = [line for line in mine if line["logger"] == "connectors.requests"]
    assert request_line["path"] == url and request_line["status"] == 200 and request_line["method"] == "GET"
    assert isinstance(request_line["duration_ms"], int)
    assert {"ts", "level", "message"} <= request_line.keys()
    assert all("oauth-code-must-not-be-logged" not in json.dumps(line) for line in lines)


def test_an_unusable_incoming_request_id_is_replaced(admin_client, log_lines):
    response = admin_client.get(reverse("audit_log"), HTTP_X_REQUEST_ID="bad id\nwith newline")
    request_id = response["X-Request-ID"]
    assert request_id != "bad id\nwith newline" and len(request_id) == 32
    assert any(line["request_id"] == request_id for line in log_lines())


def test_error_responses_logged_by_django_carry_the_request_id(admin_client, sandbox_api, log_lines):
    sandbox_api.add_rule(status=401, times=5)
    response = admin_client.get(
        reverse("connector_detail", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, "c1"]),
        HTTP_X_REQUEST_ID="router-req-denied-01",
    )
    assert response.status_code == 403
    django_lines = [line for line in log_lines() if line["logger"] == "django.request"]
    assert django_lines and all(line["request_id"] == "router-req-denied-01" for line in django_lines)
    assert all(line.get("request", "").startswith("GET /spaces/") for line in django_lines)


def test_static_files_have_hashed_names_and_a_long_immutable_cache(settings, collected_static, user):  # noqa: F811
    """After collectstatic, the app itself (whitenoise, production storage) serves a hashed URL for a year and
    more, compressed for clients that accept it; the unhashed name is served too, but briefly cached. To a
    signed-in user too: `no-store` is for pages, not for static files."""
    settings.STATIC_ROOT = collected_static
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    from django.templatetags.static import static

    url = static("console/console.css")
    assert url != "/static/console/console.css" and url.startswith("/static/console/console.")  # hashed
    client = Client()  # a new handler: whitenoise reads the new STATIC_ROOT
    client.force_login(user)
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]

    plain = client.get("/static/console/console.css")
    assert plain.status_code == 200 and "immutable" not in plain["Cache-Control"]


def test_gunicorn_writes_one_access_line_per_request(processes, collected_static, tmp_path):  # noqa: F811
    """The console as the Procfile runs it: each request is one access line on stdout, the console's own (JSON, with
    the request id), static files and the redirect to HTTPS included; gunicorn writes none of its own."""
    env = production_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        STATIC_ROOT=collected_static,
        AIMABLE_API_URL=f"http://127.0.0.1:{closed_port()}",
        PORT=free_port(),
    )
    base = processes.gunicorn("console", env)
    http = requests.Session()
    http.trust_env = False

    def get(path, request_id, https=True):
        headers = {"X-Request-ID": request_id} | ({"X-Forwarded-Proto": "https"} if https else {})
        return http.get(base + path, headers=headers, allow_redirects=False, timeout=20)

    login = get("/accounts/login/", "one-line-login-01")
    css = re.search(r'href="(/static/console/console\.[0-9a-f]{12}\.css)"', login.text).group(1)
    sent = {
        "one-line-login-01": ("/accounts/login/", login.status_code),
        "one-line-static-02": (css, get(css, "one-line-static-02").status_code),
        "one-line-missing-03": ("/no-such-page/", get("/no-such-page/", "one-line-missing-03").status_code),
        "one-line-plain-http-04": (
            "/accounts/login/",
            get("/accounts/login/", "one-line-plain-http-04", False).status_code,
        ),
    }
    assert [status for _, status in sent.values()] == [200, 200, 404, 301]

    processes.stop("console")  # (flushes its output)
    output = processes.output("console").splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    for request_id, (path, status) in sent.items():
        (access,) = [line for line in lines if line["request_id"] == request_id and "status" in line]
        assert access["logger"] == "connectors.requests"
        assert (access["path"], access["status"], access["method"]) == (path, status, "GET")
    assert not [line for line in lines if line["logger"].startswith("gunicorn")]
    # Nor in gunicorn's text format (its error log, on stderr here, stays).
    assert not [line for line in output if not line.startswith("{") and any(p in line for p, _ in sent.values())]
