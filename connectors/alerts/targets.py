"""Where the console may send alerts: refuses URLs that would reach inside its own network (SSRF).

In production a receiver is an ``https://`` URL whose host resolves to public addresses only; a Slack target is an
``https://hooks.slack.com/`` URL. ``settings.ALERTS_ALLOW_PRIVATE_URLS`` (tests, receivers inside a private network)
also allows ``http://`` and private or loopback addresses. The check runs when a channel is added and again before
every send (DNS may have changed); the webhook sender also checks the address it actually connected to
(``checked_session``), so a name that resolves differently a moment later cannot slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

SLACK_HOST = "hooks.slack.com"
MAX_URL_LENGTH = 2000
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_UNSAFE_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")


class TargetRefused(Exception):
    """A URL the console will not send to; ``message`` is fit for a form error and free of the URL's secret parts."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def private_allowed() -> bool:
    return bool(settings.ALERTS_ALLOW_PRIVATE_URLS)


def address_refusal(address: str) -> str | None:
    """Why ``address`` (an IP) is not a public one, or ``None`` when it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local IPv6 may carry a zone ("%eth0")
    except ValueError:
        return "it is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 and 64:ff9b::a00:1 (NAT64) reach the IPv4 address they embed.
        embedded = ip.ipv4_mapped or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in ipaddress.IPv6Network("64:ff9b::/96") else None
        )
        if embedded is not None:
            ip = embedded
    if ip.is_loopback:
        return "it is a loopback address"
    if ip.is_unspecified:
        return "it is an unspecified address"
    if ip.is_link_local:
        return "it is a link-local address"
    if ip.is_multicast:
        return "it is a multicast address"
    if ip.is_reserved:
        return "it is a reserved address"
    if ip.is_private:
        return "it is a private address"
    if not ip.is_global:
        return "it is not a public address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to stay off the network)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def check_url(url: str, *, slack: bool = False) -> str:
    """Returns ``url`` when the console may send to it, else raises ``TargetRefused`` with the reason."""
    url = (url or "").strip()
    if not url:
        raise TargetRefused("Enter a URL.")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"This URL is too long (at most {MAX_URL_LENGTH} characters).")
    if _UNSAFE_CHARACTERS.search(url):
        raise TargetRefused("A URL has no spaces or line breaks; paste it again.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("This is not a valid URL.") from None
    allow_private = private_allowed()
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        if parts.scheme.lower() == "http":
            raise TargetRefused("Use an https:// URL: alerts must not travel unencrypted.")
        raise TargetRefused("Enter a full URL starting with https://.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Leave the user name and password out of the URL.")
    host = parts.hostname.rstrip(".")
    if slack and not allow_private and (host != SLACK_HOST or parts.path in ("", "/")):
        raise TargetRefused(f"Use the Slack incoming webhook URL: it starts with https://{SLACK_HOST}/services/.")
    if allow_private:
        return url
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise TargetRefused(f"{host} is this machine: the console only sends alerts to public addresses.")
    try:
        addresses = resolve(host, port or 443)
    except (OSError, UnicodeError):
        raise TargetRefused(f"The host {host} could not be found; check the URL.") from None
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise TargetRefused(
                f"{host} points to {address}, and {reason}: the console only sends alerts to public addresses."
            )
    if not addresses:
        raise TargetRefused(f"The host {host} could not be found; check the URL.")
    return url


def _check_peer(sock: socket.socket) -> None:
    if private_allowed():
        return
    address = sock.getpeername()[0]
    reason = address_refusal(address)
    if reason:
        sock.close()
        raise TargetRefused(f"The receiver's address {address} was refused: {reason}.")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}


def checked_session() -> requests.Session:
    """A requests session that refuses to talk to a non-public address it connected to (unless private targets are
    allowed). It ignores proxy variables: behind a proxy the address checked would be the proxy's."""
    session = requests.Session()
    session.trust_env = False
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def mask_url(url: str) -> str:
    """A URL safe to show: the host and port only, plus the last four characters of a Slack URL to tell two
    apart."""
    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname or ""
    except ValueError:
        host = ""
    if not host:
        return "…"
    if host == SLACK_HOST:
        tail = url.strip().rstrip("/")[-4:]
        return f"{SLACK_HOST}/…/{tail}"
    try:
        port = f":{parts.port}" if parts.port else ""  # a wrong port is a common mistake: keep it visible
    except ValueError:
        port = ""
    return f"{parts.scheme.lower()}://{host}{port}/…"


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every URL and every given secret (and each URL's path and query alone: requests' errors quote
    them apart from the host) replaced by a mask."""
    text = str(text or "")
    pieces: list[tuple[str, str]] = []
    for secret in secrets:
        if not secret:
            continue
        pieces.append((secret, mask_url(secret) if "://" in secret else "…"))
        try:
            parts = urlsplit(secret)
        except ValueError:
            continue
        for piece in (parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query):
            if len(piece) > 1:
                pieces.append((piece, "/…"))
    for piece, mask in sorted(pieces, key=lambda p: -len(p[0])):
        text = text.replace(piece, mask)
    return re.sub(r"https?://[^\s'\"<>]+", lambda m: mask_url(m.group(0)), text)
