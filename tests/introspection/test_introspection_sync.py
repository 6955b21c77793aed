"""verify_sync with introspection (RFC 7662): the same flow, cache and rules as verify,
the call made on the calling thread and shared by threads asking about one token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _threads import together

from genauth_guard import GuardConfig
from genauth_guard._errors import IntrospectionUnavailable, InvalidToken, Reason
from genauth_guard._introspection import IntrospectingVerifier
from genauth_guard.testing import LocalIssuer, ManualClock

AUDIENCE = "order-api"
API_ID, API_SECRET = "order-api-introspector", "introspector-secret"

Make = Callable[..., IntrospectingVerifier]


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        running.add_client(API_ID, API_SECRET)
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
def make(issuer: LocalIssuer, clock: ManualClock) -> Iterator[Make]:
    made: list[IntrospectingVerifier] = []

    def build(**options: Any) -> IntrospectingVerifier:
        options.setdefault("issuer", issuer.issuer)
        options.setdefault("audience", AUDIENCE)
        options.setdefault("token_check", "introspect")
        options.setdefault("introspection_client_id", API_ID)
        options.setdefault("introspection_client_secret", API_SECRET)
        verifier = IntrospectingVerifier(GuardConfig(**options), clock=clock)
        made.append(verifier)
        return verifier

    yield build
    for verifier in made:
        verifier.close()


def calls(issuer: LocalIssuer) -> int:
    return issuer.counts.get("introspection", 0)


def test_opaque_token_accepted_cached_and_shared_with_the_async_side(
    issuer: LocalIssuer, make: Make
) -> None:
    verifier = make()
    token = issuer.mint_opaque(scope="order:read")
    first = verifier.verify_sync(token)
    assert first.scopes == {"order:read"}
    assert verifier.verify_sync(token) is first
    assert verifier.cached(token) is first
    assert calls(issuer) == 1


def test_one_hundred_threads_with_one_new_token_make_one_call(
    issuer: LocalIssuer, make: Make
) -> None:
    verifier = make()
    token = issuer.mint_opaque(scope="order:read")
    issuer.fail("introspection", "slow", times=1)  # every thread surely arrives meanwhile
    results = together(100, lambda _: verifier.verify_sync(token))
    assert len({id(r) for r in results}) == 1, results
    assert calls(issuer) == 1


def test_threads_waiting_on_a_refusal_get_the_same_refusal(issuer: LocalIssuer, make: Make) -> None:
    verifier = make()
    revoked = issuer.mint_opaque(scope="order:read")
    issuer.revoke(revoked)
    issuer.fail("introspection", "slow", times=1)
    results = together(20, lambda _: verifier.verify_sync(revoked))
    assert all(isinstance(r, InvalidToken) and r.reason is Reason.INACTIVE for r in results)
    assert calls(issuer) == 1


@pytest.mark.parametrize("mode", ["error", "garbage", "hang"])
def test_issuer_down_is_503_and_not_cached(issuer: LocalIssuer, make: Make, mode: Any) -> None:
    verifier = make(http_timeout=0.3)
    token = issuer.mint_opaque(scope="order:read")
    issuer.fail("introspection", mode)
    with pytest.raises(IntrospectionUnavailable) as down:
        verifier.verify_sync(token)
    assert down.value.retry_after >= 1
    issuer.heal()
    assert verifier.verify_sync(token).scopes == {"order:read"}


def test_stale_if_error_and_revocation(issuer: LocalIssuer, make: Make, clock: ManualClock) -> None:
    verifier = make(introspection_cache_ttl=1, introspection_stale_if_error=60)
    token = issuer.mint_opaque(scope="order:read")
    assert verifier.verify_sync(token)
    clock.advance(30)
    issuer.fail("introspection", "error")
    assert verifier.verify_sync(token).scopes == {"order:read"}  # stale, issuer down
    issuer.heal()
    issuer.revoke(token)
    clock.advance(30)
    with pytest.raises(InvalidToken) as refused:
        verifier.verify_sync(token)
    assert refused.value.reason is Reason.INACTIVE


def test_jwt_plus_introspect_verifies_locally_first(
    issuer: LocalIssuer, make: Make, clock: ManualClock
) -> None:
    verifier = make(token_check="jwt+introspect", introspection_cache_ttl=1)
    token = issuer.mint(scope="order:read")
    assert verifier.verify_sync(token).header["alg"] == "RS256"
    issuer.revoke(token)
    clock.advance(2)
    with pytest.raises(InvalidToken) as refused:
        verifier.verify_sync(token)
    assert refused.value.reason is Reason.INACTIVE
    before = calls(issuer)
    with pytest.raises(InvalidToken):
        verifier.verify_sync(issuer.mint(audience="another-api"))
    assert calls(issuer) == before  # refused locally: the issuer is not asked
