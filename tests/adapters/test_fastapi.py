"""FastAPIGuard dependencies, errors and OpenAPI, against the local issuer's real JWKS."""

# No ``from __future__ import annotations``: FastAPI resolves these annotations at runtime.

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

import httpx2
import pytest
from _contract import CASES, DPOP_CHALLENGE, REALM, case_named, check_contract, config_for
from fastapi import Depends, FastAPI, Request, Security, WebSocket
from starlette.testclient import TestClient, WebSocketDenialResponse

from genauth_guard._asgi import GuardMiddleware
from genauth_guard._token import AccessToken
from genauth_guard._verifier import Verifier
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.testing import LocalIssuer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class CountingVerifier:
    """A real verifier that counts verifications, to prove they are not repeated."""

    def __init__(self, inner: Verifier) -> None:
        self.inner = inner
        self.calls = 0

    async def verify(self, token: str) -> AccessToken:
        self.calls += 1
        return await self.inner.verify(token)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()


def build(guard: FastAPIGuard, *, install: bool = True, **app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)
    if install:
        guard.install(app)

    @app.get("/orders")
    async def orders(
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> Any:
        return {"sub": token.subject, "scopes": sorted(token.scopes)}

    @app.post("/orders")
    async def create_order(
        token: Annotated[
            AccessToken, Security(guard.require_any_scope("order:write", "order:admin"))
        ],
    ) -> Any:
        return {"created_by": token.subject}

    @app.get("/me")
    async def me(
        request: Request, token: Annotated[AccessToken, Depends(guard.require_scopes())]
    ) -> Any:
        # The dependency also fills request.auth / request.user, Starlette style.
        return {"identity": request.user.identity, "scopes": sorted(request.auth.scopes)}

    @app.get("/maybe")
    async def maybe(token: Annotated[AccessToken | None, Depends(guard.optional())]) -> Any:
        return {"sub": token.subject if token else None}

    @app.get("/public")
    async def public() -> Any:
        return {"ok": True}

    @app.websocket("/ws")
    async def feed(
        websocket: WebSocket,
        token: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
    ) -> None:
        await websocket.accept()
        await websocket.send_text(f"hello {token.subject}")
        await websocket.close()

    return app


@pytest.fixture
def guard(verifier: Verifier) -> FastAPIGuard:
    return FastAPIGuard(verifier, realm=REALM, allow_query_token=True)


@pytest.fixture
async def client(guard: FastAPIGuard) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=build(guard))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("name", CASES)
async def test_contract(issuer: LocalIssuer, client: httpx2.AsyncClient, name: str) -> None:
    case = case_named(issuer, name)
    response = await client.get(f"/orders?{case.query}", headers=case.headers)
    check_contract(case, response)
    if case.status == 200:
        assert response.json() == {"sub": "local-client", "scopes": ["order:read"]}
    else:
        assert set(response.json()) <= {"error", "error_description", "scope"}


async def test_any_of_and_identity(issuer: LocalIssuer, client: httpx2.AsyncClient) -> None:
    admin = bearer(issuer.mint(scope="order:admin", sub="ops"))
    reader = bearer(issuer.mint(scope="order:read", sub="svc"))
    assert (await client.post("/orders", headers=admin)).json() == {"created_by": "ops"}
    refused = await client.post("/orders", headers=reader)
    assert refused.status_code == 403
    assert 'scope="order:write order:admin"' in refused.headers["www-authenticate"]
    me = await client.get("/me", headers=reader)
    assert me.json() == {"identity": "svc", "scopes": ["order:read"]}
    assert (await client.get("/me")).status_code == 401


async def test_optional_token(issuer: LocalIssuer, client: httpx2.AsyncClient) -> None:
    assert (await client.get("/maybe")).json() == {"sub": None}
    signed = await client.get("/maybe", headers=bearer(issuer.mint(sub="svc")))
    assert signed.json() == {"sub": "svc"}
    invalid = await client.get("/maybe", headers=bearer(issuer.mint(expires_in=-3600)))
    assert invalid.status_code == 401  # a bad token is never treated as anonymous


async def test_without_install_status_and_challenge_still_hold(
    issuer: LocalIssuer, guard: FastAPIGuard
) -> None:
    transport = httpx2.ASGITransport(app=build(guard, install=False))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        weak = await client.get("/orders", headers=bearer(issuer.mint(scope="x")))
        missing = await client.get("/orders")
    assert weak.status_code == 403
    assert weak.headers["www-authenticate"].startswith('Bearer realm="orders", error=')
    assert weak.json()["detail"]["error"] == "insufficient_scope"
    assert missing.headers["www-authenticate"] == f'Bearer realm="orders", {DPOP_CHALLENGE}'


