"""Helpers shared by the DPoP tests: keys generated once, DPoP-bound tokens."""

from __future__ import annotations

import functools

from genauth_guard._dpop_key import DPoPKey
from genauth_guard.testing import LocalIssuer


@functools.cache
def cached_key(alg: str, n: int = 0) -> DPoPKey:
    """One key per (alg, n) for the session: RSA key generation is slow."""
    return DPoPKey.generate(alg)


def bound_token(issuer: LocalIssuer, key: DPoPKey, scope: str = "order:read") -> str:
    """A token bound to ``key`` (``cnf.jkt``, RFC 9449 section 6.1), minted directly."""
    return issuer.mint(scope=scope, claims={"cnf": {"jkt": key.thumbprint}})
