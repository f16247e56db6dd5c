"""gunicorn for the console: its requests mostly wait on the Aimable API, so threads serve them cheaply."""

import ctypes
import ctypes.util
import gc
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# 4 processes of 4 threads, not 2 of 8: the same 16 requests at once, but half as many threads share each process's
# GIL. Under 100 admins (make loadtest, 2 cores) 2 x 8 answered the status poll at p95 3.1x its p50 and spent 7.8 ms
# of CPU a request; 4 x 4 answered at 2.0x and 6.3 ms. The master and 4 workers hold ~217 MB (PSS) of a 512 MB dyno.
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# The console is loaded once, in the master (console/wsgi.py also imports every view and compiles every template:
# console/warmup.py), and each worker is forked from it, sharing those pages until it writes to them. Under the load
# test a worker's peak RSS went from 92 to 84.5 MB, its PSS (its share of what it maps) from 71 to 45.5 MB, and the
# master and 4 workers from 297 to 219 MB in all. A worker that gunicorn replaces starts with nothing to import.
# Code is read once, at start: a deploy restarts the process (on a HUP, gunicorn keeps the code it loaded).
preload_app = True
# Upstream calls stop at AIMABLE_DEADLINE (15 s); leave room above it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# The connector list's requests for its rows' latest syncs (?row=<id>, repeated) stay under gunicorn's default limit
# (4,094 bytes): 50 rows or ~3 KB of ids each, and a poller for each (connectors/views/syncs.py). The endpoint takes
# up to 100 rows, which as UUIDs make about 4.3 KB: 8,190 is gunicorn's largest limit, and what PaaS routers take
# (Heroku's: 8 KB).
limit_request_line = 8190
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


def when_ready(server):
    """In the master, once the console is loaded and before the first fork: what is loaded now stays for the life of
    the process, so the collector leaves it out of its passes (gc.freeze). Each pass would otherwise touch every
    object the workers share and give each worker its own copy of their pages."""
    gc.collect()
    gc.freeze()


def _fewer_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads up to 8 malloc arenas per core, each holding memory of its own: 2 (as MALLOC_ARENA_MAX=2
    would) took about 2.5 MB off a worker's peak under the load test. Set before any thread or fork, here in the
    master; an explicit MALLOC_ARENA_MAX wins, and a C library without mallopt (musl, macOS) is left alone."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(-8, arenas)  # M_ARENA_MAX, in glibc's malloc.h
    except (OSError, AttributeError, TypeError):
        pass


_fewer_malloc_arenas()
