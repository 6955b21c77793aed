"""Public JSON Web Keys (RFC 7517): import with key hygiene, and thumbprints (RFC 7638).

One JWK becomes a :class:`VerificationKey` or a reason it cannot be one; bad input is
never an exception. Used for the issuer's JWKS and for keys carried in messages (a
DPoP proof's ``jwk`` header). Which ``alg`` values a key serves is decided by
:func:`genauth_guard._jwa.algorithms_for_key` when the key is imported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ._jwa import EC_ALGORITHMS, PublicKey, algorithms_for_key

__all__ = [
    "MIN_RSA_BITS",
    "VerificationKey",
    "b64url_bytes",
    "b64url_uint",
    "jwk_thumbprint",
    "parse_public_jwk",
    "public_jwk",
]

#: RFC 8725 section 3.5 / NIST SP 800-131A: RSA keys under 2048 bits are refused.
MIN_RSA_BITS = 2048
#: Larger moduli only cost CPU per verification; no issuer publishes them.
MAX_RSA_BITS = 16384
#: OpenSSL refuses public exponents above 64 bits at verification time; refuse them here.
MAX_EXPONENT_BITS = 64
#: Private members (RFC 7518 6.2.2, 6.3.2, 6.4.1; RFC 8037 2): a published private key
#: means anyone can sign, so a JWK carrying any of them is never trusted.
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# JWK crv -> (cryptography curve, coordinate octets) (RFC 7518 6.2.1.1, 6.2.1.2).
_EC_CURVES: Mapping[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_CRV_OF_CURVE = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
assert set(_EC_CURVES) == set(EC_ALGORITHMS.values())


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """One usable public key (RFC 7517 section 4) and the algs it may serve.

    ``algorithms`` follows from ``kty``, ``crv`` and ``alg`` (RFC 8725 3.1), and
    ``thumbprint`` is its RFC 7638 SHA-256 thumbprint; both are computed here.
    """

    kid: str | None
    key: PublicKey
    kty: str  # "RSA", "EC" or "OKP"
    alg: str | None  # the JWK's "alg", when it names one (RFC 7517 section 4.4)
    crv: str | None = None  # "P-256", "P-384", "P-521" or "Ed25519"; None for RSA
    algorithms: frozenset[str] = field(init=False, repr=False)
    thumbprint: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithms", algorithms_for_key(self.kty, self.crv, self.alg))
        object.__setattr__(self, "thumbprint", jwk_thumbprint(self.key))


def parse_public_jwk(jwk: object) -> tuple[VerificationKey | None, str]:
    """One JWK as a verification key, or None and the reason it cannot be one.

    Rules: ``kty`` RSA, EC (P-256, P-384, P-521) or OKP (Ed25519); ``use`` absent or
    ``sig`` (RFC 7517 4.2); ``key_ops`` absent or containing ``verify`` (4.3); ``alg``
    absent or one the key type and curve serve (4.4, RFC 8725 3.1); no private
    members; RSA ``n``/``e`` as Base64urlUInt with at least 2048 bits (RFC 7518 6.3.1,
    RFC 8725 3.5); EC ``x``/``y`` of the curve's exact length and a point on the curve
    (RFC 7518 6.2.1); OKP ``x`` of 32 octets (RFC 8037 2). Never raises.
    """
    if not isinstance(jwk, dict):
        return None, "not a JSON object"
    kty = jwk.get("kty")
    if not isinstance(kty, str):
        return None, "malformed kty"
    if kty not in ("RSA", "EC", "OKP"):
        return None, "kty is not RSA, EC or OKP"
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        return None, "malformed kid"
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None, "use is not sig" if isinstance(use, str) else "malformed use"
    ops = jwk.get("key_ops")
    if ops is not None:
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            return None, "malformed key_ops"
        if "verify" not in ops:
            return None, "key_ops does not allow verify"
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        return None, "malformed alg"
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        return None, "publishes private key material"
    if kty == "RSA":
        public, crv, reason = _rsa(jwk)
    elif kty == "EC":
        public, crv, reason = _ec(jwk)
    else:
        public, crv, reason = _okp(jwk)
    if public is None:
        return None, reason
    key = VerificationKey(kid, public, kty, alg, crv)
    if not key.algorithms:
        return None, f"alg is not one a {kty} {crv or ''} key serves".replace("  ", " ")
    return key, ""


def _rsa(jwk: Mapping[str, object]) -> tuple[PublicKey | None, str | None, str]:
    n = b64url_uint(jwk.get("n"))
    e = b64url_uint(jwk.get("e"))
    if n is None or e is None:
        return None, None, "malformed or missing n/e"
    if n.bit_length() < MIN_RSA_BITS:
        return None, None, f"RSA key under {MIN_RSA_BITS} bits"
    if n.bit_length() > MAX_RSA_BITS or e.bit_length() > MAX_EXPONENT_BITS:
        return None, None, "RSA key too large"
    try:
        return RSAPublicNumbers(e, n).public_key(), None, ""
    except ValueError:  # e.g. even modulus or exponent, exponent under 3
        return None, None, "invalid RSA public numbers"


def _ec(jwk: Mapping[str, object]) -> tuple[PublicKey | None, str | None, str]:
    crv = jwk.get("crv")
    if not isinstance(crv, str):
        return None, None, "malformed or missing crv"
    if crv not in _EC_CURVES:
        return None, None, "EC curve is not P-256, P-384 or P-521"
    curve, size = _EC_CURVES[crv]
    x = b64url_bytes(jwk.get("x"))
    y = b64url_bytes(jwk.get("y"))
    if x is None or y is None:
        return None, crv, "malformed or missing x/y"
    if len(x) != size or len(y) != size:
        # RFC 7518 6.2.1.2 and 6.2.1.3: full-length coordinates, leading zeros kept.
        return None, crv, f"x/y are not {size} octets for {crv}"
    try:
        # from_encoded_point checks that the point lies on the curve.
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y), crv, ""
    except ValueError:
        return None, crv, "EC point is not on the curve"


def _okp(jwk: Mapping[str, object]) -> tuple[PublicKey | None, str | None, str]:
    crv = jwk.get("crv")
    if not isinstance(crv, str):
        return None, None, "malformed or missing crv"
    if crv != "Ed25519":
        return None, None, "OKP curve is not Ed25519"
    x = b64url_bytes(jwk.get("x"))
    if x is None or len(x) != 32:
        return None, crv, "malformed or missing x (32 octets for Ed25519)"
    try:
        return Ed25519PublicKey.from_public_bytes(x), crv, ""
    except ValueError:
        return None, crv, "invalid Ed25519 public key"


def b64url_bytes(value: object) -> bytes | None:
    """Decode base64url (RFC 7515 section 2); None when it is not, or is empty.

    Trailing ``=`` padding is tolerated: some issuers emit it in JWKs.
    """
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        return None
    bare = value.rstrip("=")
    if len(bare) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw or None


def b64url_uint(value: object) -> int | None:
    """Decode a Base64urlUInt (RFC 7518 section 2); None when it is not one, or zero.

    Padding and leading zero octets are tolerated: some issuers emit them and they
    change nothing about the key.
    """
    raw = b64url_bytes(value)
    if raw is None:
        return None
    return int.from_bytes(raw, "big") or None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The required public members of ``key``'s JWK, in canonical form (RFC 7638 3.2).

    RSA: ``e``, ``kty``, ``n`` without leading zeros; EC: ``crv``, ``kty``, ``x``,
    ``y`` at full length; OKP: ``crv``, ``kty``, ``x``.
    """
    if isinstance(key, RSAPublicKey):
        numbers = key.public_numbers()
        return {"e": _uint(numbers.e), "kty": "RSA", "n": _uint(numbers.n)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        crv = _CRV_OF_CURVE[key.curve.name]
        point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        size = _EC_CURVES[crv][1]
        return {
            "crv": crv,
            "kty": "EC",
            "x": _b64(point[1 : 1 + size]),
            "y": _b64(point[1 + size :]),
        }
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    raise TypeError(f"unsupported key type {type(key).__name__}")


def jwk_thumbprint(key: PublicKey | VerificationKey) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 of the required members, base64url.

    Computed from the key itself, so the same key always has the same thumbprint
    whatever padding or leading zeros its JWK was written with.
    """
    public = key.key if isinstance(key, VerificationKey) else key
    members = json.dumps(public_jwk(public), separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(members.encode("ascii")).digest())
