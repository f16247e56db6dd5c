"""Idempotency tokens for create forms: a signed, per-user token carries the Idempotency-Key the form was made with,
so that a double click, a resubmit after a timeout or going back and submitting again creates exactly one connector.
"""

import uuid

from django.core import signing

_SALT = "connectors.create.idempotency"
MAX_AGE_SECONDS = 60 * 60 * 24


def sign_idempotency_key(user) -> str:
    """A new token for ``user``, holding a fresh key."""
    return signing.dumps({"k": uuid.uuid4().hex, "u": user.pk}, salt=_SALT, compress=False)


def unsign_idempotency_key(token: str, user, max_age: int = MAX_AGE_SECONDS) -> str | None:
    """The key inside ``token``; ``None`` when it is forged, expired or another user's."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if data.get("u") != user.pk or not isinstance(data.get("k"), str):
        return None
    return data["k"]


def new_idempotency_token(user) -> tuple[str, str]:
    """A fresh (token, key) pair."""
    token = sign_idempotency_key(user)
    return token, unsign_idempotency_key(token, user)
