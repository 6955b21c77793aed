"""Matching claim values: JSON equality and the members of multi-valued claims.

Shared by the per-route requirements and the verifier's configured claim checks, so a
claim is read the same way wherever a rule looks at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["claim_members", "claim_value_equals"]


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
