"""The client's address behind the PaaS proxy (for login throttling), and the OAuth origins forms may post to."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from . import oauth
from .providers import PROVIDERS


def client_ip(request) -> str:
    """The address of whoever connected to the first trusted proxy.

    Each of the TRUSTED_PROXY_COUNT proxies appends the address it saw to X-Forwarded-For, so the client's is the
    TRUSTED_PROXY_COUNT-th entry from the right; entries further left were sent by the client and could be anything.
    (django-ipware counts differently: it expects client *and* proxies in the header, and finds nothing behind a
    router that appends only the client, which is what a PaaS router does.)
    """
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR", "")
    if count <= 0:
        return remote
    entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if not entries:
        return remote
    candidate = entries[-count] if len(entries) >= count else entries[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def oauth_form_action_sources() -> list[str]:
    """Origins of the configured providers' authorize URLs, exactly: the "Connect" and "Reconnect" forms post to the
    console, which redirects there, and browsers check form-action on the redirect too. No wildcard subdomains: a
    form on a console page may lead to the providers' sign-in pages and nowhere else under their domains."""
    sources = []
    for slug in PROVIDERS:
        config = oauth.config_for(slug)
        if config is None:
            continue
        parts = urlsplit(config.authorize_url)
        if parts.scheme in ("http", "https") and parts.hostname:
            sources.append(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")
    return list(dict.fromkeys(sources))
