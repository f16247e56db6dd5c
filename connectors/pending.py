"""Secrets a user typed (or an OAuth flow captured) that must survive a failed try, kept server-side.

They live in the user's session, encrypted with the field keys, never in a page or a URL.
"""

import json

from .fields import DecryptionError, decrypt, encrypt

_SESSION_KEY = "pending_credentials"
_MAX_KEPT = 5


def keep(request, key: str, credential: dict) -> None:
    kept = dict(request.session.get(_SESSION_KEY, {}))
    kept.pop(key, None)
    kept[key] = encrypt(json.dumps(credential))
    while len(kept) > _MAX_KEPT:  # oldest first (dicts keep insertion order)
        kept.pop(next(iter(kept)))
    request.session[_SESSION_KEY] = kept


def get(request, key: str) -> dict | None:
    token = request.session.get(_SESSION_KEY, {}).get(key)
    if not token:
        return None
    try:
        return json.loads(decrypt(token))
    except (DecryptionError, ValueError):
        return None


def drop(request, key: str) -> None:
    kept = dict(request.session.get(_SESSION_KEY, {}))
    if kept.pop(key, None) is not None:
        request.session[_SESSION_KEY] = kept


def masked(credential: dict | None) -> str:
    token = (credential or {}).get("access_token") or ""
    return f"••••{token[-4:]}" if len(token) >= 8 else ("••••" if token else "")


SECRET_FIELDS = ("access_token", "refresh_token")
_MAX_SECRET_LENGTH = 4096


def keep_typed(request, key: str, data, kept: dict | None = None) -> dict:
    """Password inputs are never echoed back: keep what was typed in them (over what was kept before) for the
    form's next try. Returns the credential now kept (empty when there is none)."""
    typed = {
        name: value for name in SECRET_FIELDS if 0 < len(value := (data.get(name) or "").strip()) <= _MAX_SECRET_LENGTH
    }
    credential = {**(kept or {}), **typed}
    if credential:
        keep(request, key, credential)
    return credential
