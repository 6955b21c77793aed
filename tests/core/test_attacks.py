"""Attack suite (RFC 8725 sections 2 and 3): each forged token is refused, for the right reason.

The real issuer's public key is known to the attacker; the attacker also holds keys of
their own and serves them from a second local issuer, which must never be contacted.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jwt
import pytest
from _corekit import (
    AUDIENCE,
    MakeVerifier,
    assert_not_echoed,
    b64url,
    forge,
    rsa_sign,
    segment,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from genauth_guard._errors import InvalidToken, Reason
from genauth_guard.testing import LocalIssuer, SigningKey


@dataclass
class World:
    """What an attacker works with: the real issuer, a valid token, their own keys."""

    real: LocalIssuer
    attacker: LocalIssuer
    attacker_key: SigningKey

    @property
    def kid(self) -> str:
        return self.real.signing_key.kid

    @property
    def pem(self) -> bytes:
        return self.real.signing_key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def jwk_json(self) -> bytes:
        return json.dumps(self.real.signing_key.public_jwk()).encode()

    def claims(self, **extra: object) -> dict[str, object]:
        return self.real.claims_for(scope="order:read") | extra

    def header(self, **extra: object) -> dict[str, object]:
        return {"alg": "RS256", "typ": "JWT", "kid": self.kid} | extra

    def valid(self, **claims: object) -> str:
        """A genuine token, signed by the real key."""
        return forge(self.header(), self.claims(**claims), key=self.real.signing_key.private_key)

    def signed(self, header: object, payload: object) -> str:
        """Arbitrary header and payload, genuinely signed by the real key."""
        return forge(header, payload, key=self.real.signing_key.private_key)

    def by_attacker(self, **header: object) -> str:
        return forge(self.header(**header), self.claims(), key=self.attacker_key.private_key)


def _self_signed_cert(key: SigningKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _swap_signature(w: World) -> str:
    head, body, _ = w.valid().split(".")
    other = w.valid(sub="someone-else").split(".")[2]
    return f"{head}.{body}.{other}"


def _truncated(w: World) -> str:
    head, body, sig = w.valid().split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    return f"{head}.{body}.{b64url(raw[:-3])}"


def _escalate(w: World) -> str:
    head, _, sig = w.valid().split(".")
    return f"{head}.{segment(w.claims(scope='order:read order:admin'))}.{sig}"


def _non_canonical_signature(w: World) -> str:
    head, body, sig = w.valid().split(".")
    assert len(sig) % 4 == 2  # 256-byte signature: the last character has 4 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(sig[-1]) | 1]  # same decoded bytes, a spare bit set
    return f"{head}.{body}.{sig[:-1]}{last}"


def _non_canonical_header(w: World) -> str:
    for pad in range(4):
        header = w.header(x="y" * pad)
        encoded = segment(header)
        if len(encoded) % 4 in (2, 3):
            break
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = encoded[:-1] + alphabet[alphabet.index(encoded[-1]) | 1]
    signing_input = f"{tweaked}.{segment(w.claims())}"
    return f"{signing_input}.{b64url(rsa_sign(w.real.signing_key.private_key, signing_input))}"


def _padded(w: World) -> str:
    head, body, sig = w.valid().split(".")
    return f"{head}{'=' * (-len(head) % 4) or '=='}.{body}.{sig}"


def _standard_alphabet(w: World) -> str:
    token = w.valid()
    return (
        token.replace("-", "+").replace("_", "/")
        if ("-" in token or "_" in token)
        else (token[:-2] + "+/")
    )


def _es256(w: World) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(w.claims(), key, algorithm="ES256", headers={"kid": w.kid})


def _deep_json(w: World) -> str:
    return w.signed(w.header(), "[" * 5000 + "]" * 5000)


Attack = Callable[[World], str]

ATTACKS: dict[str, tuple[Attack, Reason]] = {
    # alg none (RFC 8725 2.1, 3.1)
    "alg-none": (lambda w: forge(w.header(alg="none"), w.claims()), Reason.ALGORITHM),
    "alg-None": (lambda w: forge(w.header(alg="None"), w.claims()), Reason.ALGORITHM),
    "alg-NONE": (lambda w: forge(w.header(alg="NONE"), w.claims()), Reason.ALGORITHM),
    "alg-nOnE": (lambda w: forge(w.header(alg="nOnE"), w.claims()), Reason.ALGORITHM),
    "alg-none-with-signature": (
        lambda w: forge(w.header(alg="none"), w.claims(), signature=b"x" * 256),
        Reason.ALGORITHM,
    ),
    "alg-missing": (lambda w: w.signed({"kid": w.kid, "typ": "JWT"}, w.claims()), Reason.ALGORITHM),
    "alg-list": (lambda w: w.signed(w.header(alg=["RS256"]), w.claims()), Reason.ALGORITHM),
    "alg-lowercase": (lambda w: w.signed(w.header(alg="rs256"), w.claims()), Reason.ALGORITHM),
    "alg-null": (lambda w: w.signed(w.header(alg=None), w.claims()), Reason.ALGORITHM),
    # HMAC with the RSA public key as the secret (RFC 8725 2.1 "key confusion")
    "hs256-pem": (
        lambda w: forge(w.header(alg="HS256"), w.claims(), alg="HS256", hmac_secret=w.pem),
        Reason.ALGORITHM,
    ),
    "hs384-pem": (
        lambda w: forge(w.header(alg="HS384"), w.claims(), alg="HS384", hmac_secret=w.pem),
        Reason.ALGORITHM,
    ),
    "hs512-pem": (
        lambda w: forge(w.header(alg="HS512"), w.claims(), alg="HS512", hmac_secret=w.pem),
        Reason.ALGORITHM,
    ),
    "hs256-jwk": (
        lambda w: forge(w.header(alg="HS256"), w.claims(), alg="HS256", hmac_secret=w.jwk_json),
        Reason.ALGORITHM,
    ),
    "hs384-jwk": (
        lambda w: forge(w.header(alg="HS384"), w.claims(), alg="HS384", hmac_secret=w.jwk_json),
        Reason.ALGORITHM,
    ),
    # algorithms not on the allow-list, even with a genuine signature
    "ps256-not-allowed": (
        lambda w: forge(
            w.header(alg="PS256"), w.claims(), key=w.real.signing_key.private_key, alg="PS256"
        ),
        Reason.ALGORITHM,
    ),
    "rs512-not-allowed": (
        lambda w: forge(
            w.header(alg="RS512"), w.claims(), key=w.real.signing_key.private_key, alg="RS512"
        ),
        Reason.ALGORITHM,
    ),
    "es256": (_es256, Reason.ALGORITHM),
    # kid (RFC 8725 3.10): unknown and injection strings
    "kid-unknown": (lambda w: w.by_attacker(kid="attacker-key"), Reason.UNKNOWN_KEY),
    "kid-path-traversal": (lambda w: w.by_attacker(kid="../../dev/null"), Reason.UNKNOWN_KEY),
    "kid-sql": (lambda w: w.by_attacker(kid="' OR '1'='1' --"), Reason.UNKNOWN_KEY),
    "kid-command": (lambda w: w.by_attacker(kid="key|rm -rf /"), Reason.UNKNOWN_KEY),
    "kid-nul": (lambda w: w.by_attacker(kid="\x00"), Reason.UNKNOWN_KEY),
    "kid-very-long": (lambda w: w.by_attacker(kid="k" * 2500), Reason.UNKNOWN_KEY),
    "header-over-4k": (lambda w: w.by_attacker(kid="k" * 8000), Reason.MALFORMED),
    "kid-empty": (lambda w: w.by_attacker(kid=""), Reason.UNKNOWN_KEY),
    "kid-number": (lambda w: w.by_attacker(kid=1), Reason.MALFORMED),
    "kid-object": (lambda w: w.by_attacker(kid={"$ne": None}), Reason.MALFORMED),
    # header-supplied keys are never used (RFC 8725 3.5, 3.10)
    "jku-attacker-jwks": (
        lambda w: w.by_attacker(kid="attacker", jku=w.attacker.jwks_uri),
        Reason.UNKNOWN_KEY,
    ),
    "jku-real-kid": (lambda w: w.by_attacker(jku=w.attacker.jwks_uri), Reason.SIGNATURE),
    "x5u-attacker": (
        lambda w: w.by_attacker(kid="attacker", x5u=w.attacker.url + "/cert.pem"),
        Reason.UNKNOWN_KEY,
    ),
    "jwk-embedded": (
        lambda w: w.by_attacker(kid="attacker", jwk=w.attacker_key.public_jwk()),
        Reason.UNKNOWN_KEY,
    ),
    "jwk-embedded-real-kid": (
        lambda w: w.by_attacker(jwk=w.attacker_key.public_jwk() | {"kid": w.kid}),
        Reason.SIGNATURE,
    ),
    "x5c-self-signed": (
        lambda w: w.by_attacker(x5c=[_self_signed_cert(w.attacker_key)]),
        Reason.SIGNATURE,
    ),
    # crit (RFC 7515 4.1.11) and b64 (RFC 7797)
    "crit-unknown": (lambda w: w.signed(w.header(crit=["exp"], exp=1), w.claims()), Reason.CRIT),
    "crit-empty": (lambda w: w.signed(w.header(crit=[]), w.claims()), Reason.CRIT),
    "crit-b64-false": (
        lambda w: w.signed(w.header(crit=["b64"], b64=False), w.claims()),
        Reason.CRIT,
    ),
    "b64-false": (lambda w: w.signed(w.header(b64=False), w.claims()), Reason.CRIT),
    # signatures
    "signature-stripped": (lambda w: w.valid().rsplit(".", 1)[0] + ".", Reason.SIGNATURE),
    "signature-swapped": (_swap_signature, Reason.SIGNATURE),
    "signature-truncated": (_truncated, Reason.SIGNATURE),
    "signature-attacker-key": (lambda w: w.by_attacker(), Reason.SIGNATURE),
    "payload-escalated": (_escalate, Reason.SIGNATURE),
    # encoding (RFC 7515 2 and 7.1, RFC 4648 3.5)
    "signature-non-canonical": (_non_canonical_signature, Reason.MALFORMED),
    "header-non-canonical": (_non_canonical_header, Reason.MALFORMED),
    "padding": (_padded, Reason.MALFORMED),
    "standard-alphabet": (_standard_alphabet, Reason.MALFORMED),
    "length-1-mod-4": (lambda w: w.valid() + "AAA", Reason.MALFORMED),
    "four-segments": (lambda w: w.valid() + ".e30", Reason.MALFORMED),
    "two-segments": (lambda w: w.valid().rsplit(".", 1)[0], Reason.MALFORMED),
    "one-segment": (lambda w: w.valid().split(".")[1], Reason.MALFORMED),
    "jwe-five-segments": (
        lambda w: ".".join(
            [segment({"alg": "RSA-OAEP", "enc": "A256GCM"}), "AAAA", "AAAA", "AAAA", "AAAA"]
        ),
        Reason.MALFORMED,
    ),
    "empty-string": (lambda w: "", Reason.MALFORMED),
    "dots-only": (lambda w: "..", Reason.MALFORMED),
    "whitespace": (lambda w: "   ", Reason.MALFORMED),
    "surrounding-whitespace": (lambda w: f" {w.valid()} ", Reason.MALFORMED),
    "newline-inside": (lambda w: w.valid().replace(".", ".\n", 1), Reason.MALFORMED),
    "bearer-prefix": (lambda w: "Bearer " + w.valid(), Reason.MALFORMED),
    "non-ascii": (lambda w: w.valid()[:-1] + "é", Reason.MALFORMED),
    # JSON (RFC 7515 5.2, RFC 7519 7.2)
    "header-not-json": (lambda w: w.signed(b"{alg:RS256}", w.claims()), Reason.MALFORMED),
    "payload-not-json": (lambda w: w.signed(w.header(), b"not json"), Reason.MALFORMED),
    "header-array": (lambda w: w.signed(["RS256"], w.claims()), Reason.MALFORMED),
    "header-string": (lambda w: w.signed('"RS256"', w.claims()), Reason.MALFORMED),
    "payload-array": (lambda w: w.signed(w.header(), [w.claims()]), Reason.MALFORMED),
    "payload-number": (lambda w: w.signed(w.header(), 42), Reason.MALFORMED),
    "payload-string": (lambda w: w.signed(w.header(), '"hello"'), Reason.MALFORMED),
    "payload-null": (lambda w: w.signed(w.header(), None), Reason.MALFORMED),
    "payload-invalid-utf8": (lambda w: w.signed(w.header(), b'{"sub":"\xff"}'), Reason.MALFORMED),
    "payload-nan": (
        lambda w: w.signed(w.header(), json.dumps(w.claims()).replace("{", '{"x":NaN,', 1)),
        Reason.MALFORMED,
    ),
    "payload-deep-nesting": (_deep_json, Reason.MALFORMED),
    "duplicate-aud": (
        lambda w: w.signed(
            w.header(), json.dumps(w.claims()).replace("{", '{"aud":"evil-api",', 1)
        ),
        Reason.MALFORMED,
    ),
    "duplicate-alg": (
        lambda w: w.signed(
            '{"alg":"none","alg":"RS256","kid":' + json.dumps(w.kid) + "}", w.claims()
        ),
        Reason.MALFORMED,
    ),
    # size (RFC 8725 3.x: bound work before parsing)
    "huge-1mb": (lambda w: "a" * (1024 * 1024), Reason.TOO_LARGE),
    "huge-valid-shape": (lambda w: w.valid(pad="x" * 20_000), Reason.TOO_LARGE),
    # claims an attacker can set on a genuinely signed token of a confused issuer
    "other-issuer": (lambda w: w.valid(iss=w.attacker.issuer), Reason.ISSUER),
    "exp-string": (lambda w: w.valid(exp="9999999999"), Reason.CLAIM),
    "exp-huge-float": (
        lambda w: w.signed(
            w.header(), json.dumps(w.claims()).replace('"exp":', '"exp":1e400,"x":', 1)
        ),
        Reason.CLAIM,
    ),
    "aud-list-of-non-strings": (lambda w: w.valid(aud=[{"aud": AUDIENCE}]), Reason.AUDIENCE),
}


def test_the_suite_is_large_enough() -> None:
    assert len(ATTACKS) >= 40


@pytest.fixture(scope="module")
def attacker() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        yield running


@pytest.fixture(scope="module")
def world(shared_issuer: LocalIssuer, attacker: LocalIssuer) -> World:
    return World(real=shared_issuer, attacker=attacker, attacker_key=attacker.signing_key)


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_refused(
    name: str, world: World, attacker: LocalIssuer, make_verifier: MakeVerifier
) -> None:
    build, reason = ATTACKS[name]
    token = build(world)
    verifier = make_verifier(token_cache_size=0)
    before = attacker.counts
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is reason, caught.value.description
    assert_not_echoed(caught.value, token)
    # Header-supplied key locations are never fetched.
    assert attacker.counts == before


async def test_the_genuine_token_of_the_suite_is_accepted(
    world: World, make_verifier: MakeVerifier
) -> None:
    access = await make_verifier().verify(world.valid())
    assert access.scopes == {"order:read"}
