"""Builds the Aimable client for a signed-in user, with that user's own key and the console's settings."""

from django.conf import settings
from django.utils.crypto import salted_hmac

from .aimable import errors
from .aimable.client import AimableClient
from .principal import stored_key


def credential_fingerprint(secret: str, auth_scheme: str, *, version: str = "") -> str:
    """Names a credential in cache keys without revealing it: one key's responses are never served to another.
    ``version`` names the stored key (its row, and when it was saved): once a key is replaced or removed, even by
    the same value typed again, nothing read with it before is served from the cache."""
    return salted_hmac("connectors.selectors.credential", f"{version}:{auth_scheme}:{secret}").hexdigest()[:32]


class ApiKeyMissing(Exception):
    """The user has no usable Aimable API key stored."""


def client_with_key(secret: str | None, auth_scheme: str) -> AimableClient:
    return AimableClient(
        settings.AIMABLE_API_URL,
        secret,
        auth_scheme=auth_scheme,
        connect_timeout=settings.AIMABLE_CONNECT_TIMEOUT,
        read_timeout=settings.AIMABLE_READ_TIMEOUT,
        deadline=settings.AIMABLE_DEADLINE,
        max_retries=settings.AIMABLE_MAX_RETRIES,
        max_response_bytes=settings.AIMABLE_MAX_RESPONSE_BYTES,
    )


def client_for(user) -> AimableClient:
    key = stored_key(user)
    if key is None or not key.usable:
        raise ApiKeyMissing()
    client = client_with_key(key.secret, key.auth_scheme)
    # Cache keys of reads made with this client include it: one user's responses are never served to another.
    client.cache_fingerprint = credential_fingerprint(key.secret, key.auth_scheme, version=key.version)
    return client


def client_or_none(user) -> AimableClient | None:
    """The user's client, or ``None`` without a usable key (none stored, or one no request can carry): for a page
    that works without one (the audit log)."""
    try:
        return client_for(user)
    except (ApiKeyMissing, errors.AuthenticationError):
        return None


# /healthz answers the platform's health check within its timeout even when the upstream hangs: the upstream is
# only reported there, so one short try is enough.
HEALTH_CHECK_SECONDS = 2.0


def anonymous_client() -> AimableClient:
    """For /healthz: the health endpoint needs no key; one try, never longer than HEALTH_CHECK_SECONDS."""
    return AimableClient(
        settings.AIMABLE_API_URL,
        None,
        connect_timeout=min(settings.AIMABLE_CONNECT_TIMEOUT, HEALTH_CHECK_SECONDS),
        read_timeout=min(settings.AIMABLE_READ_TIMEOUT, HEALTH_CHECK_SECONDS),
        deadline=min(settings.AIMABLE_DEADLINE, HEALTH_CHECK_SECONDS),  # reading the answer included
        max_retries=0,
        max_response_bytes=settings.AIMABLE_MAX_RESPONSE_BYTES,
    )
