"""gunicorn for the console: its requests mostly wait on the Aimable API, so threads serve them cheaply."""

import json
import os
from datetime import UTC, datetime

from gunicorn.glogging import Logger

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Upstream calls stop at AIMABLE_DEADLINE (15 s); leave room above it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# The heartbeat file of each worker in memory, not on a container's slow or read-only disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - a directory, not a temp file

# Access log lines in the console's own log format (LOG_FORMAT, as in console/settings.py: JSON unless DEBUG).
_debug = os.environ.get("DEBUG", "false").strip().lower() in ("1", "true", "yes", "on")
_log_format = os.environ.get("LOG_FORMAT", "text" if _debug else "json").strip().lower()


class JsonAccessLogger(Logger):
    """One JSON object per request, like the console's own lines: the path without its query string."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = dict((name.lower(), value) for name, value in resp.headers)
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-")
        duration_ms = request_time.seconds * 1000 + request_time.microseconds // 1000
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "request_id": headers.get("x-request-id", "-"),
            "message": f"{method} {path} {status} {duration_ms}ms",
            "method": method,
            "path": path,
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": duration_ms,
            "remote": environ.get("REMOTE_ADDR", "-"),
        }
        try:
            self.access_log.info(json.dumps(line))
        except Exception:  # noqa: BLE001 - a log line must never break a request
            self.error("could not write an access log line")


if _log_format == "json":
    logger_class = JsonAccessLogger
