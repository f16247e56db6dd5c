"""A hostile upstream for tests: an HTTP server on 127.0.0.1 (a thread of the test process) that answers as slowly,
as partly or as hugely as the test asks, on real sockets, so that what is tested is what the console's sockets do.

    with HostileUpstream() as upstream:
        upstream.behaviour = "trickle_body"   # may change while it runs
        client = AimableClient(upstream.url, ...)

Behaviours, for every path:
- "ok": 200 with ``{"data": []}`` (a key check, an empty list, a healthy /health);
- "trickle_body": the status line and headers at once, then a valid JSON body one byte every ``interval`` seconds;
- "trickle_headers": the status line and headers themselves one byte every ``interval`` seconds;
- "hang": reads the request, then answers nothing;
- "gzip_bomb": 200 with a small gzip body that inflates to ``bomb_bytes`` of valid JSON.
Every trickle lasts at most ``trickle_bytes`` bytes, so a client that never gives up still ends (late).
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):  # noqa: N802
        upstream = self.server.upstream
        with upstream.lock:
            upstream.paths.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        behaviour = upstream.behaviour
        try:
            if behaviour == "ok":
                self._answer(b'{"data": []}')
            elif behaviour == "trickle_body":
                body = b'{"data": [' + b" " * max(0, upstream.trickle_bytes - 12) + b"]}"
                self._head(len(body))
                self._trickle(body)
            elif behaviour == "trickle_headers":
                self._trickle(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * upstream.trickle_bytes + b"\r\n")
            elif behaviour == "hang":
                upstream.stopped.wait(upstream.hang_seconds)
            elif behaviour == "gzip_bomb":
                self._answer(upstream.bomb(), {"Content-Encoding": "gzip"})
        except OSError:  # the client gave up and closed the connection
            pass
        self.close_connection = True

    do_POST = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _head(self, length: int, headers: dict | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

    def _answer(self, body: bytes, headers: dict | None = None) -> None:
        self._head(len(body), headers)
        self.wfile.write(body)

    def _trickle(self, data: bytes) -> None:
        upstream = self.server.upstream
        for i in range(len(data)):
            if upstream.stopped.wait(upstream.interval):
                return
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    upstream: HostileUpstream


class HostileUpstream:
    def __init__(
        self,
        behaviour: str = "ok",
        *,
        interval: float = 0.1,
        trickle_bytes: int = 100,
        hang_seconds: float = 30.0,
        bomb_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self.behaviour = behaviour
        self.interval = interval
        self.trickle_bytes = trickle_bytes
        self.hang_seconds = hang_seconds
        self.bomb_bytes = bomb_bytes
        self.lock = threading.Lock()
        self.paths: list[str] = []
        self.stopped = threading.Event()
        self._bomb: bytes | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="hostile-upstream", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def bomb(self) -> bytes:
        if self._bomb is None:
            self._bomb = gzip.compress(b'{"data": [' + b" " * self.bomb_bytes + b"]}", compresslevel=9)
        return self._bomb

    def start(self) -> HostileUpstream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()  # ends every trickle and hang at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> HostileUpstream:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
