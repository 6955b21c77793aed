"""Scopes: reading them from token claims and checking route requirements.

A scope is an exact string (RFC 6749 section 3.3): ``order:reader`` never satisfies
``order:read``, and no prefix, wildcard or case folding applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ._errors import GuardError, InsufficientScope, InvalidToken, Reason
from ._token import AccessToken

__all__ = ["in_token_scheme", "parse_scopes", "require"]

_Refusal = TypeVar("_Refusal", bound=GuardError)
_NONE: frozenset[str] = frozenset()
_BLANK = frozenset({""})


def _split(value: str) -> list[str]:
    # RFC 6749 section 3.3: scope tokens are separated by single spaces (%x20).
    return [part for part in value.split(" ") if part]


def parse_scopes(claims: Mapping[str, Any], claim_names: Iterable[str]) -> frozenset[str]:
    """Union of the scopes found in ``claim_names``.

    Each claim may be a space-delimited string (``scope``, RFC 8693 section 4.2 and
    RFC 9068 section 2.2.3) or a list of strings (``scp``, ``permissions``). Any other
    shape makes the token invalid rather than silently granting or dropping scopes.
    """
    found = _NONE
    for name in claim_names:
        value = claims.get(name)
        if value is None:
            continue
        if type(value) is str:
            part = frozenset(value.split(" "))
        elif type(value) is list and all(type(item) is str for item in value):
            part = frozenset(value)
        else:
            raise InvalidToken(Reason.CLAIM, f"claim {name} must be a string or list of strings")
        found = found | part if found else part
    if "" in found:  # from repeated spaces (and an empty list item, never a scope)
        found = found - _BLANK
    return found


def require(token: AccessToken, scopes: Sequence[str], *, any_of: bool = False) -> None:
    """Raise :class:`InsufficientScope` unless ``token`` grants ``scopes``.

    All of ``scopes`` are needed by default; with ``any_of=True`` one is enough. An
    empty requirement always passes. A single string is read as space-delimited
    scopes, so ``require(token, "order:read")`` is not split into characters.
    """
    required: Sequence[str] = _split(scopes) if isinstance(scopes, str) else scopes
    if not required:
        return
    granted = token.scopes
    if any_of:
        if granted.isdisjoint(required):
            raise in_token_scheme(InsufficientScope(required, any_of=True), token)
    elif not granted.issuperset(required):
        raise in_token_scheme(InsufficientScope(required), token)


def in_token_scheme(error: _Refusal, token: AccessToken) -> _Refusal:
    """A DPoP-bound token came with the DPoP scheme: answer in its challenge (RFC 9449 7.1).

    Also used for the route requirements' refusals (roles, claims, step-up).
    """
    if token.dpop_bound:
        error.scheme = "DPoP"
    return error
