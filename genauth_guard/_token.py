"""The verified access token handed to applications."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
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

    @property
    def dpop_bound(self) -> bool:
        """True when the token is bound to a DPoP key (``cnf.jkt``, RFC 9449 section 6)."""
        return self.thumbprint is not None

    @property
    def thumbprint(self) -> str | None:
        """The RFC 7638 thumbprint of the key the token is bound to (``cnf.jkt``), or None."""
        cnf = self.claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, Mapping) else None
        return jkt if isinstance(jkt, str) else None

    def has_scopes(self, required: Iterable[str]) -> bool:
        """True when every required scope is granted (exact match, RFC 6749 section 3.3)."""
        return self.scopes.issuperset(required)

    def has_any_scope(self, candidates: Iterable[str]) -> bool:
        """True when at least one of ``candidates`` is granted."""
        return not self.scopes.isdisjoint(candidates)


def _fast_constructor() -> Any:
    """Build an :class:`AccessToken` without the frozen dataclass ``__init__``.

    A frozen dataclass sets each field through ``object.__setattr__`` with keyword
    handling: about 1.5 us, paid by every first-seen token. Writing the slots through
    their descriptors keeps the class frozen for everyone else at under half the cost.
    """
    names = tuple(f.name for f in fields(AccessToken))
    assert names == ("claims", "header", "scopes", "subject", "client_id", "issuer", "expires_at")
    setters = tuple(getattr(AccessToken, name).__set__ for name in names)
    new = object.__new__
    set_claims, set_header, set_scopes, set_subject, set_client, set_issuer, set_exp = setters

    def make(
        claims: Mapping[str, Any],
        header: Mapping[str, Any],
        scopes: frozenset[str],
        subject: str | None,
        client_id: str | None,
        issuer: str,
        expires_at: int,
    ) -> AccessToken:
        token = new(AccessToken)
        set_claims(token, claims)
        set_header(token, header)
        set_scopes(token, scopes)
        set_subject(token, subject)
        set_client(token, client_id)
        set_issuer(token, issuer)
        set_exp(token, expires_at)
        return token

    return make


#: ``make_access_token(claims, header, scopes, subject, client_id, issuer, expires_at)``
make_access_token: Callable[
    [Mapping[str, Any], Mapping[str, Any], frozenset[str], str | None, str | None, str, int],
    AccessToken,
] = _fast_constructor()
