"""_jwk (public JWK import, RFC 7638 thumbprints) and _jwa (signature checks by family)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey

from genauth_guard import _jwa
from genauth_guard._jwk import (
    VerificationKey,
    b64url_uint,
    jwk_thumbprint,
    parse_public_jwk,
    public_jwk,
)

DATA = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEYS = {
    "P-256": ec.generate_private_key(ec.SECP256R1()),
    "P-384": ec.generate_private_key(ec.SECP384R1()),
    "P-521": ec.generate_private_key(ec.SECP521R1()),
}
ED_KEY = ed25519.Ed25519PrivateKey.generate()
ED448_X = base64.urlsafe_b64encode(
    ed448.Ed448PrivateKey.generate().public_key().public_bytes_raw()
).decode()
EC_ALG = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
HASH = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def imported(public: Any, **extra: Any) -> VerificationKey:
    key, reason = parse_public_jwk({**public_jwk(public), **extra})
    assert key is not None, reason
    return key


def es_sign(private: ec.EllipticCurvePrivateKey, alg: str, data: bytes = DATA) -> bytes:
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(HASH[alg[2:]])))
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def sign(alg: str, data: bytes = DATA) -> tuple[VerificationKey, bytes]:
    """A key imported from its public JWK and a valid ``alg`` signature of ``data``."""
    if alg.startswith("ES"):
        crv = {v: k for k, v in EC_ALG.items()}[alg]
        return imported(EC_KEYS[crv].public_key()), es_sign(EC_KEYS[crv], alg, data)
    if alg == "EdDSA":
        return imported(ED_KEY.public_key()), ED_KEY.sign(data)
    digest = HASH[alg[2:]]
    scheme: padding.AsymmetricPadding = (
        padding.PSS(padding.MGF1(digest), digest.digest_size)
        if alg.startswith("PS")
        else padding.PKCS1v15()
    )
    return imported(RSA_KEY.public_key()), RSA_KEY.sign(data, scheme, digest)


ASYMMETRIC = sorted(_jwa.ASYMMETRIC_ALGORITHMS)


# -- import ---------------------------------------------------------------------


@pytest.mark.parametrize(("crv", "alg"), sorted(EC_ALG.items()))
def test_ec_key_serves_only_the_alg_of_its_curve(crv: str, alg: str) -> None:
    key = imported(EC_KEYS[crv].public_key())
    assert (key.kty, key.crv, key.algorithms) == ("EC", crv, frozenset({alg}))


def test_okp_and_rsa_families() -> None:
    assert imported(ED_KEY.public_key()).algorithms == {"EdDSA"}
    assert imported(RSA_KEY.public_key()).algorithms == _jwa.RSA_ALGORITHMS
    assert imported(RSA_KEY.public_key(), alg="PS256").algorithms == {"PS256"}


def ec_jwk(curve: str = "P-256", **changes: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = {**public_jwk(EC_KEYS[curve].public_key()), "kid": "k", **changes}
    return {k: v for k, v in jwk.items() if v is not None}


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        (ec_jwk(alg="ES384"), "alg is not one a EC P-256 key serves"),
        (ec_jwk(alg="RS256"), "alg is not one a EC P-256 key serves"),
        (ec_jwk(alg="EdDSA"), "alg is not one a EC P-256 key serves"),
        (ec_jwk(alg="HS256"), "alg is not one a EC P-256 key serves"),
        (ec_jwk("P-521", alg="ES256"), "alg is not one a EC P-521 key serves"),
        (ec_jwk(crv="secp256k1"), "EC curve is not"),
        (ec_jwk(crv=None), "malformed or missing crv"),
        (ec_jwk(crv=256), "malformed or missing crv"),
        (ec_jwk(x=None), "malformed or missing x/y"),
        (ec_jwk(y="***"), "malformed or missing x/y"),
        (ec_jwk(x=b64(b"\x01" * 31)), "not 32 octets"),
        (ec_jwk(y=b64(b"\x01" * 33)), "not 32 octets"),
        (ec_jwk("P-384", x=public_jwk(EC_KEYS["P-256"].public_key())["x"]), "not 48 octets"),
        (ec_jwk(y=b64((1).to_bytes(32, "big"))), "not on the curve"),
        (ec_jwk(d=b64(b"\x01" * 32)), "private key material"),
        (ec_jwk(use="enc"), "use is not sig"),
        ({"kty": "OKP", "crv": "Ed448", "x": ED448_X}, "OKP curve is not Ed25519"),
        ({"kty": "OKP", "crv": "X25519", "x": b64(b"\x09" * 32)}, "OKP curve is not Ed25519"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64(b"\x09" * 31)}, "32 octets"),
        ({**public_jwk(ED_KEY.public_key()), "alg": "ES256"}, "alg is not one a OKP Ed25519"),
        ({**public_jwk(ED_KEY.public_key()), "d": "AA"}, "private key material"),
        ({"kty": "oct", "k": b64(b"s" * 32)}, "kty is not RSA, EC or OKP"),
        ({**public_jwk(RSA_KEY.public_key()), "alg": "ES256"}, "alg is not one a RSA key"),
        ({**public_jwk(RSA_KEY.public_key()), "alg": "HS256"}, "alg is not one a RSA key"),
        ({**public_jwk(RSA_KEY.public_key()), "k": "AA"}, "private key material"),
        ("a string", "not a JSON object"),
    ],
)
def test_unusable_jwk_gives_a_reason(jwk: Any, reason: str) -> None:
    key, why = parse_public_jwk(jwk)
    assert key is None
    assert reason in why


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["kty", "crv", "x", "y", "n", "e", "alg", "use", "kid", "key_ops"]),
        st.one_of(
            st.sampled_from(["EC", "OKP", "RSA", "P-256", "P-521", "Ed25519", "ES256", "sig"]),
            st.text(max_size=90),
            st.integers(),
            st.none(),
            st.lists(st.text(max_size=5), max_size=2),
        ),
    )
)
def test_any_jwk_imports_or_gives_a_reason(jwk: dict[str, Any]) -> None:
    key, reason = parse_public_jwk(jwk)
    assert (key is None) == bool(reason)
    if key is not None:
        assert key.algorithms


# -- thumbprints (RFC 7638) -----------------------------------------------------

RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def test_rfc7638_example_thumbprint() -> None:
    key, _ = parse_public_jwk({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256"})
    assert key is not None
    assert key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_ignores_padding_and_leading_zeros() -> None:
    key, _ = parse_public_jwk({"kty": "RSA", "n": b64(b"\0" + base64.urlsafe_b64decode(
        RFC7638_N + "==")) + "=", "e": "AAEAAQ"})  # fmt: skip
    assert key is not None
    assert key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("maker", [
    lambda: ECKey.generate_key("P-256"), lambda: ECKey.generate_key("P-384"),
    lambda: ECKey.generate_key("P-521"), lambda: OKPKey.generate_key("Ed25519"),
    lambda: RSAKey.generate_key(2048),
])  # fmt: skip
def test_thumbprint_matches_joserfc(maker: Any) -> None:
    other = maker()
    key, reason = parse_public_jwk(other.as_dict(private=False))
    assert key is not None, reason
    assert jwk_thumbprint(key) == key.thumbprint == other.thumbprint()


# -- signatures -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_valid_signature_verifies_and_any_change_fails(alg: str) -> None:
    key, signature = sign(alg)
    assert _jwa.verify(alg, key, DATA, signature)
    assert not _jwa.verify(alg, key, DATA + b"x", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not _jwa.verify(alg, key, DATA, flipped)
    assert not _jwa.verify(alg, key, DATA, b"")


@pytest.mark.parametrize("alg", ASYMMETRIC)
def test_joserfc_signatures_verify(alg: str) -> None:
    if alg.startswith("ES"):
        other: Any = ECKey.generate_key(_jwa.EC_ALGORITHMS[alg])
    elif alg == "EdDSA":
        other = OKPKey.generate_key("Ed25519")
    else:
        other = RSAKey.generate_key(2048)
    # joserfc warns that RFC 9864 deprecates the name EdDSA; it stays what issuers send.
    with pytest.warns() if alg == "EdDSA" else contextlib.nullcontext():
        token = jws.serialize_compact({"alg": alg}, b"payload", other, algorithms=[alg])
    header, payload, sig = token.split(".")
    key, _ = parse_public_jwk(other.as_dict(private=False))
    assert key is not None
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    assert _jwa.verify(alg, key, f"{header}.{payload}".encode(), raw)


@pytest.mark.parametrize("alg", sorted(_jwa.EC_ALGORITHMS))
def test_ecdsa_der_and_wrong_lengths_are_refused(alg: str) -> None:
    crv = _jwa.EC_ALGORITHMS[alg]
    key, signature = sign(alg)
    der = EC_KEYS[crv].sign(DATA, ec.ECDSA(HASH[alg[2:]]))
    assert not _jwa.verify(alg, key, DATA, der)
    assert not _jwa.verify(alg, key, DATA, signature + b"\0")
    assert not _jwa.verify(alg, key, DATA, b"\0" + signature)
    assert not _jwa.verify(alg, key, DATA, signature[:-1])
    half = len(signature) // 2
    # R || S with S shortened and R padded: same numbers, wrong form.
    assert not _jwa.verify(alg, key, DATA, b"\0" + signature[:half] + signature[half:-1])
    assert not _jwa.verify(alg, key, DATA, bytes(len(signature)))  # r = s = 0


@pytest.mark.parametrize("alg", ASYMMETRIC)
@pytest.mark.parametrize("other_alg", ASYMMETRIC)
def test_key_of_another_family_or_curve_is_never_used(alg: str, other_alg: str) -> None:
    key, _ = sign(other_alg)
    _, signature = sign(alg)
    if alg in key.algorithms:
        assert _jwa.verify(alg, key, DATA, signature)
    else:
        assert not _jwa.verify(alg, key, DATA, signature)
        # The low-level check refuses a key object of the wrong type or curve too.
        check = _jwa.signature_check(alg)
        assert check is not None
        assert not check(key.key, DATA, signature)


def test_key_alg_narrows_rsa_to_one_alg() -> None:
    rs_only = imported(RSA_KEY.public_key(), alg="RS256")
    _, ps_signature = sign("PS256")
    assert not _jwa.verify("PS256", rs_only, DATA, ps_signature)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", "none", "", "RS1", "ES256K"])
def test_hmac_none_and_unknown_are_never_asymmetric(alg: str) -> None:
    for key in (RSA_KEY.public_key(), EC_KEYS["P-256"].public_key(), ED_KEY.public_key()):
        imported_key = imported(key)
        assert alg not in imported_key.algorithms
        assert not _jwa.verify(alg, imported_key, DATA, b"sig")
    assert _jwa.signature_check(alg) is None


@pytest.mark.parametrize(("alg", "size"), sorted(_jwa.HMAC_MIN_SECRET_BYTES.items()))
def test_hmac_with_secret(alg: str, size: int) -> None:
    secret = b"k" * size
    mac = hmac.new(secret, DATA, getattr(hashlib, "sha" + alg[2:])).digest()
    assert _jwa.verify_hmac(alg, secret, DATA, mac)
    assert not _jwa.verify_hmac(alg, secret, DATA + b"x", mac)
    assert not _jwa.verify_hmac(alg, secret, DATA, mac[:-1])
    # RFC 7518 3.2: a secret shorter than the hash output is never used.
    short = secret[:-1]
    assert not _jwa.verify_hmac(alg, short, DATA, hmac.new(short, DATA, alg_hash(alg)).digest())
    assert not _jwa.verify_hmac("RS256", secret, DATA, mac)


def alg_hash(alg: str) -> str:
    return "sha" + alg[2:]


def test_hmac_with_a_public_key_as_secret_is_only_as_good_as_the_secret() -> None:
    # The classic confusion: a public key's PEM used as the HMAC secret. _jwa never
    # takes a key object for HS*, so the only secret it can use is the configured one.
    key = imported(RSA_KEY.public_key())
    pem_like = public_jwk(RSA_KEY.public_key())["n"].encode()
    forged = hmac.new(pem_like, DATA, "sha256").digest()
    assert not _jwa.verify("HS256", key, DATA, forged)


def test_b64url_uint_tolerates_padding_and_leading_zeros() -> None:
    assert b64url_uint("AQAB") == b64url_uint("AAEAAQ") == b64url_uint("AQAB==") == 65537
    assert b64url_uint("AA") is None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([32, 48, 66]), st.data())
def test_der_form_equals_cryptography_encoding(size: int, data: st.DataObject) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from genauth_guard._jwa import _der_signature

    raw = data.draw(st.binary(min_size=2 * size, max_size=2 * size))
    zeros = data.draw(st.integers(0, size))
    raw = bytes(zeros) + raw[zeros:]
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    assert _der_signature(raw, size) == encode_dss_signature(r, s)
