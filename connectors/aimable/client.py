"""AimableClient: the one place that knows the Aimable API's URLs, headers, retries, envelopes and errors.

No Django here: the caller passes the base URL, the key and the timeouts.
"""

from __future__ import annotations

import functools
import http.cookiejar
import logging
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from urllib3.exceptions import ReadTimeoutError

from .deadlines import DeadlineAdapter, answer_deadline, page_time_left
from .errors import (
    AimableError,
    BadResponseError,
    InvalidApiKeyError,
    InvalidIdError,
    RateLimitedError,
    UnavailableError,
    UpstreamTimeoutError,
    error_from_response,
)
from .types import (
    BrowseItem,
    Collection,
    Connector,
    Page,
    Space,
    Sync,
    is_path_id,
    is_uuid,
    unwrap_list,
    unwrap_object,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "USER_AGENT",
    "AimableClient",
    "shared_session",
    "validate_token",
    "validate_uuid",
]

logger = logging.getLogger("connectors.aimable")

USER_AGENT = "aimable-connectors-console/0.1"
POOL_SIZE = 32
MAX_LIMIT = 100
MAX_PARENT_ID_LENGTH = 512
# The largest answer read, once decoded (a few KB of gzip can inflate to GB); the settings' AIMABLE_MAX_RESPONSE_BYTES.
DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024
_CHUNK_BYTES = 64 * 1024

# Header values we build from caller input: visible ASCII only, so requests never raises an error that
# quotes the value (its InvalidHeader message would contain the key).
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")

T = TypeVar("T")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()

_session: requests.Session | None = None
_session_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process-wide pooled session, created on first use.

    Retries are ours (see ``AimableClient._send``), so urllib3 does none. Cookies are refused because the
    session is shared by every user of the process.
    """
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                session = requests.Session()
                adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                # The environment (proxy variables, REQUESTS_CA_BUNDLE) is read once per upstream, not on every call
                # (requests walks os.environ twice a call: a fifth of a millisecond): see _environment_settings.
                session.trust_env = False
                _session = session
    return _session


@functools.lru_cache(maxsize=8)
def _environment_settings(base_url: str) -> tuple[dict, Any]:
    """What requests would take from the environment for calls to ``base_url`` (every path of it has the same host,
    so the same proxy and no_proxy answer): its proxies and its CA bundle, read once per process. ~/.netrc is left
    out on purpose: the key is the only credential sent upstream."""
    reader = requests.Session()
    merged = reader.merge_environment_settings(base_url, {}, None, None, None)
    reader.close()
    return merged["proxies"], merged["verify"]


def validate_uuid(value: Any, field: str) -> str:
    """Canonical lowercase UUID string, or :class:`InvalidIdError`."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not is_uuid(value):
        raise InvalidIdError(field, "must be a UUID")
    return str(uuid.UUID(value))


def validate_token(value: Any, field: str) -> str:
    """An opaque id safe to put in a path segment (connector_id, sync_id), or :class:`InvalidIdError`."""
    if not is_path_id(value):
        raise InvalidIdError(field)
    return value


def _validate_parent_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_PARENT_ID_LENGTH:
        raise InvalidIdError("parent_id")
    return value


def _validate_limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}.")
    return value


