"""Matching claim values: JSON equality and the members of multi-valued claims.

Shared by the per-route requirements and the verifier's configured claim checks, so a
claim is read the same way wherever a rule looks at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["claim_includes_values", "claim_members", "claim_value_equals"]


def claim_value_equals(have: Any, want: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (booleans equal only booleans)."""
    return (type(have) is bool) == (type(want) is bool) and bool(have == want)


def claim_members(value: Any) -> Sequence[Any] | None:
    """The members of a multi-valued claim: a space-delimited string or a JSON array.

    The string form is the one of ``scope`` (RFC 6749 section 3.3); the array form the
    one of ``roles`` and ``groups`` (RFC 9068 section 2.2.3.1). Any other shape (a
    missing claim, a number, an object) has no members: None.
    """
    if type(value) is str:
        return [part for part in value.split(" ") if part]
    if type(value) is list:
        return value
    return None


def claim_includes_values(value: Any, wanted: Sequence[Any], *, any_of: bool = False) -> bool:
    """Whether the claim ``value`` includes every one of ``wanted`` (one, with ``any_of``).

    Members are read by :func:`claim_members` and compared by JSON equality; a claim of
    any other shape includes nothing.
    """
    members = claim_members(value)
    if members is None:
        return False
    if len(wanted) == 1:
        return _contains(members, wanted[0])
    if any_of:
        return any(_contains(members, want) for want in wanted)
    return all(_contains(members, want) for want in wanted)


def _contains(members: Sequence[Any], want: Any) -> bool:
    if type(want) is str:
        # A string equals only a string: list membership (==, no hashing, members may
        # be objects) is the same test, several times faster. Role codes go this way.
        return want in members
    return any(claim_value_equals(have, want) for have in members)
