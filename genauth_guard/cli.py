"""The ``genauth-guard`` command line.

``issuer`` runs a local development issuer; ``token`` gets an access token with the
client_credentials grant (RFC 6749 section 4.4); ``verify`` checks one as an API would
(locally, or by introspection, RFC 7662); ``revoke`` revokes one (RFC 7009).
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
    from ._dpop_key import DPoPKey

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

    app_secret = os.environ.get("GENAUTH_APP_SECRET") or None
    if args.algorithm == "HS256" and app_secret is None:
        # The API verifies with the same secret, so it must be one the user knows.
        print("genauth-guard issuer: --algorithm HS256 needs GENAUTH_APP_SECRET", file=sys.stderr)
        return 2
    try:
        issuer = LocalIssuer(
            audience=args.audience,
            host=args.host,
            port=args.port,
            allow_non_loopback=args.host != "127.0.0.1",  # an explicit --host is a choice
            token_ttl=args.token_ttl,
            rfc9068=args.rfc9068,
            algorithm=args.algorithm,
            app_secret=app_secret,
        )
    except ValueError as exc:
        print(f"genauth-guard issuer: {exc}", file=sys.stderr)
        return 2
    for client_id, secret, scopes in args.client:
        issuer.add_client(client_id, secret, scopes, dpop=client_id in args.dpop_client)
    for client_id, secret, scopes in args.opaque_client:
        issuer.add_client(
            client_id, secret, scopes, opaque=True, dpop=client_id in args.dpop_client
        )
    issuer.dpop_nonce = args.dpop_nonce
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
                    "introspection_endpoint": issuer.introspection_endpoint,
                    "revocation_endpoint": issuer.revocation_endpoint,
                    "algorithm": issuer.algorithm,
                    "audience": issuer.audience,
                    "clients": {c.client_id: list(c.scopes) for c in issuer.clients.values()},
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
            dpop=_dpop_key(args.dpop_key) if args.dpop_key else args.dpop,
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
    if auth.dpop_key is None:
        print(token)
        return 0
    # RFC 9449: the token is useless without the key; curl users sign their own proofs
    # with it (or with `genauth-guard dpop-proof --key` reading this very output).
    print(
        json.dumps(
            {
                "access_token": token,
                "token_type": "DPoP",
                "dpop_key": auth.dpop_key.private_jwk(),
            },
            indent=2,
        )
    )
    return 0


def _read_json(source: str) -> dict[str, object]:
    """A JSON object given inline, as a file path, or ``-`` for stdin."""
    text = source
    if source == "-":
        text = sys.stdin.read()
    elif not source.lstrip().startswith("{"):
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _dpop_key(source: str) -> DPoPKey:
    """A private JWK, or the output of ``token --dpop`` (its ``dpop_key``)."""
    from ._dpop_key import DPoPKey

    data = _read_json(source)
    jwk = data.get("dpop_key", data)
    if not isinstance(jwk, dict):
        raise ValueError("dpop_key must be a JWK object")
    return DPoPKey.from_jwk(jwk)


def _cmd_dpop_proof(args: argparse.Namespace) -> int:
    try:
        key = _dpop_key(args.key)
        token = args.token
        if token is None:  # the output of `token --dpop` carries its token
            saved = _read_json(args.key).get("access_token") if args.key != "-" else None
            token = saved if isinstance(saved, str) and not args.no_token else None
        proof = key.proof(args.method.upper(), args.url, access_token=token, nonce=args.nonce)
    except (OSError, ValueError) as exc:
        print(f"genauth-guard dpop-proof: {exc}", file=sys.stderr)
        return 2
    print(proof)
    return 0


def _add_dpop_proof_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    proof = commands.add_parser(
        "dpop-proof",
        help="print a DPoP proof (RFC 9449) for one request",
        description="Sign a DPoP proof JWT for one request with a private JWK, e.g. the "
        "output of `genauth-guard token --dpop` (whose access_token is then bound with ath).",
    )
    proof.add_argument("--key", required=True, help="private JWK: a file, inline JSON or -")
    proof.add_argument("--method", default="GET", help="the request method (htm)")
    proof.add_argument("--url", required=True, help="the request URL (htu)")
    proof.add_argument("--token", help="access token to bind (ath); default: the key file's")
    proof.add_argument("--no-token", action="store_true", help="no ath (a token request)")
    proof.add_argument("--nonce", help="the server's last DPoP-Nonce")
    proof.set_defaults(run=_cmd_dpop_proof)


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
    token.add_argument(
        "--dpop",
        action="store_true",
        help="a DPoP-bound token (RFC 9449): prints JSON with the token and the private key",
    )
    token.add_argument("--dpop-key", help="use this private JWK (file, JSON or -); implies --dpop")
    token.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    token.set_defaults(run=_cmd_token)


def _cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    _quiet_logs(args.verbose)

    from ._config import GuardConfig
    from ._errors import GuardError
    from ._introspection import make_verifier

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
    env = os.environ.get
    try:
        config = GuardConfig(
            issuer=issuer,
            audience=audience,
            jwks_uri=args.jwks_uri,
            algorithms=args.algorithm or ("RS256",),
            leeway=args.leeway,
            strict_rfc9068=args.rfc9068,
            allow_http=args.allow_http,
            # Secrets come from the environment only: command lines show up in `ps`.
            shared_secret=env("GENAUTH_SHARED_SECRET") or None,
            token_check=args.token_check or env("GENAUTH_TOKEN_CHECK") or "jwt",
            introspection_client_id=args.introspection_client_id
            or env("GENAUTH_INTROSPECTION_CLIENT_ID"),
            introspection_client_secret=env("GENAUTH_INTROSPECTION_CLIENT_SECRET"),
            introspection_endpoint=args.introspection_endpoint
            or env("GENAUTH_INTROSPECTION_ENDPOINT"),
            introspection_auth_method=_AUTH_METHODS[args.introspection_auth_method],
            introspect_jwts=args.introspect_jwts,
        )
    except ValueError as exc:
        print(f"genauth-guard verify: {exc}", file=sys.stderr)
        return 2

    async def verify() -> dict[str, object]:
        async with make_verifier(config) as verifier:
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
    verify.add_argument(
        "--token-check",
        choices=("jwt", "introspect", "jwt+introspect"),
        help="local JWT check (default), RFC 7662 introspection, or both "
        "(or GENAUTH_TOKEN_CHECK); the API's secret comes from "
        "GENAUTH_INTROSPECTION_CLIENT_SECRET, an HS256 secret from GENAUTH_SHARED_SECRET",
    )
    verify.add_argument(
        "--introspection-client-id", help="the API's client id (or GENAUTH_INTROSPECTION_CLIENT_ID)"
    )
    verify.add_argument(
        "--introspection-endpoint", help="introspection URL; discovered when omitted"
    )
    verify.add_argument(
        "--introspection-auth-method", choices=sorted(_AUTH_METHODS), default="post"
    )
    verify.add_argument(
        "--introspect-jwts", action="store_true", help="introspect JWT-shaped tokens too"
    )
    verify.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    verify.set_defaults(run=_cmd_verify)


def _cmd_revoke(args: argparse.Namespace) -> int:
    _quiet_logs(args.verbose)
    from ._revocation import RevocationError, revoke_token

    issuer = args.issuer or (None if args.revocation_url else os.environ.get("GENAUTH_ISSUER"))
    client_id = args.client_id or os.environ.get("GENAUTH_CLIENT_ID")
    secret = os.environ.get("GENAUTH_CLIENT_SECRET")
    token = (sys.stdin.read() if args.token in (None, "-") else args.token).strip()
    missing = [
        name
        for name, value in (
            ("--issuer or --revocation-url (or GENAUTH_ISSUER)", issuer or args.revocation_url),
            ("--client-id (or GENAUTH_CLIENT_ID)", client_id),
            ("GENAUTH_CLIENT_SECRET", secret),
            ("a token (argument or stdin)", token),
        )
        if not value
    ]
    if missing or not client_id or not secret:
        print(f"genauth-guard revoke: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        revoke_token(
            token,
            client_id=client_id,
            client_secret=secret,
            issuer=issuer,
            endpoint=args.revocation_url,
            auth_method=_AUTH_METHODS[args.auth_method],
            timeout=args.timeout,
            allow_http=args.allow_http,
        )
    except RevocationError as exc:
        print(f"genauth-guard revoke: {exc}", file=sys.stderr)
        return 1
    print("revoked (or already invalid)")
    return 0


def _add_revoke_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    revoke = commands.add_parser(
        "revoke",
        help="revoke an access token (RFC 7009)",
        description="Revoke a token at the issuer's revocation endpoint, as the client it "
        "was issued to. GENAUTH_ISSUER, GENAUTH_CLIENT_ID and GENAUTH_CLIENT_SECRET (the "
        "secret only from the environment) stand in for the options.",
    )
    revoke.add_argument("token", nargs="?", help="the token; '-' or omitted reads stdin")
    where = revoke.add_mutually_exclusive_group()
    where.add_argument("--issuer", help="issuer URL; the revocation endpoint is discovered")
    where.add_argument("--revocation-url", help="revocation endpoint URL (no discovery)")
    revoke.add_argument("--client-id")
    revoke.add_argument("--auth-method", choices=sorted(_AUTH_METHODS), default="post")
    revoke.add_argument("--timeout", type=float, default=10.0, help="seconds")
    revoke.add_argument(
        "--allow-http", action="store_true", help="allow plain http to non-loopback hosts"
    )
    revoke.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    revoke.set_defaults(run=_cmd_revoke)


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
    issuer.add_argument(
        "--algorithm",
        default="RS256",
        choices=("RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256"),
        help="signing alg; HS256 signs with the app secret in GENAUTH_APP_SECRET",
    )
    issuer.add_argument(
        "--opaque-client",
        type=_parse_client,
        action="append",
        default=[],
        metavar="ID:SECRET:SCOPE[,SCOPE...]",
        help="a client that gets opaque tokens (repeatable)",
    )
    issuer.set_defaults(run=_cmd_issuer)
    issuer.add_argument(
        "--dpop-nonce", action="store_true", help="require DPoP nonces at the token endpoint"
    )
    issuer.add_argument(
        "--dpop-client",
        action="append",
        default=[],
        metavar="ID",
        help="a client that must use DPoP (repeatable)",
    )
    _add_token_parser(commands)
    _add_verify_parser(commands)
    _add_revoke_parser(commands)
    _add_dpop_proof_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
