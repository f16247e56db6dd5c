"""gunicorn for the console: its requests mostly wait on the Aimable API, so threads serve them cheaply."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Upstream calls stop at AIMABLE_DEADLINE (15 s); leave room above it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# A worker is replaced after ~50,000 requests (a guard against a slow leak; the load test saw none): at 2,000 it was
# every ~45 s under load, both workers together, and each replacement stalled the requests behind it.
max_requests = 50000
max_requests_jitter = 5000
# No access log of gunicorn's own: the console writes one line per request itself (connectors.requests, with the
# request id, in LOG_FORMAT). gunicorn's error log stays on stderr.
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# No control socket (gunicorn 25.1+ opens one by default at one path per user, $XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl): two consoles on one host would fight over it, and nothing here uses gunicornc.
control_socket_disable = True
# The heartbeat file of each worker in memory, not on a container's slow or read-only disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - a directory, not a temp file
