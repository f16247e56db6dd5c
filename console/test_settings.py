"""Settings for the test suite: production-like (DEBUG off) with fixed test secrets.

DATABASE_URL and REDIS_URL still come from the environment, so CI runs the same suite on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-7c1f0e9a4b2d8e6f")
# Two keys: tests rotate between them.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1maWVsZC1rZXktb25lLTAxMjM0NTY3ODlhYmM=")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("AIMABLE_API_URL", "http://aimable.test")

from console.settings import *  # noqa: E402,F403

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AIMABLE_MAX_RETRIES = 0
# No OAuth client from the machine's environment: tests configure providers themselves (settings fixture).
OAUTH_PROVIDERS = {}
# The test client and the browser tests' live server speak plain HTTP: no redirect to HTTPS, cookies over HTTP.
# (tests/security/test_deploy.py checks the production values with `check --deploy`.)
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
# Tests sign in many times from one address; the throttling tests turn django-axes on themselves.
AXES_ENABLED = False
# Live-server threads must not keep connections open: PostgreSQL cannot drop the test database otherwise.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
