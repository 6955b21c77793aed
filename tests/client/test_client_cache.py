"""Token caching and refresh before expiry, with a controllable clock (no sleeps)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from genauth_guard.testing import LocalIssuer


def test_one_token_serves_many_calls(issuer: LocalIssuer, make_auth: Any, api: Any) -> None:
    order_api, url = api
    auth = make_auth()
    with httpx2.Client(auth=auth) as client:
        for _ in range(5):
            assert client.get(f"{url}/orders").status_code == 200
    assert auth.get_token() == order_api.tokens[0]
    assert len(set(order_api.tokens)) == 1
    assert issuer.counts["token"] == 1


async def test_one_token_serves_many_async_calls(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    async with make_auth() as auth, httpx2.AsyncClient(auth=auth) as client:
        for _ in range(5):
            assert (await client.get(f"{url}/orders")).status_code == 200
    assert len(set(order_api.tokens)) == 1
    assert issuer.counts["token"] == 1


@pytest.mark.parametrize(
    ("ttl", "margin", "refresh_after"),
    [
        (3600, 30.0, 3570),  # default margin: 30 s before expiry
        (20, 30.0, 10),  # short-lived token: at half its lifetime, not at once
        (100, 0.0, 100),  # no margin: exactly at expiry
        (100, 45.0, 55),
    ],
)
def test_refresh_before_expiry(
    issuer: LocalIssuer,
    make_auth: Any,
    clock: Any,
    ttl: int,
    margin: float,
    refresh_after: float,
) -> None:
    issuer.token_ttl = ttl
    auth = make_auth(refresh_margin=margin)
    first = auth.get_token()
    clock.advance(refresh_after - 0.001)
    assert auth.get_token() == first
    assert issuer.counts["token"] == 1
    clock.advance(0.001)
    second = auth.get_token()
    assert second != first
    assert issuer.counts["token"] == 2
    assert auth.get_token() == second


async def test_async_refresh_before_expiry(issuer: LocalIssuer, make_auth: Any, clock: Any) -> None:
    issuer.token_ttl = 600
    async with make_auth() as auth:
        first = await auth.aget_token()
        clock.advance(569)
        assert await auth.aget_token() == first
        clock.advance(1)
        assert await auth.aget_token() != first
    assert issuer.counts["token"] == 2


def test_missing_expires_in_gets_the_default(
    issuer: LocalIssuer, make_auth: Any, clock: Any, tamper: Any
) -> None:
    def drop_expires_in(body: dict[str, Any]) -> dict[str, Any]:
        del body["expires_in"]
        return body

    auth = make_auth(http_client=tamper(drop_expires_in), default_expires_in=300)
    first = auth.get_token()
    clock.advance(269)
    assert auth.get_token() == first
    clock.advance(1)  # 300 s default minus the 30 s margin
    assert auth.get_token() != first
    assert issuer.counts["token"] == 2


def test_zero_expires_in_is_never_reused(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.token_ttl = 0
    auth = make_auth()
    auth.get_token()
    auth.get_token()
    assert issuer.counts["token"] == 2


def test_lifetime_counts_from_when_the_request_was_sent(
    issuer: LocalIssuer, make_auth: Any, clock: Any
) -> None:
    # Each answer takes 10 s (on the fake clock); the first attempt gets a 503.
    issuer.fail("token", "error", times=1)
    issuer.token_ttl = 100
    slow = httpx2.Client(event_hooks={"response": [lambda response: clock.advance(10)]})
    auth = make_auth(token_url=issuer.token_endpoint, http_client=slow, refresh_margin=0)
    with slow:
        first = auth.get_token()
        # Sent at 1000 (503), again at 1010 (200), received at 1020: the lifetime
        # starts at 1010, so the token is fetched again at 1110.
        clock.now = 1109.999
        assert auth.get_token() == first
        clock.now = 1110
        assert auth.get_token() != first
    assert issuer.counts["token"] == 3


def test_invalidate(issuer: LocalIssuer, make_auth: Any) -> None:
    auth = make_auth()
    first = auth.get_token()
    auth.invalidate("some-other-token")  # already replaced by someone else: no effect
    assert auth.get_token() == first
    auth.invalidate(first)
    second = auth.get_token()
    assert second != first
    auth.invalidate()
    assert auth.get_token() != second
    assert issuer.counts["token"] == 3
