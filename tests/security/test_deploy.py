"""Production settings pass `check --deploy` with no warning; HTTPS is enforced behind the PaaS proxy, except for
/healthz; `make run` and the tests (DEBUG or plain HTTP) keep working."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
FIELD_KEY = "dGVzdC1maWVsZC1rZXktb25lLTAxMjM0NTY3ODlhYmM="
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "Pz3u8-5qYc9kWfT2rXn7LmVb0sJd4hGa6eQyRt1UiOp-ZxCvBnM_kLjHgFdSaQwE",
    "FIELD_ENCRYPTION_KEYS": FIELD_KEY,
    "ALLOWED_HOSTS": "console.example.com",
    "LOG_LEVEL": "WARNING",
}


def _run(args, **env):
    # A clean environment: nothing from the test run (or the developer's shell) may make it pass.
    base = {"PATH": "/usr/bin:/bin", "HOME": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "ENV_FILE": ""}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(names, **env):
    code = (
        "import json, console.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}, default=str))"
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_with_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    # The two silenced: the HSTS opt-ins (includeSubDomains, preload), off by default.
    assert "System check identified no issues (2 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr


def test_check_deploy_fails_when_https_is_switched_off():
    """The check is real: turning HSTS and the redirect off makes it fail."""
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION_ENV,
        SECURE_HSTS_SECONDS="0",
        SECURE_SSL_REDIRECT="false",
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


NAMES = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SILENCED_SYSTEM_CHECKS",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_AGE",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "TRUSTED_PROXY_COUNT",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_TIME",
]


def test_production_defaults():
    values = _settings(NAMES, **PRODUCTION_ENV)
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    # Opt-in: they bind every subdomain, and (preloaded) for years; check --deploy's warnings about them silenced.
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False and values["SECURE_HSTS_PRELOAD"] is False
    assert values["SILENCED_SYSTEM_CHECKS"] == ["security.W005", "security.W021"]
    # No proxy is trusted unless one is configured (the PaaS guide sets 1): X-Forwarded-* are anyone's to send.
    assert values["TRUSTED_PROXY_COUNT"] == 0 and values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_AGE"] == 8 * 3600
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is False
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["AXES_FAILURE_LIMIT"] == 5
    assert values["AXES_COOLOFF_TIME"] == "0:15:00"


def test_environment_overrides():
    values = _settings(
        NAMES,
        **PRODUCTION_ENV,
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true",
        SESSION_COOKIE_AGE="1800",
        SESSION_EXPIRE_AT_BROWSER_CLOSE="true",
        TRUSTED_PROXY_COUNT="1",
        LOGIN_FAILURE_LIMIT="3",
        LOGIN_LOCKOUT_MINUTES="60",
    )
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and values["SECURE_HSTS_PRELOAD"] is True
    assert values["SILENCED_SYSTEM_CHECKS"] == []
    assert values["SESSION_COOKIE_AGE"] == 1800 and values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    # Behind the PaaS router: it sets X-Forwarded-Proto, so that is trusted.
    assert values["TRUSTED_PROXY_COUNT"] == 1
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["AXES_FAILURE_LIMIT"] == 3 and values["AXES_COOLOFF_TIME"] == "1:00:00"


def test_development_keeps_plain_http_working():
    values = _settings(NAMES, DEBUG="true")
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["TRUSTED_PROXY_COUNT"] == 0


def test_production_refuses_the_public_development_keys():
    from console.settings import _DEV_FIELD_KEY, _DEV_SECRET_KEY

    result = _run(["-c", "import console.settings"], **{**PRODUCTION_ENV, "SECRET_KEY": _DEV_SECRET_KEY})
    assert result.returncode != 0 and "are public" in result.stderr
    result = _run(["-c", "import console.settings"], **{**PRODUCTION_ENV, "FIELD_ENCRYPTION_KEYS": _DEV_FIELD_KEY})
    assert result.returncode != 0 and "are public" in result.stderr


# ----- the HTTPS redirect behind the proxy, in process (the test settings turn it off; here it is on) -----


@pytest.fixture
def https_settings(settings, sandbox_api):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    return settings


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(https_settings):
    response = Client().get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


@pytest.mark.django_db
def test_https_through_the_proxy_is_served_with_hsts(https_settings):
    response = Client().get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"  # includeSubDomains, preload: opt-in
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_healthz_answers_plain_http_for_the_platform(https_settings):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
