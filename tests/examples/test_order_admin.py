"""The order API's admin route: the order-admin role and order:write, in one declaration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from examples.order_api import demo
from examples.order_api.app import create_app
from genauth_guard.testing import LocalIssuer


@pytest.fixture
async def api(issuer: LocalIssuer) -> AsyncIterator[httpx2.AsyncClient]:
    for code, permissions in demo.ROLES.items():
        issuer.add_role(code, permissions=permissions)
    for user, (password, role) in demo.USERS.items():
        issuer.add_user(user, password, roles=[role])
    issuer.add_client(*demo.CONSOLE)
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://orders") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def place_order(api: httpx2.AsyncClient, issuer: LocalIssuer) -> int:
    writer = bearer(issuer.mint(scope="order:write", sub="order-writer"))
    created = await api.post("/api/orders", json={"item": "tea"}, headers=writer)
    assert created.status_code == 201
    return int(created.json()["id"])


async def test_admin_deletes_over_the_password_grant(
    api: httpx2.AsyncClient, issuer: LocalIssuer
) -> None:
    order = await place_order(api, issuer)
    alice = bearer(await demo.user_token(issuer, "alice"))
    deleted = await api.delete(f"/api/orders/{order}", headers=alice)
    assert deleted.status_code == 204
    again = await api.delete(f"/api/orders/{order}", headers=alice)
    assert again.status_code == 404  # the handler ran: the order is gone
    reader = bearer(issuer.mint(scope="order:read"))
    assert (await api.get("/api/orders", headers=reader)).json()["orders"] == []


@pytest.mark.parametrize(
    "who",
    ["bob", "m2m", "alice-without-roles-scope", "alice-without-write"],
)
async def test_everyone_else_is_403_and_nothing_is_deleted(
    api: httpx2.AsyncClient, issuer: LocalIssuer, who: str
) -> None:
    order = await place_order(api, issuer)
    token = {
        "bob": lambda: issuer.mint_for_user("bob", "order:write", roles=True),
        "m2m": lambda: issuer.mint(scope="order:write", sub="order-writer"),
        # Without the roles scope the token has no roles claim: a role cannot be proven.
        "alice-without-roles-scope": lambda: issuer.mint_for_user("alice", "order:write"),
        "alice-without-write": lambda: issuer.mint_for_user("alice", "order:read roles"),
    }[who]()
    refused = await api.delete(f"/api/orders/{order}", headers=bearer(token))
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "insufficient_scope"
    if who == "alice-without-write":  # the scope is checked first, and named
        assert 'scope="order:write"' in refused.headers["www-authenticate"]
    else:
        assert body["error_description"] == "requires role order-admin"
        assert "scope=" not in refused.headers["www-authenticate"]
    reader = bearer(issuer.mint(scope="order:read"))
    assert len((await api.get("/api/orders", headers=reader)).json()["orders"]) == 1


def test_docs_say_the_admin_route_needs_the_role(issuer: LocalIssuer) -> None:
    app = create_app({"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"})
    operation = app.openapi()["paths"]["/api/orders/{order_id}"]["delete"]
    assert {"bearer": ["order:write"]} in operation["security"]
    assert "role order-admin" in operation["description"]
    assert operation["description"].startswith("Delete an order")
