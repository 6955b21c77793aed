"""The caller's DPoP loop (RFC 9449 sections 5, 7, 8, 9) against the local issuer and an
API served over real loopback HTTP: sync and async, nonce retries at both ends, single
flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genauth_guard import ClientCredentialsAuth, GuardConfig, TokenResponseError
from genauth_guard._asgi import GuardMiddleware
from genauth_guard._dpop_key import DPoPKey
from genauth_guard.testing import LocalIssuer, serve


async def orders(request: Request) -> Response:
    token = request.auth.token
    return JSONResponse({"bound": token.dpop_bound, "jkt": token.thumbprint})


def api_app(issuer: LocalIssuer, **options: Any) -> Starlette:
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience, **options)
    return Starlette(
        routes=[Route("/orders", orders, methods=["GET", "POST"])],
        middleware=[Middleware(GuardMiddleware, config=config)],
    )


@pytest.fixture
def api(issuer: LocalIssuer) -> Iterator[str]:
    with serve(api_app(issuer)) as url:
        yield url


@pytest.fixture
def nonce_api(issuer: LocalIssuer) -> Iterator[str]:
    with serve(api_app(issuer, dpop_nonce=True)) as url:
        yield url


def auth_for(issuer: LocalIssuer, dpop: bool | DPoPKey = True) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(
        issuer=issuer.issuer,
        client_id="order-reader",
        client_secret="reader-secret",
        scope="order:read",
        dpop=dpop,
    )


def test_sync_dpop_call(issuer: LocalIssuer, api: str, key: DPoPKey) -> None:
    with auth_for(issuer, key) as auth, httpx2.Client(auth=auth) as client:
        first = client.get(f"{api}/orders")
        second = client.post(f"{api}/orders?x=1")
    assert first.status_code == 200, first.text
    assert first.json() == {"bound": True, "jkt": key.thumbprint}
    assert second.status_code == 200, second.text  # a fresh proof per request
    assert issuer.counts["token"] == 1


async def test_async_dpop_call_generates_a_key(issuer: LocalIssuer, api: str) -> None:
    async with auth_for(issuer) as auth, httpx2.AsyncClient(auth=auth) as client:
        response = await client.get(f"{api}/orders")
    assert response.status_code == 200, response.text
    assert auth.dpop_key is not None
    assert response.json()["jkt"] == auth.dpop_key.thumbprint


def test_sync_nonce_retry_at_the_issuer_and_at_the_api(issuer: LocalIssuer, nonce_api: str) -> None:
    issuer.dpop_nonce = True
    with auth_for(issuer) as auth, httpx2.Client(auth=auth) as client:
        response = client.get(f"{nonce_api}/orders")
        assert response.status_code == 200, response.text
        # One refused token request (use_dpop_nonce), then the one that worked.
        assert issuer.counts["token"] == 2
        # The API's nonce is remembered: the next call goes through at once.
        assert client.get(f"{nonce_api}/orders").status_code == 200


async def test_async_nonce_retry_at_the_issuer_and_at_the_api(
    issuer: LocalIssuer, nonce_api: str
) -> None:
    issuer.dpop_nonce = True
    async with auth_for(issuer) as auth, httpx2.AsyncClient(auth=auth) as client:
        response = await client.get(f"{nonce_api}/orders")
        assert response.status_code == 200, response.text
        assert issuer.counts["token"] == 2


async def test_fifty_concurrent_calls_make_one_token_request(issuer: LocalIssuer, api: str) -> None:
    async with auth_for(issuer) as auth, httpx2.AsyncClient(auth=auth) as client:
        responses = await asyncio.gather(*(client.get(f"{api}/orders") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert issuer.counts["token"] == 1


def test_bearer_token_where_dpop_was_asked_is_refused(issuer: LocalIssuer) -> None:
    # A server ignoring the proof (a stub: the local issuer never does this) is refused.
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert "dpop" in request.headers
        return httpx2.Response(200, json={"access_token": "abc", "token_type": "Bearer"})

    with httpx2.Client(transport=httpx2.MockTransport(handler)) as stub:
        auth = ClientCredentialsAuth(
            token_url=issuer.token_endpoint,
            client_id="order-reader",
            client_secret="reader-secret",
            dpop=True,
            http_client=stub,
        )
        with pytest.raises(TokenResponseError, match="expected 'DPoP'"):
            auth.get_token()


def test_without_dpop_nothing_changes(issuer: LocalIssuer, api: str) -> None:
    with auth_for(issuer, dpop=False) as auth, httpx2.Client(auth=auth) as client:
        response = client.get(f"{api}/orders")
    assert response.json() == {"bound": False, "jkt": None}
