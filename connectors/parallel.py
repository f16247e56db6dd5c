"""Upstream reads of one request, run side by side: the "All connectors" page's lists and cells, the connector list's
latest-sync cells. Each read runs in a copy of the caller's context, so that the request's upstream budget and id
(contextvars) go with it."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .aimable import errors

CONCURRENCY = 32  # upstream reads in flight per request: as many as the client's pool keeps connections (per process)


def in_parallel(
    jobs: list[tuple[Any, Callable[[], Any]]],
    *,
    concurrency: int = CONCURRENCY,
    fatal: tuple[type[errors.AimableError], ...] = (errors.AuthenticationError,),
) -> list[tuple[Any, Any, errors.AimableError | None]]:
    """Runs ``read()`` for each (key, read), ``concurrency`` at a time; returns (key, result, error) in order.

    An error of a ``fatal`` kind (by default a rejected key) fails the whole read (raised); other AimableErrors are
    per job. Anything else is a bug, raised."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs)))) as pool:
        futures = [(key, pool.submit(contextvars.copy_context().run, read)) for key, read in jobs]
        out = []
        for key, future in futures:
            try:
                out.append((key, future.result(), None))
            except fatal:
                raise
            except errors.AimableError as exc:
                out.append((key, None, exc))
    return out
