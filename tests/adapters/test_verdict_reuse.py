"""A verdict is reused only by the verifier that produced it (issue 9, finding 3), and
what a cached acceptance re-checks on each request reaches the wire (finding 2).

Real apps served by uvicorn on loopback, keys from the local issuer over HTTP.
"""

# No ``from __future__ import annotations``: FastAPI resolves these annotations at runtime.

from typing import Annotated, Any

import httpx2
import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from genauth_guard._asgi import GuardMiddleware
from genauth_guard._config import GuardConfig
from genauth_guard._token import AccessToken
from genauth_guard._verifier import Verifier
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.testing import LocalIssuer, serve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_identify_middleware_verdict_does_not_open_another_guards_route(
    issuer: LocalIssuer,
) -> None:
    admin = FastAPIGuard(config=GuardConfig(issuer=issuer.issuer, audience="admin-api"))
    app = FastAPI()
    admin.install(app)

    @app.get("/admin")
    async def admin_route(
        token: Annotated[AccessToken, Depends(admin.require_scopes())],
    ) -> Any:
        return {"aud": token.claims["aud"]}

    partner = GuardConfig(issuer=issuer.issuer, audience="partner-api")
    wrapped = GuardMiddleware(app, config=partner, mode="identify", warm_up=False)
    with serve(wrapped) as url, httpx2.Client(base_url=url) as client:
        partner_token = issuer.mint(audience="partner-api")
        refused = client.get("/admin", headers=_bearer(partner_token))
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert "audience" in refused.json()["error_description"]
        both = issuer.mint(audience=["partner-api", "admin-api"])
        assert client.get("/admin", headers=_bearer(both)).json() == {
            "aud": ["partner-api", "admin-api"]
        }


def test_two_guards_router_and_route_each_verify_with_their_own(issuer: LocalIssuer) -> None:
    outer = FastAPIGuard(config=GuardConfig(issuer=issuer.issuer, audience="partner-api"))
    inner = FastAPIGuard(config=GuardConfig(issuer=issuer.issuer, audience="admin-api"))
    app = FastAPI()
    inner.install(app)
    router = APIRouter(dependencies=[Depends(outer.require_scopes())])

    @router.get("/admin")
    async def admin_route(
        token: Annotated[AccessToken, Depends(inner.require_scopes())],
    ) -> Any:
        return {"ok": True}

    app.include_router(router)
    with serve(app) as url, httpx2.Client(base_url=url) as client:
        partner_only = issuer.mint(audience="partner-api")
        assert client.get("/admin", headers=_bearer(partner_only)).status_code == 401
        both = issuer.mint(audience=["partner-api", "admin-api"])
        assert client.get("/admin", headers=_bearer(both)).json() == {"ok": True}


def test_a_shared_verifier_is_still_reused(issuer: LocalIssuer) -> None:
    calls = 0
    inner = Verifier(GuardConfig(issuer=issuer.issuer, audience=issuer.audience))

    class Counting:
        async def verify(self, token: str) -> AccessToken:
            nonlocal calls
            calls += 1
            return await inner.verify(token)

        async def warm_up(self) -> None:
            await inner.warm_up()

        async def aclose(self) -> None:
            await inner.aclose()

    verifier = Counting()
    guard = FastAPIGuard(verifier)
    app = FastAPI()

    @app.get("/me")
    async def me(token: Annotated[AccessToken, Depends(guard.require_scopes())]) -> Any:
        return {"sub": token.subject}

    wrapped = GuardMiddleware(app, verifier, warm_up=False)
    with serve(wrapped) as url, httpx2.Client(base_url=url) as client:
        assert client.get("/me", headers=_bearer(issuer.mint())).status_code == 200
    assert calls == 1  # the middleware's verdict, reused by the guard


def test_revoked_jti_is_refused_on_the_wire_although_cached(issuer: LocalIssuer) -> None:
    revoked: set[str] = set()
    config = GuardConfig(
        issuer=issuer.issuer,
        audience=issuer.audience,
        claim_checks={"jti": lambda jti: jti not in revoked},
    )

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"jti": request.auth.token.claims["jti"]})

    app = GuardMiddleware(Starlette(routes=[Route("/", hello)]), config=config, warm_up=False)
    token = issuer.mint()
    with serve(app) as url, httpx2.Client(base_url=url) as client:
        jti = client.get("/", headers=_bearer(token)).json()["jti"]
        assert client.get("/", headers=_bearer(token)).status_code == 200  # a cache hit
        revoked.add(jti)
        refused = client.get("/", headers=_bearer(token))
        assert refused.status_code == 401
        assert refused.json()["error_description"] == "claim jti not accepted"
