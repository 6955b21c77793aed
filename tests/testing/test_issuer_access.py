"""The local issuer's GenAuth console model: roles, users, groups and access policies.

Tokens are checked with joserfc, an implementation independent of the one that signs.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from test_issuer_cli import read_banner

from genauth_guard.testing import AccessDenied, ApplicationAccess, LocalIssuer


def jose_claims(issuer: LocalIssuer, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(httpx2.get(issuer.jwks_uri).json())
    decoded = jose_jwt.decode(token, keys, algorithms=["RS256"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": issuer.issuer},
        aud={"essential": True, "value": issuer.audience},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


@pytest.fixture
def console(issuer: LocalIssuer) -> LocalIssuer:
    """The order application: two roles, three users, a login client."""
    issuer.add_role("order-admin", "Administers orders", permissions=["order:read", "order:write"])
    issuer.add_role("order-clerk", "Takes orders", permissions=["order:read", "order:create"])
    issuer.add_user("alice", "alice-pw", roles=["order-admin"], groups=["hq"])
    issuer.add_user("bob", "bob-pw", roles=["order-clerk"], groups=["shop"])
    issuer.add_user("carol", "carol-pw", groups=["shop"])  # in no role
    issuer.add_client("order-console", "console-secret")
    return issuer


# -- rules, without HTTP -------------------------------------------------------------------


@pytest.fixture
def access() -> ApplicationAccess:
    model = ApplicationAccess()
    model.add_role("admin", permissions=["order:write", "order:read"])
    model.add_role("clerk", permissions=["order:read"])
    model.add_user("alice", roles=["admin"], groups=["hq"])
    model.add_user("bob", roles=["clerk"], groups=["shop"])
    model.add_user("carol", groups=["shop"])
    return model


def test_scopes_are_what_was_asked_and_what_the_roles_grant(access: ApplicationAccess) -> None:
    assert access.grant("alice", ["order:write", "order:delete", "openid"]) == ("order:write",)
    assert access.grant("alice", None) == ("order:read", "order:write")
    assert access.grant("bob", ["order:write"]) == ()
    assert access.grant("bob", ["order:read", "order:read"]) == ("order:read",)
    assert access.grant("carol", None) == ()
    access.assign_role("admin", "carol")
    assert access.grant("carol", ["order:write"]) == ("order:write",)
    assert access.roles_of("carol") == ("admin",)
    with pytest.raises(KeyError, match="dave"):
        access.grant("dave", None)


@pytest.mark.parametrize(
    ("default", "policies", "allowed"),
    [
        ("allow", [], {"alice", "bob", "carol"}),
        ("deny", [], set()),
        ("allow", [("deny", "user", "bob")], {"alice", "carol"}),
        ("allow", [("deny", "role", "clerk")], {"alice", "carol"}),
        ("allow", [("deny", "group", "shop")], {"alice"}),
        ("deny", [("allow", "role", "admin")], {"alice"}),
        ("deny", [("allow", "group", "shop")], {"bob", "carol"}),
        ("deny", [("allow", "user", "carol")], {"carol"}),
        # A deny always wins over an allow naming the same user another way.
        ("deny", [("allow", "group", "shop"), ("deny", "user", "bob")], {"carol"}),
        ("allow", [("allow", "user", "bob"), ("deny", "role", "clerk")], {"alice", "carol"}),
    ],
)
def test_access_policies(
    access: ApplicationAccess,
    default: Any,
    policies: list[tuple[Any, Any, str]],
    allowed: set[str],
) -> None:
    access.default_effect = default
    for effect, subject_type, subject in policies:
        access.add_policy(effect, subject_type, subject)
    assert {u for u in access.users if access.is_allowed(u)} == allowed
    for user in set(access.users) - allowed:
        with pytest.raises(AccessDenied, match=user):
            access.grant(user, None)


def test_the_model_refuses_nonsense(access: ApplicationAccess) -> None:
    with pytest.raises(ValueError, match="resource:action"):
        access.add_role("x", permissions=["order"])
    with pytest.raises(ValueError, match="without spaces"):
        access.add_role("order admin")
    with pytest.raises(KeyError, match="nobody"):
        access.assign_role("admin", "nobody")
    with pytest.raises(ValueError, match="effect"):
        access.add_policy("maybe", "user", "bob")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subject"):
        access.add_policy("deny", "org", "hq")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="effect"):
        access.default_effect = "sometimes"  # type: ignore[assignment]


# -- minting user tokens ---------------------------------------------------------------


def test_mint_for_user(console: LocalIssuer) -> None:
    before = int(time.time())
    claims = jose_claims(console, console.mint_for_user("alice", "order:write order:create"))
    assert claims["sub"] == "alice"
    assert claims["scope"] == "order:write"
    assert "roles" not in claims  # not asked for
    assert before <= claims["auth_time"] <= time.time()
    assert "acr" not in claims


def test_roles_claim_when_asked(console: LocalIssuer) -> None:
    by_scope = jose_claims(console, console.mint_for_user("alice", "order:read roles"))
    assert by_scope["roles"] == ["order-admin"]
    assert by_scope["scope"] == "order:read"  # "roles" asks for a claim, not a permission
    console.add_role("auditor", members=["alice"])
    by_flag = jose_claims(console, console.mint_for_user("alice", roles=True))
    assert by_flag["roles"] == ["auditor", "order-admin"]
    assert by_flag["scope"] == "order:read order:write"  # nothing asked: all granted
    nobody = jose_claims(console, console.mint_for_user("carol", "order:read", roles=True))
    assert nobody["roles"] == []
    assert "scope" not in nobody


def test_step_up_claims_are_settable(console: LocalIssuer) -> None:
    claims = jose_claims(
        console, console.mint_for_user("bob", acr="urn:genauth:mfa", auth_time=1_700_000_000)
    )
    assert (claims["acr"], claims["auth_time"]) == ("urn:genauth:mfa", 1_700_000_000)
    without = jose_claims(console, console.mint_for_user("bob", omit=["auth_time"]))
    assert "auth_time" not in without


def test_a_denied_user_gets_no_token(console: LocalIssuer) -> None:
    console.deny("group", "shop")
    with pytest.raises(AccessDenied):
        console.mint_for_user("bob")
    assert jose_claims(console, console.mint_for_user("alice"))["sub"] == "alice"
    console.set_default_access("deny")
    console.allow("role", "order-clerk")
    with pytest.raises(AccessDenied):
        console.mint_for_user("bob")  # allowed by role, denied by group: deny wins


# -- the password grant over HTTP ------------------------------------------------------

CONSOLE_AUTH = {"client_id": "order-console", "client_secret": "console-secret"}


def password_grant(issuer: LocalIssuer, **params: str) -> httpx2.Response:
    data = {"grant_type": "password", **CONSOLE_AUTH, **params}
    return httpx2.post(issuer.token_endpoint, data=data)


def test_password_grant_issues_the_users_token(console: LocalIssuer) -> None:
    response = password_grant(
        console, username="alice", password="alice-pw", scope="order:write order:delete roles"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "order:write"
    assert body["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    claims = jose_claims(console, body["access_token"])
    assert (claims["sub"], claims["scope"], claims["roles"]) == (
        "alice",
        "order:write",
        ["order-admin"],
    )
    assert abs(claims["auth_time"] - time.time()) < 60
    discovery = httpx2.get(console.discovery_url).json()
    assert "password" in discovery["grant_types_supported"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"username": "alice", "password": "wrong"}, "invalid_grant"),
        ({"username": "dave", "password": "alice-pw"}, "invalid_grant"),
        ({"username": "alice"}, "invalid_request"),
        ({"password": "alice-pw"}, "invalid_request"),
        ({"username": "bob", "password": "bob-pw"}, "access_denied"),
        ({"username": "alice", "password": "alice-pw", "audience": "elsewhere"}, "invalid_target"),
    ],
)
def test_password_grant_refusals(console: LocalIssuer, params: dict[str, str], error: str) -> None:
    console.deny("user", "bob")
    response = password_grant(console, **params)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert "access_token" not in response.json()
    assert "alice-pw" not in response.text


def test_password_grant_needs_client_authentication(console: LocalIssuer) -> None:
    data = {"grant_type": "password", "username": "alice", "password": "alice-pw"}
    response = httpx2.post(console.token_endpoint, data=data)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_user_without_a_password_cannot_log_in(console: LocalIssuer) -> None:
    console.add_user("robot")
    assert password_grant(console, username="robot", password="").json()["error"] == (
        "invalid_grant"
    )


# -- the CLI issuer ----------------------------------------------------------------------


@pytest.fixture
def cli_issuer() -> Iterator[dict[str, Any]]:
    command = [
        sys.executable, "-m", "genauth_guard", "issuer", "--port", "0",
        "--audience", "order-api",
        "--client", "order-console:console-secret:",
        "--role", "order-admin:order:read,order:write",
        "--user", "alice:alice-pw:order-admin",
        "--user", "bob:bob-pw",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield read_banner(process)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_cli_issuer_takes_roles_and_users(cli_issuer: dict[str, Any]) -> None:
    assert cli_issuer["roles"] == {"order-admin": ["order:read", "order:write"]}
    assert cli_issuer["users"] == {"alice": ["order-admin"], "bob": []}
    token_endpoint = str(cli_issuer["token_endpoint"])
    data = {"grant_type": "password", **CONSOLE_AUTH, "scope": "order:write roles"}
    alice = httpx2.post(token_endpoint, data={**data, "username": "alice", "password": "alice-pw"})
    bob = httpx2.post(token_endpoint, data={**data, "username": "bob", "password": "bob-pw"})
    keys = KeySet.import_key_set(httpx2.get(str(cli_issuer["jwks_uri"])).json())
    alice_claims = jose_jwt.decode(alice.json()["access_token"], keys, ["RS256"]).claims
    bob_claims = jose_jwt.decode(bob.json()["access_token"], keys, ["RS256"]).claims
    assert (alice_claims["scope"], alice_claims["roles"]) == ("order:write", ["order-admin"])
    assert ("scope" not in bob_claims, bob_claims["roles"]) == (True, [])


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--user", "only-an-id", "ID:PASSWORD"),
        ("--role", "order-admin", "CODE:PERMISSION"),
        ("--role", "order-admin:order", "resource:action"),
    ],
)
def test_cli_issuer_rejects_malformed_roles_and_users(
    option: str, value: str, expected: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genauth_guard", "issuer", "--port", "0", option, value],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
