"""The Aimable API error hierarchy, mapped from HTTP responses in one place.

Every error's ``str()`` is safe to show a user: it never carries request headers (so never the API key)
and at most a short, sanitized snippet of a non-JSON body.
"""

from __future__ import annotations

import dataclasses
import email.utils
import html
import re
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import requests

__all__ = [
    "AimableError",
    "AuthenticationError",
    "BadResponseError",
    "ConflictError",
    "FieldError",
    "IdempotencyKeyReusedError",
    "InPlaceError",
    "InvalidApiKeyError",
    "InvalidIdError",
    "NotFoundError",
    "PageError",
    "PermissionDeniedError",
    "RateLimitedError",
    "TransientError",
    "UnavailableError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "ValidationError",
    "error_from_response",
    "parse_retry_after",
]

# Upstream text shown to users is cut to this length.
MAX_MESSAGE_LENGTH = 300
MAX_SNIPPET_LENGTH = 120

_LOCATION_PREFIXES = frozenset({"body", "query", "path", "header", "cookie"})
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


class InvalidIdError(ValueError):
    """A path or query identifier failed validation; no request was made.

    A ``ValueError`` (not an ``AimableError``) on purpose: it is the caller's input that is wrong, so views
    answer 404/400 instead of an "Aimable is unhappy" message. The offending value is never echoed.
    """

    def __init__(self, field: str, reason: str = "is not a valid identifier") -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field} {reason}.")


@dataclass(frozen=True)
class FieldError:
    """One item of a FastAPI 422 ``detail`` list."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = ""

    @property
    def location(self) -> str | None:
        """``body``, ``query``, ``path`` or ``header`` when the API says so."""
        if self.loc and self.loc[0] in _LOCATION_PREFIXES:
            return str(self.loc[0])
        return None

    @property
    def field_path(self) -> tuple[str | int, ...]:
        """The loc without its location prefix, e.g. ``("scope_config", "folder_ids")``."""
        return self.loc[1:] if self.location else self.loc

    @property
    def field(self) -> str:
        """Dotted field path, e.g. ``scope_config.folder_ids``; ``""`` for a whole-body error."""
        return ".".join(str(part) for part in self.field_path)

    def __str__(self) -> str:
        return f"{self.field}: {self.msg}" if self.field else self.msg


class AimableError(Exception):
    """Base class for every failure talking to the Aimable API."""

    retryable: bool = False
    default_message = "The Aimable API returned an error."

    def __init__(self, message: str | None = None, *, status: int | None = None, request_id: str | None = None) -> None:
        self.message = message or self.default_message
        self.status = status
        self.request_id = request_id
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status={self.status!r}, request_id={self.request_id!r})"
        )

    def reword(self, message: str) -> AimableError:
        """Say what went wrong in the console's words (e.g. which object is missing); returns the error."""
        self.message = message
        self.args = (message,)
        return self

    def redact(self, *secrets: str) -> None:
        """Remove each of ``secrets`` from the message, in case the upstream echoed one back."""
        message = _redact(self.message, secrets)
        if message != self.message:
            self.message = message
            self.args = (message,)


# The one distinction views act on. A view catches ``InPlaceError`` when it can show the failure where it happened
# (a 422 on its field, a 409, a banner with "Try again") and never catches ``PageError``:
# connectors.middleware renders those, and any InPlaceError a view did not catch, the same way on every page.


class PageError(AimableError):
    """The whole page cannot be shown: the key, the permission or the object is wrong. Never caught by views."""


class InPlaceError(AimableError):
    """A failure the page can show in place: on a form field, as a notice, or as a banner with "Try again"."""


class TransientError(InPlaceError):
    """Aimable is down, slow, overloaded or answered nonsense: asking again later may work."""


class AuthenticationError(PageError):
    default_message = "The Aimable API rejected the API key."


