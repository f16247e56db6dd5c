"""The sandbox HTTP server: a ThreadingHTTPServer serving /health, /v1/..., the /_sandbox control API and
/oauth/... (the sandbox as an OAuth provider, see oauth.py).

Standard library only; no Django, no import from the API client.
"""

from __future__ import annotations

import ipaddress
import json
import random
import sys
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from . import api
from . import oauth as oauth_provider
from .seed import DEMO_ADMIN_KEY, DEMO_LIMITED_KEY
from .state import SandboxState

HTML_ERROR = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class _Hang(Exception):
    """Answer nothing and close the connection."""


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AimableSandbox/1.0"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    disable_nagle_algorithm = True
    server: _HTTPServer

    # ------------------------------------------------------------------ plumbing
    def do_GET(self):  # noqa: N802
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def log_message(self, format, *args):  # noqa: A002
        if not self.server.sandbox.quiet:
            super().log_message(format, *args)

    def log_request(self, code="-", size="-"):
        pass  # one line per request is written by _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self,
        status: int,
        payload=None,
        headers: dict | None = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        if raw is None and payload is not None:
            raw = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if self._request_id:
            self.send_header("X-Request-ID", self._request_id)
        if status != 204 and status >= 200:
            body = raw or b""
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        else:
            body = b""
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _dispatch(self) -> None:
        start = time.perf_counter()
        sandbox: SandboxServer = self.server.sandbox
        self._status = None
        self._request_id = self.headers.get("X-Request-ID")
        url = urlsplit(self.path)
        path = url.path
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(400, {"detail": "Bad request body"})
            return
        try:
            if path.startswith("/v1/") or path == "/v1":
                self._v1(sandbox, path, url.query, body)
            elif path.startswith("/_sandbox"):
                self._control(sandbox, path, body)
            elif path.startswith("/oauth/"):
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, raw, content_type = oauth_provider.handle(
                    sandbox.state, self.command, path, url.query, headers, body
                )
                self._send(status, headers=extra, raw=raw, content_type=content_type)
            elif path in ("/health", "/health/") and self.command in ("GET", "HEAD"):
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"detail": "Not Found"})
        except _Hang:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - defensive
            if not sandbox.quiet:
                print(f"sandbox: internal error: {exc!r}", file=sys.stderr)
            self._send(500, {"detail": "Internal Server Error"})
        if not sandbox.quiet:
            ms = (time.perf_counter() - start) * 1000
            print(f"{self.command} {path} {self._status or '-'} {ms:.1f}ms", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ /v1 with faults
    def _hang(self, seconds: float) -> None:
        self.server.stop_event.wait(max(0.0, seconds))
        raise _Hang

    def _fault_response(self, status: int, body: str, retry_after, text: str | None) -> None:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if body == "html":
            raw = HTML_ERROR.format(code=status, phrase=_phrase(status)).encode()
            self._send(status, headers=headers, raw=raw, content_type="text/html")
        elif body == "empty":
            self._send(status, headers=headers, raw=b"")
        else:
            self._send(status, {"detail": text or _phrase(status)}, headers)

    def _v1(self, sandbox: SandboxServer, path: str, query: str, body: bytes) -> None:
        state = sandbox.state
        started = time.perf_counter()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = api.Request(self.command, path, dict(parse_qsl(query, keep_blank_values=True)), headers, body)
        auth_style = (
            "bearer"
            if headers.get("authorization", "").lower().startswith("bearer ")
            else ("x-api-key" if headers.get("x-api-key") else None)
        )
        entry = state.log_request(
            {
                "method": self.command,
                "path": path,
                "query": dict(req.query),
                "status": None,
                "auth": auth_style,
                "principal": None,  # whose key it was, once the key is known
                "idempotency_key": headers.get("idempotency-key"),
                "request_id": self._request_id,
                "ts": time.time(),
                "fault": None,
            }
        )

        def finish(**kw):
            kw.setdefault("status", self._status)
            kw["ms"] = round((time.perf_counter() - started) * 1000, 1)
            state.update_log(entry, **kw)

        try:
            self._v1_faulted(state, req, entry, finish)
        except _Hang:
            finish(status=None)
            raise

    def _v1_faulted(self, state: SandboxState, req: api.Request, entry: dict, finish) -> None:
        faults = state.get_faults()
        rule = state.take_rule(req.method, req.path)
        if rule is not None:
            hang_seconds = rule["hang_seconds"] if rule["hang_seconds"] is not None else faults["hang_seconds"]
            if rule["delay_ms"]:
                self.server.stop_event.wait(rule["delay_ms"] / 1000)
            if rule["passthrough"]:
                state.update_log(entry, fault="delay")
                self._answer(state, req, finish)
                return
            if rule["after_commit"]:
                response, _ = api.handle(state, req)
                state.update_log(entry, fault="after_commit", handler_status=response.status)
            if rule["hang"]:
                if not rule["after_commit"]:
                    state.update_log(entry, fault="hang")
                self._hang(hang_seconds)
            if not rule["after_commit"]:
                state.update_log(entry, fault="rule")
            retry_after = rule["retry_after"]
            if retry_after is None and rule["status"] == 429:
                retry_after = faults["retry_after"]
            self._fault_response(rule["status"], rule["body"], retry_after, rule["detail"])
            finish()
            return

        if faults["latency_ms"]:
            self.server.stop_event.wait(faults["latency_ms"] / 1000)
        rnd = random.random  # noqa: S311 - fault injection, not security
        if faults["timeout_rate"] and rnd() < faults["timeout_rate"]:
            state.update_log(entry, fault="timeout")
            self._hang(faults["hang_seconds"])
        if faults["rate_limit_rate"] and rnd() < faults["rate_limit_rate"]:
            state.update_log(entry, fault="rate_limit")
            self._fault_response(429, "json", faults["retry_after"], "Rate limit exceeded")
        elif faults["error_rate"] and rnd() < faults["error_rate"]:
            state.update_log(entry, fault="error")
            self._fault_response(int(faults["error_status"]), "json", None, None)
        elif faults["non_json_rate"] and rnd() < faults["non_json_rate"]:
            state.update_log(entry, fault="non_json")
            self._fault_response(502, "html", None, None)
        else:
            self._answer(state, req, finish)
            return
        finish()

    def _answer(self, state: SandboxState, req: api.Request, finish) -> None:
        response, style = api.handle(state, req)
        self._send(response.status, response.payload, response.headers)
        extra = {"principal": req.principal["principal"]} if req.principal else {}
        if style:
            finish(auth=style, **extra)
        else:
            finish(**extra)

    # ------------------------------------------------------------------ /_sandbox control API
    def _control(self, sandbox: SandboxServer, path: str, body: bytes) -> None:
        state = sandbox.state
        method = self.command
        parts = [unquote(p) for p in path.strip("/").split("/")][1:]
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            self._send(400, {"detail": "Invalid JSON body"})
            return
        if method in ("POST", "PUT", "PATCH") and not isinstance(data, dict):
            self._send(400, {"detail": "Expected a JSON object"})
            return
        try:
            if parts == ["faults"]:
                if method == "GET":
                    return self._send(200, {"data": state.get_faults()})
                if method in ("POST", "PUT", "PATCH"):
                    return self._send(200, {"data": state.set_faults(**data)})
                if method == "DELETE":
                    state.set_faults(**state.default_faults)
                    return self._send(200, {"data": state.get_faults()})
            elif parts == ["rules"]:
                if method == "GET":
                    with state.lock:
                        return self._send(200, {"data": [dict(r) for r in state.rules]})
                if method == "POST":
                    return self._send(201, {"data": state.add_rule(**data)})
                if method == "DELETE":
                    state.clear_rules()
                    return self._send(204)
            elif parts == ["requests"]:
                if method == "GET":
                    return self._send(200, {"data": state.requests()})
                if method == "DELETE":
                    state.clear_requests()
                    return self._send(204)
            elif parts == ["reset"] and method == "POST":
                state.reset()
                return self._send(200, {"status": "reset"})
            elif parts == ["clock"] and method == "POST":
                state.advance(float(data.get("advance_seconds", 0)))
                return self._send(200, {"data": {"offset_seconds": state.clock_offset}})
            elif parts == ["oauth-clients"] and method == "POST":
                oauth_provider.register_client(state, data.get("client_id"), data.get("redirect_uri"))
                return self._send(201, {"data": {"client_id": data["client_id"], "redirect_uri": data["redirect_uri"]}})
            elif parts == ["keys"] and method == "POST":
                if not data.get("key") or not data.get("principal"):
                    return self._send(400, {"detail": "key and principal are required"})
                state.add_key(data["key"], data["principal"], data.get("spaces", "*"))
                return self._send(201, {"data": {"principal": data["principal"], "spaces": data.get("spaces", "*")}})
            elif parts == ["spaces"] and method == "POST":
                return self._send(
                    201, {"data": state.add_space(data.get("name"), data.get("space_id"), data.get("description", ""))}
                )
            elif parts == ["collections"] and method == "POST":
                if not data.get("space_id"):
                    return self._send(400, {"detail": "space_id and name are required"})
                created = state.add_collection(
                    data["space_id"], data.get("name"), data.get("collection_id"), data.get("description", "")
                )
                return self._send(201, {"data": created})
            elif len(parts) == 3 and parts[0] == "connectors" and parts[2] == "credential" and method == "GET":
                credential = state.credential(parts[1])
                if credential is None:
                    return self._send(404, {"detail": "Connector not found"})
                return self._send(200, {"data": credential})
            elif parts == [] and method == "GET":
                return self._send(
                    200,
                    {
                        "data": {
                            "endpoints": [
                                "GET|POST|DELETE /_sandbox/faults",
                                "GET|POST|DELETE /_sandbox/rules",
                                "GET|DELETE /_sandbox/requests",
                                "POST /_sandbox/reset",
                                "POST /_sandbox/clock",
                                "POST /_sandbox/keys",
                                "POST /_sandbox/spaces",
                                "POST /_sandbox/collections",
                                "POST /_sandbox/oauth-clients",
                                "GET /_sandbox/connectors/{id}/credential",
                            ]
                        }
                    },
                )
        except (TypeError, ValueError) as exc:
            return self._send(400, {"detail": str(exc)})
        return self._send(404, {"detail": "Not Found"})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, handler, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.stop_event = threading.Event()
        super().__init__(address, handler)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1); not "" or 0.0.0.0, which mean every interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RemoteBindRefused(ValueError):
    """The sandbox asked to listen beyond loopback without allow_remote."""


