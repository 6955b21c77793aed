"""Rules that mutation testing found unpinned (issue 9, "Test strength"): each test
asserts the behaviour a surviving mutant changed. Keys from local issuers over HTTP.
"""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from _corekit import AUDIENCE, Clock, MakeVerifier, b64url, forge, mint, segment
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from genauth_guard._config import GuardConfig
from genauth_guard._errors import GuardError, InvalidToken, KeysUnavailable, Reason
from genauth_guard._jwks import JWKSKeySource, VerificationKey
from genauth_guard._jws import parse_compact
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, SigningKey

# -- _verifier.py --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("admin user", True),
        (["user", "admin"], True),
        (None, False),
        (5, False),
        ({"admin": True}, False),
        (["user"], False),
        ("administrator", False),
    ],
)
async def test_a_list_claim_check_needs_a_list_or_string_holding_every_member(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, value: Any, accepted: bool
) -> None:
    verifier = make_verifier(token_cache_size=0, claim_checks={"roles": ("admin",)})
    token = mint(shared_issuer, claims={"roles": value})
    if accepted:
        assert (await verifier.verify(token)).claims["roles"] == value
    else:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
        assert caught.value.reason is Reason.CLAIM


def test_key_sources_must_map_exactly_the_configured_issuers() -> None:
    config = GuardConfig(issuer="https://a.example/oidc", audience="x")
    source = JWKSKeySource(issuer="https://a.example/oidc")
    other = JWKSKeySource(issuer="https://b.example/oidc")
    with pytest.raises(ValueError, match="exactly"):
        Verifier(config, key_sources={"https://a.example/oidc": source, "https://b.": other})
    with pytest.raises(ValueError, match="exactly"):
        Verifier(config, key_sources={})


@pytest.fixture
def boundary(make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock) -> Any:
    """verify(token) at a given clock reading, cold (cache off) and from the cache."""
    clock.now = 1_800_000_000.0

    async def accepted_at(claims: dict[str, Any], now: float, **options: Any) -> bool:
        token = mint(shared_issuer, claims=claims)
        results = []
        for size in (0, 10):
            verifier = make_verifier(token_cache_size=size, leeway=30, **options)
            if size:  # fill the cache at a time the token is valid, then move
                clock.now = claims.get("iat", claims.get("nbf", claims["exp"] - 100))
                await verifier.verify(token)
            clock.now = now
            try:
                await verifier.verify(token)
                results.append(True)
            except InvalidToken:
                results.append(False)
        assert results[0] == results[1]  # cold and cached agree at the boundary
        return results[0]

    return accepted_at


async def test_exp_boundary_is_exclusive(boundary: Any) -> None:
    exp = 1_800_000_000
    assert await boundary({"exp": exp}, exp + 30 - 0.001)
    assert not await boundary({"exp": exp}, exp + 30)


async def test_nbf_boundary_is_inclusive(boundary: Any) -> None:
    nbf, exp = 1_800_000_000, 1_800_003_600
    assert await boundary({"nbf": nbf, "exp": exp}, nbf - 30)
    assert not await boundary({"nbf": nbf, "exp": exp}, nbf - 30 - 0.001)


async def test_iat_boundary_is_inclusive(boundary: Any) -> None:
    iat, exp = 1_800_000_000, 1_800_003_600
    assert await boundary({"iat": iat, "exp": exp}, iat - 30)
    assert not await boundary({"iat": iat, "exp": exp}, iat - 30 - 0.001)


async def test_max_age_boundary_is_exclusive(boundary: Any) -> None:
    iat, exp = 1_800_000_000, 1_800_003_600
    claims = {"iat": iat, "exp": exp}
    assert await boundary(claims, iat + 600 + 30 - 0.001, max_token_age=600)
    assert not await boundary(claims, iat + 600 + 30, max_token_age=600)


