"""The caller's DPoP key and the proofs it signs (RFC 9449 sections 4.1, 4.2).

A :class:`DPoPKey` holds a private key (ES256 by default, also ES384, RS256, PS256 and
EdDSA) and signs one proof JWT per request. Used by the client credentials helper,
the CLI and tests; it knows nothing of the server side.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ._jwk import jwk_thumbprint, public_jwk

__all__ = ["DPoPKey", "b64url"]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Ed25519PrivateKey
_EC = {"ES256": (ec.SECP256R1, hashes.SHA256, 32), "ES384": (ec.SECP384R1, hashes.SHA384, 48)}
_EC_ALG_OF_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384"}
_RSA = {"RS256", "PS256"}


def b64url(raw: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _raw(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError("JWK members are base64url strings")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _uint(value: object) -> int:
    return int.from_bytes(_raw(value), "big")


def _b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


class DPoPKey:
    """A key pair that proves possession in DPoP proofs.

    ``DPoPKey.generate()`` makes an ES256 (P-256) key; ``DPoPKey.from_jwk(private_jwk)``
    or ``DPoPKey(private_key, alg)`` use one you keep. :attr:`thumbprint` is what an
    issuer puts in ``cnf.jkt`` (RFC 7638).
    """

    def __init__(self, private_key: PrivateKey, alg: str | None = None) -> None:
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            expected = _EC_ALG_OF_CURVE.get(private_key.curve.name)
            if expected is None or alg not in (None, expected):
                raise ValueError("EC DPoP keys are P-256 (ES256) or P-384 (ES384)")
            alg = expected
        elif isinstance(private_key, rsa.RSAPrivateKey):
            alg = alg or "PS256"
            if alg not in _RSA or private_key.key_size < 2048:
                raise ValueError("RSA DPoP keys use RS256 or PS256 with at least 2048 bits")
        elif isinstance(private_key, Ed25519PrivateKey):
            if alg not in (None, "EdDSA"):
                raise ValueError("Ed25519 DPoP keys use EdDSA")
            alg = "EdDSA"
        else:
            raise TypeError("a DPoP key is an EC, RSA or Ed25519 private key")
        self.private_key = private_key
        self.alg = alg
        self._public = public_jwk(private_key.public_key())
        self.thumbprint = jwk_thumbprint(private_key.public_key())
        # The header is the same for every proof: encoded once.
        self._header = _b64url_json({"typ": "dpop+jwt", "alg": alg, "jwk": self._public})

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        """A fresh key for ``alg`` (ES256, ES384, RS256, PS256 or EdDSA)."""
        if alg in _EC:
            return cls(ec.generate_private_key(_EC[alg][0]()), alg)
        if alg in _RSA:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), alg)
        if alg == "EdDSA":
            return cls(Ed25519PrivateKey.generate(), alg)
        raise ValueError(f"unsupported DPoP algorithm {alg!r}")

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any] | str) -> DPoPKey:
        """A key from its private JWK (a dict or JSON text), e.g. ``private_jwk()``'s.

        EC (P-256, P-384), OKP (Ed25519) and RSA private JWKs (RFC 7518 6.2.2, 6.3.2;
        RFC 8037 2); ``alg`` picks RS256 or PS256 for RSA keys.
        """
        data = json.loads(jwk) if isinstance(jwk, str) else dict(jwk)
        kty, alg = data.get("kty"), data.get("alg")
        try:
            if kty == "EC":
                curve = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}[data["crv"]]()
                key: PrivateKey = ec.derive_private_key(_uint(data["d"]), curve)
            elif kty == "OKP" and data.get("crv") == "Ed25519":
                key = Ed25519PrivateKey.from_private_bytes(_raw(data["d"]))
            elif kty == "RSA":
                public = rsa.RSAPublicNumbers(_uint(data["e"]), _uint(data["n"]))
                p, q, d, dp, dq, qi = (_uint(data[m]) for m in ("p", "q", "d", "dp", "dq", "qi"))
                numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public)
                key = numbers.private_key()
            else:
                raise ValueError("kty must be EC, OKP (Ed25519) or RSA")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a private JWK: {exc}") from None
        return cls(key, alg if isinstance(alg, str) else None)

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK sent in every proof header."""
        return dict(self._public)

    def private_jwk(self) -> dict[str, str]:
        """The private JWK, with ``alg`` (keep it secret): for callers signing their own
        proofs, e.g. after ``genauth-guard token --dpop``."""
        key = self.private_key
        jwk = {**self._public, "alg": self.alg}
        if isinstance(key, ec.EllipticCurvePrivateKey):
            size = _EC[self.alg][2]
            jwk["d"] = b64url(key.private_numbers().private_value.to_bytes(size, "big"))
        elif isinstance(key, Ed25519PrivateKey):
            raw = key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            jwk["d"] = b64url(raw)
        else:
            n = key.private_numbers()
            for name, value in (
                ("d", n.d),
                ("p", n.p),
                ("q", n.q),
                ("dp", n.dmp1),
                ("dq", n.dmq1),
                ("qi", n.iqmp),
            ):
                jwk[name] = b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))
        return jwk

    def _sign(self, data: bytes) -> bytes:
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            _, digest, size = _EC[self.alg]
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest())))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # RFC 7518 3.4
        if isinstance(key, rsa.RSAPrivateKey):
            if self.alg == "PS256":
                pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
                return key.sign(data, pss, hashes.SHA256())
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
    ) -> str:
        """A DPoP proof JWT for one request (RFC 9449 section 4.2).

        ``url`` loses its query and fragment (``htu``); with ``access_token`` the proof
        carries ``ath``; ``nonce`` is the server's last ``DPoP-Nonce``. ``claims`` and
        ``header`` override or add members (tests of refusals).
        """
        body: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url.split("#", 1)[0].split("?", 1)[0],
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            body["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims or {})
        head = self._header
        if header is not None:
            head = _b64url_json({"typ": "dpop+jwt", "alg": self.alg, "jwk": self._public, **header})
        signing_input = f"{head}.{_b64url_json(body)}"
        return f"{signing_input}.{b64url(self._sign(signing_input.encode('ascii')))}"

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, thumbprint={self.thumbprint!r})"
