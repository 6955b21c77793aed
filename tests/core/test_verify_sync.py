"""verify_sync: the same rules, caches and errors as verify, with threads for I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _corekit import AUDIENCE, MakeVerifier, assert_not_echoed
from _threads import together
from hypothesis import given, settings
from hypothesis import strategies as st
from test_attacks import ATTACKS, World

from genauth_guard._config import GuardConfig
from genauth_guard._errors import GuardError, InvalidToken, KeysUnavailable, Reason
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._token import AccessToken
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, ManualClock, SigningKey

THREADS = 100


# test_attacks' fixtures, by name (pytest finds fixtures by the attribute name).
@pytest.fixture(scope="module")
def attacker() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        yield running


@pytest.fixture(scope="module")
def world(shared_issuer: LocalIssuer, attacker: LocalIssuer) -> World:
    return World(real=shared_issuer, attacker=attacker, attacker_key=attacker.signing_key)


def outcome(call: Callable[[], AccessToken]) -> tuple[str, str]:
    try:
        token = call()
    except GuardError as error:
        return type(error).__name__, error.description
    return "accepted", repr(sorted(token.claims.items()))


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_sync_and_async_refuse_every_attack_alike(
    name: str, world: World, attacker: LocalIssuer, make_verifier: MakeVerifier
) -> None:
    build, reason = ATTACKS[name]
    token = build(world)
    verifier = make_verifier(token_cache_size=0)
    before = attacker.counts
    with pytest.raises(InvalidToken) as caught:
        verifier.verify_sync(token)
    assert caught.value.reason is reason, caught.value.description
    assert_not_echoed(caught.value, token)
    with pytest.raises(InvalidToken) as again:
        await verifier.verify(token)
    assert again.value.description == caught.value.description
    assert attacker.counts == before


async def test_sync_and_async_accept_alike_and_share_the_cache(
    world: World, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier()
    token = world.valid()
    accepted = verifier.verify_sync(token)
    assert accepted.scopes == {"order:read"}
    assert await verifier.verify(token) is accepted  # one cache for both entry points
    assert outcome(lambda: verifier.verify_sync(token)) == outcome(lambda: accepted)


def test_one_new_token_from_100_threads_is_one_jwks_fetch(issuer: LocalIssuer) -> None:
    token = issuer.mint(scope="order:read")
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE, jwks_uri=issuer.jwks_uri)
    issuer.fail("jwks", "slow", times=1)  # every thread surely arrives during the fetch
    with Verifier(config) as verifier:
        results = together(THREADS, lambda _: verifier.verify_sync(token))
    assert all(isinstance(r, AccessToken) for r in results), results
    assert {r.subject for r in results} == {"local-client"}
    assert issuer.counts["jwks"] == 1


def test_100_threads_with_unknown_kids_fetch_at_most_once(issuer: LocalIssuer) -> None:
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
    stranger = SigningKey.generate()  # a key the issuer never published
    tokens = [
        issuer.mint(scope="order:read", key=stranger, header={"kid": f"k{i}"})
        for i in range(THREADS)
    ]
    with Verifier(config) as verifier:
        verifier.warm_up_sync()
        before = issuer.counts["jwks"]
        issuer.fail("jwks", "slow", times=1)
        results = together(THREADS, lambda i: verifier.verify_sync(tokens[i]))
    assert all(isinstance(r, InvalidToken) for r in results), results
    assert {r.reason for r in results} == {Reason.UNKNOWN_KEY}
    assert issuer.counts["jwks"] - before == 1


def test_issuer_down_at_start_is_a_503_error_for_every_thread(issuer: LocalIssuer) -> None:
    issuer.fail("jwks")
    token = issuer.mint(scope="order:read")
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
    with Verifier(config) as verifier:
        results = together(20, lambda _: verifier.verify_sync(token))
        assert all(isinstance(r, KeysUnavailable) for r in results), results
        with pytest.raises(KeysUnavailable):
            verifier.warm_up_sync()
        issuer.heal()


def test_stale_keys_keep_serving_cached_and_new_tokens(issuer: LocalIssuer) -> None:
    clock = ManualClock()
    source = JWKSKeySource(jwks_uri=issuer.jwks_uri, clock=clock)
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE, token_cache_size=0)
    with Verifier(config, key_sources={issuer.issuer: source}) as verifier:
        verifier.verify_sync(issuer.mint(scope="order:read"))
        issuer.fail("jwks")
        clock.advance(3600)
        results = together(50, lambda _: verifier.verify_sync(issuer.mint(scope="order:read")))
        assert all(isinstance(r, AccessToken) for r in results), results
        clock.advance(86400)
        with pytest.raises(KeysUnavailable) as caught:
            verifier.verify_sync(issuer.mint(scope="order:read"))
        assert caught.value.retry_after >= 1
    source.close()
    issuer.heal()


def test_a_bug_in_a_key_source_is_a_503_not_a_crash(issuer: LocalIssuer) -> None:
    class Broken(JWKSKeySource):
        def get_key_sync(self, kid: str | None) -> Any:
            raise RuntimeError("boom")

    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
    broken = Broken(jwks_uri=issuer.jwks_uri)
    verifier = Verifier(config, key_sources={issuer.issuer: broken})
    with pytest.raises(KeysUnavailable):
        verifier.verify_sync(issuer.mint(scope="order:read"))


@pytest.fixture(scope="module")
def both(shared_issuer: LocalIssuer) -> Iterator[tuple[Verifier, asyncio.AbstractEventLoop]]:
    """One verifier (cache off) with its keys, and a loop to drive its async side."""
    loop = asyncio.new_event_loop()
    config = GuardConfig(issuer=shared_issuer.issuer, audience=AUDIENCE, token_cache_size=0)
    verifier = Verifier(config)
    verifier.warm_up_sync()
    yield verifier, loop
    loop.run_until_complete(verifier.aclose())
    loop.close()


@pytest.fixture(scope="module")
def seeds(shared_issuer: LocalIssuer) -> list[str]:
    """Tokens to mutate: valid, expired, for another audience."""
    return [
        shared_issuer.mint(scope="order:read"),
        shared_issuer.mint(scope="order:read", expires_in=-3600),
        shared_issuer.mint(audience="another-api"),
    ]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_verify_and_verify_sync_agree_on_mutated_tokens(
    both: tuple[Verifier, asyncio.AbstractEventLoop], seeds: list[str], data: st.DataObject
) -> None:
    """Whatever the input, both entry points give the same token or the same error."""
    verifier, loop = both
    token = data.draw(st.sampled_from(seeds))
    position = data.draw(st.integers(0, len(token)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(st.text(alphabet="AZaz09-_.=+/ ", max_size=4))
    mutated = token[:position] + insert + token[position + cut :]
    synced = outcome(lambda: verifier.verify_sync(mutated))
    awaited = outcome(lambda: loop.run_until_complete(verifier.verify(mutated)))
    assert synced == awaited


def test_sync_cache_hits_past_the_key_ttl_refresh_on_a_thread(issuer: LocalIssuer) -> None:
    """Issue 9's rule for verify_sync: a hit past the TTL is served at once and starts
    one background refresh (a thread here), so a withdrawn key stops being honoured."""
    keys_clock = ManualClock()
    source = JWKSKeySource(jwks_uri=issuer.jwks_uri, clock=keys_clock, cache_ttl=60)
    config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
    with Verifier(config, key_sources={issuer.issuer: source}) as verifier:
        old = issuer.signing_key
        token = issuer.mint(key=old)
        first = verifier.verify_sync(token)
        issuer.rotate_keys()
        issuer.drop_key(old.kid)  # withdrawn
        fetched = issuer.counts["jwks"]
        keys_clock.advance(61)
        results = together(20, lambda _: verifier.verify_sync(token))
        assert all(r is first for r in results), results  # served without waiting
        flight = source._thread_flight
        if flight is not None:
            assert flight.done.wait(10)
        assert issuer.counts["jwks"] == fetched + 1  # one refresh for all the hits
        with pytest.raises(InvalidToken) as caught:
            verifier.verify_sync(token)
        assert caught.value.reason is Reason.UNKNOWN_KEY
    source.close()
