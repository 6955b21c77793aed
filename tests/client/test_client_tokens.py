"""Getting tokens from the real local issuer: both client auth methods, discovery, params."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import jwt
import pytest

from genauth_guard._client import (
    ClientCredentialsAuth,
    TokenEndpointUnavailable,
    TokenRequestError,
    TokenResponseError,
)
from genauth_guard.testing import LocalIssuer


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_get_token_with_each_client_auth_method(
    issuer: LocalIssuer, make_auth: Any, method: str
) -> None:
    token = make_auth(auth_method=method).get_token()
    got = claims(token)
    assert got["sub"] == "order-reader"
    assert got["scope"] == "order:read"
    assert got["aud"] == "order-api"
    assert issuer.counts["token"] == 1


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_awkward_id_and_secret_are_encoded(
    issuer: LocalIssuer, make_auth: Any, method: str
) -> None:
    # RFC 6749 2.3.1: basic credentials are form-urlencoded before base64, so ':',
    # '+', '%', spaces and non-ASCII survive the trip.
    secret = "p@ss:w+rd %2B é/="
    issuer.add_client("svc:1 x", secret, ["order:read"])
    auth = make_auth(client_id="svc:1 x", client_secret=secret, auth_method=method)
    assert claims(auth.get_token())["sub"] == "svc:1 x"


async def test_async_get_token(issuer: LocalIssuer, make_auth: Any) -> None:
    auth = make_auth(auth_method="client_secret_basic")
    async with auth:
        token = await auth.aget_token()
        assert await auth.aget_token() == token
    assert claims(token)["sub"] == "order-reader"
    assert issuer.counts["token"] == 1


def test_token_url_skips_discovery(issuer: LocalIssuer, make_auth: Any) -> None:
    make_auth(token_url=issuer.token_endpoint).get_token()
    assert issuer.counts == {"discovery": 0, "jwks": 0, "token": 1}


def test_discovery_happens_once(issuer: LocalIssuer, make_auth: Any, clock: Any) -> None:
    auth = make_auth()
    tokens = set()
    for _ in range(3):
        tokens.add(auth.get_token())
        clock.advance(issuer.token_ttl)  # every call needs a new token
    assert len(tokens) == 3
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["token"] == 3


async def test_async_discovery(issuer: LocalIssuer, make_auth: Any) -> None:
    async with make_auth() as auth:
        await auth.aget_token()
    assert issuer.counts["discovery"] == 1
    assert issuer.counts["token"] == 1


def test_discovery_document_for_another_issuer_is_refused(
    issuer: LocalIssuer, make_auth: Any
) -> None:
    # OIDC Discovery 4.3: the document must name the configured issuer exactly.
    auth = make_auth(issuer=issuer.issuer + "/")
    with pytest.raises(TokenResponseError, match="discovery document"):
        auth.get_token()
    assert issuer.counts["token"] == 0


def test_failed_discovery_is_tried_again_later(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("discovery", "error", times=1)
    auth = make_auth(max_retries=0)
    with pytest.raises(TokenEndpointUnavailable, match="discovery document"):
        auth.get_token()
    assert auth.get_token()
    assert issuer.counts["discovery"] == 2


def test_discovery_not_found(issuer: LocalIssuer, make_auth: Any) -> None:
    auth = make_auth(issuer=issuer.url + "/elsewhere")
    with pytest.raises(TokenResponseError, match="HTTP 404") as caught:
        auth.get_token()
    assert caught.value.status_code == 404


def test_scope_as_a_sequence(issuer: LocalIssuer, make_auth: Any) -> None:
    auth = make_auth(
        client_id="order-writer",
        client_secret="writer-secret",
        scope=["order:read", "order:write"],
    )
    assert claims(auth.get_token())["scope"] == "order:read order:write"


def test_no_scope_gets_every_granted_scope(make_auth: Any) -> None:
    auth = make_auth(client_id="order-writer", client_secret="writer-secret", scope=None)
    assert claims(auth.get_token())["scope"] == "order:read order:write"


@pytest.mark.parametrize("param", ["audience", "resource"])
def test_audience_and_resource_parameters(issuer: LocalIssuer, make_auth: Any, param: str) -> None:
    issuer.audiences.add("billing-api")
    assert claims(make_auth(**{param: "billing-api"}).get_token())["aud"] == "billing-api"
    with pytest.raises(TokenRequestError) as caught:
        make_auth(**{param: "unknown-api"}).get_token()
    assert caught.value.error == "invalid_target"


def test_token_http_clients_passed_in_are_used_and_left_open(
    issuer: LocalIssuer, make_auth: Any
) -> None:
    seen: list[str] = []
    with httpx2.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as client:
        auth = make_auth(http_client=client)
        auth.get_token()
        auth.close()
        assert not client.is_closed
    assert seen == [issuer.discovery_url, issuer.token_endpoint]


async def test_async_token_client_passed_in(issuer: LocalIssuer, make_auth: Any) -> None:
    async with httpx2.AsyncClient() as client:
        auth = make_auth(async_http_client=client)
        await auth.aget_token()
        await auth.aclose()
        assert not client.is_closed
    assert issuer.counts["token"] == 1


def test_the_api_client_does_not_carry_token_requests(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    # The token request must not go through (and be authenticated by) the API client.
    order_api, url = api
    auth = make_auth()
    with httpx2.Client(auth=auth, http2=False) as client:
        assert client.get(f"{url}/orders").status_code == 200
    assert issuer.counts["token"] == 1
    assert len(order_api.seen) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"issuer": "https://a.example/oidc", "token_url": "https://a.example/t"}, "exactly one"),
        ({}, "exactly one"),
        ({"token_url": "http://idp.example.com/token"}, "plain http"),
        ({"token_url": "ftp://idp.example.com/token"}, "https URL"),
        ({"token_url": "https://a.example/t", "scope": ["order read"]}, "scope token"),
        ({"token_url": "https://a.example/t", "auth_method": "private_key_jwt"}, "auth_method"),
        ({"token_url": "https://a.example/t", "client_secret": ""}, "client_secret"),
        ({"token_url": "https://a.example/t", "timeout": 0}, "timeout"),
    ],
)
def test_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    params: dict[str, Any] = {"client_id": "id", "client_secret": "s3cret"}
    params.update(kwargs)
    with pytest.raises(ValueError, match=message):
        ClientCredentialsAuth(**params)


def test_http_elsewhere_only_when_allowed() -> None:
    auth = ClientCredentialsAuth(
        token_url="http://idp.internal/token", client_id="id", client_secret="s", allow_http=True
    )
    assert auth.token_url == "http://idp.internal/token"


def test_auth_flow_is_not_driven_directly() -> None:
    auth = ClientCredentialsAuth(token_url="https://a.example/t", client_id="i", client_secret="s")
    with pytest.raises(RuntimeError, match=r"httpx2\.Client"):
        auth.auth_flow(httpx2.Request("GET", "https://api.example"))


def test_the_api_client_itself_may_carry_token_requests(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    # Even when the token client is the API client, the auth is not applied to the
    # token request (no recursion, no Bearer header at the token endpoint).
    order_api, url = api
    with httpx2.Client() as client:
        auth = make_auth(http_client=client)
        client.auth = auth
        assert client.get(f"{url}/orders").status_code == 200
    assert issuer.counts["token"] == 1
    assert order_api.tokens == [auth.get_token()]


def test_one_auth_across_event_loops(issuer: LocalIssuer, make_auth: Any, clock: Any) -> None:
    # asyncio locks and connections belong to one loop: each loop gets its own.
    auth = make_auth()

    async def fetch() -> str:
        token = await auth.aget_token()
        await auth.aclose()
        return token

    first = asyncio.run(fetch())
    assert asyncio.run(fetch()) == first  # cached across loops
    clock.advance(issuer.token_ttl)
    assert asyncio.run(fetch()) != first
    assert issuer.counts["token"] == 2


async def test_aclose_closes_the_internal_clients(make_auth: Any) -> None:
    auth = make_auth()
    await auth.aget_token()
    auth.invalidate()
    auth.get_token()  # a sync fetch: the sync client too
    state = auth._loop_state()
    async_client, sync_client = state.client, auth._client
    assert async_client is not None
    assert sync_client is not None
    await auth.aclose()
    assert async_client.is_closed
    assert sync_client.is_closed
