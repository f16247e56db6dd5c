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
