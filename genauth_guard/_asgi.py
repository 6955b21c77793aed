"""Pure ASGI middleware putting bearer-token verification on the wire (RFC 6750).

No Starlette or FastAPI import: responses are raw ASGI ``send`` messages built by
:func:`genauth_guard._errors.render`, so the middleware works under any ASGI app and
never wraps ``send`` on the success path (streaming responses stay untouched).

The result lives in the scope, as in Starlette's own authentication middleware:
``scope["auth"]`` has ``.scopes`` (a list of str) and ``.token`` (the
:class:`AccessToken` or None); ``scope["user"]`` has ``is_authenticated``,
``display_name`` and ``identity``. ``request.auth``, ``request.user`` and Starlette's
``@requires`` therefore work unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ._bearer import (
    DEFAULT_REALM,
    BearerSources,
    find_token,
    header_token,
    is_form_candidate,
    token_from_form,
)
from ._dpop import ProofChecker, dpop_credentials, request_url
from ._errors import (
    GuardError,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingCredentials,
    Reason,
    render,
)
from ._refusal_log import RefusalLog, printable
from ._token import AccessToken

if TYPE_CHECKING:
    from ._config import GuardConfig

__all__ = [
    "AnonymousUser",
    "BearerAuth",
    "GuardMiddleware",
    "Mode",
    "TokenUser",
    "TokenVerifier",
    "authenticate_dpop",
    "log_denial",
    "send_error",
]

logger = logging.getLogger("genauth_guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Mode = Literal["protect", "identify"]

# RFC 6455 section 7.4.1: 1008 "policy violation", the close code for a refused socket.
WS_POLICY_VIOLATION = 1008


class TokenVerifier(Protocol):
    """What the middleware needs of :class:`genauth_guard.Verifier`."""

    async def verify(self, token: str) -> AccessToken: ...

    async def warm_up(self) -> None: ...

    async def aclose(self) -> None: ...


class BearerAuth:
    """``scope["auth"]``: the granted scopes (Starlette's ``AuthCredentials`` shape).

    ``verifier`` is the verifier that accepted ``token``: a guard reuses the verdict
    only when it is its own, since another verifier may accept other issuers,
    audiences or claims.
    """

    __slots__ = ("_scopes", "challenge", "realm", "token", "verifier")

    def __init__(
        self,
        token: AccessToken | None = None,
        realm: str = DEFAULT_REALM,
        challenge: tuple[Sequence[str], bool] = ((), True),
        verifier: object = None,
    ) -> None:
        self.token = token
        self.verifier = verifier
        self.realm = realm  # lets route-level checks answer with the middleware's realm
        # (dpop_algs, bearer) for render(): route-level refusals offer the same schemes.
        self.challenge = challenge
        # Built on first read: most handlers and the decorators use token.scopes (a
        # frozenset), so a list per request would mostly be thrown away unread.
        self._scopes: list[str] | None = None

    @property
    def scopes(self) -> list[str]:
        """The granted scopes; the same list on every read, as a plain attribute would be."""
        scopes = self._scopes
        if scopes is None:
            token = self.token
            scopes = self._scopes = list(token.scopes) if token is not None else []
        return scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        self._scopes = value

    def __repr__(self) -> str:
        return f"BearerAuth(scopes={sorted(self.scopes)!r})"


class TokenUser:
    """``scope["user"]`` for a verified token (Starlette's ``BaseUser`` shape)."""

    __slots__ = ("token",)
    is_authenticated = True

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def identity(self) -> str:
        """The token's subject, else its client id (client-credentials tokens)."""
        return self.token.subject or self.token.client_id or ""

    @property
    def display_name(self) -> str:
        return self.identity

    def __repr__(self) -> str:
        return f"TokenUser(identity={self.identity!r})"


class AnonymousUser:
    """``scope["user"]`` when no token was sent (Starlette's ``UnauthenticatedUser``)."""

    __slots__ = ()
    is_authenticated = False
    display_name = ""
    identity = ""
    token: AccessToken | None = None

    def __repr__(self) -> str:
        return "AnonymousUser()"


# Refusals that usually mean the API or the issuer is configured wrongly (every token
# refused the same way): WARNING, so they show under a plain uvicorn with no logging set.
_MISCONFIGURATION = frozenset(
    {Reason.ISSUER, Reason.AUDIENCE, Reason.ALGORITHM, Reason.TYPE, Reason.UNKNOWN_KEY}
)
_REFUSALS = RefusalLog()
# The header parameter or claim each mismatch is about (RFC 7519 4.1, RFC 7515 4.1).
_FIELD = {
    Reason.ISSUER: "iss",
    Reason.AUDIENCE: "aud",
    Reason.ALGORITHM: "alg",
    Reason.TYPE: "typ",
    Reason.UNKNOWN_KEY: "kid",
}


def log_denial(error: GuardError, scope: Scope, refusals: RefusalLog | None = None) -> None:
    """Log a refusal at a level matching who must act; never the token or the query.

    For a mismatch the line shows the token's unverified value beside the expected
    one, escaped; each distinct (reason, value) is logged once per minute at most.
    """
    if isinstance(error, KeysUnavailable):
        level = logging.WARNING  # operators must act: the issuer is unreachable
    elif isinstance(error, (MissingCredentials, InvalidRequest)):
        level = logging.DEBUG  # routine client mistakes
    elif isinstance(error, InvalidToken) and error.reason in _MISCONFIGURATION:
        level = logging.WARNING
    else:
        level = logging.INFO
    if not logger.isEnabledFor(level):
        return
    detail = ""
    reason = getattr(error, "reason", None) or error.code or type(error).__name__
    if isinstance(error, InvalidToken) and error.actual is not None:
        detail = (
            f"; token {_FIELD.get(error.reason, error.reason)} {printable(error.actual)}, "
            f"expected {printable(error.expected)}"
        )
    held = (refusals or _REFUSALS).admit((str(reason), detail))
    if held is None:
        return
    client = scope.get("client")
    logger.log(
        level,
        "refused %s %s from %s: %s %s%s%s",
        scope.get("type"),
        printable(scope.get("path")),
        client[0] if client else "?",
        error.status,
        error.description,
        detail,
        f" ({held} more like it in the previous interval, not logged)" if held else "",
    )


def dpop_of(verifier: object) -> ProofChecker | None:
    """The verifier's DPoP rules (RFC 9449), None when it has none or DPoP is off."""
    dpop = getattr(verifier, "dpop", None)
    return dpop if isinstance(dpop, ProofChecker) else None


def challenge_of(dpop: ProofChecker | None) -> tuple[Sequence[str], bool]:
    """``(dpop_algs, bearer)`` for :func:`render`: the schemes a refusal offers."""
    return dpop.challenge if dpop is not None else ((), True)


def bearer_hit(
    dpop: ProofChecker | None, cached: Callable[[str], AccessToken | None] | None, raw: str
) -> AccessToken | None:
    """A bearer token from the verifier's cache (no coroutine), or None: verify it then.

    Where DPoP is required, a bearer token is refused here (RFC 9449 section 7.2).
    """
    if dpop is not None and not dpop.bearer_allowed:
        raise refuse_bearer()
    return cached(raw) if cached is not None else None


def refuse_bearer() -> InvalidToken:
    """The error for a bearer token where DPoP is required (RFC 9449 section 7.2)."""
    error = InvalidToken(Reason.TYPE, "bearer tokens are not accepted here; use DPoP")
    error.scheme = "DPoP"
    return error


async def authenticate_dpop(
    verifier: TokenVerifier, dpop: ProofChecker | None, scope: Scope
) -> AccessToken | None:
    """The verified token of a request using the DPoP scheme, None for other schemes.

    The one entry every adapter calls: reads ``Authorization: DPoP`` and the ``DPoP``
    headers, the method and the URL the caller used (trusted proxies only), then
    :meth:`Verifier.verify_dpop`.
    """
    if dpop is None:
        return None
    credentials = dpop_credentials(scope.get("headers", ()))
    if credentials is None:
        return None
    verify_dpop = getattr(verifier, "verify_dpop", None)
    if verify_dpop is None:  # a custom verifier that knows no DPoP
        return None
    method = scope.get("method", "GET")  # a websocket handshake is a GET
    url = request_url(scope, dpop.trusted)
    token: AccessToken = await verify_dpop(credentials.token, credentials.proofs, method, url)
    return token


async def send_error(
    scope: Scope,
    receive: Receive,
    send: Send,
    error: GuardError,
    realm: str | None,
    challenge: tuple[Sequence[str], bool] = ((), True),
) -> None:
    """Answer ``error`` in raw ASGI: an HTTP response, or a refused websocket handshake.

    A websocket is refused before accept: with the denial response extension the client
    sees the real 401/403/503; otherwise it gets a close with code 1008. ``challenge``
    is ``(dpop_algs, bearer)`` of :func:`render`.
    """
    status, headers, body = render(error, realm, dpop_algs=challenge[0], bearer=challenge[1])
    raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
        return
    message = await receive()  # the handshake: "websocket.connect" comes first
    if message["type"] != "websocket.connect":
        return  # the client left already
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {"type": "websocket.http.response.start", "status": status, "headers": raw_headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        # RFC 6455 section 5.5.1: a close reason is at most 123 bytes.
        reason = error.description.encode()[:123].decode(errors="ignore")
        await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": reason})


def _route_path(path: str, root: str) -> str:
    """``path`` as the app's routes see it under a ``root_path`` (a reverse proxy's prefix).

    The ASGI spec has ``path`` include ``root_path`` (uvicorn ``--root-path``), and the
    router matches what follows it; so do public paths. ``path`` starts with ``root``.
    """
    rest = path[len(root) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path  # "/orders-svcx" is not under "/orders-svc"


class _PublicPaths:
    """Exact paths (``"/health"``) and prefixes written ``"/docs/*"``.

    ``"/docs/*"`` matches ``/docs`` and everything under ``/docs/``, never ``/docsx``.
    Matching is on the path the app's routes see: ``scope["path"]`` as the server
    decoded it, without the ``root_path`` prefix when it has one, with no normalisation.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        prefixes: list[str] = []
        exact: set[str] = set()
        for pattern in patterns:
            if not pattern.startswith("/"):
                raise ValueError(f"public path {pattern!r} must start with '/'")
            if pattern.endswith("/*"):
                exact.add(pattern[:-2] or "/")
                prefixes.append(pattern[:-1])
            elif "*" in pattern:
                raise ValueError(f"public path {pattern!r}: '*' is allowed only as a final '/*'")
            else:
                exact.add(pattern)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)


class GuardMiddleware:
    """Verify bearer tokens on ``http`` and ``websocket`` scopes (RFC 6750).

    ``mode="protect"``: every route needs a valid token except ``public_paths``.
    ``mode="identify"``: a token, when sent, is verified and attached; routes enforce
    (anonymous callers get ``BearerAuth()`` with no scopes and an ``AnonymousUser``).
    In both modes a token that is sent but invalid is refused (401), never ignored.
    Public paths are not inspected at all and get the anonymous identity.

    Pass a ``verifier`` (you own it) or a ``config`` (the middleware builds a
    :class:`Verifier` and closes it at lifespan shutdown). ``warm_up`` fetches the keys
    in the background at lifespan startup; a failure only logs a warning.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: TokenVerifier | None = None,
        *,
        config: GuardConfig | None = None,
        mode: Mode = "protect",
        public_paths: Iterable[str] = (),
        realm: str = DEFAULT_REALM,
        allow_query_token: bool = False,
        allow_form_token: bool = False,
        max_form_bytes: int = 64 * 1024,
        warm_up: bool = True,
    ) -> None:
        if (verifier is None) == (config is None):
            raise TypeError("pass exactly one of verifier= or config=")
        if mode not in ("protect", "identify"):
            raise ValueError(f"mode must be 'protect' or 'identify', not {mode!r}")
        if config is not None:
            # imported late: only this path needs it
            from ._introspection import make_verifier

            verifier = make_verifier(config)
        assert verifier is not None
        self.app = app
        self.verifier: TokenVerifier = verifier
        self.owns_verifier = config is not None
        self.protect = mode == "protect"
        self.public_paths = _PublicPaths(public_paths)
        # Copied out so the per-request test costs no method call.
        self._public_exact = self.public_paths.exact
        self._public_prefixes = self.public_paths.prefixes
        self.realm = realm
        self.sources = BearerSources(
            query=allow_query_token, form=allow_form_token, max_form_bytes=max_form_bytes
        )
        # Header-only reading (the default and the RFC's recommendation) takes the fast
        # path; its memo of parsed header values is per middleware: no global state.
        self._header_only = not (allow_query_token or allow_form_token)
        self._max_header = self.sources.max_header_bytes
        self._parsed: dict[bytes, str] = {}
        self.refusals = RefusalLog()  # what this middleware has logged lately
        self.warm_up = warm_up
        self._dpop = dpop_of(verifier)
        self._challenge = challenge_of(self._dpop)
        self._anonymous = BearerAuth(None, realm, self._challenge)
        self._anonymous_user = AnonymousUser()
        self._warm_task: asyncio.Task[None] | None = None
        # Optional synchronous cache lookup (Verifier.cached): a reused token then costs
        # no coroutine. Verifiers without it are awaited as usual.
        self._cached: Callable[[str], AccessToken | None] | None = getattr(verifier, "cached", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = _route_path(path, root)
        if path in self._public_exact or (
            self._public_prefixes and path.startswith(self._public_prefixes)
        ):
            scope["auth"], scope["user"] = self._anonymous, self._anonymous_user
            await self.app(scope, receive, send)
            return
        try:
            if self._header_only:  # the default: one pass over the headers, memoised parse
                raw = header_token(scope.get("headers", ()), self._max_header, self._parsed)
            else:
                form_token: str | None = None
                if self.sources.form and is_form_candidate(scope, self.sources):
                    body = await self._read_body(receive)
                    if body is None:
                        return  # the client disconnected while sending the body
                    receive = _replay(body, receive)
                    form_token = token_from_form(body)
                raw = find_token(scope, self.sources, form_token)
            token: AccessToken | None
            if raw is not None:
                token = bearer_hit(self._dpop, self._cached, raw) or await self.verifier.verify(raw)
            else:
                token = await authenticate_dpop(self.verifier, self._dpop, scope)
            if token is not None:
                scope["auth"] = BearerAuth(token, self.realm, self._challenge, self.verifier)
                scope["user"] = TokenUser(token)
            elif self.protect:
                raise MissingCredentials()
            else:
                scope["auth"], scope["user"] = self._anonymous, self._anonymous_user
        except GuardError as error:
            log_denial(error, scope, self.refusals)
            await send_error(scope, receive, send, error, self.realm, self._challenge)
            return
        await self.app(scope, receive, send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole request body, bounded: RFC 6750 2.2 puts the token in it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.sources.max_form_bytes:
                # Failing closed: a token beyond the bound must not pass as anonymous.
                raise InvalidRequest("the form body is too large to look for an access token")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.warm_up and self._warm_task is None:
            # In the background: a down issuer must never stop the app from starting.
            self._warm_task = asyncio.create_task(self._warm())

        async def on_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._shutdown()
            await send(message)

        await self.app(scope, receive, on_send)

    async def _warm(self) -> None:
        try:
            await self.verifier.warm_up()
        except KeysUnavailable as error:
            logger.warning("key warm-up failed, the app starts anyway: %s", error.description)
        except Exception:  # the warm-up is an optimisation; no failure may escape it
            logger.warning("key warm-up failed, the app starts anyway", exc_info=True)

    async def _shutdown(self) -> None:
        task, self._warm_task = self._warm_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.owns_verifier:
            await self.verifier.aclose()


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then the real one."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
