"""Per-route requirements in every adapter, over HTTP and websockets, with real tokens.

The table is ``_requirement_cases.CASES``; each adapter mounts one HTTP route and one
websocket route per case, verified by a real verifier against the session's issuer.
"""

# No ``from __future__ import annotations``: FastAPI resolves these annotations at runtime.

import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest
from _contract import REALM, config_for
from _requirement_cases import (
    CASES,
    DENIED,
    NOT_DENIED,
    Case,
    Declared,
    check_answer,
    headers_for,
    route_name,
)
from fastapi import Depends, FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse

from genauth_guard import AccessToken, GuardMiddleware, require_roles, require_step_up
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.starlette import require_any_scope, require_scopes
from genauth_guard.testing import LocalIssuer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Endpoint = Callable[..., Any]


def starlette_app(issuer: LocalIssuer) -> Starlette:
    """GuardMiddleware in identify mode: the decorators alone decide (401 included)."""

    def decorate(declared: Declared) -> Callable[[Endpoint], Endpoint]:
        make = require_any_scope if declared.any_scope else require_scopes
        return make(*declared.items)

    routes: list[Any] = []
    for case in CASES:

        @decorate(case.declared)
        async def http(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"ok {request.user.identity}")

        @decorate(case.declared)
        async def ws(websocket: Any) -> None:
            await websocket.accept()
            await websocket.send_text("ok")
            await websocket.close()

        routes += [
            Route(f"/{route_name(case)}", http),
            WebSocketRoute(f"/ws/{route_name(case)}", ws),
        ]

    @require_scopes(NOT_DENIED.items[0])
    def sync_endpoint(request: Request) -> PlainTextResponse:  # run in the thread pool
        return PlainTextResponse("ok")

    routes.append(Route("/sync", sync_endpoint))
    middleware = [
        Middleware(GuardMiddleware, config=config_for(issuer), mode="identify", realm=REALM)
    ]
    return Starlette(routes=routes, middleware=middleware)


def fastapi_app(issuer: LocalIssuer) -> FastAPI:
    guard = FastAPIGuard(config=config_for(issuer), realm=REALM)
    app = FastAPI(lifespan=guard.lifespan)
    guard.install(app)

    def dependency(declared: Declared) -> Any:
        make = guard.require_any_scope if declared.any_scope else guard.require_scopes
        return make(*declared.items)

    for case in CASES:
        Token = Annotated[AccessToken, Depends(dependency(case.declared))]

        async def http(token: Token) -> PlainTextResponse:
            return PlainTextResponse(f"ok {token.subject}")

        async def ws(websocket: WebSocket, token: Token) -> None:
            await websocket.accept()
            await websocket.send_text("ok")
            await websocket.close()

        app.get(f"/{route_name(case)}")(http)
        app.websocket(f"/ws/{route_name(case)}")(ws)

    @app.get("/sync")
    def sync_endpoint(
        token: Annotated[AccessToken, Depends(guard.require_scopes(*NOT_DENIED.items))],
    ) -> str:
        return "ok"

    return app


ADAPTERS = {"starlette": starlette_app, "fastapi": fastapi_app}


@pytest.fixture(scope="module", params=sorted(ADAPTERS))
def client(request: pytest.FixtureRequest, shared_issuer: LocalIssuer) -> Iterator[TestClient]:
    """One running app per adapter for the whole table (keys fetched once)."""
    with TestClient(ADAPTERS[request.param](shared_issuer)) as running:
        yield running


@pytest.fixture
def denied() -> Iterator[set[str]]:
    DENIED.clear()
    yield DENIED
    DENIED.clear()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_http(client: TestClient, shared_issuer: LocalIssuer, case: Case) -> None:
    response = client.get(f"/{route_name(case)}", headers=headers_for(shared_issuer, case))
    body = response.json() if response.status_code != 200 else None
    check_answer(case, response.status_code, response.headers.get, body, REALM)
    if case.status == 200:
        assert response.text == "ok svc"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_websocket(client: TestClient, shared_issuer: LocalIssuer, case: Case) -> None:
    path, headers = f"/ws/{route_name(case)}", headers_for(shared_issuer, case)
    if case.status == 200:
        with client.websocket_connect(path, headers=headers) as socket:
            assert socket.receive_text() == "ok"
        return
    # Refused before accept, with the real HTTP answer (websocket denial response).
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect(path, headers=headers),
    ):
        pass
    denial = refused.value
    body = denial.json()
    check_answer(case, denial.status_code, denial.headers.get, body, REALM)


