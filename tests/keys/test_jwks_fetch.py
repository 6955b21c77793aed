"""The key source against a real local issuer: discovery, TTL, rotation, rate limit."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import httpx2
import jwt
import pytest

from genauth_guard._discovery import DiscoveryError
from genauth_guard._errors import InvalidToken, KeysUnavailable, Reason
from genauth_guard._jwks import JWKSKeySource
from genauth_guard.testing import LocalIssuer, ManualClock

Maker = Callable[..., JWKSKeySource]


def unknown_kid() -> str:
    return secrets.token_urlsafe(8)


# -- construction ------------------------------------------------------------------


def test_one_of_jwks_uri_or_issuer_is_required() -> None:
    with pytest.raises(ValueError, match="jwks_uri or issuer"):
        JWKSKeySource()


@pytest.mark.parametrize("field", ["jwks_uri", "issuer"])
def test_plain_http_on_a_public_host_is_refused(field: str) -> None:
    with pytest.raises(DiscoveryError, match="plain http"):
        JWKSKeySource(**{field: "http://idp.example.com/oidc"})  # type: ignore[arg-type]
    JWKSKeySource(**{field: "http://idp.example.com/oidc"}, allow_http=True)  # type: ignore[arg-type]


def test_non_http_url_is_refused() -> None:
    with pytest.raises(DiscoveryError):
        JWKSKeySource(jwks_uri="file:///etc/jwks.json")


def test_construction_does_no_io() -> None:
    # Nothing listens on port 9 of loopback; constructing must still succeed.
    source = JWKSKeySource(issuer="http://127.0.0.1:9/oidc")
    assert source.keys == ()
    assert source.generation == 0
    assert not source.has_key(None)


# -- discovery ---------------------------------------------------------------------


async def test_discovery_finds_the_jwks(make_source: Maker, issuer: LocalIssuer) -> None:
    async with make_source(issuer=issuer.issuer) as source:
        key = await source.get_key(issuer.signing_key.kid)
        assert key.kid == issuer.signing_key.kid
        assert source.jwks_uri == issuer.jwks_uri
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["jwks"] == 1


async def test_discovery_happens_once_per_source(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(issuer=issuer.issuer, clock=clock) as source:
        await source.get_key(issuer.signing_key.kid)
        clock.advance(601)
        await source.get_key(issuer.signing_key.kid)
    assert issuer.counts == {"discovery": 1, "jwks": 2, "token": 0}


async def test_discovery_issuer_mismatch_is_rejected(
    make_source: Maker, issuer: LocalIssuer
) -> None:
    # Same discovery URL, but the document names the issuer without the slash.
    async with make_source(issuer=issuer.issuer + "/") as source:
        with pytest.raises(KeysUnavailable, match="expected"):
            await source.get_key(issuer.signing_key.kid)
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["jwks"] == 0


async def test_discovery_failure_is_keys_unavailable(
    make_source: Maker, issuer: LocalIssuer
) -> None:
    issuer.fail("discovery")
    async with make_source(issuer=issuer.issuer) as source:
        with pytest.raises(KeysUnavailable, match="HTTP 503"):
            await source.get_key(issuer.signing_key.kid)


async def test_explicit_jwks_uri_skips_discovery(make_source: Maker, issuer: LocalIssuer) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, issuer=issuer.issuer) as source:
        await source.get_key(issuer.signing_key.kid)
    assert issuer.counts["discovery"] == 0
    assert issuer.counts["jwks"] == 1


# -- caching and TTL ---------------------------------------------------------------


async def test_keys_are_cached_until_the_ttl(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    kid = issuer.signing_key.kid
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        first = await source.get_key(kid)
        clock.advance(599)
        assert await source.get_key(kid) is first
        assert issuer.counts["jwks"] == 1
        clock.advance(2)
        await source.get_key(kid)
        assert issuer.counts["jwks"] == 2
        assert source.generation == 1  # same keys: no change


async def test_custom_ttl(make_source: Maker, issuer: LocalIssuer, clock: ManualClock) -> None:
    kid = issuer.signing_key.kid
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock, cache_ttl=10) as source:
        await source.get_key(kid)
        clock.advance(11)
        await source.get_key(kid)
    assert issuer.counts["jwks"] == 2


async def test_ttl_refresh_drops_retired_keys(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    old = issuer.signing_key
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        await source.get_key(old.kid)
        assert source.has_key(old.kid)
        new = issuer.rotate_keys()
        issuer.drop_key(old.kid)
        assert source.has_key(old.kid)  # has_key never does I/O
        clock.advance(601)
        await source.get_key(new.kid)
        assert not source.has_key(old.kid)
        assert source.generation == 2
        with pytest.raises(InvalidToken) as caught:
            await source.get_key(old.kid)
        assert caught.value.reason is Reason.UNKNOWN_KEY


async def test_refresh_warms_up(make_source: Maker, issuer: LocalIssuer) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri) as source:
        await source.refresh()
        assert source.has_key(issuer.signing_key.kid)
        await source.get_key(issuer.signing_key.kid)
    assert issuer.counts["jwks"] == 1


# -- unknown kid, rotation, rate limit, single flight ------------------------------


async def test_rotation_end_to_end(make_source: Maker, issuer: LocalIssuer) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri) as source:
        await source.get_key(issuer.signing_key.kid)
        issuer.rotate_keys()
        token = issuer.mint(scope="order:read")
        kid = jwt.get_unverified_header(token)["kid"]
        key = await source.get_key(kid)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="order-api")
        assert claims["scope"] == "order:read"
    assert issuer.counts["jwks"] == 2


async def test_unknown_kid_refetch_is_rate_limited(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        await source.get_key(issuer.signing_key.kid)  # the first fetch is free
        for _ in range(5):
            with pytest.raises(InvalidToken, match=r"matches the token's kid$"):
                await source.get_key(unknown_kid())
        assert issuer.counts["jwks"] == 6
        with pytest.raises(InvalidToken, match="rate limit") as caught:
            await source.get_key(unknown_kid())
        assert caught.value.reason is Reason.UNKNOWN_KEY
        assert issuer.counts["jwks"] == 6  # refused without asking the issuer
        # A key the issuer adds now is found only once the bucket refills.
        new = issuer.rotate_keys()
        with pytest.raises(InvalidToken, match="rate limit"):
            await source.get_key(new.kid)
        clock.advance(12)  # 5 a minute: one token every 12 s
        assert (await source.get_key(new.kid)).kid == new.kid
        assert issuer.counts["jwks"] == 7
        with pytest.raises(InvalidToken, match="rate limit"):
            await source.get_key(unknown_kid())
        assert issuer.counts["jwks"] == 7


async def test_known_kids_are_served_while_rate_limited(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock, refetch_per_minute=1) as source:
        await source.get_key(issuer.signing_key.kid)
        with pytest.raises(InvalidToken):
            await source.get_key(unknown_kid())
        with pytest.raises(InvalidToken, match="rate limit"):
            await source.get_key(unknown_kid())
        assert (await source.get_key(issuer.signing_key.kid)).kid == issuer.signing_key.kid
    assert issuer.counts["jwks"] == 2


async def test_concurrent_unknown_kid_shares_one_fetch(
    make_source: Maker, issuer: LocalIssuer
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri) as source:
        await source.get_key(issuer.signing_key.kid)
        new = issuer.rotate_keys()
        issuer.reset_counts()
        keys = await asyncio.gather(*(source.get_key(new.kid) for _ in range(100)))
        assert {k.kid for k in keys} == {new.kid}
        assert len({id(k) for k in keys}) == 1
    assert issuer.counts["jwks"] == 1


async def test_concurrent_first_fetch_is_single_flight(
    make_source: Maker, issuer: LocalIssuer
) -> None:
    async with make_source(issuer=issuer.issuer) as source:
        keys = await asyncio.gather(*(source.get_key(issuer.signing_key.kid) for _ in range(100)))
        assert {k.kid for k in keys} == {issuer.signing_key.kid}
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["jwks"] == 1


async def test_concurrent_ttl_refresh_is_single_flight(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        await source.get_key(issuer.signing_key.kid)
        clock.advance(601)
        await asyncio.gather(*(source.get_key(issuer.signing_key.kid) for _ in range(50)))
    assert issuer.counts["jwks"] == 2


async def test_cancelled_waiter_does_not_cancel_the_shared_fetch(
    make_source: Maker, issuer: LocalIssuer
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri) as source:
        first = asyncio.create_task(source.get_key(issuer.signing_key.kid))
        second = asyncio.create_task(source.get_key(issuer.signing_key.kid))
        await asyncio.sleep(0)  # both are now waiting on the one fetch
        first.cancel()
        assert (await second).kid == issuer.signing_key.kid
        with pytest.raises(asyncio.CancelledError):
            await first
    assert issuer.counts["jwks"] == 1


# -- tokens without kid ------------------------------------------------------------


async def test_no_kid_works_with_exactly_one_key(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        assert (await source.get_key(None)).kid == issuer.signing_key.kid
        assert source.has_key(None)
        issuer.rotate_keys()
        clock.advance(601)
        with pytest.raises(InvalidToken, match="holds 2 usable keys") as caught:
            await source.get_key(None)
        assert caught.value.reason is Reason.UNKNOWN_KEY
        assert not source.has_key(None)
    assert issuer.counts["jwks"] == 2  # no refetch for a missing kid


# -- the HTTP client ---------------------------------------------------------------


async def test_a_given_client_is_used_and_left_open(issuer: LocalIssuer) -> None:
    async with httpx2.AsyncClient() as client:
        source = JWKSKeySource(jwks_uri=issuer.jwks_uri, http_client=client)
        await source.get_key(issuer.signing_key.kid)
        await source.aclose()
        assert not client.is_closed
        response = await client.get(issuer.jwks_uri)
        assert response.status_code == 200


async def test_aclose_closes_its_own_client_and_can_be_reused(issuer: LocalIssuer) -> None:
    source = JWKSKeySource(jwks_uri=issuer.jwks_uri, cache_ttl=0.001)
    await source.get_key(issuer.signing_key.kid)
    await source.aclose()
    await source.aclose()  # idempotent
    await source.refresh()
    await source.aclose()
    assert issuer.counts["jwks"] == 2


async def test_unknown_kid_right_after_a_ttl_refresh_costs_one_fetch(
    make_source: Maker, issuer: LocalIssuer, clock: ManualClock
) -> None:
    async with make_source(jwks_uri=issuer.jwks_uri, clock=clock) as source:
        await source.get_key(issuer.signing_key.kid)
        clock.advance(601)
        with pytest.raises(InvalidToken, match=r"kid$"):
            await source.get_key(unknown_kid())
    assert issuer.counts["jwks"] == 2
