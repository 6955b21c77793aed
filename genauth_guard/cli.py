"""The ``genauth-guard`` command line.

``issuer`` runs a local development issuer; ``token`` gets an access token with the
client_credentials grant (RFC 6749 section 4.4); ``verify`` checks one as an API would
(locally, or by introspection, RFC 7662); ``revoke`` revokes one (RFC 7009); ``doctor``
says why an API would refuse tokens, or one token.

No input ends in a traceback: every failure is one line on stderr. Exit status 0 for
success, 1 for a refused token or a failed request, 2 for usage and configuration
errors, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._client import AuthMethod
    from ._config import GuardConfig
    from ._dpop_key import DPoPKey

__all__ = ["main"]

# A token is a few kilobytes; reading stdin stops well past any real one.
_MAX_STDIN = 1 << 20


class CommandError(Exception):
    """One line for stderr and the exit status: 2 usage/configuration, 1 failure."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in (
            action.help or ""
        ):
            return action.help
        return super()._get_help_string(action)


_formatter = _Help


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535 (0: any free port), not {port}")
    return port


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


def _is_loopback(host: str) -> bool:
    from ._discovery import is_loopback_host

    return is_loopback_host(host)


def _cmd_issuer(args: argparse.Namespace) -> int:
    from .testing import LocalIssuer

    app_secret = os.environ.get("GENAUTH_APP_SECRET") or None
    if args.algorithm == "HS256" and app_secret is None:
        # The API verifies with the same secret, so it must be one the user knows.
        raise CommandError("--algorithm HS256 needs GENAUTH_APP_SECRET (the app secret)")
    if not _is_loopback(args.host):
        unspecified = _is_unspecified(args.host)
        if unspecified and not args.public_url:
            raise CommandError(
                f"--host {args.host} listens on every interface: give --public-url, the "
                "URL callers use (e.g. http://my-host:9000), so tokens name that issuer"
            )
        print(
            f"genauth-guard issuer: WARNING: listening on {args.host}: the issuer (which "
            "hands out tokens to anyone with a client secret) is reachable beyond this "
            "machine",
            file=sys.stderr,
        )
    try:
        issuer = LocalIssuer(
            audience=args.audience,
            host=args.host,
            port=args.port,
            allow_non_loopback=not _is_loopback(args.host),  # an explicit --host is a choice
            token_ttl=args.token_ttl,
            rfc9068=args.rfc9068,
            public_url=args.public_url,
            algorithm=args.algorithm,
            app_secret=app_secret,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    for client_id, secret, scopes in args.client:
        issuer.add_client(client_id, secret, scopes, dpop=client_id in args.dpop_client)
    for client_id, secret, scopes in args.opaque_client:
        issuer.add_client(
            client_id, secret, scopes, opaque=True, dpop=client_id in args.dpop_client
        )
    issuer.dpop_nonce = args.dpop_nonce
    try:
        for code, permissions in args.role:
            issuer.add_role(code, permissions=permissions)
        for user_id, password, roles in args.user:
            issuer.add_user(user_id, password, roles=roles)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        issuer.__enter__()
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    try:
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
                    "roles": {r.code: sorted(r.permissions) for r in issuer.access.roles.values()},
                    "users": {u: list(issuer.access.roles_of(u)) for u in issuer.access.users},
                },
                indent=2,
            ),
            flush=True,
        )
        stop.wait()
    finally:
        issuer.__exit__(None, None, None)
    return 0


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


@contextmanager
def _library_logs(verbose: bool) -> Iterator[list[logging.LogRecord]]:
    """Library logs on stderr only with ``--verbose``; warnings are kept for the outcome.

    The one-line outcome says what failed; a kept warning (why keys could not be had)
    can complete it.
    """
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    library = logging.getLogger("genauth_guard")
    handlers: list[logging.Handler] = [Keep(logging.WARNING)]
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("genauth-guard: %(name)s: %(message)s"))
        handlers.append(stream)
        library.setLevel(logging.INFO)
    for handler in handlers:
        library.addHandler(handler)
    propagate, library.propagate = library.propagate, False
    try:
        yield kept
    finally:
        for handler in handlers:
            library.removeHandler(handler)
        library.propagate = propagate


def _client_options(
    args: argparse.Namespace, endpoint_flag: str, endpoint: str | None
) -> tuple[str | None, str, str]:
    """Issuer, client id and secret of a client-side command: flags, then GENAUTH_*."""
    # Secrets belong in the environment: command lines show up in `ps` and shell history.
    issuer = args.issuer or (None if endpoint else os.environ.get("GENAUTH_ISSUER"))
    client_id = args.client_id or os.environ.get("GENAUTH_CLIENT_ID")
    secret = args.client_secret or os.environ.get("GENAUTH_CLIENT_SECRET")
    missing = [
        name
        for name, value in (
            (f"--issuer or {endpoint_flag} (or GENAUTH_ISSUER)", issuer or endpoint),
            ("--client-id (or GENAUTH_CLIENT_ID)", client_id),
            ("--client-secret (or GENAUTH_CLIENT_SECRET)", secret),
        )
        if not value
    ]
    if missing or not client_id or not secret:
        raise CommandError(f"missing {', '.join(missing)}")
    return issuer, client_id, secret


