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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import FastAPI, HTTPException, Security
from fastapi.dependencies.models import Dependant
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer, OAuth2
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ExceptionHandler
from starlette.websockets import WebSocket

from ._asgi import BearerAuth, TokenUser, TokenVerifier, log_denial, send_error
from ._bearer import DEFAULT_REALM, BearerSources, find_token, is_form_candidate, token_from_form
from ._errors import GuardError, MissingCredentials, render
from ._requirements import Requirement, RouteRequirements, route_requirements
from ._token import AccessToken

if TYPE_CHECKING:
    from ._config import GuardConfig

__all__ = ["FastAPIGuard", "GuardHTTPException", "guard_exception_handler"]

TokenDependency = Callable[..., Awaitable[AccessToken]]
OptionalTokenDependency = Callable[..., Awaitable[AccessToken | None]]


class GuardHTTPException(HTTPException):
    """A :class:`GuardError` travelling through FastAPI's exception handling.

    An ``HTTPException`` so that, even before :meth:`FastAPIGuard.install`, FastAPI's
    default handler answers with the right status and ``WWW-Authenticate``; installed,
    :func:`guard_exception_handler` answers with exactly the contract body.
    """

    def __init__(self, error: GuardError, realm: str) -> None:
        status, headers, _ = render(error, realm)
        kept = {n: v for n, v in headers if n in ("www-authenticate", "retry-after")}
        detail = {"error": error.code or "unauthorized", "error_description": error.description}
        super().__init__(status_code=status, detail=detail, headers=kept)
        self.error = error
        self.realm = realm


async def guard_exception_handler(conn: HTTPConnection, exc: Exception) -> Response | None:
    """Answer a :class:`GuardHTTPException` as the contract says (RFC 6750 section 3)."""
    assert isinstance(exc, GuardHTTPException)
    if isinstance(conn, WebSocket):
        # Refused before accept: the denial response extension or a 1008 close.
        await send_error(conn.scope, conn.receive, conn.send, exc.error, exc.realm)
        return None
    status, headers, body = render(exc.error, exc.realm)
    return Response(body, status_code=status, headers=dict(headers))


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
            from ._verifier import Verifier

            verifier = Verifier(config)
        assert verifier is not None
        self.verifier: TokenVerifier = verifier
        self.owns_verifier = config is not None
        self.realm = realm
        self.sources = BearerSources(query=allow_query_token, form=allow_form_token)
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
        """Make refusals answer exactly the contract body, not FastAPI's ``{"detail"}``.

        Also makes ``/docs`` say what roles and claims each route requires.
        """
        # One handler serves requests and websockets; Starlette types them apart.
        handler = cast("ExceptionHandler", guard_exception_handler)
        app.add_exception_handler(GuardHTTPException, handler)
        describe_requirements(app)

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

        Reuses the middleware's result; stores its own in ``scope["auth"]`` and
        ``scope["user"]`` so ``request.auth`` works and later dependencies reuse it.
        """
        auth = conn.scope.get("auth")
        token = getattr(auth, "token", None)
        if isinstance(token, AccessToken):
            return token
        form_token = None
        if isinstance(conn, Request) and is_form_candidate(conn.scope, self.sources):
            # Starlette caches the body on the request, so the endpoint still reads it.
            form_token = token_from_form(await conn.body())
        raw = find_token(conn.scope, self.sources, form_token)
        if raw is None:
            return None
        token = await self.verifier.verify(raw)
        conn.scope["auth"], conn.scope["user"] = BearerAuth(token, self.realm), TokenUser(token)
        return token

    def _dependency(self, items: tuple[str | Requirement, ...], any_of: bool) -> TokenDependency:
        declared = route_requirements(items, any_scope=any_of)

        async def dependency(
            conn: HTTPConnection,
            _: Annotated[Any, Security(self.scheme, scopes=list(declared.scopes))],
        ) -> AccessToken:
            try:
                token = await self.authenticate(conn)
                if token is None:
                    raise MissingCredentials()
                declared.check(token)
            except GuardError as error:
                log_denial(error, conn.scope)
                raise GuardHTTPException(error, self.realm) from None
            return token

        setattr(dependency, _REQUIREMENTS_ATTR, declared)  # read by the OpenAPI hook
        return dependency

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

        async def dependency(
            conn: HTTPConnection, _: Annotated[Any, Security(self.scheme)]
        ) -> AccessToken | None:
            try:
                return await self.authenticate(conn)
            except GuardError as error:
                log_denial(error, conn.scope)
                raise GuardHTTPException(error, self.realm) from None

        return dependency


# -- OpenAPI: what a route requires beyond scopes ----------------------------------------

_REQUIREMENTS_ATTR = "genauth_requirements"


def _declared(dependant: Dependant) -> list[RouteRequirements]:
    """The requirements of every guard dependency of a route, nested ones included."""
    found: list[RouteRequirements] = []
    declared = getattr(dependant.call, _REQUIREMENTS_ATTR, None)
    if isinstance(declared, RouteRequirements):
        found.append(declared)
    for sub in dependant.dependencies:
        found.extend(_declared(sub))
    return found


def describe_requirements(app: FastAPI) -> None:
    """Append what each route requires (roles, claims, step-up) to its OpenAPI description.

    Security requirements carry scopes only (OpenAPI 3.1 section 4.8.30), so roles and
    claims go where ``/docs`` shows them to a reader: the operation's description.
    Wraps ``app.openapi`` once; the schema is still built lazily and cached by FastAPI.
    """
    build = app.openapi
    if getattr(build, _REQUIREMENTS_ATTR, False):
        return  # installed already

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        paths = schema.get("paths", {})
        for route in app.routes:
            if not isinstance(route, APIRoute) or route.path_format not in paths:
                continue
            lines = [text for d in _declared(route.dependant) if (text := d.describe())]
            if not lines:
                continue
            for method in route.methods or ():
                operation = paths[route.path_format].get(method.lower())
                if operation is not None:
                    current = operation.get("description")
                    operation["description"] = "\n\n".join([*filter(None, [current]), *lines])
        return schema

    setattr(openapi, _REQUIREMENTS_ATTR, True)
    app.openapi = openapi  # type: ignore[method-assign]
