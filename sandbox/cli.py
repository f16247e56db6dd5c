"""Command-line entry shared by `python -m sandbox` and `manage.py sandbox`."""

from __future__ import annotations

import argparse
import sys

from .seed import DEMO_ADMIN_KEY, DEMO_LIMITED_KEY, DEMO_SPACE_ID, OTHER_SPACE_ID
from .server import SandboxServer, is_loopback


def oauth_client(value: str) -> tuple[str, str]:
    client_id, sep, redirect_uri = value.partition("=")
    if not sep or not client_id or not redirect_uri:
        raise argparse.ArgumentTypeError(f"expected CLIENT_ID=REDIRECT_URI, not {value!r}")
    return client_id, redirect_uri


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; loopback only)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host beyond loopback: whoever reaches the sandbox can read the credentials it stores",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--latency-ms", type=int, default=0, help="added latency for every /v1 request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of /v1 requests answered 503")
    parser.add_argument("--sync-seconds", type=float, default=20.0, help="how long a simulated sync runs")
    parser.add_argument("--fail-rate", type=float, default=0.15, help="fraction of syncs that fail")
    parser.add_argument("--no-seed", action="store_true", help="start without the demo connectors and syncs")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    parser.add_argument(
        "--oauth-client",
        action="append",
        type=oauth_client,
        default=[],
        metavar="CLIENT_ID=REDIRECT_URI",
        help="register an OAuth client's redirect URI with the sandbox's OAuth provider (repeat for more)",
    )


def build(options: dict) -> SandboxServer:
    oauth_clients: dict[str, list[str]] = {}
    for client_id, redirect_uri in options.get("oauth_client") or []:
        oauth_clients.setdefault(client_id, []).append(redirect_uri)
    return SandboxServer(
        options["host"],
        options["port"],
        seed=not options["no_seed"],
        quiet=options.get("quiet", False),
        allow_remote=options.get("allow_remote", False),
        oauth_clients=oauth_clients,
        latency_ms=options["latency_ms"],
        error_rate=options["error_rate"],
        sync_seconds=options["sync_seconds"],
        fail_rate=options["fail_rate"],
    )


_REMOTE_WARNING = "  WARNING      not on loopback only: whoever reaches it can read the credentials it stores"


def banner(server: SandboxServer) -> str:
    remote = not is_loopback(server.httpd.server_address[0])
    return "\n".join(
        [
            f"Aimable sandbox listening on {server.url}",
            *([_REMOTE_WARNING] if remote else []),
            f"  base URL     {server.url}   (clients append /v1/...)",
            f"  admin key    {DEMO_ADMIN_KEY}   (all spaces)",
            f"  limited key  {DEMO_LIMITED_KEY}   (space {DEMO_SPACE_ID} only, not {OTHER_SPACE_ID})",
            f"  control API  {server.url}/_sandbox/  (faults, rules, requests, reset, keys)",
            "Press Ctrl+C to stop.",
        ]
    )


def run(options: dict, out=None) -> None:
    out = out or sys.stdout
    try:
        server = build(options)
    except ValueError as exc:  # RemoteBindRefused, or a redirect URI that is not one
        raise SystemExit(f"sandbox: {exc}") from None
    out.write(banner(server) + "\n")
    out.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.write("Sandbox stopped.\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Aimable API sandbox")
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))
