"""A 401 invalid_token from the API: one refresh and one retry, never a loop."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from genauth_guard._client import is_invalid_token_challenge
from genauth_guard.testing import LocalIssuer


def test_refused_token_is_replaced_and_the_request_retried(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    auth = make_auth()
    with httpx2.Client(auth=auth) as client:
        order_api.revoked.add(auth.get_token())
        response = client.post(f"{url}/orders", content=b'{"item": 7}')
    assert response.status_code == 200
    assert response.json()["echo"] == '{"item": 7}'
    (first, body1), (second, body2) = order_api.seen
    assert first != second
    assert body1 == body2 == b'{"item": 7}'  # the body is sent again
    assert issuer.counts["token"] == 2


async def test_async_refused_token_is_replaced_and_the_request_retried(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    async with make_auth() as auth, httpx2.AsyncClient(auth=auth) as client:
        order_api.revoked.add(await auth.aget_token())
        response = await client.post(f"{url}/orders", json={"item": 7})
        assert response.status_code == 200
        # The new token is cached: the next call uses it without a token request.
        assert (await client.get(f"{url}/orders")).status_code == 200
    assert len(order_api.seen) == 3
    assert order_api.tokens[1] == order_api.tokens[2] != order_api.tokens[0]
    assert issuer.counts["token"] == 2


def test_streamed_body_is_sent_again(issuer: LocalIssuer, make_auth: Any, api: Any) -> None:
    order_api, url = api
    auth = make_auth()

    def chunks() -> Any:
        yield b"part1-"
        yield b"part2"

    with httpx2.Client(auth=auth) as client:
        order_api.revoked.add(auth.get_token())
        assert client.post(f"{url}/orders", content=chunks()).status_code == 200
    assert [body for _, body in order_api.seen] == [b"part1-part2"] * 2


def test_second_refusal_is_returned_not_looped(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    order_api.reject_all = True
    with httpx2.Client(auth=make_auth()) as client:
        response = client.get(f"{url}/orders")
    assert response.status_code == 401
    assert len(order_api.seen) == 2
    assert issuer.counts["token"] == 2


async def test_async_second_refusal_is_returned_not_looped(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    order_api.reject_all = True
    async with make_auth() as auth, httpx2.AsyncClient(auth=auth) as client:
        response = await client.get(f"{url}/orders")
    assert response.status_code == 401
    assert len(order_api.seen) == 2
    assert issuer.counts["token"] == 2


@pytest.mark.parametrize(
    ("status", "challenge"),
    [
        (401, 'Bearer realm="orders"'),  # no error: credentials missing, not refused
        (401, 'Bearer error="invalid_request"'),
        (403, 'Bearer error="insufficient_scope", scope="order:write"'),
        (403, 'Bearer error="invalid_token"'),  # only a 401 means "refresh"
        (401, 'Basic realm="orders"'),
        # RFC 9470 step-up: the user must log in again; a new client token cannot help.
        (401, 'Bearer error="insufficient_user_authentication", max_age="300"'),
        (403, 'Bearer error="insufficient_scope", error_description="requires role admin"'),
    ],
)
def test_other_refusals_are_not_retried(
    issuer: LocalIssuer, make_auth: Any, api: Any, status: int, challenge: str
) -> None:
    order_api, url = api
    order_api.reject_all = True
    order_api.status = status
    order_api.challenge = challenge
    with httpx2.Client(auth=make_auth()) as client:
        assert client.get(f"{url}/orders").status_code == status
    assert len(order_api.seen) == 1
    assert issuer.counts["token"] == 1


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (['Bearer error="invalid_token"'], True),
        (["Bearer error=invalid_token"], True),
        (['bearer realm="a", error="invalid_token", error_description="expired"'], True),
        (['Basic realm="a", Bearer error="invalid_token"'], True),
        (['Basic realm="a"', 'Bearer error="invalid_token"'], True),
        (['Bearer error="invalid_token_x"'], False),
        (['Bearer error_description="invalid_token"'], False),
        (['Bearer error="invalid_request"'], False),
        (['Basic error="invalid_token"'], False),
        (['BearerX error="invalid_token"'], False),
        ([], False),
    ],
)
def test_invalid_token_challenge(values: list[str], expected: bool) -> None:
    response = httpx2.Response(401, headers=[("www-authenticate", v) for v in values])
    assert is_invalid_token_challenge(response) is expected
