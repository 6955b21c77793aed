"""Route requirements refusing a DPoP-bound token answer in the DPoP challenge (RFC 9449 7.1).

The same refusals as for bearer tokens (403 role/claim, 401 RFC 9470 step-up), carried by
the scheme the request used, through the Starlette decorator and the FastAPI dependency.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from _dpopkit import cached_key
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from test_dpop_api import assert_refused, challenges, dpop

from genauth_guard import AccessToken, GuardConfig, Verifier, require_roles, require_step_up
from genauth_guard._asgi import GuardMiddleware
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.starlette import require_scopes
from genauth_guard.testing import LocalIssuer

DECLARED = ("order:read", require_roles("order-admin"), require_step_up(max_age=300))


def starlette_app(verifier: Verifier) -> Starlette:
    @require_scopes(*DECLARED)
    async def orders(request: Request) -> Response:
        return PlainTextResponse("ok")

    middleware = Middleware(GuardMiddleware, verifier=verifier, realm="api")
    return Starlette(routes=[Route("/orders", orders)], middleware=[middleware])


def fastapi_app(verifier: Verifier) -> FastAPI:
    guard = FastAPIGuard(verifier, realm="api")
    app = FastAPI()
    guard.install(app)
    admin = Depends(guard.require_scopes(*DECLARED))

    @app.get("/orders")
    async def orders(token: AccessToken = admin) -> str:
        return "ok"

    return app


@pytest.fixture(params=["starlette", "fastapi"])
async def api(request: pytest.FixtureRequest, issuer: LocalIssuer) -> AsyncIterator[Any]:
    verifier = Verifier(GuardConfig(issuer=issuer.issuer, audience=issuer.audience))
    build = starlette_app if request.param == "starlette" else fastapi_app
    transport = httpx2.ASGITransport(app=build(verifier))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client
    await verifier.aclose()


def bound(issuer: LocalIssuer, **claims: Any) -> tuple[Any, str]:
    key = cached_key("ES256")
    token = issuer.mint(
        scope="order:read", claims={"cnf": {"jkt": key.thumbprint}, "sub": "alice", **claims}
    )
    return key, token


async def test_role_refusal_in_the_dpop_challenge(issuer: LocalIssuer, api: Any) -> None:
    key, token = bound(issuer, roles=["order-clerk"], auth_time=int(time.time()))
    response = await api.get("/orders", headers=dpop(key, token))
    assert_refused(response, "insufficient_scope", 403, word="order-admin")
    assert all("scope=" not in c for c in challenges(response))


async def test_step_up_refusal_in_the_dpop_challenge(issuer: LocalIssuer, api: Any) -> None:
    key, token = bound(issuer, roles=["order-admin"], auth_time=int(time.time()) - 3600)
    response = await api.get("/orders", headers=dpop(key, token))
    assert_refused(response, "insufficient_user_authentication", 401, word="recent")
    (dpop_challenge,) = [c for c in challenges(response) if c.startswith("DPoP ")]
    assert dpop_challenge.endswith('max_age="300"')


async def test_met_requirements_pass_with_dpop(issuer: LocalIssuer, api: Any) -> None:
    key, token = bound(issuer, roles=["order-admin"], auth_time=int(time.time()))
    response = await api.get("/orders", headers=dpop(key, token))
    assert response.status_code == 200, response.text
