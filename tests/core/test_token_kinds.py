"""ES*, EdDSA, PS* and HS* tokens over real HTTP, and every key-confusion combination.

One local issuer publishes a key of each kind; tokens are minted with each key and
checked against allow-lists that name or omit their alg (RFC 8725 sections 2.1, 3.1).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from _corekit import AUDIENCE, MakeVerifier, b64url, forge
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from genauth_guard._errors import InvalidToken, Reason
from genauth_guard.testing import LocalIssuer, SigningKey

SECRET = "genauth-app-secret-0123456789abcdef-0123456789ab"  # 48 bytes
KINDS = ["ES256", "ES384", "ES512", "EdDSA", "PS256", "RS384"]


@pytest.fixture(scope="module")
def kinds() -> Iterator[tuple[LocalIssuer, dict[str, SigningKey]]]:
    """An issuer publishing one key per alg (kid = alg), HS256 with SECRET."""
    with LocalIssuer(audience=AUDIENCE, app_secret=SECRET) as issuer:
        keys = {alg: SigningKey.generate(kid=alg, alg=alg) for alg in KINDS}
        issuer.extra_jwks.extend(k.public_jwk() for k in keys.values())
        keys["RS256"] = issuer.signing_key
        yield issuer, keys


def mint(kinds: tuple[LocalIssuer, dict[str, SigningKey]], kid: str, **options: Any) -> str:
    issuer, keys = kinds
    return issuer.mint(key=keys[kid], scope="order:read", **options)


@pytest.mark.parametrize("alg", KINDS)
async def test_each_alg_accepted_when_allowed(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]], make_verifier: MakeVerifier, alg: str
) -> None:
    issuer, _ = kinds
    token = mint(kinds, alg)
    verified = await make_verifier(on=issuer, algorithms=[alg]).verify(token)
    assert verified.scopes == {"order:read"}
    assert verified.header["alg"] == alg
    with pytest.raises(InvalidToken) as refused:
        await make_verifier(on=issuer).verify(token)  # default allow-list: RS256 only
    assert refused.value.reason is Reason.ALGORITHM


async def test_hs256_with_the_configured_secret_only(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]], make_verifier: MakeVerifier
) -> None:
    issuer, _ = kinds
    token = issuer.mint(algorithm="HS256", scope="order:read")
    assert "kid" not in jwt.get_unverified_header(token)
    verifier = make_verifier(on=issuer, shared_secret=SECRET)
    assert (await verifier.verify(token)).scopes == {"order:read"}
    # RS256 tokens still verify with the JWKS next to the secret.
    assert await verifier.verify(mint(kinds, "RS256"))
    for config in ({}, {"algorithms": ["RS256", "ES256"]}):
        with pytest.raises(InvalidToken) as refused:
            await make_verifier(on=issuer, **config).verify(token)
        assert refused.value.reason is Reason.ALGORITHM
    with pytest.raises(InvalidToken) as wrong:
        await make_verifier(on=issuer, shared_secret=SECRET[::-1]).verify(token)
    assert wrong.value.reason is Reason.SIGNATURE
    # HS384 was not named: the secret enables HS256 only.
    hs384 = issuer.mint(algorithm="HS384", scope="order:read")
    with pytest.raises(InvalidToken) as not_named:
        await verifier.verify(hs384)
    assert not_named.value.reason is Reason.ALGORITHM


def public_forms(key: SigningKey) -> list[bytes]:
    """Every way a public key could be mistaken for an HMAC secret."""
    public = key.public_key
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return [
        public.public_bytes(serialization.Encoding.PEM, spki),
        public.public_bytes(serialization.Encoding.DER, spki),
        json.dumps(key.public_jwk()).encode(),
        json.dumps(key.public_jwk(), separators=(",", ":"), sort_keys=True).encode(),
    ]  # fmt: skip


@pytest.mark.parametrize("kid", ["RS256", "ES256", "EdDSA"])
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_with_a_public_key_as_secret_never_verifies(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]],
    make_verifier: MakeVerifier,
    kid: str,
    alg: str,
) -> None:
    issuer, keys = kinds
    with_secret = make_verifier(
        on=issuer, algorithms=["RS256", "ES256", "EdDSA", alg], shared_secret="s" * 64
    )
    without = make_verifier(on=issuer, algorithms=["RS256", "ES256", "EdDSA"])
    claims = issuer.claims_for(scope="order:read")
    for secret in public_forms(keys[kid]):
        header = {"alg": alg, "kid": keys[kid].kid, "typ": "JWT"}
        token = forge(header, claims, alg=alg, hmac_secret=secret)
        with pytest.raises(InvalidToken) as refused:
            await with_secret.verify(token)
        assert refused.value.reason is Reason.SIGNATURE
        with pytest.raises(InvalidToken) as refused:
            await without.verify(token)
        assert refused.value.reason is Reason.ALGORITHM


# (token alg, signing key, kid the header names): the signature is by the named key
# where possible, so only the family rule can refuse it.
CONFUSIONS = [
    ("ES256", "RS256", "RS256"),  # ES token, RSA key
    ("EdDSA", "ES256", "ES256"),  # EdDSA token, EC key
    ("ES256", "EdDSA", "EdDSA"),  # ES token, OKP key
    ("RS256", "ES256", "ES256"),  # RSA token, EC key
    ("ES384", "ES256", "ES256"),  # curve mismatch: P-256 key, ES384 token
    ("ES256", "ES384", "ES384"),  # curve mismatch: P-384 key, ES256 token
    ("ES512", "ES256", "ES256"),
    ("PS256", "RS384", "RS384"),  # key's own alg RS384 disagrees with the token's
    ("RS256", "PS256", "PS256"),
    ("PS384", "PS256", "PS256"),
]


@pytest.mark.parametrize(("alg", "signer", "kid"), CONFUSIONS)
async def test_key_family_confusion_is_refused(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]],
    make_verifier: MakeVerifier,
    alg: str,
    signer: str,
    kid: str,
) -> None:
    issuer, keys = kinds
    verifier = make_verifier(on=issuer, algorithms=[*KINDS, "RS256", "ES384", "ES512", "PS384"])
    try:
        token = issuer.mint(key=keys[signer], algorithm=alg, header={"kid": keys[kid].kid})
    except (TypeError, ValueError, NotImplementedError, jwt.PyJWTError):
        # PyJWT will not sign with a key of the wrong family: forge the shape instead.
        claims = issuer.claims_for()
        token = forge(
            {"alg": alg, "kid": keys[kid].kid, "typ": "JWT"}, claims, alg="none"
        ) + b64url(b"\x01" * 64)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert refused.value.reason is Reason.ALGORITHM


def der_form(token: str, curve_size: int) -> str:
    """The token with its R||S signature re-encoded as DER (what OpenSSL emits)."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    head, body, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    r = int.from_bytes(raw[:curve_size], "big")
    s = int.from_bytes(raw[curve_size:], "big")
    return f"{head}.{body}.{b64url(encode_dss_signature(r, s))}"


