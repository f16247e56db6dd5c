"""The console's own database unreachable, mid-request or from start-up: a clear 503 page (never a traceback), and
/healthz says so with a 503 for the platform."""

import json

import pytest
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.test import Client
from django.urls import reverse

from tests.processes import (  # noqa: F401
    Browser,
    closed_port,
    free_port,
    processes,  # noqa: F401 - fixture
    production_env,
)

pytestmark = pytest.mark.django_db

MESSAGE = "The console&#x27;s database is not reachable"


@pytest.fixture
def take_database_down(monkeypatch):
    """Call it, and from then on every query of this thread fails as a lost PostgreSQL connection does."""

    def cursor(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    return lambda: monkeypatch.setattr(connection, "cursor", cursor)


def assert_database_page(response):
    assert response.status_code == 503
    body = response.content.decode()
    assert "The console's database is not reachable" in body or MESSAGE in body
    assert 'class="retry"' in body
    assert "Traceback" not in body and "OperationalError" not in body and "5432" not in body
    assert response["Retry-After"]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_signed_in_page_while_the_database_is_down(user, take_database_down, method):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    take_database_down()
    # The session and the user are read (and fail) in middleware, before any view runs.
    assert_database_page(getattr(client, method)(reverse("home")))


def test_a_query_failing_inside_a_view_gives_the_page_in_development_too(admin_client, settings, monkeypatch):
    settings.DEBUG = True  # no technical 500 page with a traceback either

    def lost(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr("connectors.views.audit.Paginator", lost)
    response = admin_client.get(reverse("audit_log"))
    assert_database_page(response)


def test_healthz_reports_the_database_with_a_503(client, take_database_down, sandbox_api):
    take_database_down()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["checks"]["database"] == "error"
    assert body["checks"]["cache"] == "ok"


def test_started_without_a_database_the_console_says_so(processes, tmp_path):  # noqa: F811
    """gunicorn as the Procfile runs it, with DATABASE_URL pointing at a closed port: it starts, /healthz answers
    503 with the database as the cause, the login page still renders, and a signed-in page is the 503 page."""
    pytest.importorskip("psycopg")
    env = production_env(
        DATABASE_URL=f"postgres://console:pw@127.0.0.1:{closed_port()}/console",
        AIMABLE_API_URL=f"http://127.0.0.1:{closed_port()}",
        STATIC_ROOT=tmp_path / "static",  # (no collectstatic: the error page must not need it)
        PORT=free_port(),
    )
    console = processes.gunicorn("console", env)
    browser = Browser(console)

    health = browser.get("/healthz", headers={"X-Request-ID": "healthcheck-0001"}, timeout=15)
    assert health.status_code == 503
    assert health.json()["checks"] == {"database": "error", "cache": "ok", "upstream": "error"}

    browser.cookies["sessionid"] = "a" * 32  # a returning user: the session must be read from the database
    page = browser.get("/?next=secret-query-value", headers={"X-Request-ID": "db-down-request-42"}, timeout=15)
    assert page.status_code == 503
    assert "The console's database is not reachable" in page.text or MESSAGE in page.text
    assert "Traceback" not in page.text
    assert page.headers["X-Request-ID"] == "db-down-request-42"

    # Logs: JSON lines on stdout, each with the request id it belongs to, never a query string.
    processes.stop("console")  # (flushes its output)
    lines = [json.loads(line) for line in processes.output("console").splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["request_id"] == "db-down-request-42"]
    assert {line["logger"] for line in mine} >= {"connectors.database", "connectors.requests"}
    assert [line["status"] for line in mine if "status" in line] == [503]  # one access line, the console's
    assert all("secret-query-value" not in json.dumps(line) for line in lines)
    assert any(line["request_id"] == "healthcheck-0001" for line in lines)