def _cmd_token(args: argparse.Namespace) -> int:
    from ._client import ClientCredentialsAuth, ClientCredentialsError

    issuer, client_id, secret = _client_options(args, "--token-url", args.token_url)
    if args.retries < 0 or args.timeout <= 0:
        raise CommandError("--retries must be >= 0 and --timeout > 0")
    requested = " ".join(args.scope) if args.scope else None
    try:
        auth = ClientCredentialsAuth(
            issuer=issuer,
            token_url=args.token_url,
            client_id=client_id,
            client_secret=secret,
            scope=requested,
            audience=args.audience,
            resource=args.resource or None,
            auth_method=_AUTH_METHODS[args.auth_method],
            timeout=args.timeout,
            max_retries=args.retries,
            allow_http=args.allow_http,
            dpop=_dpop_key(args.dpop_key) if args.dpop_key else args.dpop,
        )
    except (OSError, ValueError) as exc:  # OSError: an unreadable --dpop-key file
        raise CommandError(_cli_spelling(str(exc))) from None
    with _library_logs(args.verbose):
        try:
            with auth:
                token = auth.get_token()
                granted = auth.granted_scope
        except ClientCredentialsError as exc:
            raise CommandError(str(exc), status=1) from None
    if requested is not None and granted is not None:
        # RFC 6749 5.1: a response scope differing from the request is what was granted.
        withheld = sorted(set(requested.split()) - set(granted.split()))
        if withheld:
            print(
                f"genauth-guard token: warning: not granted: {' '.join(withheld)} "
                f"(granted: {granted or 'no scope'})",
                file=sys.stderr,
            )
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
        raise CommandError(str(exc)) from None
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


def _add_client_parser_options(
    parser: argparse.ArgumentParser, endpoint_flag: str, endpoint: str
) -> None:
    """The options :func:`_client_options` reads: where to go and as which client."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--issuer", help=f"issuer URL; the {endpoint} is discovered")
    where.add_argument(endpoint_flag, help=f"{endpoint} URL (no discovery)")
    parser.add_argument("--client-id", help="client id (or GENAUTH_CLIENT_ID)")
    parser.add_argument("--client-secret", help="prefer GENAUTH_CLIENT_SECRET")
    parser.add_argument(
        "--auth-method",
        choices=sorted(_AUTH_METHODS),
        default="post",
        help="client authentication: post (GenAuth's default) or basic",
    )
    parser.add_argument(
        "--allow-http", action="store_true", help="allow plain http to non-loopback hosts"
    )


def _add_token_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = commands.add_parser(
        "token",
        help="get an access token (client credentials) and print it",
        formatter_class=_formatter,
        description="Print an access token from the client_credentials grant. "
        "GENAUTH_ISSUER, GENAUTH_CLIENT_ID and GENAUTH_CLIENT_SECRET stand in for the "
        "options; prefer the environment for the secret. Warns on stderr when the issuer "
        "grants less scope than asked for.",
    )
    _add_client_parser_options(token, "--token-url", "token endpoint")
    token.add_argument(
        "--scope", action="append", default=[], help='e.g. "order:read" (repeatable)'
    )
    token.add_argument("--audience", help="audience parameter (the API's identifier)")
    token.add_argument(
        "--resource", action="append", default=[], help="RFC 8707 resource (repeatable)"
    )
    token.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    token.add_argument("--retries", type=int, default=2, help="retries on network/5xx faults")
    token.add_argument(
        "--dpop",
        action="store_true",
        help="a DPoP-bound token (RFC 9449): prints JSON with the token and the private key",
    )
    token.add_argument("--dpop-key", help="use this private JWK (file, JSON or -); implies --dpop")
    token.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    token.set_defaults(run=_cmd_token)


def _cli_spelling(message: str) -> str:
    """Configuration hints in the terms of this command line."""
    for spelling in ("GENAUTH_ALLOW_HTTP=true", "allow_http=True"):
        if spelling in message:
            return message.replace(spelling, "--allow-http (or GENAUTH_ALLOW_HTTP=true)")
    return message


def _config(args: argparse.Namespace) -> GuardConfig:
    """The API's configuration: flags first, then the same GENAUTH_* variables."""
    from ._config import GuardConfig

    overrides: dict[str, Any] = {}
    for option, flag in (
        ("issuer", args.issuer),
        ("audience", args.audience),
        ("jwks_uri", args.jwks_uri),
        ("algorithms", tuple(args.algorithm) or None),
        ("leeway", args.leeway),
        ("strict_rfc9068", args.rfc9068 or None),
        ("allow_http", args.allow_http or None),
        # verify's introspection flags (secrets only from the GENAUTH_* variables)
        ("token_check", getattr(args, "token_check", None)),
        ("introspection_client_id", getattr(args, "introspection_client_id", None)),
        ("introspection_endpoint", getattr(args, "introspection_endpoint", None)),
        ("introspection_auth_method", getattr(args, "introspection_auth_method", None)),
        ("introspect_jwts", getattr(args, "introspect_jwts", False) or None),
    ):
        if flag is not None:
            overrides[option] = flag
    try:
        return GuardConfig.from_env(**overrides)
    except ValueError as exc:
        message = str(exc)
        for name, flag in (("GENAUTH_ISSUER", "--issuer"), ("GENAUTH_AUDIENCE", "--audience")):
            if f"variable {name} is required" in message:
                message = f"{flag} is required (or {name})"
        raise CommandError(_cli_spelling(message)) from None