class SandboxServer:
    """The sandbox: state plus a threaded HTTP server.

    >>> server = SandboxServer(port=0, quiet=True).start()
    >>> server.url  # 'http://127.0.0.1:54321'
    >>> server.stop()

    It listens on loopback only unless ``allow_remote`` (``--allow-remote``): it has no sign-in, and its control API
    hands out the credentials connectors were created with (``/_sandbox/connectors/<id>/credential``).
    ``oauth_clients`` ({client id: [redirect URI, ...]}) are the OAuth clients registered from the start.
    """

    admin_key = DEMO_ADMIN_KEY
    limited_key = DEMO_LIMITED_KEY

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: bool = True,
        quiet: bool = False,
        allow_remote: bool = False,
        oauth_clients: dict[str, list[str]] | None = None,
        **faults,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise RemoteBindRefused(
                f"Refusing to listen on {host or 'every interface'}: anyone who can reach the sandbox can read the "
                "credentials it stores (/_sandbox/connectors/<id>/credential) and change its state, and it has no "
                "sign-in. Use 127.0.0.1, or pass --allow-remote on a network you trust."
            )
        self.quiet = quiet
        self.state = SandboxState(seed_data=seed, faults=faults, oauth_clients=oauth_clients)
        for client_id, uris in (oauth_clients or {}).items():
            for uri in uris:
                oauth_provider.register_client(self.state, client_id, uri)  # checks each one, before binding
        self.httpd = _HTTPServer((host, port), SandboxHandler, self)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        host = self.httpd.server_address[0]
        return "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # lifecycle
    def start(self) -> SandboxServer:
        """Serve in a background daemon thread; returns self."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="aimable-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.25)
        finally:
            self.httpd.server_close()

    def stop(self) -> None:
        self.httpd.stop_event.set()
        if self._thread is not None:
            self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # test helpers (direct, thread-safe)
    def reset(self) -> None:
        """Back to the seed state; faults, rules, extra keys, clock offset and the request log cleared."""
        self.state.reset()

    def set_faults(self, **kw) -> dict:
        return self.state.set_faults(**kw)

    def add_rule(self, **kw) -> dict:
        return self.state.add_rule(**kw)

    def clear_rules(self) -> None:
        self.state.clear_rules()

    def requests(self) -> list[dict]:
        return self.state.requests()

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def credential(self, connector_id: str) -> dict | None:
        return self.state.credential(connector_id)

    def oauth_tokens(self) -> dict[str, dict]:
        """Access tokens issued by the sandbox's OAuth provider (/oauth/<provider>/token)."""
        return oauth_provider.issued(self.state)

    def register_oauth_client(self, client_id: str, redirect_uri: str) -> None:
        """Registers a redirect URI of an OAuth client (until the next reset)."""
        oauth_provider.register_client(self.state, client_id, redirect_uri)

    def add_key(self, key: str | None = None, principal: str = "user-extra", spaces="*") -> str:
        key = key or f"aim_test_{uuid.uuid4().hex[:12]}"
        self.state.add_key(key, principal, spaces)
        return key

    def advance(self, seconds: float) -> None:
        self.state.advance(seconds)
