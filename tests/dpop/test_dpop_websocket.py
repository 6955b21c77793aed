"""DPoP on websockets: the handshake carries the proof (a GET of the ws URL as http)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _dpopkit import bound_token
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from genauth_guard import AccessToken, GuardConfig
from genauth_guard._asgi import GuardMiddleware
from genauth_guard._dpop_key import DPoPKey
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.starlette import require_scopes
from genauth_guard.testing import LocalIssuer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
URL = "http://testserver/ws"  # TestClient's ws://testserver, compared as http


@require_scopes("order:read")
async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
    token = websocket.auth.token
    await websocket.send_json({"bound": token.dpop_bound, "jkt": token.thumbprint})
    await websocket.close()


def starlette_app(issuer: LocalIssuer) -> Starlette:
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience)
    middleware = Middleware(GuardMiddleware, config=config, realm="api")
    return Starlette(routes=[WebSocketRoute("/ws", feed)], middleware=[middleware])


def fastapi_app(issuer: LocalIssuer) -> FastAPI:
    guard = FastAPIGuard(config=GuardConfig(issuer=issuer.issuer, audience=issuer.audience))
    app = FastAPI()
    guard.install(app)

    reader = Depends(guard.require_scopes("order:read"))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, token: AccessToken = reader) -> None:
        await websocket.accept()
        await websocket.send_json({"bound": token.dpop_bound, "jkt": token.thumbprint})
        await websocket.close()

    return app


@pytest.fixture(params=["starlette", "fastapi"])
def client(request: pytest.FixtureRequest, shared_issuer: LocalIssuer) -> Iterator[TestClient]:
    build = starlette_app if request.param == "starlette" else fastapi_app
    with TestClient(build(shared_issuer)) as running:
        yield running


def test_handshake_with_a_proof(
    client: TestClient, shared_issuer: LocalIssuer, key: DPoPKey
) -> None:
    token = bound_token(shared_issuer, key)
    headers = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, access_token=token)}
    with client.websocket_connect("/ws", headers=headers) as socket:
        assert socket.receive_json() == {"bound": True, "jkt": key.thumbprint}
    # The same proof again: replayed, refused before accept.
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    assert refused.value.status_code == 401
    assert 'error="invalid_dpop_proof"' in refused.value.headers["www-authenticate"]


def test_handshake_with_a_proof_for_another_url(
    client: TestClient, shared_issuer: LocalIssuer, key: DPoPKey
) -> None:
    token = bound_token(shared_issuer, key)
    proof = key.proof("GET", "http://testserver/other", access_token=token)
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/ws", headers={"authorization": f"DPoP {token}", "dpop": proof}),
    ):
        pass
    assert refused.value.status_code == 401
    assert "htu" in refused.value.json()["error_description"]