def _read_token(value: str | None) -> str:
    """The token from the argument or stdin, without a ``Bearer`` prefix."""
    from ._doctor import strip_bearer

    if value in (None, "-"):
        if sys.stdin is None or sys.stdin.isatty():
            raise CommandError(
                "no token given: pass it as an argument, or pipe it in (... | genauth-guard "
                "verify -)"
            )
        try:
            raw = sys.stdin.buffer.read(_MAX_STDIN + 1)
        except OSError as exc:
            raise CommandError(f"cannot read stdin: {exc.strerror or exc}") from None
        if len(raw) > _MAX_STDIN:
            raise CommandError("stdin holds more than a token (over 1 MiB)")
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError("stdin is not text") from None
    assert value is not None
    token = strip_bearer(value)
    if not token:
        raise CommandError("no token given (argument or stdin)")
    return token


def _cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    from ._doctor import unverified_parts
    from ._errors import GuardError, InvalidToken, KeysUnavailable
    from ._introspection import make_verifier
    from ._refusal_log import printable

    config = _config(args)
    token = _read_token(args.token)

    async def verify() -> dict[str, object]:
        async with make_verifier(config) as verifier:
            return dict((await verifier.verify(token)).claims)

    with _library_logs(args.verbose) as kept:
        try:
            claims = asyncio.run(verify())
        except GuardError as exc:
            # The same code and description an API would send in WWW-Authenticate,
            # plus what only the server log would say.
            line = f"{exc.code or 'unauthorized'}: {exc.description}"
            if isinstance(exc, InvalidToken) and exc.actual is not None:
                line += f" (token has {printable(exc.actual)}, expected {printable(exc.expected)})"
            if isinstance(exc, KeysUnavailable) and kept:
                line += f" ({kept[-1].getMessage()})"
            print(line, file=sys.stderr)
            if args.show_claims:
                try:
                    header, unverified = unverified_parts(token)
                except InvalidToken:
                    print("(the token cannot be decoded)", file=sys.stderr)
                else:
                    # ensure_ascii: claim text cannot carry terminal control sequences.
                    shown = {"unverified_header": header, "unverified_claims": unverified}
                    print(json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=True))
            return 1
    print(json.dumps(claims, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    """The API-side configuration, as GuardConfig.from_env reads it."""
    parser.add_argument("--issuer", help="accepted issuer (default: GENAUTH_ISSUER)")
    parser.add_argument("--audience", help="accepted audience (default: GENAUTH_AUDIENCE)")
    parser.add_argument("--jwks-uri", help="JWKS URL (default: GENAUTH_JWKS_URI, else discovered)")
    parser.add_argument(
        "--algorithm",
        action="append",
        default=[],
        help="allowed alg, repeatable (default: GENAUTH_ALGORITHMS, else RS256)",
    )
    parser.add_argument(
        "--leeway",
        type=float,
        help="clock skew in seconds (default: GENAUTH_LEEWAY, else 30)",
    )
    parser.add_argument("--rfc9068", action="store_true", help="require RFC 9068 tokens")
    parser.add_argument(
        "--allow-http", action="store_true", help="allow plain http to non-loopback hosts"
    )


def _add_verify_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="verify an access token and print its claims",
        formatter_class=_formatter,
        description="Verify an access token as the API would; print its claims as JSON "
        "(exit 0) or the reason it fails, e.g. 'invalid_token: token expired' (exit 1). "
        "Options not given are read from the GENAUTH_* variables, as the API reads them.",
    )
    verify.add_argument(
        "token",
        nargs="?",
        help="the token, with or without 'Bearer '; '-' or omitted reads a pipe",
    )
    _add_api_options(verify)
    verify.add_argument(
        "--show-claims",
        action="store_true",
        help="for a refused token, print its unverified header and claims",
    )
    verify.add_argument(
        "--token-check",
        choices=("jwt", "introspect", "jwt+introspect"),
        help="local check, RFC 7662 introspection, or both (default: GENAUTH_TOKEN_CHECK, "
        "else jwt); the API's secret comes from GENAUTH_INTROSPECTION_CLIENT_SECRET, an "
        "HS256 secret from GENAUTH_SHARED_SECRET",
    )
    verify.add_argument(
        "--introspection-client-id",
        help="the API's client id (default: GENAUTH_INTROSPECTION_CLIENT_ID)",
    )
    verify.add_argument(
        "--introspection-endpoint",
        help="introspection URL (default: GENAUTH_INTROSPECTION_ENDPOINT, else discovered)",
    )
    verify.add_argument(
        "--introspection-auth-method",
        choices=("client_secret_post", "client_secret_basic"),
        help="how the API authenticates there (default: client_secret_post)",
    )
    verify.add_argument(
        "--introspect-jwts", action="store_true", help="introspect JWT-shaped tokens too"
    )
    verify.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    verify.set_defaults(run=_cmd_verify)


def _cmd_revoke(args: argparse.Namespace) -> int:
    from ._revocation import RevocationError, revoke_token

    issuer, client_id, secret = _client_options(args, "--revocation-url", args.revocation_url)
    token = _read_token(args.token)
    with _library_logs(args.verbose):
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
            raise CommandError(str(exc), status=1) from None
    print("revoked (or already invalid)")
    return 0


def _add_revoke_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    revoke = commands.add_parser(
        "revoke",
        help="revoke an access token (RFC 7009)",
        formatter_class=_formatter,
        description="Revoke a token at the issuer's revocation endpoint, as the client it "
        "was issued to. GENAUTH_ISSUER, GENAUTH_CLIENT_ID and GENAUTH_CLIENT_SECRET stand "
        "in for the options; prefer the environment for the secret.",
    )
    revoke.add_argument("token", nargs="?", help="the token; '-' or omitted reads a pipe")
    _add_client_parser_options(revoke, "--revocation-url", "revocation endpoint")
    revoke.add_argument("--timeout", type=float, default=10.0, help="seconds")
    revoke.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    revoke.set_defaults(run=_cmd_revoke)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ._doctor import diagnose

    config = _config(args)
    token = _read_token(args.token) if args.token is not None else None
    with _library_logs(args.verbose):
        report = diagnose(config, token)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _add_doctor_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="check the configuration against the issuer, and why a token is refused",
        formatter_class=_formatter,
        description="Check the issuer (discovery, issuer name, JWKS, token endpoint, "
        "clock) and, with --token, the token's iss, aud, exp, alg, typ and kid against "
        "the configuration. One line per check: ok, problem or note, with how to fix it. "
        "Exit 0 when an API configured like this accepts (the token), 1 otherwise. "
        "Options not given are read from the GENAUTH_* variables, as the API reads them.",
    )
    _add_api_options(doctor)
    doctor.add_argument("--token", help="a token to check ('-' reads a pipe)")
    doctor.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    doctor.set_defaults(run=_cmd_doctor)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="genauth-guard",
        description="GenAuth / OIDC bearer tokens for Python APIs.",
        epilog="Exit status: 0 success, 1 refused token or failed request, "
        "2 usage or configuration error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    issuer = commands.add_parser(
        "issuer",
        help="run a local OIDC issuer (development only)",
        formatter_class=_formatter,
        description="Run a local OIDC issuer laid out like GenAuth ({url}/oidc): "
        "discovery, JWKS and a client_credentials token endpoint. For development only: "
        "keys live in memory. Stops on Ctrl-C.",
    )
    issuer.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (loopback only unless another host is named explicitly)",
    )
    issuer.add_argument("--port", type=_port, default=9000, help="port (0: any free port)")
    issuer.add_argument(
        "--public-url",
        help="the URL callers use, e.g. http://my-host:9000 (needed with --host 0.0.0.0); "
        "the issuer is {public-url}/oidc",
    )
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
    _add_doctor_parser(commands)
    _add_dpop_proof_parser(commands)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    print(f"genauth-guard: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse prints usage and exits 2
    name = f"genauth-guard {args.command}"
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one plain line, no source location
        try:
            code: int = args.run(args)
        except CommandError as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return exc.status
        except KeyboardInterrupt:
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # the last resort: never a traceback for any input
            print(f"{name}: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
