"""The key source's thread driver: the same flows as the asyncio one, on threads.

Counts are taken at the local issuer, over real loopback HTTP.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from _threads import together

from genauth_guard._errors import InvalidToken, KeysUnavailable, Reason
from genauth_guard._jwks import JWKSKeySource, VerificationKey
from genauth_guard.testing import LocalIssuer, ManualClock

Maker = Callable[..., JWKSKeySource]
THREADS = 100


@pytest.fixture
def make_sync_source() -> Iterator[Maker]:
    client = httpx2.Client()
    made: list[JWKSKeySource] = []

    def make(**kwargs: Any) -> JWKSKeySource:
        kwargs.setdefault("sync_http_client", client)
        source = JWKSKeySource(**kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()
    client.close()


def settle(source: JWKSKeySource) -> None:
    """Wait for a background refresh thread of ``source``, if one runs."""
    flight = source._thread_flight
    if flight is not None:
        assert flight.done.wait(10)


def test_first_lookups_from_100_threads_share_one_fetch(
    issuer: LocalIssuer, make_sync_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    source = make_sync_source(jwks_uri=issuer.jwks_uri)
    issuer.fail("jwks", "slow", times=1)  # every thread surely arrives during the fetch
    results = together(THREADS, lambda _: source.get_key_sync(kid))
    assert all(isinstance(r, VerificationKey) and r.kid == kid for r in results), results
    assert len({id(r) for r in results}) == 1
    assert issuer.counts["jwks"] == 1


def test_discovery_then_keys_once_for_100_threads(
    issuer: LocalIssuer, make_sync_source: Maker
) -> None:
    source = make_sync_source(issuer=issuer.issuer)
    issuer.fail("discovery", "slow", times=1)
    results = together(THREADS, lambda _: source.get_key_sync(issuer.signing_key.kid))
    assert all(isinstance(r, VerificationKey) for r in results), results
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["jwks"] == 1
    assert source.jwks_uri == issuer.jwks_uri


def test_100_threads_with_unknown_kids_cause_at_most_one_fetch(
    issuer: LocalIssuer, make_sync_source: Maker
) -> None:
    source = make_sync_source(jwks_uri=issuer.jwks_uri)
    source.refresh_sync()
    issuer.reset_counts()
    issuer.fail("jwks", "slow", times=1)
    results = together(THREADS, lambda i: source.get_key_sync(f"unknown-{i}"))
    assert all(isinstance(r, InvalidToken) for r in results), results
    assert all(r.reason is Reason.UNKNOWN_KEY for r in results)
    assert issuer.counts["jwks"] == 1
    # Threads that joined the shared fetch took no rate-limit token for it.
    assert source._tokens >= source._capacity - 2


def test_a_rotated_key_is_found_by_every_waiting_thread(
    issuer: LocalIssuer, make_sync_source: Maker
) -> None:
    source = make_sync_source(jwks_uri=issuer.jwks_uri)
    source.refresh_sync()
    new = issuer.rotate_keys()
    issuer.reset_counts()
    issuer.fail("jwks", "slow", times=1)
    results = together(THREADS, lambda _: source.get_key_sync(new.kid))
    assert all(isinstance(r, VerificationKey) and r.kid == new.kid for r in results), results
    assert issuer.counts["jwks"] == 1


def test_unknown_kids_past_the_rate_limit_are_refused_at_once(
    issuer: LocalIssuer, clock: ManualClock, make_sync_source: Maker
) -> None:
    source = make_sync_source(jwks_uri=issuer.jwks_uri, clock=clock)
    source.refresh_sync()
    for index in range(5):
        with pytest.raises(InvalidToken, match=r"matches the token's kid$"):
            source.get_key_sync(f"nope-{index}")
    with pytest.raises(InvalidToken, match="rate limit"):
        source.get_key_sync("nope-again")
    assert issuer.counts["jwks"] == 6


def test_issuer_down_at_start_is_unavailable_then_recovers(
    issuer: LocalIssuer, clock: ManualClock, make_sync_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    issuer.fail("jwks")
    source = make_sync_source(jwks_uri=issuer.jwks_uri, clock=clock)
    results = together(20, lambda _: source.get_key_sync(kid))
    assert all(isinstance(r, KeysUnavailable) for r in results), results
    assert all(r.retry_after >= 1 for r in results)
    assert issuer.counts["jwks"] <= 2  # one shared fetch (a straggler may start one more)
    for _ in range(10):
        with pytest.raises(KeysUnavailable):
            source.get_key_sync(kid)
    assert issuer.counts["jwks"] <= 6  # then the bucket stops the retries
    issuer.heal()
    clock.advance(60)
    assert source.get_key_sync(kid).kid == kid


def test_stale_keys_serve_during_an_outage_and_refresh_on_a_thread(
    issuer: LocalIssuer,
    clock: ManualClock,
    make_sync_source: Maker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kid = issuer.signing_key.kid
    source = make_sync_source(jwks_uri=issuer.jwks_uri, clock=clock)
    key = source.get_key_sync(kid)
    issuer.fail("jwks")
    clock.advance(601)
    with caplog.at_level(logging.WARNING, logger="genauth_guard"):
        assert source.get_key_sync(kid) is key  # waits: the outage is not known yet
    assert "serving the keys fetched 601 s ago" in caplog.text
    results = together(THREADS, lambda _: source.get_key_sync(kid))
    assert all(r is key for r in results), results  # no thread waits on the dead issuer
    settle(source)
    # After the failure every retry takes a token from the bucket (5 a minute): however
    # the threads interleave with the background retries, the outage costs the issuer
    # the first two fetches plus at most the bucket, and another wave of threads adds none.
    assert issuer.counts["jwks"] <= 2 + 5
    together(THREADS, lambda _: source.get_key_sync(kid))
    settle(source)
    assert issuer.counts["jwks"] <= 2 + 5
    assert source.keys == (key,)
    clock.advance(86400)
    with pytest.raises(KeysUnavailable, match="older than 86400 s"):
        source.get_key_sync(kid)
    issuer.heal()


def test_a_hanging_issuer_is_bounded_by_the_timeout(
    issuer: LocalIssuer, clock: ManualClock, make_sync_source: Maker
) -> None:
    issuer.hang_seconds = 5.0
    issuer.fail("jwks", "hang", times=1)
    source = make_sync_source(jwks_uri=issuer.jwks_uri, clock=clock, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KeysUnavailable, match="timed out"):
        source.get_key_sync(issuer.signing_key.kid)
    assert time.monotonic() - started < 3
    assert source.get_key_sync(issuer.signing_key.kid).kid == issuer.signing_key.kid


def test_garbage_and_oversized_bodies_are_failed_fetches(
    issuer: LocalIssuer, clock: ManualClock, make_sync_source: Maker
) -> None:
    issuer.fail("jwks", "garbage", times=1)
    source = make_sync_source(jwks_uri=issuer.jwks_uri, clock=clock, max_bytes=64)
    with pytest.raises(KeysUnavailable, match="not JSON"):
        source.refresh_sync()
    clock.advance(60)
    with pytest.raises(KeysUnavailable, match="larger than 64 bytes"):
        source.refresh_sync()


def test_sync_and_async_drivers_share_the_keys(
    issuer: LocalIssuer, make_sync_source: Maker
) -> None:
    import asyncio

    source = make_sync_source(jwks_uri=issuer.jwks_uri)
    key = source.get_key_sync(issuer.signing_key.kid)

    async def lookup() -> VerificationKey:
        try:
            return await source.get_key(issuer.signing_key.kid)
        finally:
            await source.aclose()

    assert asyncio.run(lookup()) is key
    assert issuer.counts["jwks"] == 1


@pytest.mark.parametrize("endpoint", ["jwks", "discovery"])
def test_compressed_answers_are_decoded_and_bounded(
    issuer: LocalIssuer, make_sync_source: Maker, endpoint: Any
) -> None:
    issuer.fail(endpoint, "gzip", times=1)
    source = make_sync_source(issuer=issuer.issuer)
    assert source.get_key_sync(issuer.signing_key.kid).kid == issuer.signing_key.kid
    issuer.fail(endpoint, "gzip_bomb")
    bombed = make_sync_source(issuer=issuer.issuer)
    with pytest.raises(KeysUnavailable) as caught:
        bombed.refresh_sync()
    assert "larger than" in (caught.value.detail or "")
