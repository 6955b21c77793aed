"""The verified access token handed to applications."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AccessToken"]


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token that passed verification: its claims, scopes, subject and client id.

    The raw token string is deliberately not kept, so it cannot leak through a repr,
    a log line or an error page.
    """

    claims: Mapping[str, Any] = field(repr=False)
    header: Mapping[str, Any] = field(repr=False)
    scopes: frozenset[str]
    subject: str | None
    client_id: str | None
    issuer: str
    expires_at: int

    def has_scopes(self, required: Iterable[str]) -> bool:
        """True when every required scope is granted (exact match, RFC 6749 section 3.3)."""
        return self.scopes.issuperset(required)

    def has_any_scope(self, candidates: Iterable[str]) -> bool:
        """True when at least one of ``candidates`` is granted."""
        return not self.scopes.isdisjoint(candidates)
