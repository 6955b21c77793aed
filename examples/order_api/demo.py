"""``make demo``: the order API story end to end, against the built-in local issuer.

Starts the local issuer (clients granted ``order:read``, nothing, ``order:write``; users
in the ``order-admin`` and ``order-clerk`` roles) and the order API under uvicorn on free
loopback ports, runs the callers, prints each call with its status, then stops everything
it started.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2

from genauth_guard import ClientCredentialsAuth
from genauth_guard.testing import LocalIssuer

from .caller import Call, call

AUDIENCE = "order-api"
CLIENTS = {
    "order-reader": ("reader-secret", ["order:read"]),
    "no-grants": ("nothing-secret", []),
    "order-writer": ("writer-secret", ["order:write"]),
}
# GenAuth's console model: application roles granted permissions, users in the roles.
# Users log in through the app "order-console" (password grant, development only).
ROLES = {
    "order-admin": ["order:read", "order:write"],
    "order-clerk": ["order:read", "order:write"],
}
USERS = {"alice": ("alice-pw", "order-admin"), "bob": ("bob-pw", "order-clerk")}
CONSOLE = ("order-console", "console-secret")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def order_api(issuer: LocalIssuer) -> Iterator[str]:
    """The example app under uvicorn, configured only through GENAUTH_* variables."""
    port = free_port()
    env = {**os.environ, "GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": AUDIENCE}
    env.pop("GENAUTH_JWKS_URI", None)  # discovered from the issuer, as in production
    command = [
        sys.executable, "-m", "uvicorn", "examples.order_api.app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise SystemExit("demo: the order API failed to start")
            try:
                if httpx2.get(f"{url}/api/public", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("demo: the order API did not answer within 20 s")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def show(who: str, made: Call, expected: int) -> bool:
    ok = made.status == expected
    mark = "ok " if ok else "!! "
    detail = ""
    if isinstance(made.body, dict):
        detail = made.body.get("error_description") or made.body.get("message") or ""
        if made.status == 201:
            detail = f"order #{made.body['id']} created by {made.body['created_by']}"
        elif "orders" in made.body:
            detail = f"{len(made.body['orders'])} order(s), read by {made.body['subject']}"
    elif made.status == 204:
        detail = "order deleted"
    print(f"{mark}{who:14} {made.method:4} {made.path:20} -> {made.status}  {detail}")
    if made.challenge and made.status in (401, 403):
        print(f"{'':18}WWW-Authenticate: {made.challenge}")
    return ok


async def user_token(issuer: LocalIssuer, user: str) -> str:
    """A user's token from the issuer's token endpoint, with the roles claim asked for."""
    client_id, client_secret = CONSOLE
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(
            issuer.token_endpoint,
            data={
                "grant_type": "password",
                "username": user,
                "password": USERS[user][0],
                "scope": "order:write roles",
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def story(issuer: LocalIssuer, api_url: str) -> bool:
    def auth(client_id: str) -> ClientCredentialsAuth:
        secret, _ = CLIENTS[client_id]
        return ClientCredentialsAuth(
            issuer=issuer.issuer, client_id=client_id, client_secret=secret
        )

    results: list[bool] = []
    async with httpx2.AsyncClient(base_url=api_url, timeout=10) as anonymous:
        results.append(show("anonymous", await call(anonymous, "GET", "/api/public"), 200))
        results.append(show("anonymous", await call(anonymous, "GET", "/api/private-scoped"), 401))
    steps = [
        ("no-grants", "GET", "/api/protected", None, 200),
        ("no-grants", "GET", "/api/private-scoped", None, 403),
        ("order-reader", "GET", "/api/private-scoped", None, 200),
        ("order-reader", "POST", "/api/orders", {"item": "tea", "quantity": 1}, 403),
        ("order-writer", "POST", "/api/orders", {"item": "coffee beans", "quantity": 2}, 201),
        ("order-reader", "GET", "/api/orders", None, 200),
        # The admin route needs order:write AND the order-admin role (a user's role).
        ("order-writer", "DELETE", "/api/orders/1", None, 403),  # M2M: no user, no role
        ("bob", "DELETE", "/api/orders/1", None, 403),  # order:write, but not an admin
        ("alice", "DELETE", "/api/orders/1", None, 204),  # order-admin
        ("order-reader", "GET", "/api/orders", None, 200),
    ]
    clients = {name: httpx2.AsyncClient(base_url=api_url, auth=auth(name)) for name in CLIENTS}
    for user in USERS:
        bearer = {"authorization": f"Bearer {await user_token(issuer, user)}"}
        clients[user] = httpx2.AsyncClient(base_url=api_url, headers=bearer)
    try:
        for who, method, path, body, expected in steps:
            made = await call(clients[who], method, path, body)
            results.append(show(who, made, expected))
        results.extend(await dpop_story(issuer, api_url))
    finally:
        for client in clients.values():
            await client.aclose()
            if isinstance(client.auth, ClientCredentialsAuth):
                await client.auth.aclose()
    return all(results)


async def dpop_story(issuer: LocalIssuer, api_url: str) -> list[bool]:
    """One DPoP call (RFC 9449), then its exact request replayed by someone who saw it."""
    secret, _ = CLIENTS["order-reader"]
    seen: list[httpx2.Request] = []

    async def eavesdrop(request: httpx2.Request) -> None:
        seen.append(request)  # what a logging proxy or a leaky trace would keep

    dpop_auth = ClientCredentialsAuth(
        issuer=issuer.issuer, client_id="order-reader", client_secret=secret, dpop=True
    )
    async with (
        dpop_auth,
        httpx2.AsyncClient(
            base_url=api_url, auth=dpop_auth, event_hooks={"request": [eavesdrop]}
        ) as client,
    ):
        made = await call(client, "GET", "/api/orders")
    results = [show("reader (DPoP)", made, 200)]
    captured = {k: v for k, v in seen[-1].headers.items() if k in ("authorization", "dpop")}
    async with httpx2.AsyncClient(base_url=api_url, headers=captured) as thief:
        results.append(show("replayer", await call(thief, "GET", "/api/orders"), 401))
    return results


def main() -> int:
    with LocalIssuer(audience=AUDIENCE) as issuer:
        for client_id, (secret, scopes) in CLIENTS.items():
            issuer.add_client(client_id, secret, scopes)
        issuer.add_client(*CONSOLE)
        for code, permissions in ROLES.items():
            issuer.add_role(code, permissions=permissions)
        for user, (password, role) in USERS.items():
            issuer.add_user(user, password, roles=[role])
        print(f"local issuer (development only): {issuer.issuer}")
        for client_id, (_, scopes) in CLIENTS.items():
            print(f"  client {client_id:13} granted: {' '.join(scopes) or '(nothing)'}")
        for user, (_, role) in USERS.items():
            print(f"  user   {user:13} role: {role} ({' '.join(ROLES[role])})")
        with order_api(issuer) as api_url:
            print(f"order API: {api_url}  (GENAUTH_ISSUER={issuer.issuer})\n")
            ok = asyncio.run(story(issuer, api_url))
        print(
            f"\ntoken requests at the issuer: {issuer.counts['token']} "
            f"(one per client and user, reused across calls); "
            f"JWKS fetches: {issuer.counts['jwks']}"
        )
    print("demo: every call answered as expected" if ok else "demo: UNEXPECTED RESULTS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
