"""The guarded app really served by uvicorn on loopback, called over TCP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from _contract import DPOP_CHALLENGE, REALM, config_for
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from genauth_guard._asgi import GuardMiddleware
from genauth_guard.starlette import require_scopes
from genauth_guard.testing import LocalIssuer, serve


@require_scopes("order:read")
async def orders(request: Request) -> Response:
    return JSONResponse({"identity": request.user.identity})


@require_scopes("order:read")
async def export(request: Request) -> Response:
    async def rows() -> Any:
        for n in range(50):
            yield f"{n}\n".encode()

    return StreamingResponse(rows(), media_type="text/plain")


def build(issuer: LocalIssuer) -> Starlette:
    guard = Middleware(GuardMiddleware, config=config_for(issuer), realm=REALM)
    return Starlette(
        routes=[Route("/orders", orders), Route("/export", export)], middleware=[guard]
    )


@pytest.fixture
def served(issuer: LocalIssuer) -> Iterator[str]:
    with serve(build(issuer), lifespan="on") as url:
        yield url


def test_contract_on_the_wire(issuer: LocalIssuer, served: str) -> None:
    with httpx2.Client(base_url=served) as client:
        missing = client.get("/orders")
        malformed = client.get("/orders", headers={"authorization": "Bearer"})
        weak = client.get("/orders", headers={"authorization": f"Bearer {issuer.mint()}"})
        good_token = issuer.mint(scope="order:read", sub="svc")
        good = client.get("/orders", headers={"authorization": f"Bearer {good_token}"})
        streamed = client.get("/export", headers={"authorization": f"Bearer {good_token}"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == f'Bearer realm="{REALM}", {DPOP_CHALLENGE}'
    assert malformed.status_code == 400
    assert weak.status_code == 403
    assert weak.json()["scope"] == "order:read"
    assert good.json() == {"identity": "svc"}
    assert streamed.headers.get("transfer-encoding") == "chunked"
    assert streamed.text == "".join(f"{n}\n" for n in range(50))


def test_app_starts_with_the_issuer_down(issuer: LocalIssuer) -> None:
    issuer.fail("jwks")
    issuer.fail("discovery")
    # Started, although the warm-up failed.
    with serve(build(issuer), lifespan="on") as url, httpx2.Client(base_url=url) as client:
        token = issuer.mint(scope="order:read")
        down = client.get("/orders", headers={"authorization": f"Bearer {token}"})
        assert down.status_code == 503
        assert "retry-after" in down.headers
        issuer.heal()
        up = client.get("/orders", headers={"authorization": f"Bearer {token}"})
        assert up.status_code == 200
