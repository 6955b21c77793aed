"""Per-route requirements beyond scopes: claims, roles, predicates and step-up (RFC 9470).

A route declares what it needs in one place, the same way in every adapter: scopes as
strings, mixed with the requirement objects built here::

    require_scopes("order:write", require_roles("order-admin"))       # Starlette
    guard.require_scopes("order:write", require_roles("order-admin"))  # FastAPI

The rules live only here and know nothing of HTTP: a failed requirement is a
:class:`GuardError` (403 :class:`InsufficientPrivileges`, or 401
:class:`InsufficientUserAuthentication` for step-up) that the adapters hand to
``render``. Requirements are checked on every request, after the token is verified (a
cached verification never caches a requirement's verdict).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from ._claims import claim_includes_values, claim_value_equals
from ._errors import GuardError, InsufficientPrivileges, InsufficientUserAuthentication
from ._scopes import in_token_scheme, require
from ._token import AccessToken

__all__ = [
    "DEFAULT_ROLES_CLAIM",
    "Requirement",
    "RouteRequirements",
    "claim_check",
    "claim_equals",
    "claim_includes",
    "claim_includes_any",
    "require_any_role",
    "require_roles",
    "require_step_up",
    "route_requirements",
]

logger = logging.getLogger("genauth_guard.requirements")

#: The claim holding GenAuth's role codes when a token is asked for with the roles scope.
DEFAULT_ROLES_CLAIM = "roles"

# An auth_time this far ahead of the clock is not a recent login but a wrong one; the
# same allowance as the verifier's default leeway for exp, nbf and iat.
_AUTH_TIME_SKEW = 30.0

_JSON_SCALARS = (str, int, float, bool, type(None))
_MISSING: Any = object()


class Requirement:
    """A condition a verified token must meet on a route, beyond its scopes.

    Built by :func:`claim_equals`, :func:`claim_includes`, :func:`claim_includes_any`,
    :func:`claim_check`, :func:`require_roles`, :func:`require_any_role` and
    :func:`require_step_up`. ``description`` is what refusals and ``/docs`` say.
    """

    __slots__ = ("description",)

    def __init__(self, description: str) -> None:
        self.description = description

    def refusal(self, token: AccessToken) -> GuardError | None:
        """The error refusing ``token``, or None when it meets the requirement."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class _Right(Requirement):
    """A right the caller must hold: missing, it is a 403 (the token itself is fine)."""

    __slots__ = ("claim", "test")

    def __init__(
        self, description: str, test: Callable[[AccessToken], bool], claim: str | None
    ) -> None:
        super().__init__(description)
        self.test = test
        self.claim = claim

    def refusal(self, token: AccessToken) -> GuardError | None:
        try:
            ok = self.test(token)
        except Exception:  # a failing rule refuses (fails closed), it never answers 500
            logger.warning(
                "requirement %r raised; request refused", self.description, exc_info=True
            )
            ok = False
        if ok:
            return None
        return InsufficientPrivileges(f"requires {self.description}", claim=self.claim)


class _StepUp(Requirement):
    """RFC 9470: an authentication context (``acr``) and/or a recent login (``auth_time``)."""

    __slots__ = ("acr_values", "clock", "max_age")

    def __init__(
        self, acr_values: tuple[str, ...], max_age: int | None, clock: Callable[[], float]
    ) -> None:
        parts = []
        if acr_values:
            parts.append(f"authentication context (acr) {' or '.join(acr_values)}")
        if max_age is not None:
            parts.append(f"a login within the last {max_age} s (auth_time)")
        super().__init__(" and ".join(parts))
        self.acr_values = acr_values
        self.max_age = max_age
        self.clock = clock

    def refusal(self, token: AccessToken) -> GuardError | None:
        claims = token.claims
        if self.acr_values:
            acr = claims.get("acr")
            if type(acr) is not str or acr not in self.acr_values:
                return self._refuse("a different authentication level is required")
        max_age = self.max_age
        if max_age is not None:
            auth_time: Any = claims.get("auth_time")
            kind = type(auth_time)
            # RFC 9470 section 3 and OIDC Core 2: auth_time is a NumericDate; without
            # one, how recent the login was is unknown, so it is not recent enough.
            if (kind is not int and kind is not float) or not math.isfinite(auth_time):
                return self._refuse("the time of the user's login (auth_time) is required")
            age = self.clock() - float(auth_time)
            if age > max_age:
                return self._refuse("a more recent authentication is required")
            if age < -_AUTH_TIME_SKEW:
                return self._refuse("the time of the user's login (auth_time) is in the future")
        return None

    def _refuse(self, description: str) -> InsufficientUserAuthentication:
        # Every parameter the route needs goes in the challenge, not only the one that
        # failed: the client must meet them all with a single new login.
        return InsufficientUserAuthentication(
            description, acr_values=self.acr_values, max_age=self.max_age
        )


