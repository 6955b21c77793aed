"""The contract's test app in Flask: the routes the Starlette tests use, same story.

``create_app()`` reads ``GENAUTH_*`` from the environment, so gunicorn can serve it:
``gunicorn '_flask_app:create_app()'``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from genauth_guard.flask import GenAuthGuard, access_token, require_any_scope, require_scopes


def create_app(**settings: Any) -> Flask:
    app = Flask("contract")
    app.config.update({"GENAUTH_REALM": "orders", "GENAUTH_PUBLIC_PATHS": ["/health", "/docs/*"]})
    app.config.update(settings)
    GenAuthGuard(app)

    @app.get("/orders")
    @require_scopes("order:read")
    def orders() -> dict[str, Any]:
        token = access_token()
        assert token is not None
        return {"sub": token.subject, "scopes": sorted(token.scopes)}

    @app.get("/orders-any")
    @require_any_scope("order:read", "order:write")
    def orders_any() -> str:
        return "any ok"

    @app.get("/orders-async")
    @require_scopes("order:read")
    async def orders_async() -> str:
        return "async ok"

    @app.get("/signed-in")
    @require_scopes()
    def signed_in() -> str:
        return g.access_token.subject  # type: ignore[no-any-return]

    @app.get("/me")
    def me() -> dict[str, Any]:
        token = access_token()
        return {"authenticated": token is not None, "sub": token.subject if token else None}

    @app.get("/health")
    def health() -> str:
        return "healthy"

    @app.get("/public")
    def public() -> str:
        return "ok"

    return app
