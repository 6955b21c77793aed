"""Signing keys of the local issuer, with their public JWK form (RFC 7517).

RSA (RS*/PS*), EC P-256/384/521 (ES*, RFC 7518 3.4) and Ed25519 (EdDSA, RFC 8037).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from genauth_guard._jwa import EC_ALGORITHMS, PublicKey
from genauth_guard._jwk import public_jwk

__all__ = ["PrivateKey", "SigningKey", "b64url_uint"]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}


def b64url_uint(value: int) -> str:
    """Base64url of a big-endian unsigned integer, no padding (RFC 7518 section 6.3.1)."""
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    """A key pair with a ``kid`` and its ``alg``; ``retire_at`` is when it leaves the JWKS."""

    kid: str
    private_key: PrivateKey
    alg: str = "RS256"
    retire_at: float | None = field(default=None)

    @classmethod
    def generate(cls, bits: int = 2048, kid: str | None = None, alg: str = "RS256") -> SigningKey:
        """A fresh key for ``alg``: RSA of ``bits`` (2048 by default; lower only to test
        rejection) for RS*/PS*, the alg's curve for ES*, Ed25519 for EdDSA."""
        private: PrivateKey
        if alg in EC_ALGORITHMS:
            private = ec.generate_private_key(_CURVES[alg])
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        elif alg[:2] in ("RS", "PS"):
            private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        else:
            raise ValueError(f"no key pair for {alg!r} (HS* uses the issuer's app secret)")
        return cls(kid=kid or secrets.token_urlsafe(12), private_key=private, alg=alg)

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as published in the JWKS (RFC 7517 section 4, RFC 7518 6)."""
        return {"use": "sig", "alg": self.alg, "kid": self.kid, **public_jwk(self.public_key)}
