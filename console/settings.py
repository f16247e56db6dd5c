"""Every setting of the console, read once from the environment (django-environ).

Production (DEBUG off) refuses to start without SECRET_KEY and FIELD_ENCRYPTION_KEYS; development falls back to
fixed, clearly insecure defaults and says so loudly.
"""

import re
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is convenient on a laptop; the PaaS sets real environment variables instead. ENV_FILE names another
# file, or none when empty (the tests: only the environment they give counts).
if _env_file := env.str("ENV_FILE", default=str(BASE_DIR / ".env")):
    environ.Env.read_env(_env_file, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# Development-only fallbacks. They are public (they are in this file), so production refuses them.
_DEV_SECRET_KEY = "dev-insecure-secret-key-do-not-use-in-production-0123456789abcdef"
_DEV_FIELD_KEY = "ZGV2LWluc2VjdXJlLWZpZWxkLWtleS0wMTIzNDU2Nzg="  # base64 of 32 known bytes

SECRET_KEY = env.str("SECRET_KEY", default="")
_field_keys = env.list("FIELD_ENCRYPTION_KEYS", default=[])
FIELD_ENCRYPTION_KEYS = [k.strip() for k in _field_keys if k.strip()]

_missing = [
    name for name, value in (("SECRET_KEY", SECRET_KEY), ("FIELD_ENCRYPTION_KEYS", FIELD_ENCRYPTION_KEYS)) if not value
]
if _missing:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Missing required setting(s): "
            + ", ".join(_missing)
            + ". Set them in the environment (see docs/configuration.md), or set DEBUG=true for local "
            "development with insecure defaults."
        )
    # `make run` starts manage.py six times (migrate, demo_setup, the sandbox, the worker, runserver and its
    # autoreloader child): it sets DEV_WARN_ONLY_WHEN_SERVING, so that the process that serves says it once.
    if not env.bool("DEV_WARN_ONLY_WHEN_SERVING", default=False) or env("RUN_MAIN", default="") == "true":
        print(  # noqa: T201 - the point is to be loud on a developer's terminal
            "WARNING: DEBUG is on and " + " and ".join(_missing) + " not set: using INSECURE development defaults. "
            "Never deploy like this.",
            file=sys.stderr,
        )
    SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY
    FIELD_ENCRYPTION_KEYS = FIELD_ENCRYPTION_KEYS or [_DEV_FIELD_KEY]
if not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or _DEV_FIELD_KEY in FIELD_ENCRYPTION_KEYS):
    raise ImproperlyConfigured("The development SECRET_KEY or FIELD_ENCRYPTION_KEYS are public: set your own.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "connectors",
]

