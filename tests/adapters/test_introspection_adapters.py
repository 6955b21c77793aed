"""Opaque tokens through every adapter: FastAPI dependencies, websockets, decorators."""

# No ``from __future__ import annotations``: FastAPI resolves these annotations at runtime.

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse

from genauth_guard import GuardConfig, GuardMiddleware
from genauth_guard._token import AccessToken
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.starlette import require_scopes
from genauth_guard.testing import LocalIssuer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

API_ID, API_SECRET = "order-api-introspector", "introspector-secret"


@pytest.fixture
def opaque_issuer(issuer: LocalIssuer) -> LocalIssuer:
    issuer.add_client(API_ID, API_SECRET)
    return issuer


def config(issuer: LocalIssuer) -> GuardConfig:
    return GuardConfig(
        issuer=issuer.issuer,
        audience=issuer.audience,
        token_check="introspect",
        introspection_client_id=API_ID,
        introspection_client_secret=API_SECRET,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_fastapi_dependency_and_websocket(opaque_issuer: LocalIssuer) -> None:
    guard = FastAPIGuard(config=config(opaque_issuer))
    app = FastAPI(lifespan=guard.lifespan)

    @app.get("/orders")
    async def orders(
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> Any:
        return {"sub": token.subject}

    @app.websocket("/ws")
    async def feed(
        websocket: WebSocket,
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> None:
        await websocket.accept()
        await websocket.send_text(f"hello {token.subject}")
        await websocket.close()

    good = opaque_issuer.mint_opaque(scope="order:read", sub="svc")
    weak = opaque_issuer.mint_opaque(scope="order:write")
    revoked = opaque_issuer.mint_opaque(scope="order:read")
    opaque_issuer.revoke(revoked)
    with TestClient(app) as client:
        assert client.get("/orders", headers=bearer(good)).json() == {"sub": "svc"}
        assert client.get("/orders", headers=bearer(weak)).status_code == 403
        assert client.get("/orders", headers=bearer(revoked)).status_code == 401
        with client.websocket_connect("/ws", headers=bearer(good)) as socket:
            assert socket.receive_text() == "hello svc"
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws", headers=bearer(revoked)),
        ):
            pass
        assert refused.value.status_code == 401
        opaque_issuer.fail("introspection")
        down = client.get("/orders", headers=bearer(opaque_issuer.mint_opaque(scope="order:read")))
        assert down.status_code == 503
        assert down.headers["retry-after"]


@require_scopes("order:read")
async def orders(request: Request) -> Response:
    return PlainTextResponse(request.user.identity)


def test_starlette_decorator_and_websocket(opaque_issuer: LocalIssuer) -> None:
    async def whoami(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.user.identity)
        await websocket.close()

    app = Starlette(
        routes=[Route("/orders", orders), WebSocketRoute("/ws", whoami)],
        middleware=[Middleware(GuardMiddleware, config=config(opaque_issuer))],
    )
    good = opaque_issuer.mint_opaque(scope="order:read", sub="reader")
    with TestClient(app) as client:
        assert client.get("/orders", headers=bearer(good)).text == "reader"
        other = opaque_issuer.mint_opaque(scope="order:write")
        assert client.get("/orders", headers=bearer(other)).status_code == 403
        with client.websocket_connect("/ws", headers=bearer(good)) as socket:
            assert socket.receive_text() == "reader"
    assert opaque_issuer.counts["introspection"] == 2  # good once (cached), other once
