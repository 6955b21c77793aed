"""The order API in Flask: the same routes and the same 401/403/200/201 story.

Run it against any OIDC issuer::

    GENAUTH_ISSUER=https://{app-domain}/oidc GENAUTH_AUDIENCE={app-id} \\
        gunicorn --threads 8 'examples.order_api.flask_app:create_app()'

Every route but ``/api/public`` needs a valid token (protect mode); scopes are
checked per view. The configuration is read at startup (``GENAUTH_*`` from
``app.config``, then the environment): a missing variable stops the server there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request

from genauth_guard import require_roles
from genauth_guard.flask import GenAuthGuard, require_scopes

from .orders import OrderStore, new_order

__all__ = ["create_app"]


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """Build the order API; ``settings`` go to ``app.config`` (e.g. GENAUTH_ISSUER)."""
    app = Flask(__name__)
    app.config["GENAUTH_PUBLIC_PATHS"] = ["/api/public"]
    app.config.update(settings or {})
    GenAuthGuard(app)
    store = OrderStore()

    @app.get("/api/public")
    def public() -> dict[str, Any]:
        return {"message": "Hello from a public endpoint! No token needed."}

    @app.get("/api/protected")
    @require_scopes()
    def protected() -> dict[str, Any]:
        return {"message": "Hello from a protected endpoint!", "subject": g.access_token.subject}

    @app.get("/api/private-scoped")
    @require_scopes("order:read")
    def private_scoped() -> dict[str, Any]:
        token = g.access_token
        return {
            "message": "Hello from a private endpoint! You need order:read to see this.",
            "subject": token.subject,
            "scopes": sorted(token.scopes),
        }

    @app.get("/api/orders")
    @require_scopes("order:read")
    def list_orders() -> dict[str, Any]:
        return {"subject": g.access_token.subject, "orders": store.all()}

    @app.post("/api/orders")
    @require_scopes("order:write")
    def create_order() -> tuple[dict[str, Any], int]:
        order = new_order(request.get_json(silent=True))
        if order is None:
            return {"error": "invalid_order", "error_description": "item and quantity"}, 422
        return store.add(order, g.access_token.subject), 201

    @app.delete("/api/orders/<int:order_id>")
    @require_scopes("order:write", require_roles("order-admin"))
    def delete_order(order_id: int) -> tuple[dict[str, Any] | str, int]:
        """Delete an order: for members of the order-admin role."""
        if not store.remove(order_id):
            return {"error": "not_found", "error_description": "no such order"}, 404
        return "", 204

    return app
