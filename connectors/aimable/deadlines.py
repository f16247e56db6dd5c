"""How long the console waits on the Aimable API: one budget per page, however many calls it makes, and one per call
that covers every socket read of the answer (status line, headers and body).

requests' read timeout applies to each socket read on its own, so an upstream that sends one byte every few seconds
never trips it. Through :class:`DeadlineAdapter` every read of an answer waits at most what is left of its call's
budget, so a trickled answer stops at the deadline as a silent one does. No Django here: the page's budget is set
per request by ``connectors.middleware.UpstreamBudgetMiddleware``.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["DeadlineAdapter", "answer_deadline", "page_time_left", "upstream_budget"]

# time.monotonic() by which the current page's upstream calls must be over; None outside a page.
_page_deadline: ContextVar[float | None] = ContextVar("aimable_page_deadline", default=None)
# time.monotonic() by which the answer being read must have arrived whole; None: only the read timeout applies.
_answer_deadline: ContextVar[float | None] = ContextVar("aimable_answer_deadline", default=None)


@contextlib.contextmanager
def upstream_budget(seconds: float) -> Iterator[None]:
    """The calls made inside wait on the upstream ``seconds`` in total, together; each keeps its own deadline too.
    A budget inside another never extends it."""
    deadline = time.monotonic() + seconds
    outer = _page_deadline.get()
    token = _page_deadline.set(deadline if outer is None else min(deadline, outer))
    try:
        yield
    finally:
        _page_deadline.reset(token)


def page_time_left() -> float | None:
    """Seconds left of the current page's budget (may be negative); None outside :func:`upstream_budget`."""
    deadline = _page_deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextlib.contextmanager
def answer_deadline(seconds: float) -> Iterator[float]:
    """An answer whose reading starts inside (through a :class:`DeadlineAdapter`) must be read whole within
    ``seconds``. Yields the deadline, in time.monotonic()."""
    deadline = time.monotonic() + seconds
    token = _answer_deadline.set(deadline)
    try:
        yield deadline
    finally:
        _answer_deadline.reset(token)


class _DeadlineReader(io.RawIOBase):
    """The socket of one answer, each read's timeout cut to what is left before the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: Any, deadline: float) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        self._read_timeout = sock.gettimeout()  # set by urllib3 just before: the call's timeout for one read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("The answer did not arrive in time.")  # socket.timeout: urllib3's read timeout
        self._sock.settimeout(left if self._read_timeout is None else min(self._read_timeout, left))
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):  # a kept-alive connection gets its own timeout back
                self._sock.settimeout(self._read_timeout)
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading its socket through a :class:`_DeadlineReader` when a deadline is set."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = _answer_deadline.get()
        if deadline is not None:
            # detach(): the socket file, still open and counted by the socket, moves to the reader unread.
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOL_CLASSES = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that read every answer within :func:`answer_deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> poolmanager.PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:  # an HTTP proxy; SOCKS has its own
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager
