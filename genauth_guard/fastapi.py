"""FastAPI dependencies requiring a bearer token and scopes (RFC 6750), with OpenAPI docs.

::

    guard = FastAPIGuard(config=GuardConfig(issuer=..., audience="order-api"))
    app = FastAPI(lifespan=guard.lifespan)
    guard.install(app)

    @app.get("/orders")
    async def orders(token: AccessToken = Depends(guard.require_scopes("order:read"))): ...

The dependency verifies the token itself, so no middleware is needed; when
:class:`GuardMiddleware` already verified it (``scope["auth"]``), it is reused, not
verified twice. Routes carry an HTTP bearer security scheme (or an OAuth 2.0
client-credentials flow when ``token_url`` is given) with their scopes, so ``/docs``
offers an "Authorize" button.
"""

# No ``from __future__ import annotations``: FastAPI reads these signatures at runtime.

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from fastapi import FastAPI, HTTPException
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer, OAuth2
from fastapi.security.base import SecurityBase
from fastapi.security.http import HTTPBase
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from ._asgi import (
    BearerAuth,
    TokenUser,
    TokenVerifier,
    authenticate_dpop,
    bearer_hit,
    challenge_of,
    dpop_of,
    log_denial,
    send_error,
)
from ._bearer import (
    DEFAULT_REALM,
    BearerSources,
    find_token,
    header_token,
    is_form_candidate,
    token_from_form,
)
from ._errors import GuardError, MissingCredentials, render
from ._refusal_log import RefusalLog
from ._requirements import Requirement, RouteRequirements, route_requirements
from ._token import AccessToken

if TYPE_CHECKING:
    from ._config import GuardConfig

__all__ = ["FastAPIGuard", "GuardHTTPException", "docs_paths", "guard_exception_handler"]

TokenDependency = Callable[..., Awaitable[AccessToken]]
OptionalTokenDependency = Callable[..., Awaitable[AccessToken | None]]


class GuardHTTPException(HTTPException):
    """A :class:`GuardError` travelling through FastAPI's exception handling.

    An ``HTTPException`` so that, even before :meth:`FastAPIGuard.install`, FastAPI's
    default handler answers with the right status and ``WWW-Authenticate``; installed,
    :func:`guard_exception_handler` answers with exactly the contract body.
    """

    def __init__(
        self,
        error: GuardError,
        realm: str,
        challenge: tuple[Sequence[str], bool] = ((), True),
    ) -> None:
        status, headers, _ = render(error, realm, dpop_algs=challenge[0], bearer=challenge[1])
        kept: dict[str, str] = {}
        for name, value in headers:
            if name in ("www-authenticate", "retry-after", "dpop-nonce"):
                # A dict holds one value per name: challenges join (RFC 9110 11.6.1).
                kept[name] = f"{kept[name]}, {value}" if name in kept else value
        detail = {"error": error.code or "unauthorized", "error_description": error.description}
        super().__init__(status_code=status, detail=detail, headers=kept)
        self.error = error
        self.realm = realm
        self.challenge = challenge


async def guard_exception_handler(conn: HTTPConnection, exc: Exception) -> Response | None:
    """Answer a :class:`GuardHTTPException` as the contract says (RFC 6750 section 3)."""
    assert isinstance(exc, GuardHTTPException)
    if isinstance(conn, WebSocket):
        # Refused before accept: the denial response extension or a 1008 close.
        await send_error(conn.scope, conn.receive, conn.send, exc.error, exc.realm, exc.challenge)
        return None
    algs, bearer = exc.challenge
    status, headers, body = render(exc.error, exc.realm, dpop_algs=algs, bearer=bearer)
    response = Response(body, status_code=status)
    # Raw headers: two WWW-Authenticate challenges must stay two headers.
    response.raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    return response


def docs_paths(app: FastAPI) -> list[str]:
    """The paths of ``app``'s interactive docs, to pass as public paths together.

    Swagger UI needs ``/docs``, ``/openapi.json`` and ``/docs/oauth2-redirect``; ReDoc
    ``/redoc``. Each is the app's own setting, so renamed or disabled ones follow::

        app.add_middleware(GuardMiddleware, config=config,
                           public_paths=["/health", *docs_paths(app)])
    """
    # FastAPI serves the OAuth2 redirect page only along with Swagger UI.
    redirect = app.swagger_ui_oauth2_redirect_url if app.docs_url else None
    urls = (app.docs_url, app.openapi_url, redirect, app.redoc_url)
    return [url for url in urls if url]


class FastAPIGuard:
    """Bearer-token dependencies for FastAPI routes, sharing one verifier.

    Pass a ``verifier`` (you own it) or a ``config`` (the guard builds a
    :class:`Verifier`; use ``lifespan=guard.lifespan`` or ``await guard.aclose()``).
    """

    def __init__(
        self,
        verifier: TokenVerifier | None = None,
        *,
        config: "GuardConfig | None" = None,
        realm: str = DEFAULT_REALM,
        allow_query_token: bool = False,
        allow_form_token: bool = False,
        token_url: str | None = None,
        scope_descriptions: Mapping[str, str] | None = None,
        scheme_name: str = "bearer",
        description: str | None = "An OAuth 2.0 access token (JWT), RFC 6750.",
    ) -> None:
        if (verifier is None) == (config is None):
            raise TypeError("pass exactly one of verifier= or config=")
        if config is not None:
            from ._introspection import make_verifier

            verifier = make_verifier(config)
        assert verifier is not None
        self.verifier: TokenVerifier = verifier
        self.owns_verifier = config is not None
        self.realm = realm
        self.dpop = dpop_of(verifier)
        self.challenge = challenge_of(self.dpop)
        # RFC 9449 section 7.1: the DPoP scheme, documented beside the bearer one (or
        # alone when DPoP is required).
        self.dpop_scheme: SecurityBase | None = (
            HTTPBase(
                scheme="DPoP",
                scheme_name="dpop",
                description="A DPoP-bound access token with a DPoP proof header, RFC 9449.",
                auto_error=False,
            )
            if self.dpop is not None
            else None
        )
        self.sources = BearerSources(query=allow_query_token, form=allow_form_token)
        self.refusals = RefusalLog()  # what this guard has logged lately
        # The middleware's fast path: header-only reading with a memo of parsed values,
        # and the verifier's synchronous cache lookup (no coroutine for a reused token).
        self._header_only = not (allow_query_token or allow_form_token)
        self._max_header = self.sources.max_header_bytes
        self._parsed: dict[bytes, str] = {}
        self._cached: Callable[[str], AccessToken | None] | None = getattr(verifier, "cached", None)
        self.scheme: SecurityBase
        if token_url is not None:
            # Swagger UI then fetches a token itself from a client id and secret.
            flows = OAuthFlows(
                clientCredentials=OAuthFlowClientCredentials(
                    tokenUrl=token_url, scopes=dict(scope_descriptions or {})
                )
            )
            self.scheme = OAuth2(
                flows=flows, scheme_name=scheme_name, description=description, auto_error=False
            )
        else:
            self.scheme = HTTPBearer(
                bearerFormat="JWT",
                scheme_name=scheme_name,
                description=description,
                auto_error=False,
            )

    # -- wiring ---------------------------------------------------------------------

    def install(self, app: FastAPI) -> None:
        """Make refusals answer exactly the contract body, not FastAPI's ``{"detail"}``,
        and list each route's required scopes (and roles, claims...) in OpenAPI."""
        # One handler serves requests and websockets; Starlette types them apart.
        handler = cast("ExceptionHandler", guard_exception_handler)
        app.add_exception_handler(GuardHTTPException, handler)
        self._document_scopes(app)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """``FastAPI(lifespan=guard.lifespan)``: keys warmed in the background, closed at exit."""
        import asyncio

        from ._asgi import logger

        async def warm() -> None:
            try:
                await self.verifier.warm_up()
            except Exception as error:  # never stops the app from starting
                logger.warning("key warm-up failed, the app starts anyway: %s", error)

        task = asyncio.create_task(warm())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.aclose()

    async def aclose(self) -> None:
        """Close the verifier if this guard built it."""
        if self.owns_verifier:
            await self.verifier.aclose()

    # -- verification ---------------------------------------------------------------

    async def authenticate(self, conn: HTTPConnection) -> AccessToken | None:
        """The caller's verified token, or None when none was sent (RFC 6750 section 2).

        Reuses a verdict in ``scope["auth"]`` only when this guard's verifier produced it
        (a middleware or guard sharing the verifier); otherwise verifies with its own.
        Stores its result in ``scope["auth"]`` and ``scope["user"]`` so ``request.auth``
        works and later dependencies of this guard reuse it.
        """
        scope = conn.scope
        auth = scope.get("auth")
        token = getattr(auth, "token", None)
        if isinstance(token, AccessToken) and getattr(auth, "verifier", None) is self.verifier:
            return token
        if self._header_only:  # the default: one pass over the headers, memoised parse
            raw = header_token(scope.get("headers", ()), self._max_header, self._parsed)
        else:
            form_token = None
            if isinstance(conn, Request) and is_form_candidate(scope, self.sources):
                # Starlette caches the body on the request, so the endpoint still reads it.
                form_token = token_from_form(await conn.body())
            raw = find_token(scope, self.sources, form_token)
        if raw is not None:
            token = bearer_hit(self.dpop, self._cached, raw) or await self.verifier.verify(raw)
        else:
            token = await authenticate_dpop(self.verifier, self.dpop, scope)
            if token is None:
                return None
        scope["auth"] = BearerAuth(token, self.realm, self.challenge, self.verifier)
        scope["user"] = TokenUser(token)
        return token

    @property
    def documented_scheme(self) -> SecurityBase:
        """The scheme a route's requirement carries in OpenAPI: DPoP when required."""
        dpop = self.dpop_scheme
        if dpop is not None and self.dpop is not None and not self.dpop.bearer_allowed:
            return dpop
        return self.scheme

    def _dependency(self, items: tuple[str | Requirement, ...], any_of: bool) -> TokenDependency:
        return _Requirement(self, route_requirements(items, any_scope=any_of), optional=False)

    def require_scopes(self, *scopes: str | Requirement) -> TokenDependency:
        """A dependency giving the :class:`AccessToken` when it holds all of ``scopes``.

        Requirements (``require_roles``, ``claim_equals``, ``require_step_up``...) mixed
        in with the scopes must all be met too. With no scopes, any verified token
        meeting the requirements is enough.
        """
        return self._dependency(scopes, False)

    def require_any_scope(self, *scopes: str | Requirement) -> TokenDependency:
        """A dependency giving the :class:`AccessToken` when it holds one of ``scopes``.

        Requirements mixed in are all needed, whichever scope the token holds.
        """
        return self._dependency(scopes, True)

    def optional(self) -> OptionalTokenDependency:
        """A dependency giving the token when one is sent, None for anonymous callers.

        A token that is sent but invalid is still refused (401).
        """
        return _Requirement(self, _NOTHING_DECLARED, optional=True)

    def _document_scopes(self, app: FastAPI) -> None:
        """Put each route's required scopes in its OpenAPI security requirement.

        FastAPI takes those scopes only from ``Security(..., scopes=...)``; the guard's
        requirements are plain ``Depends`` (one level, no sub-dependency on the hot
        path), so their scopes are added to the generated document here. Roles, claims
        and step-up have no place in a security requirement (OpenAPI 3.1 section
        4.8.30): they are appended to the operation's description, where ``/docs``
        shows them ("Requires the scope `order:write`; role order-admin.").
        """
        generate = app.openapi
        if getattr(generate, "genauth_guard", None) is self:
            return  # installed already: documenting twice would repeat the DPoP alternative
        name = self.documented_scheme.scheme_name
        # Allowed mode: DPoP is an alternative (its own requirement object, RFC 9449 7.1).
        alternative = self.dpop_scheme if self.documented_scheme is self.scheme else None

        def openapi() -> dict[str, Any]:
            if app.openapi_schema:
                return app.openapi_schema
            schema = generate()
            for route in app.routes:
                if not isinstance(route, APIRoute):
                    continue
                routed = self._route_requirements(route.dependant)
                scopes = list(dict.fromkeys(s for r in routed for s in r.scopes))
                lines = [text for r in routed if (text := r.describe())]
                operations = schema.get("paths", {}).get(route.path_format, {})
                for method in route.methods or ():
                    operation = operations.get(method.lower())
                    security = (operation or {}).get("security", [])
                    for requirement in list(security):
                        if name in requirement:
                            wanted = [s for s in scopes if s not in requirement[name]]
                            requirement[name] = [*requirement[name], *wanted]
                            if alternative is not None:
                                security.append({alternative.scheme_name: requirement[name]})
                    if operation is not None and lines:
                        _describe(operation, lines)
            if alternative is not None:
                declared = schema.setdefault("components", {}).setdefault("securitySchemes", {})
                declared[alternative.scheme_name] = alternative.model.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )
            return schema

        openapi.genauth_guard = self  # type: ignore[attr-defined]
        app.openapi = openapi  # type: ignore[method-assign]

    def _route_requirements(self, dependant: Dependant) -> list[RouteRequirements]:
        """What the guard's dependencies on a route declare, in order."""
        found: list[RouteRequirements] = []
        pending = [dependant]
        while pending:
            current = pending.pop()
            call = current.call
            if isinstance(call, _Requirement) and call.guard is self:
                found.append(call.declared)
            pending.extend(reversed(current.dependencies))
        return found