MIDDLEWARE = [
    # First: the one access log line of every request (gunicorn writes none), static files and redirects included.
    "connectors.middleware.RequestIdMiddleware",
    "connectors.middleware.UpstreamBudgetMiddleware",  # the page's one AIMABLE_DEADLINE, from the request's start
    "django.middleware.security.SecurityMiddleware",
    "connectors.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "connectors.middleware.SignedInNoStoreMiddleware",  # Cache-Control: private, no-store for a signed-in user
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "connectors.middleware.LoginRequiredMiddleware",  # Django's; htmx parts get HX-Redirect to the sign-in page
    "connectors.middleware.ReadOnlyMiddleware",
    "connectors.middleware.UpstreamErrorMiddleware",
    "connectors.database.DatabaseUnavailableMiddleware",  # the database down: a 503 page, not a traceback
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into the lockout page
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "connectors.context_processors.console",
            ],
            "builtins": ["template_partials.templatetags.partials", "connectors.templatetags.console"],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Threads that write at once (gunicorn's, runserver's: a double submit) take turns instead of one failing
    # with "database is locked": transactions take the write lock when they begin, and wait up to 20 s for it.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "console.cache.SharedClientRedisCache",  # Django's, one client per pool (see console/cache.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "console",
        }
    }
    # Heroku Redis speaks TLS (rediss://) with a self-signed certificate: REDIS_TLS_VERIFY=false accepts it.
    if REDIS_URL.startswith("rediss://") and not env.bool("REDIS_TLS_VERIFY", default=True):
        CACHES["default"]["OPTIONS"] = {"ssl_cert_reqs": None}
    # Sessions in the database (shared by every process), read through the shared cache.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")  # where collectstatic writes
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ----- HTTPS, cookies and browser protections. Production defaults; DEBUG keeps http://127.0.0.1 working. -----
# Proxies in front of the console that append to X-Forwarded-For and set X-Forwarded-Proto (a PaaS router: 1).
# 0, the default everywhere: those headers, which anyone can send, are ignored. Trusting one proxy too many would let
# a client pick its own address, and escape the login throttling by changing it on every try (docs/deployment.md).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the platform's health check speaks plain HTTP to the process
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Opt-in: both reach beyond the console (every subdomain of its domain; browsers' built-in list, slow to leave), so
# only whoever runs the whole domain turns them on. `check --deploy` warns while they are off: a choice, silenced.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [
    check
    for check, on in (("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS), ("security.W021", SECURE_HSTS_PRELOAD))
    if not on
]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Lax, not Strict: the OAuth provider's redirect back to the callback must carry the session.
SESSION_COOKIE_SAMESITE = "Lax"
# A sign-in lasts a working day; changing the password signs out every other session (Django's session hash).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)

# Content Security Policy (django-csp): nothing inline, nothing evaluated, no framing. The middleware adds the
# configured OAuth providers' authorize origins to form-action, since "Connect" posts a form that redirects there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failures for one username from one address, that
# pair is locked out for LOGIN_LOCKOUT_MINUTES. The address is the client's, as the trusted proxies saw it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with the user, its role and its stored key read in one statement (connectors.principal).
    "connectors.auth.ConsoleBackend",
    # For sessions signed in before ConsoleBackend: a session names the backend that signed it in, and is signed out
    # when that backend is no longer listed. ConsoleBackend answers every sign-in, so this one is never asked to.
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
# Its start-up banner ("AXES: BEGIN version ...") once per process is noise on a developer's terminal.
AXES_VERBOSE = env.bool("AXES_VERBOSE", default=not DEBUG)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "connectors.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# A wrong current password on the password form counts as a failed sign-in too (connectors/forms.py); never store
# what was typed in the attempt records.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "old_password", "new_password1", "new_password2"]

# The upstream: the base URL without /v1 (the client appends /v1/...).
AIMABLE_API_URL = env.str("AIMABLE_API_URL", default="https://api.aimable.com/api-proxy")
AIMABLE_CONNECT_TIMEOUT = env.float("AIMABLE_CONNECT_TIMEOUT", default=3.05)
AIMABLE_READ_TIMEOUT = env.float("AIMABLE_READ_TIMEOUT", default=10.0)
AIMABLE_DEADLINE = env.float("AIMABLE_DEADLINE", default=15.0)
AIMABLE_MAX_RETRIES = env.int("AIMABLE_MAX_RETRIES", default=2)
# The largest answer the console reads, once decoded (5 MB); a bigger one is refused with a readable error.
AIMABLE_MAX_RESPONSE_BYTES = env.int("AIMABLE_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024)

# OAuth credential capture, per provider slug: OAUTH_GOOGLE_DRIVE_CLIENT_ID, ... configure "google-drive". The slugs
# come from the variable names (the environment and the .env file), so settings need not import the provider
# registry. A provider without a client id gets no "Connect" button. Empty endpoint/scope values mean the registry's
# defaults.
_OAUTH_VARIABLE = re.compile(
    r"^OAUTH_([A-Z0-9_]+?)_(CLIENT_ID|CLIENT_SECRET|AUTHORIZE_URL|TOKEN_URL|USERINFO_URL|SCOPES)$"
)


def _oauth_settings(name: str) -> dict:
    prefix = f"OAUTH_{name}_"
    scopes = env.str(prefix + "SCOPES", default="")
    return {
        "client_id": env.str(prefix + "CLIENT_ID", default="").strip(),
        "client_secret": env.str(prefix + "CLIENT_SECRET", default="").strip(),
        "authorize_url": env.str(prefix + "AUTHORIZE_URL", default="").strip(),
        "token_url": env.str(prefix + "TOKEN_URL", default="").strip(),
        # Where the console asks which account authorized a token ("authorized as"); optional.
        "userinfo_url": env.str(prefix + "USERINFO_URL", default="").strip(),
        "scopes": scopes.replace(",", " ").split() or None,
    }


_oauth_names = {match[1] for match in map(_OAUTH_VARIABLE.match, env.ENVIRON) if match}
OAUTH_PROVIDERS = {name.lower().replace("_", "-"): _oauth_settings(name) for name in sorted(_oauth_names)}
# Seconds to connect to / wait for a provider's token endpoint.
OAUTH_TIMEOUT = env.float("OAUTH_TIMEOUT", default=10.0)
# The public base URL for callback URLs (e.g. https://console.example.com) when the console sits behind a proxy
# that does not pass the original scheme and host; empty: taken from the request.
OAUTH_REDIRECT_BASE_URL = env.str("OAUTH_REDIRECT_BASE_URL", default="").rstrip("/")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# "json": one JSON object per line (production's default, for the platform's log drain); "text": readable lines.
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "connectors.logging.RequestIdFilter"},
        "no_oauth_query": {"()": "connectors.logging.OAuthQueryRedactingFilter"},
    },
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "connectors.logging.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json" if LOG_FORMAT == "json" else "console",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "INFO", "filters": ["no_oauth_query"]},
    },
}
SYNC_STALL_SECONDS = env.int("SYNC_STALL_SECONDS", default=60)
SYNC_POLL_SECONDS = 2
# How long one upstream read of a sync is reused: a bit less than the polling interval, so N tabs polling one sync
# cost about one upstream read per interval. 0 turns the cache off (the benchmark measures both).
SYNC_CACHE_SECONDS = env.float("SYNC_CACHE_SECONDS", default=1.8)