async def test_middleware_result_is_reused(issuer: LocalIssuer, verifier: Verifier) -> None:
    counting = CountingVerifier(verifier)
    guard = FastAPIGuard(counting, realm=REALM)
    app = build(guard)
    app.add_middleware(GuardMiddleware, verifier=counting, mode="identify", realm=REALM)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/orders", headers=bearer(issuer.mint(scope="order:read")))
        assert response.status_code == 200
        assert counting.calls == 1  # verified once, by the middleware
        assert (await client.get("/orders")).status_code == 401


async def test_dependency_verifies_once_per_request(
    issuer: LocalIssuer, verifier: Verifier
) -> None:
    counting = CountingVerifier(verifier)
    guard = FastAPIGuard(counting)
    app = FastAPI()

    @app.get("/both")
    async def both(
        a: Annotated[AccessToken, Depends(guard.require_scopes("order:read"))],
        b: Annotated[AccessToken, Depends(guard.require_any_scope("order:read"))],
    ) -> Any:
        return {"same": a is b}

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/both", headers=bearer(issuer.mint(scope="order:read")))
    assert response.json() == {"same": True}
    assert counting.calls == 1


def test_openapi_bearer_scheme_and_scopes(guard: FastAPIGuard) -> None:
    schema = build(guard).openapi()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An OAuth 2.0 access token (JWT), RFC 6750.",
    }
    paths = schema["paths"]
    assert paths["/orders"]["get"]["security"] == [
        {"bearer": ["order:read"]},
        {"dpop": ["order:read"]},
    ]
    assert paths["/orders"]["post"]["security"] == [
        {"bearer": ["order:write", "order:admin"]},
        {"dpop": ["order:write", "order:admin"]},
    ]
    assert paths["/me"]["get"]["security"] == [{"bearer": []}, {"dpop": []}]
    assert "security" not in paths["/public"]["get"]


def test_openapi_client_credentials_flow(verifier: Verifier, issuer: LocalIssuer) -> None:
    guard = FastAPIGuard(
        verifier,
        token_url=issuer.token_endpoint,
        scope_descriptions={"order:read": "Read orders"},
        scheme_name="genauth",
    )
    schema = build(guard).openapi()
    scheme = schema["components"]["securitySchemes"]["genauth"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"] == {
        "clientCredentials": {
            "tokenUrl": issuer.token_endpoint,
            "scopes": {"order:read": "Read orders"},
        }
    }
    assert schema["paths"]["/orders"]["get"]["security"] == [
        {"genauth": ["order:read"]},
        {"dpop": ["order:read"]},
    ]


async def test_docs_page_is_served(client: httpx2.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_websocket_dependency(issuer: LocalIssuer) -> None:
    guard = FastAPIGuard(config=config_for(issuer), realm=REALM)
    app = build(guard, lifespan=guard.lifespan)
    with TestClient(app) as client:
        good = bearer(issuer.mint(scope="order:read", sub="svc"))
        with client.websocket_connect("/ws", headers=good) as socket:
            assert socket.receive_text() == "hello svc"
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws"):
            pass
        assert refused.value.status_code == 401
        assert (
            refused.value.headers["www-authenticate"] == f'Bearer realm="{REALM}", {DPOP_CHALLENGE}'
        )
        weak = bearer(issuer.mint(scope="order:write"))
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws", headers=weak),
        ):
            pass
        assert refused.value.status_code == 403
        assert refused.value.json()["error"] == "insufficient_scope"


def test_guard_lifespan_starts_with_the_issuer_down(issuer: LocalIssuer) -> None:
    issuer.fail("jwks")
    guard = FastAPIGuard(config=config_for(issuer))
    with TestClient(build(guard, lifespan=guard.lifespan)) as client:
        response = client.get("/orders", headers=bearer(issuer.mint(scope="order:read")))
        assert response.status_code == 503
        issuer.heal()
        response = client.get("/orders", headers=bearer(issuer.mint(scope="order:read")))
        assert response.status_code == 200


async def test_form_token_with_fastapi(issuer: LocalIssuer, verifier: Verifier) -> None:
    guard = FastAPIGuard(verifier, allow_form_token=True)
    app = FastAPI()
    guard.install(app)

    @app.post("/submit")
    async def submit(
        request: Request, token: Annotated[AccessToken, Depends(guard.require_scopes())]
    ) -> Any:
        # The body is still readable after the dependency looked into it.
        form = dict(parse_qsl((await request.body()).decode()))
        return {"item": form.get("item"), "sub": token.subject}

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        token = issuer.mint(sub="svc")
        response = await client.post("/submit", data={"item": "book", "access_token": token})
    assert response.json() == {"item": "book", "sub": "svc"}
