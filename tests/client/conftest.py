"""Client tests: a controllable clock, an auth factory, a real tiny API and a tamperer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genauth_guard._client import ClientCredentialsAuth
from genauth_guard.testing import LocalIssuer, ManualClock, serve

READER_SECRET = "reader-secret"
AUDIENCE = "order-api"


@pytest.fixture(scope="module")
def module_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        yield running


@pytest.fixture
def issuer(module_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    """Overrides the root fixture: one issuer per module, reset to a fresh state per test.

    Starting and stopping an issuer costs more than most of these tests; what they
    change (faults, counters, clients, audiences, lifetime) is reset here.
    """
    running = module_issuer
    ttl, hang = running.token_ttl, running.hang_seconds
    running.heal()
    running.reset_counts()
    running.clients.clear()
    running.audiences = {AUDIENCE}
    running.add_client("order-reader", READER_SECRET, ["order:read"])
    running.add_client("order-writer", "writer-secret", ["order:read", "order:write"])
    running.add_client("nobody", "nobody-secret", [])
    yield running
    running.heal()  # ends requests still hanging
    running.token_ttl, running.hang_seconds = ttl, hang


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


MakeAuth = Callable[..., ClientCredentialsAuth]


@pytest.fixture
def make_auth(issuer: LocalIssuer, clock: ManualClock) -> Iterator[MakeAuth]:
    """ClientCredentialsAuth for order-reader at the issuer; no backoff waits."""
    made: list[ClientCredentialsAuth] = []

    def make(**overrides: Any) -> ClientCredentialsAuth:
        params: dict[str, Any] = {
            "issuer": issuer.issuer,
            "client_id": "order-reader",
            "client_secret": READER_SECRET,
            "scope": "order:read",
            "backoff": 0,
            "clock": clock,
        }
        if "token_url" in overrides:
            del params["issuer"]
        params.update(overrides)
        auth = ClientCredentialsAuth(**params)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        auth.close()


class OrderApi:
    """A tiny real API: tokens in ``revoked`` (or all, with ``reject_all``) get a 401."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/orders", self.orders, methods=["GET", "POST"])])
        self.reset()

    def reset(self) -> None:
        self.revoked: set[str] = set()
        self.reject_all = False
        self.status = 401
        self.challenge = 'Bearer realm="orders", error="invalid_token", error_description="revoked"'
        self.seen: list[tuple[str, bytes]] = []

    async def orders(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        body = await request.body()
        self.seen.append((authorization, body))
        token = authorization.removeprefix("Bearer ")
        if self.reject_all or token in self.revoked:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=self.status,
                headers={"www-authenticate": self.challenge},
            )
        return JSONResponse({"orders": [], "echo": body.decode()})

    @property
    def tokens(self) -> list[str]:
        return [auth.removeprefix("Bearer ") for auth, _ in self.seen]


@pytest.fixture(scope="module")
def module_api() -> Iterator[tuple[OrderApi, str]]:
    order_api = OrderApi()
    with serve(order_api.app) as url:
        yield order_api, url


@pytest.fixture
def api(module_api: tuple[OrderApi, str]) -> tuple[OrderApi, str]:
    """A real order API over HTTP (module-wide server, state reset per test)."""
    module_api[0].reset()
    return module_api


Edit = Callable[[int, Any], tuple[int, bytes]]


class Tamper(httpx2.BaseTransport):
    """Real HTTP to the issuer, then the token response is rewritten by ``edit``.

    The local issuer always answers well-formed; this reaches the malformed cases
    while the request still goes to (and is counted by) the real issuer.
    """

    def __init__(self, edit: Edit) -> None:
        self.inner = httpx2.HTTPTransport()
        self.edit = edit

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        response.close()
        if not request.url.path.endswith("/token"):
            return httpx2.Response(response.status_code, headers=response.headers, content=content)
        status, body = self.edit(response.status_code, json.loads(content))
        return httpx2.Response(status, headers={"content-type": "application/json"}, content=body)

    def close(self) -> None:
        self.inner.close()


def tampered(edit: Callable[[dict[str, Any]], Any], status: int | None = None) -> httpx2.Client:
    """A token client whose responses are ``edit(body)`` as JSON, or raw if bytes."""

    def rewrite(code: int, body: Any) -> tuple[int, bytes]:
        edited = edit(body)
        raw = edited if isinstance(edited, bytes) else json.dumps(edited).encode()
        return status or code, raw

    return httpx2.Client(transport=Tamper(rewrite))


Tampered = Callable[..., httpx2.Client]


@pytest.fixture
def tamper() -> Iterator[Tampered]:
    """``tamper(edit, status=None)``: a token http client rewriting token responses."""
    clients: list[httpx2.Client] = []

    def make(edit: Callable[[dict[str, Any]], Any], status: int | None = None) -> httpx2.Client:
        client = tampered(edit, status)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
