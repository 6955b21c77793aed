"""Concurrent callers share one token request, in threads and in asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

from genauth_guard._client import TokenEndpointUnavailable
from genauth_guard.testing import LocalIssuer

N = 50


def run_in_threads(n: int, call: Any) -> list[Any]:
    """Start ``n`` threads together; each returns ``call()`` or the exception raised."""
    barrier = threading.Barrier(n)

    def one() -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: one(), range(n)))


def test_threads_share_one_token_request(issuer: LocalIssuer, make_auth: Any) -> None:
    auth = make_auth()
    tokens = run_in_threads(N, auth.get_token)
    assert all(isinstance(t, str) for t in tokens)
    assert len(set(tokens)) == 1
    assert issuer.counts["token"] == 1
    assert issuer.counts["discovery"] == 1


def test_threads_through_httpx_share_one_token_request(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    with httpx2.Client(auth=make_auth(), limits=httpx2.Limits(max_connections=N)) as client:
        statuses = run_in_threads(N, lambda: client.get(f"{url}/orders").status_code)
    assert statuses == [200] * N
    assert len(set(order_api.tokens)) == 1
    assert issuer.counts["token"] == 1


async def test_tasks_share_one_token_request(issuer: LocalIssuer, make_auth: Any) -> None:
    async with make_auth() as auth:
        tokens = await asyncio.gather(*(auth.aget_token() for _ in range(N)))
    assert len(set(tokens)) == 1
    assert issuer.counts["token"] == 1
    assert issuer.counts["discovery"] == 1


async def test_tasks_through_httpx_share_one_token_request(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    async with make_auth() as auth, httpx2.AsyncClient(auth=auth) as client:
        responses = await asyncio.gather(*(client.get(f"{url}/orders") for _ in range(N)))
    assert [r.status_code for r in responses] == [200] * N
    assert len(set(order_api.tokens)) == 1
    assert issuer.counts["token"] == 1


async def test_expired_token_refreshed_once_by_many_tasks(
    issuer: LocalIssuer, make_auth: Any, clock: Any
) -> None:
    async with make_auth() as auth:
        first = await auth.aget_token()
        clock.advance(issuer.token_ttl)
        tokens = await asyncio.gather(*(auth.aget_token() for _ in range(N)))
    assert set(tokens) != {first}
    assert len(set(tokens)) == 1
    assert issuer.counts["token"] == 2


async def test_tasks_waiting_on_a_failed_fetch_share_its_error(
    issuer: LocalIssuer, make_auth: Any
) -> None:
    # Waiters must not each retry against a failing issuer: one fetch (with its
    # retries) answers everyone who waited for it.
    issuer.fail("token", "error")
    async with make_auth(max_retries=2) as auth:
        results = await asyncio.gather(
            *(auth.aget_token() for _ in range(N)), return_exceptions=True
        )
        assert all(isinstance(r, TokenEndpointUnavailable) for r in results)
        assert issuer.counts["token"] == 3
        issuer.heal()
        assert await auth.aget_token()  # a later caller tries again
    assert issuer.counts["token"] == 4


def test_threads_waiting_on_a_failed_fetch_share_its_error(
    issuer: LocalIssuer, make_auth: Any
) -> None:
    # The fetch hangs until its timeout, long enough for every thread to queue up.
    issuer.hang_seconds = 5
    issuer.fail("token", "hang")
    auth = make_auth(token_url=issuer.token_endpoint, timeout=0.5, max_retries=0)
    results = run_in_threads(N, auth.get_token)
    assert all(isinstance(r, TokenEndpointUnavailable) for r in results)
    assert issuer.counts["token"] == 1


@pytest.mark.parametrize("n", [20])
async def test_many_refusals_lead_to_one_refresh(
    issuer: LocalIssuer, make_auth: Any, api: Any, n: int
) -> None:
    order_api, url = api
    async with make_auth() as auth, httpx2.AsyncClient(auth=auth) as client:
        order_api.revoked.add(await auth.aget_token())
        responses = await asyncio.gather(*(client.get(f"{url}/orders") for _ in range(n)))
    assert [r.status_code for r in responses] == [200] * n
    assert issuer.counts["token"] == 2
