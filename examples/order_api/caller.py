"""A machine-to-machine caller of the order API, with the client_credentials grant.

Configured from the environment::

    GENAUTH_ISSUER=https://{app-domain}/oidc GENAUTH_CLIENT_ID=... \\
    GENAUTH_CLIENT_SECRET=... GENAUTH_SCOPE=order:read \\
    ORDER_API_URL=http://127.0.0.1:8000 python -m examples.order_api.caller

``GENAUTH_CLIENT_DPOP=1`` makes it a DPoP caller (``ClientCredentialsAuth(..., dpop=True)``).

One token serves every call until it nears expiry (see ``ClientCredentialsAuth``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from genauth_guard import ClientCredentialsAuth, ClientCredentialsError

__all__ = ["Call", "auth_from_env", "call", "main"]


@dataclass(frozen=True)
class Call:
    """One request the caller made and what came back."""

    method: str
    path: str
    status: int
    body: Any
    challenge: str | None


def auth_from_env(environ: Mapping[str, str], *, allow_http: bool = False) -> ClientCredentialsAuth:
    """Auth from GENAUTH_ISSUER, GENAUTH_CLIENT_ID, GENAUTH_CLIENT_SECRET, GENAUTH_SCOPE
    (and GENAUTH_CLIENT_DPOP)."""
    missing = [
        name
        for name in ("GENAUTH_ISSUER", "GENAUTH_CLIENT_ID", "GENAUTH_CLIENT_SECRET")
        if not environ.get(name)
    ]
    if missing:
        raise ValueError(f"environment variable(s) required: {', '.join(missing)}")
    return ClientCredentialsAuth(
        issuer=environ["GENAUTH_ISSUER"],
        client_id=environ["GENAUTH_CLIENT_ID"],
        client_secret=environ["GENAUTH_CLIENT_SECRET"],
        scope=environ.get("GENAUTH_SCOPE") or None,
        allow_http=allow_http,
        # DPoP (RFC 9449): tokens bound to a key this process holds; a leaked token or a
        # replayed request is refused. The order API accepts both schemes.
        dpop=environ.get("GENAUTH_CLIENT_DPOP", "").lower() in ("1", "true", "yes", "on"),
    )


async def call(api: httpx2.AsyncClient, method: str, path: str, json_body: Any = None) -> Call:
    """Make one call and keep what a reader needs: status, body, challenge."""
    response = await api.request(method, path, json=json_body)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Call(method, path, response.status_code, body, response.headers.get("www-authenticate"))


async def run(
    api_url: str, auth: ClientCredentialsAuth, transport: httpx2.AsyncBaseTransport | None = None
) -> list[Call]:
    """Read the orders, then try to place one; return what happened."""
    async with httpx2.AsyncClient(
        base_url=api_url, auth=auth, timeout=10, transport=transport
    ) as api:
        return [
            await call(api, "GET", "/api/private-scoped"),
            await call(api, "GET", "/api/orders"),
            await call(api, "POST", "/api/orders", {"item": "coffee beans", "quantity": 2}),
        ]


async def _run_from_env(api_url: str) -> list[Call]:
    async with auth_from_env(os.environ) as auth:  # closes its token client at the end
        return await run(api_url, auth)


def main() -> int:
    api_url = os.environ.get("ORDER_API_URL", "http://127.0.0.1:8000")
    try:
        calls = asyncio.run(_run_from_env(api_url))
    except (ValueError, ClientCredentialsError, httpx2.HTTPError) as exc:
        print(f"caller: {exc}", file=sys.stderr)
        return 1
    for made in calls:
        print(f"{made.method:4} {made.path:22} -> {made.status} {json.dumps(made.body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
