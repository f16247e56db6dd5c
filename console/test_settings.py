"""Settings for the test suite: production-like (DEBUG off) with fixed test secrets.

Hermetic: console.settings reads TEST_ENVIRONMENT below instead of the process environment, so neither the shell's
variables (DEBUG, LOG_FORMAT, AIMABLE_*, OAUTH_*, ...) nor a developer's .env file change a result. Only
DATABASE_URL and REDIS_URL come from the environment, on purpose: CI runs the same suite on PostgreSQL and Redis.
"""

import os
import uuid
from unittest import mock

import environ

TEST_ENVIRONMENT = {
    "ENV_FILE": "",  # no .env file
    "DEBUG": "false",
    "SECRET_KEY": "test-secret-key-not-for-production-7c1f0e9a4b2d8e6f",
    # Two keys: tests rotate between them.
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1maWVsZC1rZXktb25lLTAxMjM0NTY3ODlhYmM=",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "AIMABLE_API_URL": "http://aimable.test",
    **{name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL") if os.environ.get(name)},
}

with mock.patch.object(environ.Env, "ENVIRON", TEST_ENVIRONMENT):
    from console.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No collected static files: the default, <project>/staticfiles, is shared with whatever else runs in the project
# folder (`make bench` and the README's walk-through run collectstatic there). WhiteNoise walks STATIC_ROOT each
# time a test client starts, and failed with FileNotFoundError when a collectstatic replaced a file mid-walk.
# The test that needs collected files makes its own (tests/processes.py: collected_static).
STATIC_ROOT = None
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AIMABLE_MAX_RETRIES = 0
# No OAuth client configured: tests configure providers themselves (settings fixture).
OAUTH_PROVIDERS = {}
# The test client and the browser tests' live server speak plain HTTP: no redirect to HTTPS, cookies over HTTP.
# (tests/security/test_deploy.py checks the production values with `check --deploy`.)
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
# Tests sign in many times from one address; the throttling tests turn django-axes on themselves.
AXES_ENABLED = False
# This run's cache entries apart from any other's in a Redis database that several runs (or a `make run`) share:
# the seed's ids and demo key are the same in every run, so their cache keys would be too.
CACHES["default"]["KEY_PREFIX"] = f"console-test-{uuid.uuid4().hex[:12]}"  # noqa: F405
# Live-server threads must not keep connections open: PostgreSQL cannot drop the test database otherwise.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
