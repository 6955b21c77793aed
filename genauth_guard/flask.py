"""Flask extension: bearer access tokens on every request, scopes per view (RFC 6750).

::

    guard = GenAuthGuard(app)  # or GenAuthGuard() then guard.init_app(app)

    @app.get("/api/orders")
    @require_scopes("order:read")
    def orders():
        return {"subject": g.access_token.subject}

Configured from ``GuardConfig`` (``config=``) or from ``app.config`` with the names
of the environment variables (``GENAUTH_ISSUER``, ``GENAUTH_AUDIENCE``, ...), plus
``GENAUTH_MODE``, ``GENAUTH_PUBLIC_PATHS``, ``GENAUTH_REALM``. A ``before_request``
hook verifies the token with the shared core (``Verifier.verify_sync``) and puts the
:class:`AccessToken` (or None) on ``flask.g.access_token``; refusals are the HTTP
contract's responses, built by ``_errors.render``. State lives in
``app.extensions["genauth_guard"]``, so one extension object may serve several apps.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, request

from ._asgi import Mode
from ._config import GuardConfig
from ._errors import GuardError
from ._introspection import IntrospectingVerifier
from ._requirements import Requirement, check_route, route_requirements
from ._token import AccessToken
from ._verifier import Verifier
from ._wsgi import RequestGuard, guard_from_settings

__all__ = ["GenAuthGuard", "access_token", "require_any_scope", "require_scopes"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_KEY = "genauth_guard"


class GenAuthGuard:
    """The extension: ``GenAuthGuard(app)`` or ``GenAuthGuard()`` + ``init_app(app)``.

    Options given here win over ``app.config``; ``config`` wins over every
    ``GENAUTH_*`` configuration key. Default mode: ``protect``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        config: GuardConfig | None = None,
        mode: Mode | None = None,
        public_paths: Iterable[str] | None = None,
        realm: str | None = None,
        allow_query_token: bool | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "GENAUTH_CONFIG": config,
            "GENAUTH_MODE": mode,
            "GENAUTH_PUBLIC_PATHS": None if public_paths is None else tuple(public_paths),
            "GENAUTH_REALM": realm,
            "GENAUTH_ALLOW_QUERY_TOKEN": allow_query_token,
        }
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the app's guard (no I/O: keys are fetched on first use) and hook it in."""

        def setting(name: str) -> Any:
            option = self._options.get(name)
            return option if option is not None else app.config.get(name)

        guard = app.extensions[_KEY] = guard_from_settings(setting)

        def authenticate() -> Response | None:
            """Verify the request's token before any view runs (protect/identify)."""
            try:
                token = guard.authenticate(request.environ, request.path)
            except GuardError as error:
                return _refusal(guard, error)
            if token is not None:  # g starts empty for each request: None needs no write
                g.access_token = token
            return None

        app.before_request(authenticate)

    @staticmethod
    def verifier(app: Flask | None = None) -> Verifier | IntrospectingVerifier:
        """The app's verifier (e.g. to call ``verify_sync`` from a CLI command)."""
        return _guard(app).verifier


def _guard(app: Flask | None = None) -> RequestGuard:
    app = app or current_app
    guard = app.extensions.get(_KEY)
    if not isinstance(guard, RequestGuard):
        raise RuntimeError("GenAuthGuard is not initialised on this app (init_app)")
    return guard


def _refusal(guard: RequestGuard, error: GuardError) -> Response:
    status, headers, body = guard.refusal(error, request.environ, request.path)
    return Response(body, status=status, headers=headers)


def access_token() -> AccessToken | None:
    """The verified token of the current request (``flask.g.access_token``), or None."""
    token = g.get("access_token")
    return token if isinstance(token, AccessToken) else None


def _decorator(
    items: tuple[str | Requirement, ...], any_of: bool
) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]:
    declared = route_requirements(items, any_scope=any_of)
    required = frozenset(declared.scopes)
    scopes_only = not declared.rules

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R | Response]:
        # Decided once: a sync view is called as is, an async one through Flask.
        is_async = inspect.iscoroutinefunction(view)

        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if is_async:
                return current_app.ensure_sync(view)(*args, **kwargs)  # type: ignore[no-any-return]
            return view(*args, **kwargs)

        @functools.wraps(view)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R | Response:
            token = g.get("access_token")
            # The common case inline; requirements run in check_route on every request.
            if (
                scopes_only
                and type(token) is AccessToken
                and (not token.scopes.isdisjoint(required) if any_of else required <= token.scopes)
            ):
                return call(*args, **kwargs)
            guard = _guard()
            try:
                check_route(access_token(), declared)
            except GuardError as error:
                return _refusal(guard, error)
            return call(*args, **kwargs)

        return guarded

    return decorate


def require_scopes(
    *scopes: str | Requirement,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]:
    """Run the view only for a token holding every one of ``scopes`` (else 401/403).

    Requirements mix in as in the other adapters (``require_roles("order-admin")``,
    ``claim_equals(...)``, ``require_step_up(...)``). With nothing named, any verified
    token is enough (useful in ``identify`` mode). Put it below ``@app.route``.
    """
    return _decorator(scopes, False)


def require_any_scope(
    *scopes: str | Requirement,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]:
    """Run the view only for a token holding at least one of ``scopes`` (requirements,
    if any, are all needed)."""
    return _decorator(scopes, True)
