"""What holds after a token is accepted (issue 9): the cache never outlives what made
the token valid, and the edges (ID tokens, cnf, junk, odd input types) are refused.

Keys come from local issuers over real HTTP through the real JWKSKeySource.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from _corekit import AUDIENCE, Clock, MakeVerifier, b64url, forge, mint, segment

from genauth_guard._config import GuardConfig
from genauth_guard._errors import GuardError, InvalidToken, Reason
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, ManualClock, SigningKey

# -- 1. a cached token never outlives its key -------------------------------------------


async def test_key_republished_under_the_same_kid_ends_the_cached_acceptance(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer)
    token = issuer.mint(scope="order:read")
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first  # a cache hit
    issuer.republish()  # new key material, same kid
    # A token of the new key has a kid the source knows: to learn of the new key the
    # source must refetch, which a token whose signature fails triggers no refetch
    # for; a warm-up (or the TTL) does.
    await verifier.warm_up()
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.SIGNATURE
    assert (await verifier.verify(issuer.mint())).issuer == issuer.issuer


async def test_kidless_single_key_rotated_ends_the_cached_acceptance(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer)
    claims = issuer.claims_for()
    token = forge({"alg": "RS256", "typ": "JWT"}, claims, key=issuer.signing_key.private_key)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    issuer.republish()  # still one key in the set, other material
    await verifier.warm_up()
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.SIGNATURE


async def test_unchanged_refetch_keeps_cached_entries(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    """Key identity survives a refetch that changes nothing, or only adds a key."""
    verifier = make_verifier(on=issuer)
    token = issuer.mint()
    first = await verifier.verify(token)
    await verifier.warm_up()
    assert verifier.cached(token) is first
    issuer.rotate_keys()  # a new key joins; the old one stays published
    await verifier.warm_up()
    assert verifier.cached(token) is first


@pytest.fixture
async def ttl_setup(issuer: LocalIssuer) -> AsyncIterator[tuple[Verifier, JWKSKeySource, Clock]]:
    """A verifier whose key source runs on a hand-moved monotonic clock (TTL 60 s)."""
    keys_clock = ManualClock()
    source = JWKSKeySource(issuer=issuer.issuer, cache_ttl=60, clock=keys_clock)
    verifier = Verifier(
        GuardConfig(issuer=issuer.issuer, audience=AUDIENCE), key_sources={issuer.issuer: source}
    )
    yield verifier, source, keys_clock
    await verifier.aclose()
    await source.aclose()


async def test_cache_hits_past_the_key_ttl_refresh_and_drop_a_withdrawn_key(
    ttl_setup: tuple[Verifier, JWKSKeySource, Clock], issuer: LocalIssuer
) -> None:
    verifier, source, keys_clock = ttl_setup
    old = issuer.signing_key
    token = issuer.mint(key=old)
    first = await verifier.verify(token)
    issuer.rotate_keys()
    issuer.drop_key(old.kid)  # withdrawn
    fetched = issuer.counts["jwks"]
    keys_clock.advance(30)
    assert await verifier.verify(token) is first  # within the TTL: served, no fetch
    assert issuer.counts["jwks"] == fetched
    keys_clock.advance(31)
    # Past the TTL: the hit is still served at once, and starts one background refresh.
    assert verifier.cached(token) is first
    assert verifier.cached(token) is first  # a second hit joins it (single flight)
    await source.refresh()  # joins the fetch in flight
    assert issuer.counts["jwks"] == fetched + 1
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.UNKNOWN_KEY


async def test_a_hit_past_the_ttl_never_waits_for_a_hanging_issuer(
    ttl_setup: tuple[Verifier, JWKSKeySource, Clock], issuer: LocalIssuer
) -> None:
    verifier, _, keys_clock = ttl_setup
    token = issuer.mint()
    first = await verifier.verify(token)
    issuer.hang_seconds = 5
    issuer.fail("jwks", "hang")
    keys_clock.advance(61)
    assert await asyncio.wait_for(verifier.verify(token), 1) is first
    issuer.heal()


# -- 2. predicate claim checks run on every request -------------------------------------


async def test_callable_claim_check_runs_on_every_cache_hit(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    revoked: set[str] = set()
    calls: list[str] = []

    def not_revoked(jti: str) -> bool:
        calls.append(jti)
        return jti not in revoked

    verifier = make_verifier(claim_checks={"jti": not_revoked, "sub": "local-client"})
    token = shared_issuer.mint()
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert verifier.cached(token) is first
    assert len(calls) == 3
    revoked.add(first.claims["jti"])
    for attempt in (verifier.verify(token), asyncio.to_thread(verifier.cached, token)):
        with pytest.raises(InvalidToken) as caught:
            await attempt
        assert caught.value.reason is Reason.CLAIM
    revoked.clear()
    assert await verifier.verify(token) is first  # the signature stays cached


async def test_a_raising_predicate_on_a_hit_refuses(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    fail = False

    def check(value: Any) -> bool:
        if fail:
            raise RuntimeError("deny list unreachable")
        return True

    verifier = make_verifier(claim_checks={"jti": check})
    token = shared_issuer.mint()
    await verifier.verify(token)
    fail = True
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


# -- 4. ID tokens ------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["nonce", "at_hash", "c_hash", "s_hash"])
async def test_id_tokens_are_refused_by_default(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, claim: str
) -> None:
    token = shared_issuer.mint(claims={claim: "abc"})
    with pytest.raises(InvalidToken) as caught:
        await make_verifier().verify(token)
    assert caught.value.reason is Reason.ID_TOKEN
    assert caught.value.description == "an ID token is not an access token"
    accepted = await make_verifier(reject_id_tokens=False).verify(token)
    assert accepted.claims[claim] == "abc"


async def test_auth_time_alone_is_an_access_token_claim(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    token = shared_issuer.mint(claims={"auth_time": 1_700_000_000})
    assert (await make_verifier().verify(token)).claims["auth_time"] == 1_700_000_000


def test_reject_id_tokens_from_the_environment() -> None:
    env = {"GENAUTH_ISSUER": "https://i.example/oidc", "GENAUTH_AUDIENCE": "a"}
    assert GuardConfig.from_env(env).reject_id_tokens is True
    off = GuardConfig.from_env({**env, "GENAUTH_REJECT_ID_TOKENS": "false"})
    assert off.reject_id_tokens is False


# -- 5. sender-constrained tokens are not bearer tokens -----------------------------------


JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.mark.parametrize("cnf", [{"jkt": JKT}, {"x5t#S256": JKT}])
async def test_cnf_bound_token_is_refused_as_bearer_also_from_the_cache(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, cnf: dict[str, str]
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint(claims={"cnf": cnf})
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.SENDER_CONSTRAINED
    # Accepted on the proof-of-possession path (which checks the proof itself)...
    bound = await verifier._verify(token, bound=True)
    assert await verifier._verify(token, bound=True) is bound  # cached there
    # ...and the shared cache never hands it to the bearer path.
    with pytest.raises(InvalidToken):
        verifier.cached(token)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_unbound_token_is_refused_on_the_bound_path_also_from_the_cache(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint()
    await verifier.verify(token)
    with pytest.raises(InvalidToken) as caught:
        await verifier._verify(token, bound=True)
    assert caught.value.reason is Reason.SENDER_CONSTRAINED


# -- 6. the payload is read only once the signature holds --------------------------------


async def test_a_junk_payload_is_refused_by_the_signature_not_parsed(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier(token_cache_size=0)
    attacker = SigningKey.generate()
    header = {"alg": "RS256", "typ": "JWT", "kid": shared_issuer.signing_key.kid}
    junk = b'{"iss":"' + shared_issuer.issuer.encode() + b'","x":[' + b"[]," * 3000 + b"1]}"
    token = forge(header, junk, key=attacker.private_key)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.SIGNATURE
    not_json = forge(header, b"{not json", key=attacker.private_key)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(not_json)
    assert caught.value.reason is Reason.SIGNATURE


async def test_issuer_found_without_parsing_must_match_the_parsed_one(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    """A payload whose first "iss" text is not its iss member is still refused."""
    verifier = make_verifier()
    key = shared_issuer.signing_key
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    claims = shared_issuer.claims_for()
    body = (
        b'{"x\\"iss":"' + shared_issuer.issuer.encode() + b'",'
        + b'"iss":"https://other.example/oidc","aud":"order-api","exp":'
        + str(claims["exp"]).encode() + b"}"
    )  # fmt: skip
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(forge(header, body, key=key.private_key))
    assert caught.value.reason is Reason.ISSUER


async def test_foreign_issuer_is_refused_without_any_key_fetch(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer)
    await verifier.warm_up()
    before = issuer.counts["jwks"]
    for iss in ("https://evil.example/oidc", 42, None):
        token = mint(issuer, claims={"iss": iss}, header={"kid": "unknown-kid"})
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
        assert caught.value.reason is Reason.ISSUER
    assert issuer.counts["jwks"] == before


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "x": [1] * 100},  # many values
        {"alg": "RS256", "x": [[[[[[[[[]]]]]]]]]},  # deep
        {"alg": "RS256", "x": int("9" * 30)},  # a huge integer
    ],
)
async def test_header_json_work_is_bounded(verifier: Verifier, header: dict[str, Any]) -> None:
    token = f"{segment(header)}.{segment({'iss': 'x'})}.{b64url(b'sig')}"
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.MALFORMED


async def test_several_issuers_select_keys_by_the_unparsed_iss(
    issuer: LocalIssuer, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    config = GuardConfig(issuer=[shared_issuer.issuer, issuer.issuer], audience=AUDIENCE)
    async with Verifier(config, clock=clock) as verifier:
        for who in (shared_issuer, issuer):
            assert (await verifier.verify(who.mint())).issuer == who.issuer
        no_iss = mint(issuer, omit=("iss",))
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(no_iss)
        assert caught.value.reason is Reason.MISSING_CLAIM


async def test_a_nested_iss_before_the_real_one_does_not_mislead(
    issuer: LocalIssuer, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    """An act claim (RFC 8693) may carry an iss of its own, before the token's iss."""
    for issuers in ([issuer.issuer], [shared_issuer.issuer, issuer.issuer]):
        config = GuardConfig(issuer=issuers, audience=AUDIENCE)
        async with Verifier(config, clock=clock) as verifier:
            for nested in (shared_issuer.issuer, "https://elsewhere.example/oidc"):
                claims = {"act": {"iss": nested, "sub": "agent"}} | issuer.claims_for()
                claims["iss"] = claims.pop("iss")  # the real iss comes last
                key = issuer.signing_key
                header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
                token = forge(header, claims, key=key.private_key)
                assert token.split(".")[1] == segment(claims)  # act's iss comes first
                assert (await verifier.verify(token)).issuer == issuer.issuer