# -- building requirements -------------------------------------------------------------


def _claim_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("a claim name must be a non-empty string")
    return name


def _json_values(values: Iterable[Any], what: str) -> tuple[Any, ...]:
    items = tuple(values)
    if not items:
        raise ValueError(f"{what} needs at least one value")
    for item in items:
        if not isinstance(item, _JSON_SCALARS):
            raise ValueError(f"{what}: {item!r} is not a JSON string, number, boolean or null")
    return items


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def claim_equals(name: str, value: Any, *, description: str | None = None) -> Requirement:
    """Require claim ``name`` to equal ``value`` (JSON equality: ``true`` is not ``1``).

    A missing claim or one of another type does not equal it. ``description`` replaces
    the default text (which shows ``value``) in refusals and ``/docs``.
    """
    name = _claim_name(name)
    (want,) = _json_values((value,), "claim_equals")

    def test(token: AccessToken) -> bool:
        # A missing claim is not JSON null: claim_equals("x", None) needs "x": null.
        have = token.claims.get(name, _MISSING)
        return have is not _MISSING and claim_value_equals(have, want)

    return _Right(description or f"claim {name} = {_shown(want)}", test, name)


def _includes(name: str, values: Iterable[Any], any_of: bool, description: str) -> Requirement:
    wanted = _json_values(values, "claim_includes_any" if any_of else "claim_includes")

    def test(token: AccessToken) -> bool:
        return claim_includes_values(token.claims.get(name), wanted, any_of=any_of)

    return _Right(description, test, name)


def claim_includes(name: str, *values: Any, description: str | None = None) -> Requirement:
    """Require claim ``name`` to include every one of ``values``.

    The claim is a JSON array or a space-delimited string (as ``scope``); any other
    shape, or no claim, includes nothing.
    """
    name = _claim_name(name)
    text = description or f"claim {name} including {' and '.join(map(_shown, values))}"
    return _includes(name, values, False, text)


def claim_includes_any(name: str, *values: Any, description: str | None = None) -> Requirement:
    """Require claim ``name`` to include at least one of ``values`` (shapes as above)."""
    name = _claim_name(name)
    text = description or f"claim {name} including {' or '.join(map(_shown, values))}"
    return _includes(name, values, True, text)


def claim_check(
    predicate: Callable[[AccessToken], bool], description: str | None = None
) -> Requirement:
    """Require ``predicate(token)`` to return True; it runs on every request, never cached.

    The predicate gets the verified :class:`AccessToken` and must be synchronous and
    quick (it runs on the event loop). An exception it raises refuses the request
    (logged as a warning), as does an awaitable it returns by mistake.
    """
    if not callable(predicate):
        raise TypeError("claim_check needs a callable taking the AccessToken")
    # Also callable objects whose __call__ is async: their result would be a coroutine.
    if inspect.iscoroutinefunction(predicate) or inspect.iscoroutinefunction(
        type(predicate).__call__
    ):
        raise TypeError("claim_check predicates must be synchronous functions")
    name = getattr(predicate, "__name__", "")
    text = description or (f"check {name}" if name and name != "<lambda>" else "a custom check")

    def test(token: AccessToken) -> bool:
        result: Any = predicate(token)
        if inspect.isawaitable(result):
            if isinstance(result, Coroutine):
                result.close()  # never awaited: close it so Python does not warn later
            logger.error("claim_check %r returned an awaitable; request refused", text)
            return False
        return bool(result)

    return _Right(text, test, None)


def _role_codes(roles: Iterable[str], what: str) -> tuple[str, ...]:
    codes = tuple(roles)
    if not codes:
        raise ValueError(f"{what} needs at least one role code")
    for code in codes:
        if not isinstance(code, str) or not code or " " in code:
            raise ValueError(f"{what}: role codes are non-empty strings without spaces")
    return codes


