"""JWS signature algorithms (RFC 7518 section 3, RFC 8037) and which key serves which.

Two questions live here, and only here:

- which ``alg`` values a key may be used with (:func:`algorithms_for_key`): a key
  serves exactly one family, chosen by its ``kty``, its curve and its own ``alg``
  together, so a token can never choose how a key is used (RFC 8725 section 3.1);
- how a signature of each family is checked (:func:`verify`, :func:`signature_check`,
  :func:`verify_hmac`), with the padding, hash and signature form of that ``alg``.

HMAC (``HS*``) is apart on purpose: it takes a configured shared secret (bytes),
never a key object, so no public key can ever be used as an HMAC secret.
Nothing here raises on bad input: a check answers True or False.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol, TypeAlias, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "EC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "HMAC_MIN_SECRET_BYTES",
    "OKP_ALGORITHMS",
    "RSA_ALGORITHMS",
    "PublicKey",
    "SignatureCheck",
    "algorithms_for_key",
    "signature_check",
    "verify",
    "verify_hmac",
]

PublicKey: TypeAlias = RSAPublicKey | ec.EllipticCurvePublicKey | Ed25519PublicKey
#: ``check(public_key, signing_input, signature) -> bool`` for one ``alg``.
SignatureCheck: TypeAlias = Callable[[PublicKey, bytes, bytes], bool]

#: RSASSA-PKCS1-v1_5 (RFC 7518 3.3) and RSASSA-PSS (3.5): the RSA family.
RSA_ALGORITHMS: frozenset[str] = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
#: ECDSA (RFC 7518 3.4): each alg names its curve, as JWK ``crv`` (RFC 7518 6.2.1.1).
EC_ALGORITHMS: Mapping[str, str] = MappingProxyType(
    {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
)
#: EdDSA (RFC 8037 3.1); only the Ed25519 curve is supported.
OKP_ALGORITHMS: Mapping[str, str] = MappingProxyType({"EdDSA": "Ed25519"})
#: HMAC (RFC 7518 3.2): only with a configured shared secret.
HMAC_ALGORITHMS: frozenset[str] = frozenset({"HS256", "HS384", "HS512"})
#: RFC 7518 3.2: the secret must be at least as long as the hash output.
HMAC_MIN_SECRET_BYTES: Mapping[str, int] = MappingProxyType({"HS256": 32, "HS384": 48, "HS512": 64})
ASYMMETRIC_ALGORITHMS: frozenset[str] = RSA_ALGORITHMS | EC_ALGORITHMS.keys() | {"EdDSA"}

_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType(
    {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
)
# Coordinate (and so R and S) length in octets per curve (RFC 7518 3.4: 32, 48, 66).
_EC_SIZES: Mapping[str, int] = MappingProxyType({"P-256": 32, "P-384": 48, "P-521": 66})
_CURVE_NAMES: Mapping[str, str] = MappingProxyType(
    {"P-256": "secp256r1", "P-384": "secp384r1", "P-521": "secp521r1"}
)


class _Key(Protocol):
    """What :func:`verify` needs of a key (``_jwk.VerificationKey`` fits)."""

    @property
    def key(self) -> PublicKey: ...

    @property
    def algorithms(self) -> frozenset[str]: ...


def algorithms_for_key(kty: str, crv: str | None, alg: str | None) -> frozenset[str]:
    """The ``alg`` values a key of this type, curve and declared ``alg`` may serve.

    RFC 8725 3.1 and RFC 7517 4.4: RSA keys serve RS*/PS*, an EC key only the ES alg
    of its curve, an Ed25519 key only EdDSA; a key's own ``alg``, when given, narrows
    that to itself (and a declared ``alg`` outside the family leaves nothing). Empty
    means the key cannot be used at all. HMAC is never in the answer.
    """
    if kty == "RSA":
        family = RSA_ALGORITHMS
    elif kty == "EC":
        family = frozenset(a for a, c in EC_ALGORITHMS.items() if c == crv)
    elif kty == "OKP":
        family = frozenset(a for a, c in OKP_ALGORITHMS.items() if c == crv)
    else:
        family = frozenset()
    if alg is None:
        return family
    return family & {alg}


def _rsa_check(alg: str) -> SignatureCheck:
    digest = _HASHES[alg[2:]]()
    scheme: padding.AsymmetricPadding = (
        # RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash output.
        padding.PSS(padding.MGF1(digest), digest.digest_size)
        if alg.startswith("PS")
        else padding.PKCS1v15()
    )

    def check(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
        if not isinstance(key, RSAPublicKey):
            return False
        try:
            key.verify(signature, signing_input, scheme, digest)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    return check


def _ec_check(alg: str) -> SignatureCheck:
    crv = EC_ALGORITHMS[alg]
    size = _EC_SIZES[crv]
    curve_name = _CURVE_NAMES[crv]
    scheme = ec.ECDSA(_HASHES[alg[2:]]())

    def check(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
        # RFC 7518 3.4: the JWS form is R || S, each exactly the curve's size; a DER
        # signature or any other length is refused, not reinterpreted. The curve test
        # also refuses RSA and Ed25519 keys (no curve), cheaper than an ABC isinstance.
        curve = getattr(key, "curve", None)
        if len(signature) != 2 * size or curve is None or curve.name != curve_name:
            return False
        try:
            cast(ec.EllipticCurvePublicKey, key).verify(
                _der_signature(signature, size), signing_input, scheme
            )
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    return check


def _der_integer(value: bytes) -> bytes:
    """An unsigned big-endian integer as a DER INTEGER (X.690 8.3): minimal, non-negative."""
    value = value.lstrip(b"\0") or b"\0"
    if value[0] & 0x80:
        value = b"\0" + value
    return b"\x02" + len(value).to_bytes(1, "big") + value


def _der_signature(signature: bytes, size: int) -> bytes:
    """R || S as the DER ``Ecdsa-Sig-Value`` OpenSSL verifies (RFC 3279 2.2.3).

    Equal to ``encode_dss_signature`` on the two integers, without building them.
    """
    body = _der_integer(signature[:size]) + _der_integer(signature[size:])
    length = len(body)  # at most 2 * (2 + 67): one length octet, long form above 127
    head = (
        b"\x30" + length.to_bytes(1, "big")
        if length < 128
        else b"\x30\x81" + length.to_bytes(1, "big")
    )
    return head + body


def _ed25519_check(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    # RFC 8032 5.1.6: an Ed25519 signature is exactly 64 octets.
    if len(signature) != 64 or not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, signing_input)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


_CHECKS: Mapping[str, SignatureCheck] = MappingProxyType(
    {
        **{alg: _rsa_check(alg) for alg in sorted(RSA_ALGORITHMS)},
        **{alg: _ec_check(alg) for alg in EC_ALGORITHMS},
        "EdDSA": _ed25519_check,
    }
)
_HMAC_DIGESTS: Mapping[str, str] = MappingProxyType(
    {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
)


def signature_check(alg: str) -> SignatureCheck | None:
    """The precomputed check for an asymmetric ``alg``; None for HS*, none and unknowns.

    The check does not apply the key-family rule: callers look ``alg`` up in the
    key's :func:`algorithms_for_key` first (as :func:`verify` does).
    """
    return _CHECKS.get(alg)


def verify(alg: str, key: _Key, signing_input: bytes, signature: bytes) -> bool:
    """True when ``signature`` is ``key``'s valid ``alg`` signature of ``signing_input``.

    False, without touching the signature, when ``key`` may not serve ``alg``
    (RFC 8725 3.1) or ``alg`` is not an asymmetric JWS algorithm.
    """
    check = _CHECKS.get(alg)
    if check is None or alg not in key.algorithms:
        return False
    return check(key.key, signing_input, signature)


def verify_hmac(alg: str, secret: bytes, signing_input: bytes, signature: bytes) -> bool:
    """HMAC-SHA2 check with a configured shared secret (RFC 7518 3.2), constant time.

    False for a non-HS ``alg`` or a secret shorter than the hash output.
    """
    name = _HMAC_DIGESTS.get(alg)
    if name is None or type(secret) is not bytes or len(secret) < HMAC_MIN_SECRET_BYTES[alg]:
        return False
    return hmac.compare_digest(hmac.digest(secret, signing_input, name), signature)
