"""The verified-token cache: hits, time bounds, key removal, size bound, off switch."""

from __future__ import annotations

import pytest
from _corekit import Clock, MakeVerifier

from genauth_guard._errors import InvalidToken, Reason
from genauth_guard._token import AccessToken
from genauth_guard._token_cache import VerifiedTokenCache
from genauth_guard.testing import LocalIssuer

KEY = object()  # stands for the VerificationKey that verified a token


class Keys:
    """A key source test double for the unit tests of the cache alone: kid -> key."""

    def __init__(self, *kids: str | None) -> None:
        self.kids = dict.fromkeys(kids, KEY)
        self.asked = 0

    def serves(self, kid: str | None, key: object) -> bool:
        self.asked += 1
        return kid in self.kids and self.kids[kid] is key


ACCESS = AccessToken(
    claims={}, header={}, scopes=frozenset(), subject=None, client_id=None,
    issuer="https://i/oidc", expires_at=0,
)  # fmt: skip


def test_unit_hit_inside_the_interval_only() -> None:
    keys = Keys("k1")
    cache = VerifiedTokenCache(10)
    cache.put("t", ACCESS, 100.0, 200.0, keys, "k1", KEY)
    assert cache.get("t", 100.0) is ACCESS
    assert cache.get("t", 199.9) is ACCESS
    assert cache.get("t", 200.0) is None
    assert len(cache) == 0  # dropped, not kept around


def test_unit_clock_moving_back_before_nbf_misses() -> None:
    cache = VerifiedTokenCache(10)
    cache.put("t", ACCESS, 100.0, 200.0, Keys("k1"), "k1", KEY)
    assert cache.get("t", 99.0) is None


def test_unit_key_gone_misses() -> None:
    keys = Keys("k1")
    cache = VerifiedTokenCache(10)
    cache.put("t", ACCESS, 0.0, 200.0, keys, "k1", KEY)
    assert cache.get("t", 1.0) is ACCESS
    keys.kids.clear()
    assert cache.get("t", 1.0) is None
    keys.kids["k1"] = KEY
    assert cache.get("t", 1.0) is None  # forgotten; verify() must run again


def test_unit_other_key_under_the_same_kid_misses() -> None:
    keys = Keys("k1")
    cache = VerifiedTokenCache(10)
    cache.put("t", ACCESS, 0.0, 200.0, keys, "k1", KEY)
    keys.kids["k1"] = object()  # republished: same kid, another key
    assert cache.get("t", 1.0) is None


def test_unit_bounded_lru() -> None:
    cache = VerifiedTokenCache(2)
    keys = Keys(None)
    for name in ("a", "b"):
        cache.put(name, ACCESS, 0.0, 9.0, keys, None, KEY)
    assert cache.get("a", 1.0) is ACCESS  # a is now the most recently used
    cache.put("c", ACCESS, 0.0, 9.0, keys, None, KEY)
    assert len(cache) == 2
    assert cache.get("b", 1.0) is None
    assert cache.get("a", 1.0) is ACCESS


def test_unit_size_zero_is_off() -> None:
    cache = VerifiedTokenCache(0)
    cache.put("t", ACCESS, 0.0, 9.0, Keys(None), None, KEY)
    assert cache.get("t", 1.0) is None
    assert len(cache) == 0


def test_unit_empty_interval_is_not_stored() -> None:
    cache = VerifiedTokenCache(4)
    cache.put("t", ACCESS, 5.0, 5.0, Keys(None), None, KEY)
    assert len(cache) == 0


# -- through the verifier, over real HTTP --------------------------------------------


async def test_second_verify_is_served_from_the_cache(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint(scope="order:read")
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert await verifier.verify(shared_issuer.mint(scope="order:read")) is not first


async def test_cache_off(make_verifier: MakeVerifier, shared_issuer: LocalIssuer) -> None:
    verifier = make_verifier(token_cache_size=0)
    token = shared_issuer.mint()
    assert await verifier.verify(token) is not await verifier.verify(token)


async def test_cached_token_still_expires(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint(claims={"exp": int(clock.now) + 60})
    await verifier.verify(token)
    clock.advance(60 + 29)
    await verifier.verify(token)  # within the leeway, a hit
    clock.advance(2)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.EXPIRED


async def test_cached_token_is_not_served_before_its_nbf(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    verifier = make_verifier()
    now = int(clock.now)
    token = shared_issuer.mint(claims={"nbf": now + 20, "iat": now})  # accepted: leeway 30
    await verifier.verify(token)
    clock.advance(-20)  # the clock is corrected backwards: nbf is 40 s away now
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.NOT_YET_VALID


async def test_cached_token_respects_max_age(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    verifier = make_verifier(max_token_age=120, leeway=0)
    token = shared_issuer.mint(claims={"iat": int(clock.now)})
    await verifier.verify(token)
    clock.advance(119)
    await verifier.verify(token)
    clock.advance(1)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.TOO_OLD


async def test_cached_token_dropped_when_its_key_leaves_the_jwks(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer)
    old = issuer.signing_key
    token = issuer.mint(key=old)
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    issuer.rotate_keys()
    issuer.drop_key(old.kid)
    # The key source learns of the removal at its next refresh (TTL or unknown kid);
    # here a token under the new key triggers that refetch.
    await verifier.verify(issuer.mint())
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.UNKNOWN_KEY


async def test_rejections_are_not_cached(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier()
    token = shared_issuer.mint(audience="other")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(token)


def test_unit_same_tail_other_token_misses_and_keeps_the_entry() -> None:
    keys = Keys("k1")
    cache = VerifiedTokenCache(10)
    real = "header.payload." + "s" * 64
    cache.put(real, ACCESS, 0.0, 200.0, keys, "k1", KEY)
    forged = "header.other-payload." + "s" * 64
    assert cache.get(forged, 1.0) is None
    assert cache.get(real, 1.0) is ACCESS


async def test_copied_signature_never_hits_the_cache(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    """A token reusing a cached token's signature on another payload is still checked."""
    verifier = make_verifier()
    real = shared_issuer.mint(scope="order:read")
    first = await verifier.verify(real)
    header, _, signature = real.split(".")
    _, payload, _ = shared_issuer.mint(scope="order:read order:write").split(".")
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(f"{header}.{payload}.{signature}")
    assert caught.value.reason is Reason.SIGNATURE
    assert await verifier.verify(real) is first


async def test_synchronous_cached_lookup(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    """``Verifier.cached`` serves only what ``verify`` already accepted."""
    verifier = make_verifier()
    token = shared_issuer.mint(scope="order:read")
    assert verifier.cached(token) is None
    verified = await verifier.verify(token)
    assert verifier.cached((token + " ")[:-1]) is verified  # an equal, new string
    assert verifier.cached("x" * (1 << 20)) is None
    assert verifier.cached(b"bytes") is None  # type: ignore[arg-type]
    assert make_verifier(token_cache_size=0).cached(token) is None