def require_roles(*roles: str, claim: str = DEFAULT_ROLES_CLAIM) -> Requirement:
    """Require every one of ``roles`` (GenAuth role codes) in the ``claim`` claim."""
    codes = _role_codes(roles, "require_roles")
    noun = "role" if len(codes) == 1 else "roles"
    return _includes(_claim_name(claim), codes, False, f"{noun} {' and '.join(codes)}")


def require_any_role(*roles: str, claim: str = DEFAULT_ROLES_CLAIM) -> Requirement:
    """Require at least one of ``roles`` in the ``claim`` claim."""
    codes = _role_codes(roles, "require_any_role")
    return _includes(_claim_name(claim), codes, True, f"role {' or '.join(codes)}")


def require_step_up(
    *,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Requirement:
    """Require a strong or recent enough login (RFC 9470), else 401 with a challenge.

    ``acr_values``: the token's ``acr`` must be one of them (in order of preference,
    as the challenge lists them). ``max_age``: the token's ``auth_time`` must be at most
    this many seconds ago. A failure answers 401 ``insufficient_user_authentication``
    with ``acr_values`` / ``max_age``, so the client logs the user in again asking for
    them (RFC 9470 section 4).
    """
    values = (acr_values,) if isinstance(acr_values, str) else tuple(acr_values)
    for value in values:
        if not isinstance(value, str) or not value or " " in value:
            raise ValueError("acr_values are non-empty strings without spaces")
    if max_age is not None and (
        isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
    ):
        raise ValueError("max_age is a whole number of seconds >= 0")
    if not values and max_age is None:
        raise ValueError("require_step_up needs acr_values, max_age or both")
    return _StepUp(values, max_age, clock)


# -- a route's whole declaration -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteRequirements:
    """Everything one route requires: scopes (all of, or any of) plus requirements.

    Adapters build one per route with :func:`route_requirements` and call :meth:`check`
    on each request: scopes first (403 ``insufficient_scope`` with ``scope``), then
    roles, claims and predicates (403), then step-up (401, RFC 9470): a caller that
    lacks a right is not asked to log in again for nothing.
    """

    scopes: tuple[str, ...]
    any_scope: bool
    rules: tuple[Requirement, ...]

    def check(self, token: AccessToken) -> None:
        """Raise the :class:`GuardError` refusing ``token``, or return when it may pass."""
        if self.scopes:
            require(token, self.scopes, any_of=self.any_scope)
        for rule in self.rules:
            error = rule.refusal(token)
            if error is not None:
                raise in_token_scheme(error, token)

    def describe(self) -> str | None:
        """One sentence for ``/docs`` when the route needs more than scopes, else None."""
        if not self.rules:
            return None
        parts = []
        if self.scopes:
            joiner = "one of the scopes" if self.any_scope else "the scopes"
            if len(self.scopes) == 1:
                joiner = "the scope"
            parts.append(f"{joiner} {', '.join(f'`{s}`' for s in self.scopes)}")
        parts.extend(rule.description for rule in self.rules)
        return "Requires " + "; ".join(parts) + "."


def route_requirements(
    items: Iterable[str | Requirement], *, any_scope: bool = False
) -> RouteRequirements:
    """Split a declaration into scopes (strings) and requirements, in check order.

    ``any_scope`` makes one of the scopes enough; requirements are always all needed.
    """
    scopes: list[str] = []
    rights: list[Requirement] = []
    step_ups: list[Requirement] = []
    for item in items:
        if isinstance(item, str):
            scopes.append(item)
        elif isinstance(item, _StepUp):
            step_ups.append(item)
        elif isinstance(item, Requirement):
            rights.append(item)
        else:
            raise TypeError(
                f"expected scopes (str) and requirements (claim_equals, require_roles...), "
                f"got {type(item).__name__}"
            )
    if any_scope and not scopes:
        raise ValueError("require_any_scope needs at least one scope")
    if len(step_ups) > 1:
        raise ValueError("one require_step_up per route: give it acr_values and max_age together")
    return RouteRequirements(tuple(scopes), any_scope, (*rights, *step_ups))
