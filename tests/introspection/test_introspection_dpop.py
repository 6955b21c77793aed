"""DPoP (RFC 9449) with introspection: the proof, then the issuer's word, then cnf.jkt."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from genauth_guard import GuardConfig, GuardMiddleware
from genauth_guard._dpop_key import DPoPKey
from genauth_guard.testing import LocalIssuer

URL = "http://api.test/orders"


async def orders(request: Request) -> Response:
    return PlainTextResponse(request.user.identity)


def app(issuer: LocalIssuer, token_check: str) -> Any:
    config = GuardConfig(
        issuer=issuer.issuer,
        audience=issuer.audience,
        token_check=token_check,
        introspection_client_id="api",
        introspection_client_secret="api-s",
    )
    return GuardMiddleware(Starlette(routes=[Route("/orders", orders)]), config=config)


def dpop(key: DPoPKey, token: str) -> dict[str, str]:
    return {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, access_token=token)}


@pytest.mark.parametrize("token_check", ["introspect", "jwt+introspect"])
async def test_dpop_bound_tokens_through_introspection(
    issuer: LocalIssuer, token_check: str
) -> None:
    issuer.add_client("api", "api-s")
    key, other = DPoPKey.generate("ES256"), DPoPKey.generate("ES256")
    cnf = {"cnf": {"jkt": key.thumbprint}}
    if token_check == "introspect":
        token = issuer.mint_opaque(sub="svc", scope="order:read", claims=cnf)
    else:
        token = issuer.mint(sub="svc", scope="order:read", claims=cnf)
    guarded = app(issuer, token_check)
    transport = httpx2.ASGITransport(app=guarded)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        ok = await client.get("/orders", headers=dpop(key, token))
        assert (ok.status_code, ok.text) == (200, "svc")
        stolen = await client.get("/orders", headers=dpop(other, token))
        assert stolen.status_code == 401
        assert "DPoP" in stolen.headers["www-authenticate"]
        # RFC 9449 7.1: the same token as a bearer token is refused, then DPoP still works.
        bearer = await client.get("/orders", headers={"authorization": f"Bearer {token}"})
        assert bearer.status_code == 401
        assert "cnf" in bearer.json()["error_description"]
        assert (await client.get("/orders", headers=dpop(key, token))).status_code == 200
        issuer.revoke(token)
        guarded.verifier.cache.clear()  # as after the cache TTL
        revoked = await client.get("/orders", headers=dpop(key, token))
        assert revoked.status_code == 401
        assert "not active" in revoked.json()["error_description"]
    await guarded.verifier.aclose()
