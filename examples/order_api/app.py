"""The order API: GenAuth's "protect an Express API" quick start, in FastAPI.

Run it against any OIDC issuer (GenAuth cloud, the local issuer, another provider)::

    GENAUTH_ISSUER=https://{app-domain}/oidc GENAUTH_AUDIENCE={app-id} \\
        uvicorn examples.order_api.app:app

``GENAUTH_JWKS_URI`` is optional (otherwise discovered from the issuer). The
configuration is read when uvicorn loads ``app``: a missing variable stops the server
at startup with a message naming it, never at the first request.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at runtime.

import itertools
import os
import threading
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from genauth_guard import AccessToken, GuardConfig, GuardMiddleware, require_roles
from genauth_guard.fastapi import FastAPIGuard

__all__ = ["create_app"]


class NewOrder(BaseModel):
    item: str = Field(min_length=1, max_length=200)
    quantity: int = Field(default=1, ge=1, le=10_000)


class Order(NewOrder):
    id: int
    created_by: str | None


class OrderStore:
    """An in-memory order book (the example has no database)."""

    def __init__(self) -> None:
        self._orders: list[Order] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, order: NewOrder, subject: str | None) -> Order:
        with self._lock:
            created = Order(id=next(self._ids), created_by=subject, **order.model_dump())
            self._orders.append(created)
            return created

    def all(self) -> list[Order]:
        with self._lock:
            return list(self._orders)

    def remove(self, order_id: int) -> bool:
        with self._lock:
            kept = [o for o in self._orders if o.id != order_id]
            removed = len(kept) != len(self._orders)
            self._orders = kept
            return removed


def create_app(environ: Mapping[str, str] | None = None) -> FastAPI:
    """Build the order API from ``GENAUTH_*`` variables (raises ValueError if missing)."""
    config = GuardConfig.from_env(environ)
    guard = FastAPIGuard(config=config)
    app = FastAPI(title="Order API", version="1.0", lifespan=guard.lifespan)
    guard.install(app)
    # FastAPI reads and validates a request body before any dependency runs: the
    # middleware, sharing the guard's verifier, refuses callers without a valid token
    # first, so they never make the server read (or parse) a body. The dependencies
    # below reuse its verdict and check each route's scopes.
    app.add_middleware(
        GuardMiddleware,
        verifier=guard.verifier,
        public_paths=["/api/public", "/docs/*", "/redoc", "/openapi.json"],
        warm_up=False,  # guard.lifespan warms the keys and closes the verifier
    )
    store = OrderStore()

    Token = Annotated[AccessToken, Depends(guard.require_scopes())]
    Reader = Annotated[AccessToken, Depends(guard.require_scopes("order:read"))]
    Writer = Annotated[AccessToken, Depends(guard.require_scopes("order:write"))]
    # GenAuth role code and permission in one declaration: a user token from a member
    # of the order-admin role, asked with the "roles" scope so it carries the roles claim.
    Admin = Annotated[
        AccessToken, Depends(guard.require_scopes("order:write", require_roles("order-admin")))
    ]

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        return {"message": "Hello from a public endpoint! No token needed."}

    @app.get("/api/protected")
    async def protected(token: Token) -> dict[str, Any]:
        return {"message": "Hello from a protected endpoint!", "subject": token.subject}

    @app.get("/api/private-scoped")
    async def private_scoped(token: Reader) -> dict[str, Any]:
        return {
            "message": "Hello from a private endpoint! You need order:read to see this.",
            "subject": token.subject,
            "scopes": sorted(token.scopes),
        }

    @app.get("/api/orders")
    async def list_orders(token: Reader) -> dict[str, Any]:
        return {"subject": token.subject, "orders": [o.model_dump() for o in store.all()]}

    @app.post("/api/orders", status_code=201)
    async def create_order(order: NewOrder, token: Writer) -> Order:
        return store.add(order, token.subject)

    @app.delete("/api/orders/{order_id}", status_code=204)
    async def delete_order(order_id: int, token: Admin) -> None:
        """Delete an order: for members of the order-admin role."""
        if not store.remove(order_id):
            raise HTTPException(status_code=404, detail="no such order")

    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """``examples.order_api.app:app``, built on first access from the environment.

    Built lazily so that importing this module (tests, docs) needs no environment,
    while ``uvicorn examples.order_api.app:app`` reads it once at startup.
    """
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        try:
            _app = create_app(os.environ)
        except ValueError as exc:
            raise SystemExit(f"order API: cannot start: {exc}") from None
    return _app
