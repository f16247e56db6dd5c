"""The Aimable API client: the only package that knows the upstream's URLs, headers, retries and errors."""

from .client import USER_AGENT, AimableClient, shared_session, validate_token, validate_uuid
from .deadlines import upstream_budget
from .errors import (
    AimableError,
    AuthenticationError,
    BadResponseError,
    ConflictError,
    FieldError,
    InvalidIdError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    ValidationError,
    error_from_response,
)
from .types import TERMINAL_SYNC_STATUSES, BrowseItem, Collection, Connector, Page, Space, Sync

__all__ = [
    "TERMINAL_SYNC_STATUSES",
    "USER_AGENT",
    "AimableClient",
    "AimableError",
    "AuthenticationError",
    "BadResponseError",
    "BrowseItem",
    "Collection",
    "ConflictError",
    "Connector",
    "FieldError",
    "InvalidIdError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitedError",
    "Space",
    "Sync",
    "UnavailableError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "ValidationError",
    "error_from_response",
    "shared_session",
    "upstream_budget",
    "validate_token",
    "validate_uuid",
]