# -- 10. only GuardError escapes ------------------------------------------------------


def _buffers(token: str) -> list[Any]:
    raw = token.encode()
    released = memoryview(bytearray(raw))
    released.release()
    return [
        bytearray(raw),
        memoryview(bytearray(raw)),
        memoryview(raw),
        released,
        memoryview(array("i", [1, 2, 3])),
        bytearray(b"\xff" * 10),
        memoryview(raw)[::2],
        42,
        None,
    ]


async def test_only_guard_errors_escape_verify_for_any_input_type(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint()
    for value in _buffers(token):
        try:
            verified = await verifier.verify(value)
        except GuardError:
            continue
        assert verified.issuer == shared_issuer.issuer
        assert verifier.cached(value) is None  # only str tokens are cached


# -- 11. PS256 keys --------------------------------------------------------------------


@pytest.fixture
def ps_key(issuer: LocalIssuer) -> SigningKey:
    key = SigningKey.generate(kid="ps-key")
    key.alg = "PS256"
    issuer.extra_jwks.append(key.public_jwk())
    return key


async def test_ps256_jwks_key_verifies_when_allowed(
    make_verifier: MakeVerifier, issuer: LocalIssuer, ps_key: SigningKey
) -> None:
    verifier = make_verifier(on=issuer, algorithms=["RS256", "PS256"])
    token = issuer.mint(key=ps_key, algorithm="PS256")
    assert (await verifier.verify(token)).header["alg"] == "PS256"
    assert (await verifier.verify(issuer.mint())).header["alg"] == "RS256"


async def test_key_skipped_for_the_allow_list_is_named_in_the_refusal(
    make_verifier: MakeVerifier, issuer: LocalIssuer, ps_key: SigningKey
) -> None:
    verifier = make_verifier(on=issuer)  # RS256 only
    token = issuer.mint(key=ps_key, algorithm="RS256")
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert caught.value.description == "key ps-key skipped: alg PS256 not in the allow-list"


# -- the verifier builds its key sources from the whole configuration --------------------


async def test_configured_http_client_and_limits_reach_the_key_source(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    async def log(request: httpx2.Request) -> None:
        seen.append(str(request.url))

    async with httpx2.AsyncClient(event_hooks={"request": [log]}) as client:
        config = GuardConfig(
            issuer=issuer.issuer, audience=AUDIENCE, refetch_per_minute=1, http_timeout=0.3
        )
        async with Verifier(config, http_client=client) as verifier:
            await verifier.verify(issuer.mint())
            assert seen == [issuer.discovery_url, issuer.jwks_uri]
            fetched = issuer.counts["jwks"]
            # refetch_per_minute=1: the bucket holds one refetch, then none.
            for _ in range(3):
                with pytest.raises(InvalidToken):
                    await verifier.verify(issuer.mint(header={"kid": "new-kid"}))
            assert issuer.counts["jwks"] == fetched + 1


async def test_configured_timeout_reaches_the_key_source(issuer: LocalIssuer) -> None:
    issuer.hang_seconds = 5
    issuer.fail("jwks", "hang")
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE, http_timeout=0.2)
    async with Verifier(config) as verifier:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(GuardError):
            await verifier.verify(issuer.mint())
        assert loop.time() - started < 2  # the default 5 s would hold it longer
    issuer.heal()


def test_allow_http_reaches_the_key_source() -> None:
    config = GuardConfig(issuer="http://issuer.example/oidc", audience="a", allow_http=True)
    Verifier(config)  # a plain-http public issuer is refused without allow_http
    with pytest.raises(ValueError, match="plain http"):
        Verifier(GuardConfig(issuer="http://issuer.example/oidc", audience="a"))


async def test_stale_max_age_and_cache_ttl_reach_the_key_source(issuer: LocalIssuer) -> None:
    """Through the public constructor: the configured TTL and stale bound are the source's."""
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE, cache_ttl=7, stale_max_age=9)
    verifier = Verifier(config)
    source = verifier._sources[issuer.issuer]
    # Observable only through time; the source's own tests cover the behaviour, this
    # pins that the values are passed at all.
    assert (source._cache_ttl, source._stale_max_age) == (7, 9)
    await verifier.aclose()


async def test_aclose_empties_the_token_cache(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint()
    await verifier.verify(token)
    assert verifier.cached(token) is not None
    await verifier.aclose()
    assert verifier.cached(token) is None
