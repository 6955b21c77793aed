"""JWKS key source: fetch, validate, cache and refresh an issuer's signing keys.

INTERFACE STUB: the keys helper replaces the bodies; the signatures are the contract
the verifier builds on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["JWKSKeySource", "VerificationKey"]


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One usable public key from the JWKS (RFC 7517 section 4)."""

    kid: str | None
    key: RSAPublicKey
    kty: str  # "RSA"
    alg: str | None  # the JWK's "alg", when it names one (RFC 7517 section 4.4)


class JWKSKeySource:
    """Signing keys of one issuer, from ``jwks_uri`` or discovered from ``issuer``."""

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        issuer: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        cache_ttl: float = 600.0,
        refetch_per_minute: float = 5.0,
        stale_max_age: float = 86400.0,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        max_keys: int = 64,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        raise NotImplementedError

    async def get_key(self, kid: str | None) -> VerificationKey:
        """The key for ``kid``; raises InvalidToken(UNKNOWN_KEY) or KeysUnavailable."""
        raise NotImplementedError

    def has_key(self, kid: str | None) -> bool:
        """Cheap, synchronous: is ``kid`` in the current key set (no I/O)."""
        raise NotImplementedError

    async def refresh(self) -> None:
        """Fetch the key set now (warm-up); raises KeysUnavailable on failure."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the HTTP client if this source created it."""
        raise NotImplementedError