@pytest.mark.parametrize(("alg", "size"), [("ES256", 32), ("ES384", 48), ("ES512", 66)])
async def test_ecdsa_der_or_wrong_length_signature_is_refused(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]],
    make_verifier: MakeVerifier,
    alg: str,
    size: int,
) -> None:
    issuer, _ = kinds
    verifier = make_verifier(on=issuer, algorithms=[alg], token_cache_size=0)
    token = mint(kinds, alg)
    assert await verifier.verify(token)
    head, body, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    zero = bytes(1)
    for bad_signature in (raw + zero, raw[:-1], zero + raw):
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(f"{head}.{body}.{b64url(bad_signature)}")
        assert refused.value.reason is Reason.SIGNATURE
    for bad in (der_form(token, size),):
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(bad)
        assert refused.value.reason is Reason.SIGNATURE


async def test_der_signature_from_cryptography_is_refused(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]], make_verifier: MakeVerifier
) -> None:
    issuer, keys = kinds
    private = keys["ES256"].private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    header = {"alg": "ES256", "kid": "ES256", "typ": "JWT"}
    signing_input = forge(header, issuer.claims_for(), alg="none")[:-1]
    der = private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidToken) as refused:
        await make_verifier(on=issuer, algorithms=["ES256"]).verify(
            f"{signing_input}.{b64url(der)}"
        )
    assert refused.value.reason is Reason.SIGNATURE


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA", "PS256"])
async def test_joserfc_tokens_verify_and_ours_verify_in_joserfc(
    kinds: tuple[LocalIssuer, dict[str, SigningKey]], make_verifier: MakeVerifier, alg: str
) -> None:
    issuer, keys = kinds
    key_set = KeySet.import_key_set(issuer.jwks())
    ours = mint(kinds, alg, algorithm=alg)
    with pytest.warns() if alg == "EdDSA" else contextlib.nullcontext():
        decoded = jose_jwt.decode(ours, key_set, algorithms=[alg])
    assert decoded.claims["aud"] == AUDIENCE
    from joserfc.jwk import import_key

    private = keys[alg].private_key
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    jose_key = import_key(pem, {"ES": "EC", "Ed": "OKP", "PS": "RSA"}[alg[:2]])
    header = {"alg": alg, "kid": alg, "typ": "JWT"}
    with pytest.warns() if alg == "EdDSA" else contextlib.nullcontext():
        theirs = jose_jwt.encode(header, issuer.claims_for(scope="a"), jose_key, algorithms=[alg])
    assert (await make_verifier(on=issuer, algorithms=[alg]).verify(theirs)).scopes == {"a"}
