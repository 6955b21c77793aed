"""GuardMiddleware and the Starlette decorators, against the local issuer's real JWKS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest
from _contract import CASES, DPOP_CHALLENGE, REALM, case_named, check_contract, config_for
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from genauth_guard._asgi import GuardMiddleware, TokenVerifier
from genauth_guard._token import AccessToken
from genauth_guard._verifier import Verifier
from genauth_guard.starlette import access_token, require_any_scope, require_scopes
from genauth_guard.testing import LocalIssuer

MODES = ["protect", "identify"]


@require_scopes("order:read")
async def orders(request: Request) -> Response:
    token = access_token(request)
    assert token is not None
    return JSONResponse({"sub": token.subject, "scopes": sorted(token.scopes)})


@require_scopes("order:read")
def orders_sync(request: Request) -> Response:
    return PlainTextResponse("sync ok")


@require_any_scope("order:read", "order:write")
async def orders_any(request: Request) -> Response:
    return PlainTextResponse("any ok")


@require_scopes()
async def signed_in(request: Request) -> Response:
    return PlainTextResponse(request.user.identity)


async def me(request: Request) -> Response:
    token = request.auth.token
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "identity": request.user.identity,
            "display_name": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
            "claims_sub": token.claims["sub"] if token is not None else None,
        }
    )


@requires("order:read")
async def legacy(request: Request) -> Response:
    return PlainTextResponse("starlette requires ok")


async def health(request: Request) -> Response:
    return PlainTextResponse("healthy")


async def form(request: Request) -> Response:
    data = dict(parse_qsl((await request.body()).decode()))  # no python-multipart needed
    return JSONResponse({"item": data.get("item"), "token_seen": "access_token" in data})


def build(verifier: TokenVerifier, mode: str = "protect", **options: Any) -> Starlette:
    routes = [
        Route("/orders", orders),
        Route("/orders-sync", orders_sync),
        Route("/orders-any", orders_any),
        Route("/signed-in", signed_in),
        Route("/me", me),
        Route("/legacy", legacy),
        Route("/health", health),
        Route("/docs", health),
        Route("/docs/{rest:path}", health),
        Route("/docsx", health),
        Route("/form", form, methods=["POST"]),
    ]
    options = {"public_paths": ["/health", "/docs/*"], "allow_query_token": True} | options
    middleware = Middleware(GuardMiddleware, verifier=verifier, mode=mode, realm=REALM, **options)
    return Starlette(routes=routes, middleware=[middleware])


async def client_for(app: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def protected(verifier: Verifier) -> AsyncIterator[httpx2.AsyncClient]:
    async with await client_for(build(verifier)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CASES)
async def test_contract(issuer: LocalIssuer, verifier: Verifier, mode: str, name: str) -> None:
    case = case_named(issuer, name)
    async with await client_for(build(verifier, mode)) as client:
        response = await client.get(f"/orders?{case.query}", headers=case.headers)
    check_contract(case, response)
    if case.status == 200:
        assert response.json() == {"sub": "local-client", "scopes": ["order:read"]}


async def test_claims_reach_the_handler(issuer: LocalIssuer, protected: httpx2.AsyncClient) -> None:
    token = issuer.mint(scope="order:read order:write", sub="svc-42")
    response = await protected.get("/me", headers=bearer(token))
    assert response.json() == {
        "authenticated": True,
        "identity": "svc-42",
        "display_name": "svc-42",
        "scopes": ["order:read", "order:write"],
        "claims_sub": "svc-42",
    }


async def test_protect_mode_guards_routes_without_decorators(protected: httpx2.AsyncClient) -> None:
    response = await protected.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer realm="{REALM}", {DPOP_CHALLENGE}'


async def test_identify_mode_lets_anonymous_callers_through(
    issuer: LocalIssuer, verifier: Verifier
) -> None:
    async with await client_for(build(verifier, "identify")) as client:
        anonymous = await client.get("/me")
        signed = await client.get("/me", headers=bearer(issuer.mint(scope="order:read")))
        invalid = await client.get("/me", headers=bearer(issuer.mint(expires_in=-3600)))
        basic = await client.get("/me", headers={"authorization": "Basic eDp5"})
        needs_token = await client.get("/signed-in")
    assert anonymous.json() == {
        "authenticated": False,
        "identity": "",
        "display_name": "",
        "scopes": [],
        "claims_sub": None,
    }
    assert signed.json()["authenticated"] is True
    # A token that is sent but invalid is refused, never treated as anonymous.
    assert invalid.status_code == 401
    assert invalid.json()["error"] == "invalid_token"
    assert basic.json()["authenticated"] is False  # another scheme: no bearer credentials
    assert needs_token.status_code == 401
    assert needs_token.headers["www-authenticate"] == f'Bearer realm="{REALM}", {DPOP_CHALLENGE}'


async def test_public_paths(issuer: LocalIssuer, protected: httpx2.AsyncClient) -> None:
    expired = bearer(issuer.mint(expires_in=-3600))
    for path in ["/health", "/docs", "/docs/", "/docs/oauth2-redirect"]:
        assert (await protected.get(path)).status_code == 200, path
        # Public paths are not inspected: a stale token does not break a health check.
        assert (await protected.get(path, headers=expired)).status_code == 200, path
    for path in ["/docsx", "/health/", "/me"]:
        assert (await protected.get(path)).status_code == 401, path


def test_public_path_patterns_are_checked(verifier: Verifier) -> None:
    with pytest.raises(ValueError, match="start with"):
        GuardMiddleware(health, verifier, public_paths=["health"])
    with pytest.raises(ValueError, match="final"):
        GuardMiddleware(health, verifier, public_paths=["/a*b"])
    with pytest.raises(ValueError, match="mode"):
        GuardMiddleware(health, verifier, mode="audit")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exactly one"):
        GuardMiddleware(health)


@pytest.mark.parametrize("mode", MODES)
async def test_starlette_requires_works(issuer: LocalIssuer, verifier: Verifier, mode: str) -> None:
    async with await client_for(build(verifier, mode)) as client:
        good = await client.get("/legacy", headers=bearer(issuer.mint(scope="order:read")))
        weak = await client.get("/legacy", headers=bearer(issuer.mint(scope="order:write")))
    assert good.status_code == 200
    assert good.text == "starlette requires ok"
    assert weak.status_code == 403


async def test_sync_endpoint_and_any_of(issuer: LocalIssuer, protected: httpx2.AsyncClient) -> None:
    reader = bearer(issuer.mint(scope="order:read"))
    writer = bearer(issuer.mint(scope="order:write"))
    nothing = bearer(issuer.mint(scope="profile"))
    assert (await protected.get("/orders-sync", headers=reader)).text == "sync ok"
    assert (await protected.get("/orders-sync", headers=writer)).status_code == 403
    assert (await protected.get("/orders-any", headers=writer)).text == "any ok"
    refused = await protected.get("/orders-any", headers=nothing)
    assert refused.status_code == 403
    assert 'scope="order:read order:write"' in refused.headers["www-authenticate"]


async def test_decorator_without_middleware(issuer: LocalIssuer) -> None:
    app = Starlette(routes=[Route("/orders", orders)])
    async with await client_for(app) as client:
        response = await client.get("/orders", headers=bearer(issuer.mint(scope="order:read")))
    # Without the middleware nothing verified the token: no credentials, 401.
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_query_token_is_off_by_default(issuer: LocalIssuer, verifier: Verifier) -> None:
    token = issuer.mint(scope="order:read")
    async with await client_for(build(verifier, allow_query_token=False)) as client:
        off = await client.get(f"/orders?access_token={token}")
    async with await client_for(build(verifier)) as client:
        on = await client.get(f"/orders?access_token={token}")
    assert off.status_code == 401
    assert on.status_code == 200


async def test_form_body_token(issuer: LocalIssuer, verifier: Verifier) -> None:
    token = issuer.mint(scope="order:read")
    async with await client_for(build(verifier, allow_form_token=True)) as client:
        ok = await client.post("/form", data={"item": "book", "access_token": token})
        twice = await client.post("/form", data={"access_token": token}, headers=bearer(token))
        missing = await client.post("/form", data={"item": "book"})
        big = await client.post("/form", data={"item": "x" * 70_000, "access_token": token})
    # The body was read for the token and handed on intact to the endpoint.
    assert ok.json() == {"item": "book", "token_seen": True}
    assert twice.status_code == 400
    assert twice.json()["error"] == "invalid_request"
    assert missing.status_code == 401
    assert big.status_code == 400
    async with await client_for(build(verifier)) as client:
        off = await client.post("/form", data={"item": "book", "access_token": token})
    assert off.status_code == 401


async def test_refusals_are_logged_without_the_token(
    issuer: LocalIssuer, verifier: Verifier, caplog: pytest.LogCaptureFixture
) -> None:
    expired = issuer.mint(scope="order:read", expires_in=-3600)
    good = issuer.mint(scope="order:read")
    caplog.set_level(logging.DEBUG, logger="genauth_guard")
    async with await client_for(build(verifier)) as client:
        await client.get(f"/orders?secret=1&access_token={expired}")
        await client.get("/orders", headers=bearer(expired))
        issuer.fail("jwks")
        fresh = Verifier(config_for(issuer))
        async with fresh, await client_for(build(fresh)) as down:
            assert (await down.get("/orders", headers=bearer(good))).status_code == 503
    assert expired not in caplog.text
    assert good not in caplog.text
    assert "secret=1" not in caplog.text
    levels = {r.levelno for r in caplog.records if r.name == "genauth_guard"}
    assert logging.INFO in levels  # invalid_token
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("refused" in r.getMessage() and "503" in r.getMessage() for r in warnings)


class RecordingSend:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


async def test_streaming_responses_are_untouched(issuer: LocalIssuer, verifier: Verifier) -> None:
    sent: list[dict[str, Any]] = []

    async def streaming_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"one", b"two", b"three"):
            message = {"type": "http.response.body", "body": chunk, "more_body": True}
            sent.append(message)
            await send(message)
        await send({"type": "http.response.body", "body": b""})

    record = RecordingSend()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "headers": [(b"authorization", f"Bearer {issuer.mint()}".encode())],
        "query_string": b"",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await GuardMiddleware(streaming_app, verifier)(scope, receive, record)
    # The very message objects the app sent reach the server: send is not wrapped.
    assert [m for m in record.messages if m.get("more_body")] == sent
    assert all(a is b for a, b in zip(record.messages[1:4], sent, strict=True))


async def test_streaming_response_through_starlette(
    issuer: LocalIssuer, verifier: Verifier
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for n in range(3):
            yield f"chunk {n}\n".encode()
            await asyncio.sleep(0)

    async def stream(request: Request) -> Response:
        return StreamingResponse(chunks(), media_type="text/plain")

    app = Starlette(
        routes=[Route("/stream", stream)],
        middleware=[Middleware(GuardMiddleware, verifier=verifier)],
    )
    async with await client_for(app) as client:
        response = await client.get("/stream", headers=bearer(issuer.mint()))
    assert response.text == "chunk 0\nchunk 1\nchunk 2\n"


async def lifespan(app: Any) -> tuple[list[str], Any]:
    """Drive a lifespan scope by hand: startup, then shutdown on demand."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: list[str] = []
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        outbox.append(message["type"])
        started.set()

    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, inbox.get, send))
    await started.wait()
    return outbox, (inbox, task)