@pytest.mark.parametrize("path", ["/predicate", "/ws/predicate", "/sync"])
def test_predicates_run_on_every_request(
    client: TestClient, shared_issuer: LocalIssuer, denied: set[str], path: str
) -> None:
    """The same token (cached as verified) meets a deny list as it changes."""
    headers = {"authorization": f"Bearer {shared_issuer.mint(sub='mallory')}"}

    def status() -> int:
        if not path.startswith("/ws"):
            return client.get(path, headers=headers).status_code
        try:
            with client.websocket_connect(path, headers=headers) as socket:
                socket.receive_text()
        except WebSocketDenialResponse as refused:
            return refused.status_code
        return 200

    assert status() == 200
    denied.add("mallory")
    assert status() == 403
    denied.discard("mallory")
    assert status() == 200


def test_declarations_are_checked_when_the_route_is_built(shared_issuer: LocalIssuer) -> None:
    guard = FastAPIGuard(config=config_for(shared_issuer))
    for make in (require_scopes, guard.require_scopes):
        with pytest.raises(TypeError, match="got int"):
            make("order:read", 42)  # type: ignore[arg-type]
    for make in (require_any_scope, guard.require_any_scope):
        with pytest.raises(ValueError, match="at least one scope"):
            make(require_roles("order-admin"))


def test_openapi_describes_roles_and_claims(shared_issuer: LocalIssuer) -> None:
    guard = FastAPIGuard(config=config_for(shared_issuer))
    app = FastAPI()
    guard.install(app)
    guard.install(app)  # twice: described once

    @app.delete("/orders/{order_id}")
    async def delete_order(
        order_id: int,
        token: Annotated[
            AccessToken, Depends(guard.require_scopes("order:write", require_roles("order-admin")))
        ],
    ) -> None:
        """Delete an order."""

    @app.get("/orders")
    async def orders(
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> None:
        """List orders."""

    schema = app.openapi()
    deleting = schema["paths"]["/orders/{order_id}"]["delete"]
    assert deleting["description"] == (
        "Delete an order.\n\nRequires the scope `order:write`; role order-admin."
    )
    assert deleting["security"][0] == {"bearer": ["order:write"]}
    assert len(deleting["security"]) == len(schema["paths"]["/orders"]["get"]["security"])
    # Scopes alone are already in the security requirement: the description is untouched.
    assert schema["paths"]["/orders"]["get"]["description"] == "List orders."
    assert app.openapi() is schema  # still built once and cached by FastAPI


def test_fastapi_without_install_still_sends_the_step_up_challenge(
    shared_issuer: LocalIssuer,
) -> None:
    guard = FastAPIGuard(config=config_for(shared_issuer), realm=REALM)
    app = FastAPI(lifespan=guard.lifespan)  # no guard.install(app)

    @app.get("/pay")
    async def pay(
        token: Annotated[AccessToken, Depends(guard.require_scopes(require_step_up(max_age=5)))],
    ) -> str:
        return "paid"

    old = shared_issuer.mint(claims={"auth_time": int(time.time()) - 60})
    with TestClient(app) as client:
        response = client.get("/pay", headers={"authorization": f"Bearer {old}"})
    assert response.status_code == 401
    # The Bearer challenge (a DPoP one may follow it: DPoP is allowed by default).
    assert response.headers["www-authenticate"].startswith(
        f'Bearer realm="{REALM}", error="insufficient_user_authentication", '
        'error_description="a more recent authentication is required", max_age="5"'
    )
    assert response.json()["detail"]["error"] == "insufficient_user_authentication"
