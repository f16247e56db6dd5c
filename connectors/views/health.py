import logging

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .. import selectors

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        logger.exception("database check failed")
        return False


def _cache_ok() -> bool:
    try:
        cache.set("healthz", "1", 5)
        return cache.get("healthz") == "1"
    except Exception:  # noqa: BLE001
        logger.exception("cache check failed")
        return False


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """For the platform's health check: 200 while the database answers; the upstream is reported, not required."""
    checks = {"database": _database_ok(), "cache": _cache_ok(), "upstream": selectors.upstream_healthy()}
    status = 200 if checks["database"] and checks["cache"] else 503
    body = {
        "status": "ok" if status == 200 else "error",
        "checks": {name: "ok" if ok else "error" for name, ok in checks.items()},
    }
    return JsonResponse(body, status=status)
