"""RFC 8725 attacks on an issuer signing with EC and Ed25519 keys, and with HS256.

The verifier allows ES256, ES384, EdDSA, RS256 and HS256 (with its own secret), the
widest reasonable allow-list: only the key-family rule and the signature stand between
an attacker and acceptance.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from _corekit import AUDIENCE, MakeVerifier, assert_not_echoed, b64url, forge, segment
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from genauth_guard._errors import InvalidToken, Reason
from genauth_guard.testing import LocalIssuer, SigningKey

SECRET = "the-api-s-own-hs256-secret-0123456789"
ALLOWED = ["ES256", "ES384", "EdDSA", "RS256", "HS256"]


@dataclass
class World:
    issuer: LocalIssuer
    ec_key: SigningKey
    ed_key: SigningKey
    rsa_key: SigningKey

    def claims(self, **extra: object) -> dict[str, object]:
        return self.issuer.claims_for(scope="order:read") | extra

    def es256(self, header: dict[str, object], claims: dict[str, object], key: object) -> str:
        signing_input = f"{segment(header)}.{segment(claims)}"
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def valid(self, **header: object) -> str:
        head = {"alg": "ES256", "typ": "JWT", "kid": self.ec_key.kid} | header
        return self.es256(head, self.claims(), self.ec_key.private_key)

    def pem(self, key: SigningKey) -> bytes:
        return key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _der(w: World) -> str:
    head, body, _ = w.valid().split(".")
    key = w.ec_key.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    return f"{head}.{body}.{b64url(der)}"


def _resized(delta: int) -> Callable[[World], str]:
    def build(w: World) -> str:
        head, body, sig = w.valid().split(".")
        raw = base64.urlsafe_b64decode(sig + "==")
        raw = raw + bytes(delta) if delta > 0 else raw[:delta]
        return f"{head}.{body}.{b64url(raw)}"

    return build


def _ed_with_ec_kid(w: World) -> str:
    head = {"alg": "EdDSA", "typ": "JWT", "kid": w.ec_key.kid}
    signing_input = f"{segment(head)}.{segment(w.claims())}"
    key = w.ed_key.private_key
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def _attacker_ec(w: World) -> str:
    return w.es256(
        {"alg": "ES256", "typ": "JWT", "kid": w.ec_key.kid},
        w.claims(),
        ec.generate_private_key(ec.SECP256R1()),
    )


def _hs(
    secret: Callable[[World], bytes], kid: Callable[[World], str | None]
) -> Callable[[World], str]:
    def build(w: World) -> str:
        head = {"alg": "HS256", "typ": "JWT"}
        if kid(w) is not None:
            head["kid"] = str(kid(w))
        return forge(head, w.claims(), alg="HS256", hmac_secret=secret(w))

    return build


ATTACKS: dict[str, tuple[Callable[[World], str], Reason]] = {
    "es256-attacker-key": (_attacker_ec, Reason.SIGNATURE),
    "es256-der-signature": (_der, Reason.SIGNATURE),
    "es256-signature-one-byte-long": (_resized(1), Reason.SIGNATURE),
    "es256-signature-one-byte-short": (_resized(-1), Reason.SIGNATURE),
    "es256-zero-signature": (
        lambda w: w.valid().rsplit(".", 1)[0] + "." + b64url(bytes(64)),
        Reason.SIGNATURE,
    ),
    "es384-with-p256-key": (lambda w: w.valid(alg="ES384"), Reason.ALGORITHM),
    "rs256-with-ec-key": (lambda w: w.valid(alg="RS256"), Reason.ALGORITHM),
    "es256-with-rsa-kid": (lambda w: w.valid(kid=w.rsa_key.kid), Reason.ALGORITHM),
    "es256-with-ed25519-kid": (lambda w: w.valid(kid=w.ed_key.kid), Reason.ALGORITHM),
    "eddsa-with-ec-kid": (_ed_with_ec_kid, Reason.ALGORITHM),
    "hs256-ec-pem": (_hs(lambda w: w.pem(w.ec_key), lambda w: w.ec_key.kid), Reason.SIGNATURE),
    "hs256-ed-pem": (_hs(lambda w: w.pem(w.ed_key), lambda w: None), Reason.SIGNATURE),
    "hs256-ec-jwk": (
        _hs(lambda w: json.dumps(w.ec_key.public_jwk()).encode(), lambda w: w.ec_key.kid),
        Reason.SIGNATURE,
    ),
    "hs256-ed-raw-x": (
        _hs(lambda w: base64.urlsafe_b64decode(w.ed_key.public_jwk()["x"] + "="), lambda w: None),
        Reason.SIGNATURE,
    ),
    "alg-none": (
        lambda w: forge({"alg": "none", "kid": w.ec_key.kid}, w.claims()),
        Reason.ALGORITHM,
    ),
    "es256k-not-supported": (lambda w: w.valid(alg="ES256K"), Reason.ALGORITHM),
    "ed448-not-supported": (lambda w: w.valid(alg="Ed448"), Reason.ALGORITHM),
    "jwk-embedded-attacker-ec": (
        lambda w: w.es256(
            {
                "alg": "ES256",
                "kid": w.ec_key.kid,
                "jwk": SigningKey.generate(alg="ES256").public_jwk(),
            },
            w.claims(),
            ec.generate_private_key(ec.SECP256R1()),
        ),
        Reason.SIGNATURE,
    ),
}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with LocalIssuer(audience=AUDIENCE, algorithm="ES256", app_secret=SECRET) as issuer:
        ed_key = SigningKey.generate(alg="EdDSA")
        rsa_key = SigningKey.generate(alg="RS256")
        issuer.extra_jwks.extend([ed_key.public_jwk(), rsa_key.public_jwk()])
        yield World(issuer, issuer.signing_key, ed_key, rsa_key)


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_refused(name: str, world: World, make_verifier: MakeVerifier) -> None:
    build, reason = ATTACKS[name]
    token = build(world)
    verifier = make_verifier(
        on=world.issuer, algorithms=ALLOWED, shared_secret=SECRET, token_cache_size=0
    )
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is reason, caught.value.description
    assert_not_echoed(caught.value, token)


async def test_genuine_tokens_of_each_kind_are_accepted(
    world: World, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier(on=world.issuer, algorithms=ALLOWED, shared_secret=SECRET)
    assert await verifier.verify(world.valid())
    assert await verifier.verify(world.issuer.mint(key=world.ed_key, scope="a"))
    assert await verifier.verify(world.issuer.mint(key=world.rsa_key, scope="a"))
    assert await verifier.verify(world.issuer.mint(algorithm="HS256", scope="a"))
