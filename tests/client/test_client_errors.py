"""OAuth errors, malformed responses, retries on 5xx and network faults, timeouts."""

from __future__ import annotations

import socket
from typing import Any

import httpx2
import pytest

from genauth_guard._client import (
    ClientCredentialsError,
    TokenEndpointUnavailable,
    TokenRequestError,
    TokenResponseError,
    backoff_delay,
)
from genauth_guard.testing import LocalIssuer


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_invalid_client(issuer: LocalIssuer, make_auth: Any, method: str) -> None:
    auth = make_auth(client_secret="wrong-secret", auth_method=method, max_retries=3)
    with pytest.raises(TokenRequestError) as caught:
        auth.get_token()
    error = caught.value
    assert error.error == "invalid_client"
    assert error.status_code == 401
    assert error.error_description == "unknown client or wrong secret"
    assert "invalid_client" in str(error)
    assert issuer.counts["token"] == 1  # no retry on 4xx


def test_invalid_scope(issuer: LocalIssuer, make_auth: Any) -> None:
    with pytest.raises(TokenRequestError) as caught:
        make_auth(scope="order:write").get_token()
    assert caught.value.error == "invalid_scope"
    assert caught.value.status_code == 400
    assert issuer.counts["token"] == 1


async def test_async_oauth_error(issuer: LocalIssuer, make_auth: Any) -> None:
    async with make_auth(client_id="nobody", client_secret="nobody-secret") as auth:
        with pytest.raises(TokenRequestError) as caught:
            await auth.aget_token()
    assert caught.value.error == "invalid_scope"


def test_errors_are_not_cached(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("token", "error", times=1)
    auth = make_auth(max_retries=0)
    with pytest.raises(TokenEndpointUnavailable):
        auth.get_token()
    assert auth.get_token()
    assert issuer.counts["token"] == 2


@pytest.mark.parametrize(("failures", "max_retries"), [(1, 1), (2, 2), (3, 5)])
def test_5xx_is_retried_until_success(
    issuer: LocalIssuer, make_auth: Any, failures: int, max_retries: int
) -> None:
    issuer.fail("token", "error", times=failures)
    assert make_auth(max_retries=max_retries).get_token()
    assert issuer.counts["token"] == failures + 1


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_5xx_retries_are_bounded(issuer: LocalIssuer, make_auth: Any, max_retries: int) -> None:
    issuer.fail("token", "error")
    with pytest.raises(TokenEndpointUnavailable) as caught:
        make_auth(max_retries=max_retries).get_token()
    assert caught.value.attempts == max_retries + 1
    assert caught.value.status_code == 503
    assert "HTTP 503" in str(caught.value)
    assert issuer.counts["token"] == max_retries + 1


async def test_async_5xx_retries(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("token", "error", times=2)
    async with make_auth(max_retries=2, backoff=0.001) as auth:  # real (tiny) sleeps
        assert await auth.aget_token()
    issuer.fail("token", "error")
    async with make_auth(max_retries=1) as auth:
        with pytest.raises(TokenEndpointUnavailable):
            await auth.aget_token()
    assert issuer.counts["token"] == 3 + 2


def test_sync_backoff_sleeps(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("token", "error", times=2)
    assert make_auth(max_retries=2, backoff=0.001).get_token()
    assert issuer.counts["token"] == 3


def test_garbage_response(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("token", "garbage")
    with pytest.raises(TokenResponseError, match="without a JSON object"):
        make_auth(max_retries=3).get_token()
    assert issuer.counts["token"] == 1


def test_timeout_is_retried_then_reported(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.hang_seconds = 5
    issuer.fail("token", "hang")
    auth = make_auth(token_url=issuer.token_endpoint, timeout=0.2, max_retries=1)
    with pytest.raises(TokenEndpointUnavailable, match="timed out") as caught:
        auth.get_token()
    assert caught.value.attempts == 2
    assert caught.value.status_code is None
    assert issuer.counts["token"] == 2


async def test_async_timeout(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.hang_seconds = 5
    issuer.fail("token", "hang", times=1)
    async with make_auth(token_url=issuer.token_endpoint, timeout=0.2, max_retries=1) as auth:
        assert await auth.aget_token()  # the retry gets through
    assert issuer.counts["token"] == 2


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("max_retries", [0, 2])
def test_connection_refused_is_retried(make_auth: Any, max_retries: int) -> None:
    url = f"http://127.0.0.1:{unused_port()}/oidc/token"
    with pytest.raises(TokenEndpointUnavailable, match="ConnectError") as caught:
        make_auth(token_url=url, max_retries=max_retries).get_token()
    assert caught.value.attempts == max_retries + 1


def _without(name: str) -> Any:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        del body[name]
        return body

    return edit


def _with(name: str, value: Any) -> Any:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        body[name] = value
        return body

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_without("access_token"), "no access_token"),
        (_with("access_token", ""), "no access_token"),
        (_with("access_token", 42), "no access_token"),
        (_with("access_token", "abc\r\nX-Injected: 1"), "not allowed in a bearer token"),
        (_without("token_type"), "token_type"),
        (_with("token_type", "MAC"), "token_type is 'MAC'"),
        (_with("token_type", "DPoP"), "expected 'Bearer'"),
        (_with("expires_in", "3600"), "expires_in"),
        (_with("expires_in", -1), "expires_in"),
        (_with("expires_in", True), "expires_in"),
        (_with("expires_in", [1]), "expires_in"),
        (lambda body: [body], "without a JSON object"),
        (lambda body: "token", "without a JSON object"),
        (lambda body: b"[" * 100_000 + b"]" * 100_000, "without a JSON object"),
        (lambda body: b"\xff\xfe{}", "without a JSON object"),
        (lambda body: b"x" * 300_000, "too large"),
    ],
)
def test_malformed_token_responses(
    issuer: LocalIssuer, make_auth: Any, tamper: Any, edit: Any, message: str
) -> None:
    auth = make_auth(http_client=tamper(edit), max_retries=3)
    with pytest.raises(TokenResponseError, match=message) as caught:
        auth.get_token()
    assert caught.value.status_code == 200
    assert issuer.counts["token"] == 1


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer"])
def test_token_type_is_case_insensitive(make_auth: Any, tamper: Any, token_type: str) -> None:
    assert make_auth(http_client=tamper(_with("token_type", token_type))).get_token()


def test_float_expires_in_is_accepted(make_auth: Any, tamper: Any, clock: Any) -> None:
    auth = make_auth(http_client=tamper(_with("expires_in", 90.5)), refresh_margin=0)
    first = auth.get_token()
    clock.advance(90.4)
    assert auth.get_token() == first


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"error_description": "no code"}, "without an OAuth error code"),
        (404, "not found", "without a JSON object"),
    ],
)
def test_4xx_without_an_oauth_error(
    issuer: LocalIssuer, make_auth: Any, tamper: Any, status: int, body: Any, expected: str
) -> None:
    auth = make_auth(http_client=tamper(lambda _: body, status=status), max_retries=3)
    with pytest.raises(TokenResponseError, match=expected) as caught:
        auth.get_token()
    assert caught.value.status_code == status
    assert issuer.counts["token"] == 1