# ----- Alerts, channels and schedules (docs/alerts.md) -----------------------------------------------------------
# The task engine: Django's Tasks API (the django-tasks backport) with the database backend, so SQLite serves
# `make run` and PostgreSQL serves several workers in production. `manage.py alerts_worker` runs the tasks and
# starts one check round per ALERTS_CHECK_SECONDS. docs/decisions.md says why.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
ALERTS_CHECK_SECONDS = env.int("ALERTS_CHECK_SECONDS", default=60)
# Upstream reads of one round in flight at once (per worker).
ALERTS_CONCURRENCY = env.int("ALERTS_CONCURRENCY", default=8)
# A worker sending a delivery holds it this long; if the worker dies, another sends it once the hold runs out.
ALERTS_DELIVERY_LEASE_SECONDS = env.int("ALERTS_DELIVERY_LEASE_SECONDS", default=60)
# A delivery is retried with backoff for this long, then marked failed.
ALERTS_RETRY_HOURS = env.int("ALERTS_RETRY_HOURS", default=24)
# http:// and loopback, private or link-local receivers (tests, receivers inside a private network). DEBUG implies it.
ALERTS_ALLOW_PRIVATE_URLS = env.bool("ALERTS_ALLOW_PRIVATE_URLS", default=False) or DEBUG
# The console's public address, for the links in alerts (e.g. https://console.example.com).
CONSOLE_URL = env.str("CONSOLE_URL", default=OAUTH_REDIRECT_BASE_URL or ("http://127.0.0.1:8000" if DEBUG else ""))
CONSOLE_URL = CONSOLE_URL.rstrip("/")

# Email: EMAIL_URL (django-environ's form, e.g. smtp+tls://user:password@smtp.example.com:587) or the EMAIL_*
# variables one by one. `make run` writes mail to files in EMAIL_FILE_PATH, linked from the Notifications page.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "outbox"))
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    _mail = "filebased" if DEBUG else "smtp"
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=f"django.core.mail.backends.{_mail}.EmailBackend")
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Aimable Connectors Console <console@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
