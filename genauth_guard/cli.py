"""The ``genauth-guard`` command line: ``issuer`` (a local development issuer)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

__all__ = ["main"]


def _parse_client(value: str) -> tuple[str, str, list[str]]:
    """``ID:SECRET:SCOPE[,SCOPE...]``; scopes themselves contain ``:`` (``order:read``)."""
    client_id, sep, rest = value.partition(":")
    secret, _, scopes = rest.partition(":")
    if not sep or not client_id or not secret:
        raise argparse.ArgumentTypeError(f"expected ID:SECRET:SCOPE[,SCOPE...], got {value!r}")
    return client_id, secret, [s for s in scopes.split(",") if s]


def _cmd_issuer(args: argparse.Namespace) -> int:
    from .testing import LocalIssuer

    try:
        issuer = LocalIssuer(
            audience=args.audience,
            host=args.host,
            port=args.port,
            allow_non_loopback=args.host is not None and args.host != "127.0.0.1",
            token_ttl=args.token_ttl,
            rfc9068=args.rfc9068,
        )
    except ValueError as exc:
        print(f"genauth-guard issuer: {exc}", file=sys.stderr)
        return 2
    for client_id, secret, scopes in args.client:
        issuer.add_client(client_id, secret, scopes)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with issuer:
        print("genauth-guard local issuer: FOR DEVELOPMENT ONLY, keys live in memory.")
        print(
            json.dumps(
                {
                    "issuer": issuer.issuer,
                    "discovery": issuer.discovery_url,
                    "jwks_uri": issuer.jwks_uri,
                    "token_endpoint": issuer.token_endpoint,
                    "audience": issuer.audience,
                    "clients": {c.client_id: list(c.scopes) for c in issuer.clients.values()},
                },
                indent=2,
            ),
            flush=True,
        )
        stop.wait()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genauth-guard", description="GenAuth / OIDC bearer tokens for Python APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    issuer = commands.add_parser("issuer", help="run a local OIDC issuer (development only)")
    issuer.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (loopback only unless another host is named explicitly)",
    )
    issuer.add_argument("--port", type=int, default=9000)
    issuer.add_argument("--audience", default="local-api", help="the tokens' aud claim")
    issuer.add_argument(
        "--client",
        type=_parse_client,
        action="append",
        default=[],
        metavar="ID:SECRET:SCOPE[,SCOPE...]",
        help="a client (repeatable)",
    )
    issuer.add_argument("--token-ttl", type=int, default=3600, help="token lifetime, seconds")
    issuer.add_argument("--rfc9068", action="store_true", help="issue RFC 9068 at+jwt tokens")
    issuer.set_defaults(run=_cmd_issuer)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