class InvalidApiKeyError(AuthenticationError, ValueError):
    """The key has a character no API key has (a space, an accent, an invisible one): refused before any request,
    since a header cannot carry it. Shown like a rejected key, with the way to store another; the key is never echoed.
    """

    default_message = (
        "The stored API key has a character an API key cannot have (a space, an accent or an invisible character, "
        "often copied along with it), so it was not sent. Store the key again."
    )


class PermissionDeniedError(PageError):
    default_message = "The API key has no permission for this space or collection."


class NotFoundError(PageError):
    default_message = "Not found on the Aimable API."


class ConflictError(InPlaceError):
    default_message = "The request conflicts with the current state on the Aimable API."


class IdempotencyKeyReusedError(ConflictError):
    """The Idempotency-Key was already used with a different request (IETF draft: 422; older servers: 409)."""

    default_message = "This form was already sent once with other values."


class ValidationError(InPlaceError):
    """422: ``errors`` holds one :class:`FieldError` per offending parameter."""

    default_message = "The Aimable API rejected the request as invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        status: int | None = 422,
        request_id: str | None = None,
    ) -> None:
        self.errors = list(errors or [])
        super().__init__(message, status=status, request_id=request_id)

    def redact(self, *secrets: str) -> None:
        super().redact(*secrets)
        # The field errors are shown on the form's fields: the same secrets go from them too.
        self.errors = [
            dataclasses.replace(
                error,
                loc=tuple(_redact(part, secrets) if isinstance(part, str) else part for part in error.loc),
                msg=_redact(error.msg, secrets),
            )
            for error in self.errors
        ]


class RateLimitedError(TransientError):
    retryable = True
    default_message = "The Aimable API is rate limiting requests; try again shortly."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        request_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, request_id=request_id)


class UpstreamError(TransientError):
    """5xx or any unexpected status. 502/503/504 are retryable (gateway trouble), 500 is not."""

    default_message = "The Aimable API had a problem handling the request."
    RETRYABLE_STATUSES = frozenset({502, 503, 504})

    def __init__(self, message: str | None = None, *, status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message, status=status, request_id=request_id)
        self.retryable = status in self.RETRYABLE_STATUSES


class UnavailableError(TransientError):
    """The API could not be reached: connection refused, DNS, TLS, timeouts, deadline exceeded."""

    retryable = True
    default_message = "The Aimable API could not be reached."


class UpstreamTimeoutError(UnavailableError, TimeoutError):
    default_message = "The Aimable API did not answer in time."


class BadResponseError(TransientError):
    """A success status with a body that is not JSON or not the expected shape."""

    default_message = "The Aimable API returned a response the console could not read."