def _describe(operation: dict[str, Any], lines: list[str]) -> None:
    """Append ``lines`` to an OpenAPI operation's description, each once."""
    current = operation.get("description") or ""
    new = [line for line in lines if line not in current]
    if new:
        operation["description"] = "\n\n".join([*filter(None, [current]), *new])


_NOTHING_DECLARED = route_requirements(())


class _Requirement(SecurityBase):
    """A route's token requirement: the security scheme FastAPI documents, and the
    dependency whose call is the verification itself.

    One level: FastAPI resolves no sub-dependency for it (a ``Security(HTTPBearer)``
    sub-dependency alone costs about as much as the rest of the guard on a cached
    token). It carries the guard's scheme ``model`` and ``scheme_name``, so OpenAPI
    shows the same scheme; the scopes are added by :meth:`FastAPIGuard.install`.
    """

    def __init__(self, guard: FastAPIGuard, declared: RouteRequirements, *, optional: bool) -> None:
        self.guard = guard
        documented = guard.documented_scheme
        self.model = documented.model
        self.scheme_name = documented.scheme_name
        self.declared = declared  # scopes, roles, claims, step-up (_requirements)
        self.scopes = declared.scopes
        self.any_of = declared.any_scope
        self.optional = optional

    def __repr__(self) -> str:
        kind = "optional" if self.optional else "any of" if self.any_of else "all of"
        return f"<{self.scheme_name} requirement, {kind}: {' '.join(self.scopes)}>"

    async def __call__(self, conn: HTTPConnection) -> Any:
        guard = self.guard
        try:
            token = await guard.authenticate(conn)
            if token is None:
                if self.optional:
                    return None
                raise MissingCredentials()
            self.declared.check(token)
        except GuardError as error:
            log_denial(error, conn.scope, guard.refusals)
            raise GuardHTTPException(error, guard.realm, guard.challenge) from None
        return token
