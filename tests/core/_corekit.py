"""Token forging helpers for the verification tests (any header, payload or signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from genauth_guard._errors import GuardError
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, ManualClock

AUDIENCE = "order-api"

MakeVerifier = Callable[..., Verifier]

# The suite's one hand-moved clock, under the short name these tests use.
Clock = ManualClock


def assert_not_echoed(error: GuardError, token: object) -> None:
    """No piece of the token (beyond a few characters) appears in the description."""
    if isinstance(token, str):
        for piece in token.split("."):
            if len(piece) >= 8:
                assert piece[:8] not in error.description


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    """A JSON value (or raw bytes/str, used as is) as a base64url segment."""
    if isinstance(value, bytes):
        return b64url(value)
    if isinstance(value, str):
        return b64url(value.encode())
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def rsa_sign(private_key: rsa.RSAPrivateKey, signing_input: str, alg: str = "RS256") -> bytes:
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        pad: padding.AsymmetricPadding = padding.PSS(padding.MGF1(digest), digest.digest_size)
    else:
        pad = padding.PKCS1v15()
    return private_key.sign(signing_input.encode("ascii"), pad, digest)


def forge(
    header: Any,
    payload: Any,
    *,
    key: rsa.RSAPrivateKey | None = None,
    alg: str = "RS256",
    hmac_secret: bytes | None = None,
    signature: bytes | None = None,
) -> str:
    """A compact JWS over arbitrary header/payload, RSA- or HMAC-signed, or unsigned."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    if signature is None:
        if key is not None:
            signature = rsa_sign(key, signing_input, alg)
        elif hmac_secret is not None:
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
            signature = hmac.new(hmac_secret, signing_input.encode(), digest[alg]).digest()
        else:
            signature = b""
    return f"{signing_input}.{b64url(signature)}"


def mint(
    issuer: LocalIssuer,
    *,
    claims: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    omit: tuple[str, ...] = (),
) -> str:
    """Like ``LocalIssuer.mint`` but without PyJWT's own checks on claim types."""
    key = issuer.signing_key
    body = issuer.claims_for() | (claims or {})
    for name in omit:
        body.pop(name, None)
    head = {"alg": "RS256", "typ": "JWT", "kid": key.kid} | (header or {})
    return forge(head, body, key=key.private_key)
