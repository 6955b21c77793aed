"""Django and Django REST Framework: bearer access tokens from settings (RFC 6750).

Settings use the names of the environment variables (``GENAUTH_ISSUER``,
``GENAUTH_AUDIENCE``, ... see docs/configuration.md; the process environment fills in
what settings leave out), or ``GENAUTH_CONFIG = GuardConfig(...)``, plus
``GENAUTH_MODE``, ``GENAUTH_PUBLIC_PATHS``, ``GENAUTH_REALM``.

- :class:`GenAuthMiddleware` (``MIDDLEWARE``): protect or identify mode, public
  paths; ``request.access_token`` is the :class:`AccessToken` or None. Sync under
  WSGI (``verify_sync``), async under ASGI (``verify``: key fetches never block the
  event loop).
- DRF: :class:`GenAuthAuthentication` (``request.auth`` is the ``AccessToken``;
  ``authenticate_header`` gives the challenge, so DRF answers 401, not 403) and
  :func:`require_scopes` / :func:`require_any_scope`, which build permission classes.
  Set ``EXCEPTION_HANDLER`` to :func:`exception_handler` for responses byte for byte
  as the other adapters send them; DRF's own handler gives the same status,
  ``WWW-Authenticate``, ``Retry-After`` and JSON fields.

One guard (one :class:`Verifier`, its caches and keys) serves the process; it is
built from settings on first use and rebuilt when a ``GENAUTH_*`` setting changes.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission

from ._asgi import TokenUser
from ._errors import GuardError, MissingCredentials
from ._requirements import Requirement, check_route, route_requirements
from ._token import AccessToken
from ._wsgi import RequestGuard, guard_from_settings

__all__ = [
    "GenAuthAuthentication",
    "GenAuthMiddleware",
    "GuardAPIException",
    "GuardUser",
    "exception_handler",
    "get_guard",
    "require_any_scope",
    "require_scopes",
]


@functools.cache
def get_guard() -> RequestGuard:
    """The process's guard, built from settings on first use (no I/O)."""
    return guard_from_settings(lambda name: getattr(settings, name, None))


def _settings_changed(*, setting: str, **_: Any) -> None:
    if setting.startswith("GENAUTH_") and get_guard.cache_info().currsize:
        get_guard().verifier.close()
        get_guard.cache_clear()


setting_changed.connect(_settings_changed)


def _response(guard: RequestGuard, error: GuardError, request: HttpRequest) -> HttpResponse:
    return _http_response(guard.refusal(error, request.META, request.path_info))


def _http_response(rendered: tuple[int, list[tuple[str, str]], bytes]) -> HttpResponse:
    """``render``'s response as Django sends it. Django holds one value per header name,
    so several challenges share one WWW-Authenticate, comma-joined (RFC 7235 4.1)."""
    status, headers, body = rendered
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return HttpResponse(body, status=status, headers=joined)


class GenAuthMiddleware:
    """Verify the bearer token of every request but public paths (``protect``), or of
    those that send one (``identify``); refusals follow the HTTP contract."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        get_guard()  # built when Django loads its middleware: bad settings stop startup
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        guard = get_guard()
        try:
            request.access_token = guard.authenticate(
                request.META, request.path_info, request.scheme
            )
        except GuardError as error:
            return _response(guard, error, request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> Any:
        guard = get_guard()
        try:
            request.access_token = await guard.authenticate_async(
                request.META, request.path_info, request.scheme
            )
        except GuardError as error:
            return _response(guard, error, request)
        response: Awaitable[Any] = self.get_response(request)
        return await response


class GuardAPIException(APIException):  # type: ignore[misc]
    """A guard refusal as DRF raises it; its fields come from ``_errors.render``."""

    def __init__(self, error: GuardError, guard: RequestGuard, request: Any) -> None:
        self.rendered = guard.refusal(error, request.META, request.path_info)
        status, headers, body = self.rendered
        super().__init__(detail=json.loads(body))
        self.status_code = status
        self.guard_error = error
        # What DRF's own exception handler sends: one WWW-Authenticate (several
        # challenges comma-joined, RFC 7235 section 4.1) and Retry-After.
        challenges = [value for name, value in headers if name == "www-authenticate"]
        if challenges:
            self.auth_header = ", ".join(challenges)
        for name, value in headers:
            if name == "retry-after":
                self.wait = int(value)


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """DRF ``EXCEPTION_HANDLER``: guard refusals exactly as rendered, others as DRF does."""
    if isinstance(exc, GuardAPIException):
        return _http_response(exc.rendered)
    # Imported here: rest_framework.views reads settings as it loads.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


class GuardUser(TokenUser):
    """``request.user`` for a verified token: authenticated, identified by its subject
    (or client id); what DRF's throttles and permissions read of a user."""

    __slots__ = ()
    is_anonymous = False

    @property
    def pk(self) -> str:
        return self.identity

    @property
    def username(self) -> str:
        return self.identity


class GenAuthAuthentication(BaseAuthentication):  # type: ignore[misc]
    """DRF authentication: ``(GuardUser, AccessToken)`` for a bearer or DPoP token,
    None without one (or on a public path); an invalid token is refused, never ignored."""

    def authenticate(self, request: Any) -> tuple[GuardUser, AccessToken] | None:
        guard = get_guard()
        try:
            token = guard.verify_request(request.META, request.path_info, request.scheme)
        except GuardError as error:
            raise GuardAPIException(error, guard, request) from None
        return None if token is None else (GuardUser(token), token)

    def authenticate_header(self, request: Any) -> str | None:
        """The bare challenges (RFC 6750 3.1, RFC 9449 7.1): DRF then answers 401, not 403."""
        return ", ".join(get_guard().challenges(MissingCredentials())) or None


def _permission(items: tuple[str | Requirement, ...], any_of: bool) -> type[BasePermission]:
    declared = route_requirements(items, any_scope=any_of)

    class ScopePermission(BasePermission):  # type: ignore[misc]
        def has_permission(self, request: Any, view: Any) -> bool:
            auth = request.auth
            try:
                check_route(auth if isinstance(auth, AccessToken) else None, declared)
            except GuardError as error:
                raise GuardAPIException(error, get_guard(), request) from None
            return True

    ScopePermission.__name__ = ScopePermission.__qualname__ = "RequireScopes"
    ScopePermission.__doc__ = declared.describe() or "Requires: " + (
        " ".join(declared.scopes) or "a verified token"
    )
    return ScopePermission


def require_scopes(*scopes: str | Requirement) -> type[BasePermission]:
    """A DRF permission class: a token holding every one of ``scopes`` (else 401/403).

    ``permission_classes = [require_scopes("order:write", require_roles("order-admin"))]``:
    requirements mix in as in the other adapters; with nothing named, any verified token.
    """
    return _permission(scopes, False)


def require_any_scope(*scopes: str | Requirement) -> type[BasePermission]:
    """A DRF permission class: a token holding at least one of ``scopes`` (requirements,
    if any, are all needed)."""
    return _permission(scopes, True)