async def shutdown(handle: Any) -> None:
    inbox, task = handle
    await inbox.put({"type": "lifespan.shutdown"})
    await task


async def test_warm_up_fetches_keys_at_startup(issuer: LocalIssuer) -> None:
    app = GuardMiddleware(Starlette(), config=config_for(issuer))
    outbox, handle = await lifespan(app)
    assert outbox == ["lifespan.startup.complete"]
    assert app._warm_task is not None
    await app._warm_task
    assert issuer.counts["jwks"] == 1
    await shutdown(handle)
    assert outbox[-1] == "lifespan.shutdown.complete"


@pytest.mark.parametrize("fault", ["error", "hang"])
async def test_app_starts_with_the_issuer_down(
    issuer: LocalIssuer, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.fail("jwks", fault)  # type: ignore[arg-type]
    issuer.fail("discovery", fault)  # type: ignore[arg-type]
    app = GuardMiddleware(Starlette(), config=config_for(issuer))
    outbox, handle = await lifespan(app)
    # Startup completes even while the key fetch fails or hangs.
    assert outbox == ["lifespan.startup.complete"]
    if fault == "error":
        assert app._warm_task is not None
        await app._warm_task
        assert "warm-up failed" in caplog.text
    await shutdown(handle)  # cancels a hanging warm-up, closes the owned verifier
    assert outbox[-1] == "lifespan.shutdown.complete"


async def test_no_warm_up_when_disabled(issuer: LocalIssuer, verifier: Verifier) -> None:
    app = GuardMiddleware(Starlette(), verifier, warm_up=False)
    outbox, handle = await lifespan(app)
    await shutdown(handle)
    assert outbox == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert issuer.counts["jwks"] == 0


def test_scope_objects_are_starlette_shaped(issuer: LocalIssuer) -> None:
    from genauth_guard._asgi import AnonymousUser, BearerAuth, TokenUser

    token = AccessToken(
        claims={"sub": "x"},
        header={},
        scopes=frozenset({"a"}),
        subject=None,
        client_id="client-7",
        issuer=issuer.issuer,
        expires_at=0,
    )
    user = TokenUser(token)
    assert (user.is_authenticated, user.identity, user.display_name) == (
        True,
        "client-7",
        "client-7",
    )
    assert BearerAuth(token).scopes == ["a"]
    assert BearerAuth().scopes == []
    auth = BearerAuth(token)
    auth.scopes.append("b")  # one list per request, built lazily: edits stay visible
    assert auth.scopes == ["a", "b"]
    assert BearerAuth(token).scopes == ["a"]
    assert not AnonymousUser().is_authenticated
    assert "eyJ" not in repr(user) + repr(BearerAuth(token))