_STATUS_CLASSES: dict[int, type[AimableError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_from_response(response: requests.Response, *, request_id: str | None) -> AimableError:
    """Map an unsuccessful (or unreadable) response to the matching :class:`AimableError`."""
    status = response.status_code
    body, is_json = _decode_body(response)
    message = _message_from_body(body) if is_json else None
    if message and (status == 429 or status >= 500) and _is_reason_phrase(message, status):
        message = None  # {"detail": "Internal Server Error"} says nothing the clearer default does not
    cls = _STATUS_CLASSES.get(status)

    if cls in (ConflictError, ValidationError) and _is_idempotency_reuse(message):
        return IdempotencyKeyReusedError(message, status=status, request_id=request_id)
    if cls is ValidationError:
        errors = _field_errors(body) if is_json else []
        return ValidationError(message, errors=errors, status=status, request_id=request_id)
    if cls is RateLimitedError:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if message is None and retry_after:
            message = f"The Aimable API is rate limiting requests; try again in {max(1, round(retry_after))} s."
        return RateLimitedError(message, retry_after=retry_after, status=status, request_id=request_id)
    if cls is not None:
        return cls(message, status=status, request_id=request_id)

    if message is None:
        snippet = None if is_json else _snippet(response)
        message = _fallback_message(status, snippet)
    return UpstreamError(message, status=status, request_id=request_id)


_IDEMPOTENCY_REUSE = re.compile(r"idempotency.?key.*(different|another|reuse|already used|mismatch)", re.IGNORECASE)


def _is_idempotency_reuse(message: str | None) -> bool:
    """A key sent again with another body: 422 in the IETF Idempotency-Key draft, 409 on older servers. A 409 that
    does not say so is the other case the draft names: a request with the same key still in progress."""
    return bool(message and _IDEMPOTENCY_REUSE.search(message))


# The longest wait a Retry-After can ask for: an upstream asking for "inf" or the year 9999 gets this instead, so the
# number stays finite (an int for our own Retry-After header, a readable "try again in ... s").
MAX_RETRY_AFTER = 3600.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date, from 0 to
    :data:`MAX_RETRY_AFTER`; ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, IndexError, OverflowError, AttributeError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _decode_body(response: requests.Response) -> tuple[Any, bool]:
    if not response.content:
        return None, False
    try:
        return response.json(), True
    except ValueError:
        return None, False


def _message_from_body(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    if detail is None:
        detail = body.get("message") or body.get("error")
        if isinstance(detail, dict):
            detail = detail.get("message")
    if isinstance(detail, str):
        return _clean(detail, MAX_MESSAGE_LENGTH) or None
    if isinstance(detail, list):
        parts = [str(err) for err in _parse_field_errors(detail)]
        joined = "; ".join(part for part in parts if part)
        return _clean(joined, MAX_MESSAGE_LENGTH) or None
    return None


def _field_errors(body: Any) -> list[FieldError]:
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return _parse_field_errors(body["detail"])
    return []


def _parse_field_errors(items: list[Any]) -> list[FieldError]:
    # Only loc/msg/type are kept: FastAPI's "input" may echo a submitted credential.
    errors = []
    for item in items:
        if isinstance(item, dict):
            raw_loc = item.get("loc")
            loc_items = raw_loc if isinstance(raw_loc, list | tuple) else ([raw_loc] if raw_loc else [])
            loc = tuple(part if isinstance(part, int) else _clean(str(part), 100) for part in loc_items)
            msg = _clean(str(item.get("msg") or "Invalid value"), MAX_MESSAGE_LENGTH)
            errors.append(FieldError(loc=loc, msg=msg, type=_clean(str(item.get("type") or ""), 100)))
        elif isinstance(item, str):
            errors.append(FieldError(loc=(), msg=_clean(item, MAX_MESSAGE_LENGTH)))
    return errors


def _snippet(response: requests.Response) -> str | None:
    """A short readable hint from a non-JSON body: an HTML page's <title>, or the start of plain text."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return None
    if not text:
        return None
    match = _TITLE.search(text)
    if match:
        text = match.group(1)
    elif "<" in text and ">" in text:
        return None  # markup without a title: nothing short and trustworthy to show
    text = html.unescape(_TAG.sub(" ", text))
    return _clean(text, MAX_SNIPPET_LENGTH) or None


def _is_reason_phrase(message: str, status: int) -> bool:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return False
    return message.strip().rstrip(".").lower() == phrase.lower()


def _fallback_message(status: int, snippet: str | None) -> str:
    if 500 <= status < 600:
        base = f"The Aimable API had a problem (HTTP {status})"
    elif 300 <= status < 400:
        base = f"The Aimable API answered with an unexpected redirect (HTTP {status})"
    else:
        base = f"The Aimable API returned an unexpected status (HTTP {status})"
    return f"{base}: {snippet}" if snippet else f"{base}."


def _clean(text: str, limit: int) -> str:
    text = " ".join(_CONTROL_CHARS.sub(" ", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


# The shortest start of a secret removed where the length limit cut the secret off ("… ghp_ab…").
_MIN_CUT_SECRET = 4


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if not secret:
            continue
        text = text.replace(secret, "[redacted]")
        if text.endswith("…"):  # _clean cut the text: the secret's start may be left just before the "…"
            kept = text[:-1]
            cut = next(
                (n for n in range(min(len(secret), len(kept)), _MIN_CUT_SECRET - 1, -1) if kept.endswith(secret[:n])), 0
            )
            if cut:
                text = kept[:-cut] + "[redacted]…"
    return text