class RecordingSource(JWKSKeySource):
    """A real key source that records the kids it is asked for, or fails unexpectedly."""

    def __init__(self, *, broken: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked: list[str | None] = []
        self.broken = broken

    def fresh_key(self, kid: str | None) -> VerificationKey | None:
        self.asked.append(kid)
        if self.broken:
            raise RuntimeError("a bug in a key source")
        return super().fresh_key(kid)

    async def get_key(self, kid: str | None) -> VerificationKey:
        self.asked.append(kid)
        return await super().get_key(kid)


async def test_an_unexpected_key_source_error_is_503_not_500(
    shared_issuer: LocalIssuer, clock: Clock
) -> None:
    source = RecordingSource(issuer=shared_issuer.issuer, broken=True)
    config = GuardConfig(issuer=shared_issuer.issuer, audience=AUDIENCE)
    async with Verifier(config, key_sources={shared_issuer.issuer: source}, clock=clock) as v:
        with pytest.raises(KeysUnavailable):
            await v.verify(shared_issuer.mint())
    await source.aclose()


async def test_a_kid_over_256_characters_never_reaches_the_key_source(
    shared_issuer: LocalIssuer, clock: Clock
) -> None:
    source = RecordingSource(issuer=shared_issuer.issuer)
    config = GuardConfig(issuer=shared_issuer.issuer, audience=AUDIENCE)
    async with Verifier(config, key_sources={shared_issuer.issuer: source}, clock=clock) as v:
        for kid, reaches in (("k" * 256, True), ("k" * 257, False)):
            source.asked.clear()
            with pytest.raises(InvalidToken) as caught:
                await v.verify(mint(shared_issuer, header={"kid": kid}))
            assert caught.value.reason is Reason.UNKNOWN_KEY
            assert bool(source.asked) is reaches
    await source.aclose()


async def test_warm_up_fails_when_any_issuer_fails(
    issuer: LocalIssuer, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    config = GuardConfig(issuer=[shared_issuer.issuer, issuer.issuer], audience=AUDIENCE)
    issuer.fail("discovery", "error")
    async with Verifier(config, clock=clock) as verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.warm_up()
    broken = RecordingSource(issuer=shared_issuer.issuer, broken=True)

    async def boom() -> None:
        raise RuntimeError("unexpected")

    broken.refresh = boom  # type: ignore[method-assign]
    single = GuardConfig(issuer=shared_issuer.issuer, audience=AUDIENCE)
    async with Verifier(single, key_sources={shared_issuer.issuer: broken}) as verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.warm_up()
    await broken.aclose()


@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/jwt", "Application/JWT", "at+jwt"])
async def test_default_types(verifier: Verifier, shared_issuer: LocalIssuer, typ: str) -> None:
    token = mint(shared_issuer, header={"typ": typ})
    assert (await verifier.verify(token)).header["typ"] == typ


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
async def test_every_supported_algorithm_verifies_with_a_key_labelled_for_it(
    make_verifier: MakeVerifier, issuer: LocalIssuer, alg: str
) -> None:
    key = SigningKey.generate(kid=f"key-{alg}")
    key.alg = alg
    issuer.extra_jwks.append(key.public_jwk())
    verifier = make_verifier(on=issuer, algorithms=[alg], token_cache_size=0)
    token = issuer.mint(key=key, algorithm=alg)
    assert (await verifier.verify(token)).header["alg"] == alg
    # The same key under another algorithm of the family is refused.
    other = "PS256" if alg != "PS256" else "RS256"
    wrong = issuer.mint(key=key, algorithm=other)
    with pytest.raises(InvalidToken):
        await make_verifier(on=issuer, algorithms=[alg, other]).verify(wrong)


async def test_pss_salt_must_equal_the_hash_length(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    """RFC 7518 3.5: the salt is as long as the hash output; MAX_LENGTH salts differ."""
    key = SigningKey.generate(kid="pss")
    key.alg = "PS256"
    issuer.extra_jwks.append(key.public_jwk())
    header = {"alg": "PS256", "typ": "JWT", "kid": "pss"}
    signing_input = f"{segment(header)}.{segment(issuer.claims_for())}"
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH)
    signature = key.private_key.sign(signing_input.encode(), pss, hashes.SHA256())
    verifier = make_verifier(on=issuer, algorithms=["PS256"])
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(f"{signing_input}.{b64url(signature)}")
    assert caught.value.reason is Reason.SIGNATURE


# -- _jws.py ---------------------------------------------------------------------------

_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


async def test_padding_on_a_segment_is_refused(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier(token_cache_size=0)
    header, payload, signature = shared_issuer.mint().split(".")
    for token in (
        f"{header}.{payload}.{signature}====",
        f"{header}.{payload}.{signature}=",
        f"{header}====.{payload}.{signature}",
        f"{header}.{payload}====.{signature}",
    ):
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
        assert caught.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("rest", [2, 3])
def test_only_canonical_last_characters_are_accepted(rest: int) -> None:
    """RFC 4648 3.5: the unused low bits of the last character must be zero."""
    head = segment({"alg": "RS256"})
    body = segment({"iss": "x"})
    unused_bits = 4 if rest == 2 else 2
    for char in _ALPHABET:
        signature = "A" * (4 + rest - 1) + char
        canonical = _ALPHABET.index(char) % (1 << unused_bits) == 0
        try:
            parse_compact(f"{head}.{body}.{signature}", 16384)
            accepted = True
        except InvalidToken:
            accepted = False
        assert accepted is canonical, char


@pytest.mark.parametrize("where", ["header", "payload"])
async def test_trailing_text_after_the_json_is_refused(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, where: str
) -> None:
    key = shared_issuer.signing_key
    header = json.dumps({"alg": "RS256", "typ": "JWT", "kid": key.kid}).encode()
    payload = json.dumps(shared_issuer.claims_for()).encode()
    junk = (header + b"x", payload) if where == "header" else (header, payload + b"x")
    token = forge(*junk, key=key.private_key)  # a valid signature
    with pytest.raises(InvalidToken) as caught:
        await make_verifier(token_cache_size=0).verify(token)
    assert caught.value.reason is Reason.MALFORMED
    spaced = forge(b" " + header + b" ", b" " + payload + b" ", key=key.private_key)
    assert (await make_verifier().verify(spaced)).issuer == shared_issuer.issuer


@pytest.mark.parametrize(("b64", "accepted"), [(True, True), (False, False), (0, False)])
async def test_b64_header(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, b64: Any, accepted: bool
) -> None:
    token = mint(shared_issuer, header={"b64": b64})
    verifier = make_verifier(token_cache_size=0)
    if accepted:
        assert (await verifier.verify(token)).header["b64"] is True
    else:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
        assert caught.value.reason is Reason.CRIT


async def test_segment_length_bounds(verifier: Verifier) -> None:
    body = segment({"iss": "x"})
    head = segment({"alg": "RS256"})
    for token in (
        f"{head}.{body}.{'A' * 2732}",  # longer than a 16384-bit RSA signature
        f"{segment({'alg': 'RS256', 'x': 'y' * 3100})}.{body}.AAAA",  # header over 4 KiB
    ):
        with pytest.raises(GuardError) as caught:
            await verifier.verify(token)
        assert isinstance(caught.value, InvalidToken)
        assert caught.value.reason is Reason.MALFORMED


def test_header_integers_up_to_20_digits() -> None:
    body = segment({"iss": "x"})
    for digits, accepted in ((20, True), (21, False)):
        for sign in ("", "-"):
            header = b'{"alg":"RS256","n":' + (sign + "9" * digits).encode() + b"}"
            token = f"{b64url(header)}.{body}.AAAA"
            if accepted:
                assert parse_compact(token, 16384).header["n"] == int(sign + "9" * digits)
            else:
                with pytest.raises(InvalidToken):
                    parse_compact(token, 16384)


@pytest.mark.parametrize("colon", [":", " : ", "\n:\t", "\r\n :\r\n "])
def test_issuer_hint_reads_json_whitespace_around_the_colon(colon: str) -> None:
    from genauth_guard._jws import issuer_hint

    payload = ('{"sub":"x","iss"' + colon + '"https://a.example/oidc"}').encode()
    assert issuer_hint(payload, {"https://a.example/oidc"}) == ("https://a.example/oidc",)
    assert issuer_hint(payload, {"https://b.example/oidc"}) == ()
    assert issuer_hint(b'{"aud":"iss"}', {"iss"}) is None  # a value, not a member name


@pytest.mark.parametrize("pad", ["", "x"])
def test_issuer_hint_survives_a_multibyte_character_cut_by_its_window(pad: str) -> None:
    from genauth_guard._jws import issuer_hint

    iss = "https://a.example/oidc"
    payload = json.dumps({"iss": iss, "p": pad, "name": "é" * 700}, ensure_ascii=False)
    assert issuer_hint(payload.encode(), {iss}) == (iss,)


def _header_with(members: str) -> str:
    return f"{b64url(('{' + members + '}').encode())}.{segment({'iss': 'x'})}.AAAA"


def test_header_bounds_are_64_commas_and_8_nestings() -> None:
    def parses(members: str) -> bool:
        try:
            parse_compact(_header_with(members), 16384)
        except InvalidToken:
            return False
        return True

    values = ",".join(["1"] * 64)  # 63 commas inside, plus the one after "alg"
    assert parses(f'"alg":"RS256","x":[{values}]')
    assert not parses(f'"alg":"RS256","x":[{values},1]')
    objects = '{"a":' * 7 + "1" + "}" * 7  # 7 objects inside the header object: 8
    assert parses(f'"alg":"RS256","x":{objects}')
    assert not parses(f'"alg":"RS256","x":{{"b":{objects}}}')
    arrays = "[" * 7 + "]" * 7
    assert parses(f'"alg":"RS256","x":{arrays}')
    assert not parses(f'"alg":"RS256","x":[{arrays}]')


def test_json_with_only_trailing_whitespace_is_accepted() -> None:
    header, payload = b'{"alg":"RS256"} ', b'{"iss":"x"}\n'
    token = f"{b64url(header)}.{b64url(payload)}.AAAA"
    parsed = parse_compact(token, 16384)
    assert (parsed.header["alg"], parsed.payload["iss"]) == ("RS256", "x")