def _validate_offset(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("offset must be a non-negative integer.")
    return value


def _validate_filter(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string.")
    return value


@dataclass(frozen=True)
class _Result:
    status: int
    body: Any
    request_id: str


# Shorter credential values (a type, a flag) are no secret, and removing them would garble the message.
MIN_SECRET_LENGTH = 8


def _credential_secrets(body: Any) -> list[str]:
    """Every string inside the ``credential`` of a request body (tokens, however the provider names them): an
    upstream that echoes one in its error must not get it shown, logged or stored in the audit log."""
    if not isinstance(body, dict):
        return []
    found, pending = [], [body.get("credential")]
    while pending:
        value = pending.pop()
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            found.append(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return sorted(found, key=len, reverse=True)  # longest first: a token inside another goes with it


def _too_large_message(limit: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= factor:
            size = f"{math.floor(limit / factor * 10) / 10:g} {unit}"
            break
    else:
        size = f"{limit} bytes"
    return f"The Aimable API sent an answer larger than the console accepts (over {size})."


def _transport_error(exc: requests.RequestException, request_id: str) -> AimableError:
    """The error for a request that got no HTTP answer."""
    if isinstance(exc, requests.Timeout):
        error: AimableError = UpstreamTimeoutError(request_id=request_id)
    elif isinstance(exc, requests.ConnectionError):
        error = UnavailableError(request_id=request_id)
    else:
        error = UnavailableError(request_id=request_id)
        error.retryable = False  # e.g. an invalid URL: repeating it cannot help
    error.__cause__ = exc
    return error


class AimableClient:
    """A client for one API key against one Aimable base URL.

    Every call is one logical operation with its own ``X-Request-ID`` (also in ``last_request_id`` and on
    every error), a total ``deadline`` covering retries, sleeps and reading the answers (cut to what is left of the
    page's budget, see :mod:`.deadlines`), answers of at most ``max_response_bytes`` once decoded, and retries only
    where repeating the request is safe (see :meth:`_should_retry`).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        auth_scheme: str = "bearer",
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        deadline: float = 15.0,
        max_retries: int = 2,
        backoff: float = 0.2,
        retry_after_cap: float = 5.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL.")
        base = base_url.rstrip("/")
        if base.endswith("/v1"):  # tolerate a base given with the version; paths add it themselves
            base = base[: -len("/v1")]
        # None means "no credentials": only for the unauthenticated health check.
        if api_key is not None and (not isinstance(api_key, str) or not _HEADER_SAFE.fullmatch(api_key)):
            raise InvalidApiKeyError()  # before any request: requests would fail on it, quoting the key
        if auth_scheme not in ("bearer", "x-api-key"):
            raise ValueError('auth_scheme must be "bearer" or "x-api-key".')
        if max_retries < 0:
            raise ValueError("max_retries must not be negative.")
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ValueError("max_response_bytes must be a positive integer.")
        self.base_url = base
        self._api_key = api_key
        self.auth_scheme = auth_scheme
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_retries = max_retries
        self.backoff = backoff
        self.retry_after_cap = retry_after_cap
        self.max_response_bytes = max_response_bytes
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self.last_request_id: str | None = None

    def __repr__(self) -> str:
        return f"<AimableClient base_url={self.base_url!r} auth_scheme={self.auth_scheme!r}>"

    # ----- spaces and collections -------------------------------------------------------------------

    def list_spaces(self) -> list[Space]:
        result = self._send("GET", "/v1/spaces")
        return self._parse(result, lambda body: [Space.from_api(o) for o in unwrap_list(body).items])

    def list_collections(self, space_id: str) -> list[Collection]:
        path = f"/v1/spaces/{validate_uuid(space_id, 'space_id')}/collections"
        result = self._send("GET", path)
        return self._parse(result, lambda body: [Collection.from_api(o) for o in unwrap_list(body).items])

    def collection_page(self, space_id: str, *, limit: int = 100, offset: int = 0) -> Page[Collection]:
        """One page of a space's collections, for callers that must see all of them (the background checks)."""
        path = f"/v1/spaces/{validate_uuid(space_id, 'space_id')}/collections"
        return self._get_page(path, Collection.from_api, limit=limit, offset=offset)

    # ----- connectors -------------------------------------------------------------------------------

    def list_connectors(
        self,
        space_id: str,
        collection_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        status: str | None = None,
        provider_slug: str | None = None,
    ) -> Page[Connector]:
        path = self._connectors_path(space_id, collection_id)
        filters = {
            "status": _validate_filter(status, "status"),
            "provider_slug": _validate_filter(provider_slug, "provider_slug"),
        }
        return self._get_page(path, Connector.from_api, limit=limit, offset=offset, filters=filters)

    def get_connector(self, space_id: str, collection_id: str, connector_id: str) -> Connector:
        result = self._send("GET", self._connectors_path(space_id, collection_id, connector_id))
        return self._parse(result, lambda body: Connector.from_api(unwrap_object(body)))

    def create_connector(
        self,
        space_id: str,
        collection_id: str,
        *,
        provider_slug: str,
        credential: dict[str, Any],
        scope_config: dict[str, Any] | None = None,
        idempotency_key: str,
    ) -> Connector:
        path = self._connectors_path(space_id, collection_id)
        if not isinstance(provider_slug, str) or not provider_slug:
            raise ValueError("provider_slug must be a non-empty string.")
        if not isinstance(credential, dict):
            raise ValueError("credential must be a dict.")
        if scope_config is not None and not isinstance(scope_config, dict):
            raise ValueError("scope_config must be a dict or None.")
        if (
            not isinstance(idempotency_key, str)
            or not _HEADER_SAFE.fullmatch(idempotency_key)
            or len(idempotency_key) > 255
        ):
            raise ValueError("idempotency_key must be 1 to 255 visible ASCII characters.")
        body: dict[str, Any] = {"provider_slug": provider_slug, "credential": credential}
        if scope_config is not None:
            body["scope_config"] = scope_config
        # Safe to retry only because every attempt carries the same Idempotency-Key.
        result = self._send("POST", path, json=body, headers={"Idempotency-Key": idempotency_key}, retry=True)
        return self._parse(result, lambda body: Connector.from_api(unwrap_object(body)))

    def update_connector(
        self,
        space_id: str,
        collection_id: str,
        connector_id: str,
        *,
        scope_config: dict[str, Any] | None = _UNSET,
        credential: dict[str, Any] = _UNSET,
        status: str = _UNSET,
    ) -> Connector:
        """PATCH only the fields given. Never retried: the API promises no idempotency for it."""
        path = self._connectors_path(space_id, collection_id, connector_id)
        body: dict[str, Any] = {}
        if scope_config is not _UNSET:
            if scope_config is not None and not isinstance(scope_config, dict):
                raise ValueError("scope_config must be a dict or None.")
            body["scope_config"] = scope_config
        if credential is not _UNSET:
            if not isinstance(credential, dict):
                raise ValueError("credential must be a dict.")
            body["credential"] = credential
        if status is not _UNSET:
            if not isinstance(status, str) or not status:
                raise ValueError("status must be a non-empty string.")
            body["status"] = status
        if not body:
            raise ValueError("update_connector needs at least one of scope_config, credential, status.")
        result = self._send("PATCH", path, json=body, retry=False)
        return self._parse(result, lambda body: Connector.from_api(unwrap_object(body)))

    def delete_connector(self, space_id: str, collection_id: str, connector_id: str) -> None:
        """Delete; a 404 on a retry counts as done (the first attempt may have deleted it)."""
        self._send(
            "DELETE",
            self._connectors_path(space_id, collection_id, connector_id),
            parse_body=False,
            not_found_on_retry_ok=True,
        )

    def browse(
        self,
        space_id: str,
        collection_id: str,
        connector_id: str,
        *,
        parent_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[BrowseItem]:
        path = self._connectors_path(space_id, collection_id, connector_id, "browse")
        parent = _validate_parent_id(parent_id)
        return self._get_page(path, BrowseItem.from_api, limit=limit, offset=offset, extra_params={"parent_id": parent})

    # ----- syncs ------------------------------------------------------------------------------------

    def list_syncs(
        self,
        space_id: str,
        collection_id: str,
        connector_id: str,
        *,
        limit: int = 20,
        offset: int = 0,
        status: str | None = None,
    ) -> Page[Sync]:
        path = self._connectors_path(space_id, collection_id, connector_id, "sync")
        filters = {"status": _validate_filter(status, "status")}
        return self._get_page(path, Sync.from_api, limit=limit, offset=offset, filters=filters)

    def trigger_sync(self, space_id: str, collection_id: str, connector_id: str) -> Sync:
        """Start a sync. Never retried: a lost answer must not start a second sync."""
        path = self._connectors_path(space_id, collection_id, connector_id, "sync")
        result = self._send("POST", path, retry=False)
        return self._parse(result, lambda body: Sync.from_api(unwrap_object(body)))

    def get_sync(self, space_id: str, collection_id: str, connector_id: str, sync_id: str) -> Sync:
        sync_segment = validate_token(sync_id, "sync_id")
        path = self._connectors_path(space_id, collection_id, connector_id, "sync", sync_segment)
        result = self._send("GET", path)
        return self._parse(result, lambda body: Sync.from_api(unwrap_object(body)))

    def cancel_sync(self, space_id: str, collection_id: str, connector_id: str) -> Sync | None:
        """Cancel the running sync; returns it when the API says which one, else None. Never retried."""
        path = self._connectors_path(space_id, collection_id, connector_id, "sync", "cancel")
        result = self._send("POST", path, retry=False, tolerate_non_json=True)
        if not isinstance(result.body, dict | list):
            return None
        try:
            obj = unwrap_object(result.body)
        except BadResponseError:
            return None
        if obj.get("id") is None and obj.get("sync_id") is None:
            return None  # e.g. {"detail": "cancelled"}: nothing to show but success
        return self._parse(result, lambda body: Sync.from_api(obj))

    # ----- housekeeping -----------------------------------------------------------------------------

    def check_key(self) -> None:
        """Raise :class:`AuthenticationError` if the key is rejected (any other failure raises as usual)."""
        self._send("GET", "/v1/spaces", parse_body=False)

    def health(self) -> dict[str, Any]:
        """``GET {base}/health``; a 200 that is not a JSON object still counts as healthy."""
        result = self._send("GET", "/health", tolerate_non_json=True)
        if isinstance(result.body, dict):
            return result.body
        return {"status": "ok"}

    # ----- internals --------------------------------------------------------------------------------

    def _connectors_path(self, space_id: str, collection_id: str, connector_id: str | None = None, *rest: str) -> str:
        space = validate_uuid(space_id, "space_id")
        collection = validate_uuid(collection_id, "collection_id")
        path = f"/v1/spaces/{space}/collections/{collection}/connectors"
        if connector_id is not None:
            path += "/" + quote(validate_token(connector_id, "connector_id"), safe="")
        for segment in rest:
            path += "/" + quote(segment, safe="")
        return path

    def _get_page(
        self,
        path: str,
        parser: Callable[[dict[str, Any]], T],
        *,
        limit: int,
        offset: int,
        filters: dict[str, str | None] | None = None,
        extra_params: dict[str, str | None] | None = None,
    ) -> Page[T]:
        params: dict[str, Any] = {"limit": _validate_limit(limit), "offset": _validate_offset(offset)}
        active_filters = {k: v for k, v in (filters or {}).items() if v is not None}
        params.update(active_filters)
        params.update({k: v for k, v in (extra_params or {}).items() if v is not None})
        result = self._send("GET", path, params=params)

        def build(body: Any) -> Page[T]:
            envelope = unwrap_list(body)
            # Never more rows than asked for, whatever the server sends: the rest are the next page's.
            items = [parser(obj) for obj in envelope.items[:limit]]
            sent_more = len(envelope.items) > limit
            # The server may ignore filters it does not know: apply them here as well.
            kept = [
                item for item in items if all(getattr(item, name) == value for name, value in active_filters.items())
            ]
            return Page(
                items=kept,
                limit=limit,
                offset=offset,
                total=envelope.total,
                next_cursor=envelope.next_cursor,
                has_more=True if sent_more else envelope.has_more,
                fetched=len(items),
                request_id=result.request_id,
            )

        return self._parse(result, build)

    def _parse(self, result: _Result, build: Callable[[Any], T]) -> T:
        try:
            return build(result.body)
        except BadResponseError as exc:
            exc.status = result.status
            exc.request_id = result.request_id
            raise

    def _headers(self, request_id: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, "X-Request-ID": request_id}
        if self._api_key is None:
            pass
        elif self.auth_scheme == "bearer":
            headers["Authorization"] = f"Bearer {self._api_key}"
        else:
            headers["X-API-Key"] = self._api_key
        return headers

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        retry: bool | None = None,
        parse_body: bool = True,
        tolerate_non_json: bool = False,
        not_found_on_retry_ok: bool = False,
    ) -> _Result:
        """One logical call: attempts (:meth:`_request_once`), the retry decision (:meth:`_should_retry`), the
        wait between attempts (:meth:`_sleep_time`) and the deadline over all of them (:meth:`_budget`)."""
        request_id = uuid.uuid4().hex
        self.last_request_id = request_id
        all_headers = {**self._headers(request_id), **(headers or {})}
        deadline_at = self._clock() + self._budget()
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline_at - self._clock()
            if remaining <= 0:
                raise self._deadline_error(request_id)
            try:
                response = self._request_once(
                    method,
                    path,
                    params=params,
                    json=json,
                    headers=all_headers,
                    remaining=remaining,
                    attempt=attempt,
                    request_id=request_id,
                )
            except requests.RequestException as exc:
                error = _transport_error(exc, request_id)
            else:
                if 200 <= response.status_code < 300:
                    return self._success(response, request_id, parse_body, tolerate_non_json)
                if not_found_on_retry_ok and attempt > 1 and response.status_code == 404:
                    return _Result(status=response.status_code, body=None, request_id=request_id)
                error = error_from_response(response, request_id=request_id)
                error.redact(self._api_key or "", *_credential_secrets(json))

            if not self._should_retry(error, attempt, method=method, retry=retry):
                raise error
            delay = self._sleep_time(error, attempt)
            if delay >= deadline_at - self._clock():
                if isinstance(error, RateLimitedError):
                    raise error
                raise self._deadline_error(request_id) from error
            self._sleep(delay)

    def _request_once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str],
        remaining: float,
        attempt: int,
        request_id: str,
    ) -> requests.Response:
        """One HTTP attempt within the ``remaining`` seconds of the deadline, reading the answer included (every
        socket read waits at most what is left), logged; transport failures raise."""
        session = self._session or shared_session()
        proxies, verify = _environment_settings(self.base_url)
        started = self._clock()
        with answer_deadline(remaining) as deadline:
            try:
                response = session.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
                    allow_redirects=False,  # a redirect would carry X-API-Key to wherever it points
                    proxies=proxies,
                    verify=verify,
                    stream=True,  # the body is read by _read_body: within the deadline and the size cap
                )
                self._read_body(response, deadline=deadline, request_id=request_id)
            except requests.RequestException as exc:
                self._log(method, path, type(exc).__name__, started, attempt, request_id)
                raise
            except BadResponseError:
                self._log(method, path, f"{response.status_code} too large", started, attempt, request_id)
                raise
        self._log(method, path, str(response.status_code), started, attempt, request_id)
        return response

    def _read_body(self, response: requests.Response, *, deadline: float, request_id: str) -> None:
        """Reads the body that ``stream=True`` left on the wire into ``response``: decoded, at most
        ``max_response_bytes``, and by ``deadline`` (time.monotonic()); otherwise the connection is dropped."""
        if response.raw is None:  # already read (a test double)
            return
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(_CHUNK_BYTES):  # decoded chunks; never more inflated at once
                size += len(chunk)
                if size > self.max_response_bytes:
                    message = _too_large_message(self.max_response_bytes)
                    raise BadResponseError(message, status=response.status_code, request_id=request_id)
                chunks.append(chunk)
                if time.monotonic() > deadline:  # each socket read stops there too (DeadlineAdapter)
                    raise requests.ReadTimeout("The answer did not arrive in time.", request=response.request)
        except BaseException as exc:
            response.close()  # part of an answer is left on the connection: never reuse it
            if isinstance(exc, requests.ConnectionError) and exc.args and isinstance(exc.args[0], ReadTimeoutError):
                # requests reports a read timeout in the body as a ConnectionError: it is a timeout all the same
                raise requests.ReadTimeout(*exc.args, request=exc.request) from exc
            raise
        response._content = b"".join(chunks)

    def _budget(self) -> float:
        """Seconds this call may take: its own deadline, or what is left of the page's budget if less."""
        page_left = page_time_left()
        return self.deadline if page_left is None else min(self.deadline, page_left)

    def _should_retry(self, error: AimableError, attempt: int, *, method: str, retry: bool | None) -> bool:
        """Whether to send the call again after ``attempt`` attempts failed with ``error``.

        Only calls safe to repeat (``retry``, by default GET and DELETE), only errors that may pass
        (connection errors, timeouts, 502/503/504, 429), at most ``max_retries`` times, and not when a 429 asks
        for a longer wait than ``retry_after_cap``.
        """
        if retry is None:
            retry = method in ("GET", "DELETE")
        if not (retry and error.retryable and attempt <= self.max_retries):
            return False
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after <= self.retry_after_cap
        return True

    def _sleep_time(self, error: AimableError, attempt: int) -> float:
        """Seconds to wait before the next attempt: the 429's Retry-After, else exponential backoff with jitter."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after
        return self.backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)  # noqa: S311

    def _success(
        self, response: requests.Response, request_id: str, parse_body: bool, tolerate_non_json: bool
    ) -> _Result:
        status = response.status_code
        if not parse_body or status == 204 or not response.content:
            return _Result(status=status, body=None, request_id=request_id)
        try:
            body = response.json()
        except ValueError:
            if tolerate_non_json:
                return _Result(status=status, body=None, request_id=request_id)
            raise BadResponseError(status=status, request_id=request_id) from None
        return _Result(status=status, body=body, request_id=request_id)

    @staticmethod
    def _deadline_error(request_id: str) -> UpstreamTimeoutError:
        return UpstreamTimeoutError("The Aimable API did not answer in time.", request_id=request_id)

    def _log(self, method: str, path: str, outcome: str, started: float, attempt: int, request_id: str) -> None:
        duration_ms = (self._clock() - started) * 1000
        logger.info(
            "aimable %s %s -> %s in %.0fms (attempt %d, request_id %s)",
            method,
            path,
            outcome,
            duration_ms,
            attempt,
            request_id,
            extra={
                "aimable_method": method,
                "aimable_path": path,
                "aimable_outcome": outcome,
                "aimable_duration_ms": round(duration_ms),
                "aimable_attempt": attempt,
                "aimable_request_id": request_id,
            },
        )
