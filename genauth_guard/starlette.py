"""Starlette endpoint decorators requiring scopes (RFC 6750 section 3.1) and more.

They read what :class:`GuardMiddleware` left in ``scope["auth"]``::

    @require_scopes("order:read")
    async def orders(request: Request) -> Response: ...

    @require_scopes("order:write", require_roles("order-admin"))  # roles, claims, step-up
    async def delete_order(request: Request) -> Response: ...

No verified token in the scope (no middleware, or an anonymous caller in ``identify``
mode) answers 401 without an error code; a token lacking the scopes answers 403
``insufficient_scope`` with ``scope="..."``. Websocket endpoints are refused before
accept, with the denial response extension when the server offers it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from ._asgi import log_denial, send_error
from ._bearer import DEFAULT_REALM
from ._errors import GuardError, MissingCredentials, render
from ._requirements import Requirement, RouteRequirements, route_requirements
from ._token import AccessToken

__all__ = ["access_token", "require_any_scope", "require_scopes"]

_P = ParamSpec("_P")


def access_token(conn: HTTPConnection) -> AccessToken | None:
    """The verified token the middleware attached to ``conn``, or None."""
    auth = conn.scope.get("auth")
    token = getattr(auth, "token", None)
    return token if isinstance(token, AccessToken) else None


def _check(conn: HTTPConnection, declared: RouteRequirements) -> None:
    token = access_token(conn)
    if token is None:
        raise MissingCredentials()
    declared.check(token)  # nothing declared: any verified token will do


def _challenge(conn: HTTPConnection) -> tuple[Sequence[str], bool]:
    """The schemes the middleware offers (``(dpop_algs, bearer)`` for ``render``)."""
    challenge = getattr(conn.scope.get("auth"), "challenge", None)
    return challenge if isinstance(challenge, tuple) else ((), True)


def _realm(conn: HTTPConnection, realm: str | None) -> str:
    return realm or getattr(conn.scope.get("auth"), "realm", None) or DEFAULT_REALM


def _error_response(error: GuardError, realm: str, conn: HTTPConnection) -> Response:
    algs, bearer = _challenge(conn)
    status, headers, body = render(error, realm, dpop_algs=algs, bearer=bearer)
    response = Response(body, status_code=status)
    # Raw headers: two WWW-Authenticate challenges must stay two headers.
    response.raw_headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    return response


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    # By type rather than by parameter name: works for functions and endpoint methods.
    if args and isinstance(args[0], HTTPConnection):  # a function endpoint: the usual case
        return args[0]
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("a scope-checked endpoint needs a Request or WebSocket argument")


def _decorator(
    items: tuple[str | Requirement, ...], any_of: bool, realm: str | None
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    declared = route_requirements(items, any_scope=any_of)
    required = frozenset(declared.scopes)
    scopes_only = not declared.rules

    def allowed(conn: HTTPConnection) -> bool:
        """The common case, checked inline; refusals go the full way to their error."""
        if not scopes_only:
            return False  # requirements run in _check, on every request
        token = getattr(conn.scope.get("auth"), "token", None)
        if type(token) is not AccessToken:
            return False
        granted = token.scopes
        return not granted.isdisjoint(required) if any_of else required <= granted

    def decorate(func: Callable[_P, Any]) -> Callable[_P, Any]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_endpoint(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                # type() first: isinstance against Starlette's classes is slower.
                first = args[0] if args else None
                conn = first if type(first) is Request else _connection(args, kwargs)
                if allowed(conn):
                    return await func(*args, **kwargs)
                try:
                    _check(conn, declared)
                except GuardError as error:
                    log_denial(error, conn.scope)
                    if isinstance(conn, WebSocket):
                        await send_error(
                            conn.scope,
                            conn.receive,
                            conn.send,
                            error,
                            _realm(conn, realm),
                            _challenge(conn),
                        )
                        return None
                    return _error_response(error, _realm(conn, realm), conn)
                return await func(*args, **kwargs)

            return async_endpoint

        # Sync endpoints stay sync, so Starlette still runs them in its thread pool.
        @functools.wraps(func)
        def sync_endpoint(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            conn = _connection(args, kwargs)
            try:
                _check(conn, declared)
            except GuardError as error:
                log_denial(error, conn.scope)
                return _error_response(error, _realm(conn, realm), conn)
            return func(*args, **kwargs)

        return sync_endpoint

    return decorate


def require_scopes(
    *scopes: str | Requirement, realm: str | None = None
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Decorate an endpoint so it runs only for a token holding every one of ``scopes``.

    Requirements (``require_roles``, ``claim_equals``, ``require_step_up``...) mixed in
    with the scopes must all be met too. With no scopes, any verified token meeting
    the requirements is enough (useful in ``identify`` mode).
    """
    return _decorator(scopes, False, realm)


def require_any_scope(
    *scopes: str | Requirement, realm: str | None = None
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Decorate an endpoint so it runs only for a token holding at least one of ``scopes``.

    Requirements mixed in are all needed, whichever scope the token holds.
    """
    return _decorator(scopes, True, realm)
