"""RSA signing keys of the local issuer, with their public JWK form (RFC 7517)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa


def b64url_uint(value: int) -> str:
    """Base64url of a big-endian unsigned integer, no padding (RFC 7518 section 6.3.1)."""
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    """An RSA key pair with a ``kid``; ``retire_at`` is when it leaves the JWKS."""

    kid: str
    private_key: rsa.RSAPrivateKey
    alg: str = "RS256"
    retire_at: float | None = field(default=None)

    @classmethod
    def generate(cls, bits: int = 2048, kid: str | None = None) -> SigningKey:
        """A fresh key (2048 bits by default); ``bits`` lower only to test rejection."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return cls(kid=kid or secrets.token_urlsafe(12), private_key=key)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK as published in the JWKS (RFC 7517 section 4, RFC 7518 6.3)."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": self.alg,
            "kid": self.kid,
            "n": b64url_uint(numbers.n),
            "e": b64url_uint(numbers.e),
        }
