"""The order API example honouring revocation (jwt+introspect), configured by GENAUTH_* only."""

from __future__ import annotations

import asyncio

import httpx2

from examples.order_api.app import create_app
from genauth_guard import ClientCredentialsAuth
from genauth_guard.testing import LocalIssuer


async def test_revocation_through_the_example(issuer: LocalIssuer) -> None:
    issuer.add_client("order-api", "api-secret")
    app = create_app(
        {
            "GENAUTH_ISSUER": issuer.issuer,
            "GENAUTH_AUDIENCE": "order-api",
            "GENAUTH_TOKEN_CHECK": "jwt+introspect",
            "GENAUTH_INTROSPECTION_CLIENT_ID": "order-api",
            "GENAUTH_INTROSPECTION_CLIENT_SECRET": "api-secret",
            "GENAUTH_INTROSPECTION_CACHE_TTL": "1",
        }
    )
    reader = ClientCredentialsAuth(
        issuer=issuer.issuer, client_id="order-reader", client_secret="reader-secret"
    )
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://orders") as api:
            assert (await api.get("/api/private-scoped", auth=reader)).status_code == 200
            token = await reader.aget_token()
            issuer.revoke(token)
            headers = {"authorization": f"Bearer {token}"}
            assert (await api.get("/api/private-scoped", headers=headers)).status_code == 200
            await asyncio.sleep(1.1)  # the app's cached "active" answer (1 s) runs out
            refused = await api.get("/api/private-scoped", headers=headers)
            assert refused.status_code == 401
            assert "not active" in refused.json()["error_description"]
    await reader.aclose()
