"""Behind a reverse proxy (``uvicorn --root-path``): public paths are the app's own paths."""

# No `from __future__ import annotations`: FastAPI reads these signatures at runtime.

from typing import Annotated, Any

import httpx2
import pytest
from fastapi import Depends, FastAPI

from genauth_guard import AccessToken, GuardMiddleware
from genauth_guard._verifier import Verifier
from genauth_guard.fastapi import FastAPIGuard, docs_paths

ROOT = "/orders-svc"


def build(verifier: Verifier) -> FastAPI:
    guard = FastAPIGuard(verifier)
    app = FastAPI()
    guard.install(app)

    @app.get("/health")
    async def health() -> Any:
        return {"ok": True}

    @app.get("/api/orders")
    async def orders(
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> Any:
        return {"subject": token.subject}

    app.add_middleware(
        GuardMiddleware, verifier=verifier, public_paths=["/health", *docs_paths(app)]
    )
    return app


async def get(app: FastAPI, path: str, **kwargs: Any) -> httpx2.Response:
    # As uvicorn --root-path does: the path includes the prefix, root_path names it.
    transport = httpx2.ASGITransport(app=app, root_path=ROOT)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.get(path, **kwargs)


@pytest.mark.parametrize(
    "path", ["/health", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"]
)
async def test_public_paths_match_under_the_root_path(verifier: Verifier, path: str) -> None:
    response = await get(build(verifier), ROOT + path)
    assert response.status_code == 200


async def test_swagger_ui_points_at_the_prefixed_openapi(verifier: Verifier) -> None:
    page = await get(build(verifier), ROOT + "/docs")
    assert f"'{ROOT}/openapi.json'" in page.text
    schema = (await get(build(verifier), ROOT + "/openapi.json")).json()
    assert schema["paths"]["/api/orders"]["get"]["security"] == [
        {"bearer": ["order:read"]},
        {"dpop": ["order:read"]},  # DPoP allowed by default: the alternative scheme
    ]


async def test_protected_paths_stay_protected(verifier: Verifier, issuer: Any) -> None:
    app = build(verifier)
    assert (await get(app, ROOT + "/api/orders")).status_code == 401
    token = issuer.mint(scope="order:read")
    response = await get(app, ROOT + "/api/orders", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    # A longer first segment is not under the root path: nothing is stripped.
    assert (await get(app, ROOT + "x/health")).status_code == 401


def test_docs_paths_follow_the_app_settings() -> None:
    assert docs_paths(FastAPI(docs_url="/api-docs", redoc_url=None)) == [
        "/api-docs",
        "/openapi.json",
        "/docs/oauth2-redirect",
    ]
    assert docs_paths(FastAPI(openapi_url=None, docs_url=None, redoc_url=None)) == []
