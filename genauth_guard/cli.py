"""The ``genauth-guard`` command line.

``issuer`` runs a local development issuer; ``token`` gets an access token with the
client_credentials grant (RFC 6749 section 4.4); ``verify`` checks one as an API would.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._client import AuthMethod

__all__ = ["main"]


def _id_secret_list(value: str, form: str) -> tuple[str, str, list[str]]:
    """``ID:SECRET:ITEM[,ITEM...]``; items themselves may contain ``:`` (``order:read``)."""
    first, sep, rest = value.partition(":")
    second, _, items = rest.partition(":")
    if not sep or not first or not second:
        raise argparse.ArgumentTypeError(f"expected {form}, got {value!r}")
    return first, second, [item for item in items.split(",") if item]


def _parse_client(value: str) -> tuple[str, str, list[str]]:
    """``ID:SECRET:SCOPE[,SCOPE...]``; scopes themselves contain ``:`` (``order:read``)."""
    return _id_secret_list(value, "ID:SECRET:SCOPE[,SCOPE...]")


def _parse_role(value: str) -> tuple[str, list[str]]:
    """``CODE:PERMISSION[,PERMISSION...]``, e.g. ``order-admin:order:read,order:write``."""
    code, sep, permissions = value.partition(":")
    if not sep or not code or not permissions:
        raise argparse.ArgumentTypeError(f"expected CODE:PERMISSION[,PERMISSION...], got {value!r}")
    return code, [p for p in permissions.split(",") if p]


def _parse_user(value: str) -> tuple[str, str, list[str]]:
    """``ID:PASSWORD[:ROLE[,ROLE...]]``: a user for the password grant, with role codes."""
    return _id_secret_list(value, "ID:PASSWORD[:ROLE[,ROLE...]]")


def _cmd_issuer(args: argparse.Namespace) -> int:
    from .testing import LocalIssuer

    try:
        issuer = LocalIssuer(
            audience=args.audience,
            host=args.host,
            port=args.port,
            allow_non_loopback=args.host != "127.0.0.1",  # an explicit --host is a choice
            token_ttl=args.token_ttl,
            rfc9068=args.rfc9068,
        )
    except ValueError as exc:
        print(f"genauth-guard issuer: {exc}", file=sys.stderr)
        return 2
    for client_id, secret, scopes in args.client:
        issuer.add_client(client_id, secret, scopes)
    try:
        for code, permissions in args.role:
            issuer.add_role(code, permissions=permissions)
        for user_id, password, roles in args.user:
            issuer.add_user(user_id, password, roles=roles)
    except ValueError as exc:
        print(f"genauth-guard issuer: {exc}", file=sys.stderr)
        return 2
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
                    "roles": {r.code: sorted(r.permissions) for r in issuer.access.roles.values()},
                    "users": {u: list(issuer.access.roles_of(u)) for u in issuer.access.users},
                },
                indent=2,
            ),
            flush=True,
        )
        stop.wait()
    return 0


def _quiet_logs(verbose: bool) -> None:
    """Library logs only with ``--verbose``: the one-line outcome already says what failed."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="genauth-guard: %(name)s: %(message)s")
    else:
        logging.getLogger("genauth_guard").addHandler(logging.NullHandler())
        logging.getLogger("genauth_guard").propagate = False


def _cmd_token(args: argparse.Namespace) -> int:
    _quiet_logs(args.verbose)
    from ._client import ClientCredentialsAuth, ClientCredentialsError

    # Secrets belong in the environment: command lines show up in `ps` and shell history.
    issuer = args.issuer or (None if args.token_url else os.environ.get("GENAUTH_ISSUER"))
    client_id = args.client_id or os.environ.get("GENAUTH_CLIENT_ID")
    secret = args.client_secret or os.environ.get("GENAUTH_CLIENT_SECRET")
    missing = [
        name
        for name, value in (
            ("--issuer or --token-url (or GENAUTH_ISSUER)", issuer or args.token_url),
            ("--client-id (or GENAUTH_CLIENT_ID)", client_id),
            ("--client-secret (or GENAUTH_CLIENT_SECRET)", secret),
        )
        if not value
    ]
    if missing or not client_id or not secret:
        print(f"genauth-guard token: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        auth = ClientCredentialsAuth(
            issuer=issuer,
            token_url=args.token_url,
            client_id=client_id,
            client_secret=secret,
            scope=" ".join(args.scope) if args.scope else None,
            audience=args.audience,
            resource=args.resource or None,
            auth_method=_AUTH_METHODS[args.auth_method],
            timeout=args.timeout,
            max_retries=args.retries,
            allow_http=args.allow_http,
        )
    except ValueError as exc:
        print(f"genauth-guard token: {exc}", file=sys.stderr)
        return 2
    try:
        with auth:
            token = auth.get_token()
    except ClientCredentialsError as exc:
        print(f"genauth-guard token: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


_AUTH_METHODS: dict[str, AuthMethod] = {
    "post": "client_secret_post",
    "basic": "client_secret_basic",
    "client_secret_post": "client_secret_post",
    "client_secret_basic": "client_secret_basic",
}


def _add_token_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="get an access token (client credentials) and print it",
        description="Print an access token from the client_credentials grant. "
        "GENAUTH_ISSUER, GENAUTH_CLIENT_ID and GENAUTH_CLIENT_SECRET stand in for the "
        "options; prefer the environment for the secret.",
    )
    where = token.add_mutually_exclusive_group()
    where.add_argument("--issuer", help="issuer URL; the token endpoint is discovered")
    where.add_argument("--token-url", help="token endpoint URL (no discovery)")
    token.add_argument("--client-id")
    token.add_argument("--client-secret", help="prefer GENAUTH_CLIENT_SECRET")
    token.add_argument(
        "--scope", action="append", default=[], help='e.g. "order:read" (repeatable)'
    )
    token.add_argument("--audience", help="audience parameter (the API's identifier)")
    token.add_argument("--resource", action="append", default=[], help="RFC 8707 resource")
    token.add_argument(
        "--auth-method",
        choices=sorted(_AUTH_METHODS),
        default="post",
        help="client authentication: post (GenAuth's default) or basic",
    )
    token.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    token.add_argument("--retries", type=int, default=2, help="retries on network/5xx faults")
    token.add_argument(
        "--allow-http", action="store_true", help="allow plain http to non-loopback hosts"
    )
    token.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    token.set_defaults(run=_cmd_token)


