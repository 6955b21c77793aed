"""Websockets are checked like HTTP and refused before accept (RFC 6750 over RFC 6455)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _contract import DPOP_CHALLENGE, REALM, config_for
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from genauth_guard._asgi import GuardMiddleware
from genauth_guard.starlette import require_scopes
from genauth_guard.testing import LocalIssuer

# starlette's TestClient prefers httpx2 and says so; it works with httpx2.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"identity": websocket.user.identity, "scopes": sorted(websocket.auth.scopes)}
    )
    await websocket.close()


@require_scopes("order:read")
async def orders_feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("order 1")
    await websocket.close()


def build(issuer: LocalIssuer, mode: str = "protect") -> Starlette:
    return Starlette(
        routes=[WebSocketRoute("/ws", whoami), WebSocketRoute("/ws/orders", orders_feed)],
        middleware=[Middleware(GuardMiddleware, config=config_for(issuer), mode=mode, realm=REALM)],
    )


def without_denial_extension(app: Any) -> Any:
    """An ASGI server that cannot send an HTTP response to a websocket handshake."""

    async def server(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    return server


@pytest.fixture
def client(issuer: LocalIssuer) -> Iterator[TestClient]:
    with TestClient(build(issuer)) as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_valid_token_is_accepted(issuer: LocalIssuer, client: TestClient) -> None:
    token = issuer.mint(scope="order:read", sub="feed-reader")
    with client.websocket_connect("/ws", headers=bearer(token)) as socket:
        assert socket.receive_json() == {"identity": "feed-reader", "scopes": ["order:read"]}
    with client.websocket_connect("/ws/orders", headers=bearer(token)) as socket:
        assert socket.receive_text() == "order 1"


def test_missing_token_is_refused_with_401(client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws"):
        pass
    assert refused.value.status_code == 401
    assert refused.value.headers["www-authenticate"] == f'Bearer realm="{REALM}", {DPOP_CHALLENGE}'


def test_invalid_token_is_refused_with_401(issuer: LocalIssuer, client: TestClient) -> None:
    expired = issuer.mint(scope="order:read", expires_in=-3600)
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/ws", headers=bearer(expired)),
    ):
        pass
    assert refused.value.status_code == 401
    assert refused.value.json()["error"] == "invalid_token"
    assert expired not in refused.value.text


def test_missing_scope_is_refused_with_403(issuer: LocalIssuer, client: TestClient) -> None:
    weak = issuer.mint(scope="order:write")
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/ws/orders", headers=bearer(weak)),
    ):
        pass
    assert refused.value.status_code == 403
    assert 'scope="order:read"' in refused.value.headers["www-authenticate"]


def test_keys_unavailable_is_refused_with_503(issuer: LocalIssuer) -> None:
    issuer.fail("jwks")
    with (
        TestClient(build(issuer)) as client,
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/ws", headers=bearer(issuer.mint())),
    ):
        pass
    assert refused.value.status_code == 503
    assert "www-authenticate" not in refused.value.headers
    assert "retry-after" in refused.value.headers


def test_close_1008_without_the_denial_extension(issuer: LocalIssuer) -> None:
    with TestClient(without_denial_extension(build(issuer))) as client:
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws"):
            pass
        assert not isinstance(closed.value, WebSocketDenialResponse)
        assert closed.value.code == 1008
        weak = bearer(issuer.mint(scope="order:write"))
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect("/ws/orders", headers=weak),
        ):
            pass
        assert closed.value.code == 1008
        assert "order:read" in closed.value.reason


def test_identify_mode_accepts_anonymous_sockets(issuer: LocalIssuer) -> None:
    with TestClient(build(issuer, "identify")) as client:
        with client.websocket_connect("/ws") as socket:
            assert socket.receive_json() == {"identity": "", "scopes": []}
        # ...but the decorator still needs a token, and a bad token is still refused.
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws/orders"),
        ):
            pass
        assert refused.value.status_code == 401
        bad = bearer(issuer.mint(audience="elsewhere"))
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws", headers=bad),
        ):
            pass
        assert refused.value.status_code == 401