def test_error_uri_is_kept(make_auth: Any, tamper: Any) -> None:
    body = {"error": "invalid_grant", "error_uri": "https://idp.example/errors/1"}
    with pytest.raises(TokenRequestError) as caught:
        make_auth(http_client=tamper(lambda _: body, status=400)).get_token()
    assert caught.value.error == "invalid_grant"
    assert caught.value.error_description is None
    assert caught.value.error_uri == "https://idp.example/errors/1"


def test_error_family() -> None:
    for cls in (TokenRequestError, TokenResponseError, TokenEndpointUnavailable):
        assert issubclass(cls, ClientCredentialsError)
    assert not issubclass(ClientCredentialsError, ValueError)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    def highest(low: float, high: float) -> float:
        return high

    def lowest(low: float, high: float) -> float:
        return low

    assert [backoff_delay(a, 0.5, 4.0, highest) for a in range(6)] == [0.5, 1, 2, 4, 4, 4]
    assert [backoff_delay(a, 0.5, 4.0, lowest) for a in range(4)] == [0.25, 0.5, 1, 2]
    assert backoff_delay(3, 0, 4.0) == 0
    assert all(0.5 <= backoff_delay(1, 0.5, 4.0) <= 1.0 for _ in range(100))


def test_errors_reach_the_httpx_caller(issuer: LocalIssuer, make_auth: Any, api: Any) -> None:
    order_api, url = api
    with (
        httpx2.Client(auth=make_auth(client_secret="wrong")) as client,
        pytest.raises(TokenRequestError, match="invalid_client"),
    ):
        client.get(f"{url}/orders")
    assert order_api.seen == []  # no request without a token


async def test_errors_reach_the_async_httpx_caller(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    issuer.fail("token", "error")
    async with make_auth(max_retries=1) as auth, httpx2.AsyncClient(auth=auth) as client:
        with pytest.raises(TokenEndpointUnavailable):
            await client.get(f"{url}/orders")
    assert order_api.seen == []
    assert issuer.counts["token"] == 2
