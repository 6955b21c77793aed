"""The order API example end to end against the local issuer, as in `make demo`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx2
import pytest

from examples.order_api import demo
from examples.order_api.app import create_app
from examples.order_api.caller import auth_from_env, run
from genauth_guard import ClientCredentialsAuth
from genauth_guard.testing import LocalIssuer


@pytest.fixture
async def api(issuer: LocalIssuer) -> AsyncIterator[httpx2.AsyncClient]:
    """The example app in-process, configured only through GENAUTH_* variables."""
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://orders") as client:
            yield client


def auth(issuer: LocalIssuer, client_id: str, secret: str) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(issuer=issuer.issuer, client_id=client_id, client_secret=secret)


async def test_public_needs_no_token(api: httpx2.AsyncClient) -> None:
    response = await api.get("/api/public")
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/protected", "/api/private-scoped", "/api/orders"])
async def test_no_token_is_401_with_a_bare_challenge(api: httpx2.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert "error=" not in response.headers["www-authenticate"]


async def test_the_scope_story(api: httpx2.AsyncClient, issuer: LocalIssuer) -> None:
    nobody = auth(issuer, "nobody", "nobody-secret")
    reader = auth(issuer, "order-reader", "reader-secret")
    writer = auth(issuer, "order-writer", "writer-secret")

    assert (await api.get("/api/protected", auth=nobody)).status_code == 200
    denied = await api.get("/api/private-scoped", auth=nobody)
    assert denied.status_code == 403
    assert 'scope="order:read"' in denied.headers["www-authenticate"]
    assert denied.json()["error"] == "insufficient_scope"

    scoped = await api.get("/api/private-scoped", auth=reader)
    assert scoped.status_code == 200
    assert scoped.json()["subject"] == "order-reader"

    refused = await api.post("/api/orders", json={"item": "tea"}, auth=reader)
    assert refused.status_code == 403
    assert 'scope="order:write"' in refused.headers["www-authenticate"]

    created = await api.post("/api/orders", json={"item": "tea", "quantity": 3}, auth=writer)
    assert created.status_code == 201
    assert created.json() == {"item": "tea", "quantity": 3, "id": 1, "created_by": "order-writer"}

    listed = await api.get("/api/orders", auth=reader)
    assert listed.json()["orders"] == [created.json()]
    assert issuer.counts["token"] == 3  # one token per caller, reused


async def test_bad_order_is_422_not_500(api: httpx2.AsyncClient, issuer: LocalIssuer) -> None:
    writer = auth(issuer, "order-writer", "writer-secret")
    response = await api.post("/api/orders", json={"quantity": -1}, auth=writer)
    assert response.status_code == 422


async def test_expired_token_says_so(api: httpx2.AsyncClient, issuer: LocalIssuer) -> None:
    token = issuer.mint(scope="order:read", expires_in=-3600)
    response = await api.get("/api/orders", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["error_description"]
    assert token not in response.text


@pytest.mark.parametrize("dpop", ["", "1"], ids=["bearer", "dpop"])
async def test_caller_reads_and_is_refused_writing(issuer: LocalIssuer, dpop: str) -> None:
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    env = {
        "GENAUTH_ISSUER": issuer.issuer,
        "GENAUTH_CLIENT_ID": "order-reader",
        "GENAUTH_CLIENT_SECRET": "reader-secret",
        "GENAUTH_SCOPE": "order:read",
        "GENAUTH_CLIENT_DPOP": dpop,
    }
    auth = auth_from_env(env)
    assert (auth.dpop_key is not None) == bool(dpop)
    async with app.router.lifespan_context(app):
        calls = await run("http://orders", auth, transport=httpx2.ASGITransport(app))
    assert [c.status for c in calls] == [200, 200, 403]
    assert calls[2].challenge is not None
    # The refusal is answered in the scheme the caller used (RFC 6750 / RFC 9449 7.1).
    scheme = "DPoP" if dpop else "Bearer"
    assert f'{scheme} realm="api", ' in calls[2].challenge
    assert 'error="insufficient_scope"' in calls[2].challenge.split(f"{scheme} realm=")[1]


def test_caller_config_names_missing_variables() -> None:
    with pytest.raises(ValueError, match="GENAUTH_CLIENT_SECRET"):
        auth_from_env({"GENAUTH_ISSUER": "https://x.example/oidc", "GENAUTH_CLIENT_ID": "a"})


@pytest.mark.parametrize("missing", ["GENAUTH_AUDIENCE", "GENAUTH_ISSUER"])
def test_missing_configuration_fails_at_startup(missing: str) -> None:
    env = {"GENAUTH_ISSUER": "http://127.0.0.1:9/oidc", "GENAUTH_AUDIENCE": "order-api"}
    del env[missing]
    with pytest.raises(ValueError, match=missing):
        create_app(env)
    # Under uvicorn: the server refuses to start and says which variable is missing.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GENAUTH_")}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "examples.order_api.app:app", "--port", "0"],
        env={**full_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert missing in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_runs_end_to_end_under_uvicorn(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main() == 0
    out = capsys.readouterr().out
    for line in ("-> 401", "-> 403", "-> 200", "-> 201", "-> 204"):
        assert line in out
    assert "every call answered as expected" in out
    assert "reader (DPoP)  GET  /api/orders          -> 200" in out
    assert "DPoP proof replayed" in out


async def test_no_token_is_refused_before_the_body_is_read(issuer: LocalIssuer) -> None:
    """Finding 12: neither a malformed nor a huge body is read without a valid token."""
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    received: list[str] = []
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        received.append("http.request")
        return {"type": "http.request", "body": b"{not json" * 1000, "more_body": True}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/orders",
        "raw_path": b"/api/orders",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"56000000")],
        "client": ("127.0.0.1", 5000),
        "server": ("orders", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 401
    assert received == []  # the body was never read


async def test_malformed_json_without_a_token_is_401_not_422(api: httpx2.AsyncClient) -> None:
    response = await api.post(
        "/api/orders", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/api/public"])
async def test_public_paths_stay_open(api: httpx2.AsyncClient, path: str) -> None:
    assert (await api.get(path)).status_code == 200
