"""ClientCredentialsAuth on httpx2 clients and on httpx clients, sync and async.

Each library's client refuses an ``auth`` that is not its own ``Auth``; the same auth
object must serve both, including the 401 ``invalid_token`` refresh and retry.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest

from genauth_guard.testing import LocalIssuer

LIBRARIES = [pytest.param(httpx2, id="httpx2"), pytest.param(httpx, id="httpx")]


@pytest.mark.parametrize("lib", LIBRARIES)
def test_sync_client_gets_a_token_and_retries_once(
    lib: ModuleType, issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    auth = make_auth()
    with lib.Client(auth=auth) as client:
        assert client.get(f"{url}/orders").status_code == 200
        order_api.revoked.add(auth.get_token())
        response = client.post(f"{url}/orders", content=b"x")
    assert response.status_code == 200
    first, second, third = order_api.tokens
    assert first == second != third  # the refused token was replaced once
    assert issuer.counts["token"] == 2


@pytest.mark.parametrize("lib", LIBRARIES)
async def test_async_client_gets_a_token_and_retries_once(
    lib: ModuleType, issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    async with make_auth() as auth, lib.AsyncClient(auth=auth) as client:
        assert (await client.get(f"{url}/orders")).status_code == 200
        order_api.revoked.add(await auth.aget_token())
        response = await client.post(f"{url}/orders", json={"item": 1})
    assert response.status_code == 200
    assert response.json()["echo"] == '{"item":1}'
    assert len(set(order_api.tokens)) == 2
    assert issuer.counts["token"] == 2


@pytest.mark.parametrize("lib", LIBRARIES)
def test_per_request_auth_is_accepted(lib: ModuleType, make_auth: Any, api: Any) -> None:
    _, url = api
    with lib.Client() as client:
        assert client.get(f"{url}/orders", auth=make_auth()).status_code == 200


def test_one_auth_serves_both_libraries_with_one_token(
    issuer: LocalIssuer, make_auth: Any, api: Any
) -> None:
    order_api, url = api
    auth = make_auth()
    with httpx.Client(auth=auth) as old, httpx2.Client(auth=auth) as new:
        assert old.get(f"{url}/orders").status_code == 200
        assert new.get(f"{url}/orders").status_code == 200
    assert len(set(order_api.tokens)) == 1
    assert issuer.counts["token"] == 1