def _cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    _quiet_logs(args.verbose)

    from ._config import GuardConfig
    from ._errors import GuardError
    from ._verifier import Verifier

    issuer = args.issuer or os.environ.get("GENAUTH_ISSUER")
    audience = args.audience or os.environ.get("GENAUTH_AUDIENCE")
    if not issuer or not audience:
        print(
            "genauth-guard verify: --issuer and --audience are required "
            "(or GENAUTH_ISSUER and GENAUTH_AUDIENCE)",
            file=sys.stderr,
        )
        return 2
    token = (sys.stdin.read() if args.token in (None, "-") else args.token).strip()
    if not token:
        print("genauth-guard verify: no token given (argument or stdin)", file=sys.stderr)
        return 2
    try:
        config = GuardConfig(
            issuer=issuer,
            audience=audience,
            jwks_uri=args.jwks_uri,
            algorithms=args.algorithm or ("RS256",),
            leeway=args.leeway,
            strict_rfc9068=args.rfc9068,
            allow_http=args.allow_http,
        )
    except ValueError as exc:
        print(f"genauth-guard verify: {exc}", file=sys.stderr)
        return 2

    async def verify() -> dict[str, object]:
        async with Verifier(config) as verifier:
            return dict((await verifier.verify(token)).claims)

    try:
        claims = asyncio.run(verify())
    except GuardError as exc:
        # The same code and description an API would send in WWW-Authenticate.
        print(f"{exc.code or 'unauthorized'}: {exc.description}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def _add_verify_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="verify an access token and print its claims",
        description="Verify an access token as the API would; print its claims as JSON "
        "(exit 0) or the reason it fails, e.g. 'invalid_token: token expired' (exit 1).",
    )
    verify.add_argument("token", nargs="?", help="the token; '-' or omitted reads stdin")
    verify.add_argument("--issuer", help="accepted issuer (or GENAUTH_ISSUER)")
    verify.add_argument("--audience", help="accepted audience (or GENAUTH_AUDIENCE)")
    verify.add_argument("--jwks-uri", help="JWKS URL; discovered from the issuer when omitted")
    verify.add_argument(
        "--algorithm", action="append", default=[], help="allowed alg (default RS256)"
    )
    verify.add_argument("--leeway", type=float, default=30.0, help="clock skew, seconds")
    verify.add_argument("--rfc9068", action="store_true", help="require RFC 9068 tokens")
    verify.add_argument(
        "--allow-http", action="store_true", help="allow plain http to non-loopback hosts"
    )
    verify.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    verify.set_defaults(run=_cmd_verify)


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
    issuer.add_argument(
        "--role",
        type=_parse_role,
        action="append",
        default=[],
        metavar="CODE:PERMISSION[,PERMISSION...]",
        help="an application role granted permissions (repeatable)",
    )
    issuer.add_argument(
        "--user",
        type=_parse_user,
        action="append",
        default=[],
        metavar="ID:PASSWORD[:ROLE[,ROLE...]]",
        help="a user for the password grant, member of roles (repeatable)",
    )
    issuer.add_argument("--token-ttl", type=int, default=3600, help="token lifetime, seconds")
    issuer.add_argument("--rfc9068", action="store_true", help="issue RFC 9068 at+jwt tokens")
    issuer.set_defaults(run=_cmd_issuer)
    _add_token_parser(commands)
    _add_verify_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
