"""An encrypted text field: MultiFernet keyed by settings.FIELD_ENCRYPTION_KEYS (first encrypts, all decrypt)."""

import threading
import time
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key (a key was retired too early)."""


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes); "
            "make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret cannot be decrypted with the configured keys") from None


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the newest key."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret cannot be decrypted with the configured keys") from None


# Stored secrets read again within a minute are not decrypted again: every request reads its user's API key, and
# Fernet's HMAC and AES cost about as much as the query. Keyed by the stored token itself (a new value, even the same
# secret saved again, is a new token) and by the configured keys (once a key is retired, tokens are decrypted, or
# refused, afresh); the database still holds tokens only. A plaintext is served from this process-local memo for
# DECRYPTED_SECONDS after it was decrypted, and dropped at the next decryption after that.
DECRYPTED_SECONDS = 60
DECRYPTED_MAX = 512
_decrypted: dict[tuple, tuple[str, float]] = {}
_decrypted_lock = threading.Lock()


def decrypt_stored(token: str) -> str:
    memo_key, now = (token, tuple(settings.FIELD_ENCRYPTION_KEYS)), time.monotonic()
    hit = _decrypted.get(memo_key)
    if hit is not None and hit[1] > now:
        return hit[0]
    plaintext = decrypt(token)
    with _decrypted_lock:
        for expired in [k for k, (_, until) in _decrypted.items() if until <= now]:
            del _decrypted[expired]
        if len(_decrypted) >= DECRYPTED_MAX:
            _decrypted.clear()
        _decrypted[memo_key] = (plaintext, now + DECRYPTED_SECONDS)
    return plaintext


class EncryptedTextField(models.TextField):
    """Holds a secret; the database only ever sees the Fernet token.

    Reading a value that no configured key can decrypt gives ``None`` rather than crashing a page: callers treat
    it as "no secret stored" and ask the user to enter it again.
    """

    description = "Text encrypted with Fernet"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        try:
            return decrypt_stored(value)
        except DecryptionError:
            return None

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
