"""Per-route requirements as data: one table every adapter's tests run (HTTP and websocket).

Each case is a route declaration (scopes mixed with requirement objects), a token and
the answer the contract table (docs/asgi.md) fixes for it. An adapter's test builds a
route per case from ``declaration`` and checks the answer with :func:`check_answer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genauth_guard import (
    AccessToken,
    Requirement,
    claim_check,
    claim_equals,
    claim_includes,
    claim_includes_any,
    require_any_role,
    require_roles,
    require_step_up,
)
from genauth_guard.testing import LocalIssuer

#: Subjects refused by the deny-list predicate; tests change it between two requests.
DENIED: set[str] = set()


def not_denied(token: AccessToken) -> bool:
    return token.subject not in DENIED


def explodes(token: AccessToken) -> bool:
    raise RuntimeError("a bug in the application's predicate")


@dataclass(frozen=True)
class Declared:
    """A route declaration: ``require_scopes(*items)`` or ``require_any_scope(*items)``."""

    items: tuple[str | Requirement, ...]
    any_scope: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    declared: Declared
    status: int
    scope: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    omit: tuple[str, ...] = ()
    error: str | None = None
    describe: str | None = None  # text the error_description must contain
    challenge: tuple[str, ...] = ()  # auth-params the challenge must carry
    absent: tuple[str, ...] = ()  # auth-params it must not carry
    anonymous: bool = False  # send no token at all


TENANT = Declared((claim_equals("tenant", "acme"),))
GROUPS_ALL = Declared((claim_includes("groups", "ops", "eu"),))
GROUPS_ANY = Declared((claim_includes_any("groups", "ops", "dev"),))
ADMIN = Declared((require_roles("order-admin"),))
ANY_ROLE = Declared((require_any_role("order-admin", "order-auditor"),))
CUSTOM_CLAIM_ROLE = Declared((require_roles("admin", claim="role"),))
NOT_DENIED = Declared((claim_check(not_denied, "a subject not on the deny list"),))
BROKEN = Declared((claim_check(explodes),))
MFA = Declared((require_step_up(acr_values=["urn:genauth:mfa", "urn:genauth:hwk"]),))
RECENT = Declared((require_step_up(max_age=300),))
WRITE_AND_ADMIN = Declared(("order:write", require_roles("order-admin")))
ANY_WRITE_AND_ADMIN = Declared(("order:write", "order:admin", require_roles("order-admin")), True)
# Declared step-up first on purpose: it is still checked after the role.
STEP_UP_AND_ADMIN = Declared((require_step_up(max_age=60), require_roles("order-admin")))

NOW = time.time()
INSUFFICIENT = "insufficient_scope"
STEP_UP = "insufficient_user_authentication"

CASES: list[Case] = [
    Case("equals", TENANT, 200, claims={"tenant": "acme"}),
    Case("equals other value", TENANT, 403, claims={"tenant": "evil"}, error=INSUFFICIENT,
         describe="tenant", absent=("scope",)),
    Case("equals missing", TENANT, 403, error=INSUFFICIENT, describe="tenant"),
    Case("equals list", TENANT, 403, claims={"tenant": ["acme"]}, error=INSUFFICIENT),
    Case("includes all, list", GROUPS_ALL, 200, claims={"groups": ["eu", "x", "ops"]}),
    Case("includes all, string", GROUPS_ALL, 200, claims={"groups": "ops eu"}),
    Case("includes all, one missing", GROUPS_ALL, 403, claims={"groups": ["ops"]},
         error=INSUFFICIENT, describe="groups"),
    Case("includes all, wrong type", GROUPS_ALL, 403, claims={"groups": {"ops": 1, "eu": 1}},
         error=INSUFFICIENT),
    Case("includes any", GROUPS_ANY, 200, claims={"groups": ["dev"]}),
    Case("includes any, none", GROUPS_ANY, 403, claims={"groups": []}, error=INSUFFICIENT),
    Case("includes any, number", GROUPS_ANY, 403, claims={"groups": 7}, error=INSUFFICIENT),
    Case("role", ADMIN, 200, claims={"roles": ["order-clerk", "order-admin"]}),
    Case("role as string", ADMIN, 200, claims={"roles": "order-admin"}),
    Case("role missing", ADMIN, 403, claims={"roles": ["order-clerk"]}, error=INSUFFICIENT,
         describe="requires role order-admin", absent=("scope",)),
    Case("role near miss", ADMIN, 403, claims={"roles": ["order-admins", "ORDER-ADMIN"]},
         error=INSUFFICIENT),
    Case("no roles claim", ADMIN, 403, error=INSUFFICIENT, describe="order-admin"),
    Case("roles null", ADMIN, 403, claims={"roles": None}, error=INSUFFICIENT),
    Case("any role", ANY_ROLE, 200, claims={"roles": ["order-auditor"]}),
    Case("any role, none", ANY_ROLE, 403, claims={"roles": ["order-clerk"]}, error=INSUFFICIENT),
    Case("role in another claim", CUSTOM_CLAIM_ROLE, 200, claims={"role": ["admin"]}),
    Case("role in another claim, missing", CUSTOM_CLAIM_ROLE, 403, claims={"roles": ["admin"]},
         error=INSUFFICIENT),
    Case("predicate", NOT_DENIED, 200),
    Case("predicate raises", BROKEN, 403, error=INSUFFICIENT, describe="explodes"),
    Case("acr", MFA, 200, claims={"acr": "urn:genauth:hwk"}),
    Case("acr too weak", MFA, 401, claims={"acr": "urn:genauth:pwd"}, error=STEP_UP,
         challenge=('acr_values="urn:genauth:mfa urn:genauth:hwk"',), absent=("max_age",)),
    Case("acr missing", MFA, 401, error=STEP_UP,
         challenge=('acr_values="urn:genauth:mfa urn:genauth:hwk"',)),
    Case("acr not a string", MFA, 401, claims={"acr": ["urn:genauth:mfa"]}, error=STEP_UP),
    Case("recent login", RECENT, 200, claims={"auth_time": int(NOW) - 60}),
    Case("login too old", RECENT, 401, claims={"auth_time": int(NOW) - 3600}, error=STEP_UP,
         challenge=('max_age="300"',), absent=("acr_values",)),
    Case("auth_time missing", RECENT, 401, error=STEP_UP, challenge=('max_age="300"',)),
    Case("auth_time a string", RECENT, 401, claims={"auth_time": str(int(NOW))}, error=STEP_UP),
    Case("auth_time true", RECENT, 401, claims={"auth_time": True}, error=STEP_UP),
    Case("scope and role", WRITE_AND_ADMIN, 200, scope="order:write",
         claims={"roles": ["order-admin"]}),
    Case("role without the scope", WRITE_AND_ADMIN, 403, scope="order:read",
         claims={"roles": ["order-admin"]}, error=INSUFFICIENT,
         challenge=('scope="order:write"',)),
    Case("scope without the role", WRITE_AND_ADMIN, 403, scope="order:write",
         claims={"roles": ["order-clerk"]}, error=INSUFFICIENT, describe="order-admin",
         absent=("scope",)),
    Case("any scope and role", ANY_WRITE_AND_ADMIN, 200, scope="order:admin",
         claims={"roles": ["order-admin"]}),
    Case("any scope, none held", ANY_WRITE_AND_ADMIN, 403, scope="order:read",
         claims={"roles": ["order-admin"]}, error=INSUFFICIENT,
         challenge=('scope="order:write order:admin"',)),
    Case("any scope held, role missing", ANY_WRITE_AND_ADMIN, 403, scope="order:write",
         error=INSUFFICIENT, describe="order-admin", absent=("scope",)),
    Case("role checked before step-up", STEP_UP_AND_ADMIN, 403,
         claims={"auth_time": int(NOW) - 3600}, error=INSUFFICIENT),
    Case("step-up after the role", STEP_UP_AND_ADMIN, 401,
         claims={"auth_time": int(NOW) - 3600, "roles": ["order-admin"]}, error=STEP_UP,
         challenge=('max_age="60"',)),
    Case("role and step-up met", STEP_UP_AND_ADMIN, 200,
         claims={"auth_time": int(NOW), "roles": ["order-admin"]}),
    Case("no token", WRITE_AND_ADMIN, 401, anonymous=True),
]  # fmt: skip

DECLARATIONS: dict[str, Declared] = {case.name: case.declared for case in CASES}


def route_name(case: Case) -> str:
    return case.name.replace(" ", "-").replace(",", "")


def headers_for(issuer: LocalIssuer, case: Case) -> dict[str, str]:
    if case.anonymous:
        return {}
    token = issuer.mint(scope=case.scope, sub="svc", claims=case.claims, omit=case.omit)
    return {"authorization": f"Bearer {token}"}


def check_answer(
    case: Case, status: int, header: Callable[[str], str | None], body: Any, realm: str
) -> None:
    """``status``, the ``WWW-Authenticate`` value and the JSON body are as ``case`` says."""
    assert status == case.status, (case.name, status, body)
    if status == 200:
        return
    challenge = header("www-authenticate") or ""
    assert challenge.startswith(f'Bearer realm="{realm}"'), challenge
    if case.error is None:
        assert "error=" not in challenge
        return
    assert f'error="{case.error}"' in challenge, challenge
    assert body["error"] == case.error
    if case.describe is not None:
        assert case.describe in body["error_description"], body
        assert case.describe in challenge
    for param in case.challenge:
        assert param in challenge, (param, challenge)
        name, _, value = param.partition("=")
        assert body[name] == value.strip('"')  # the body mirrors the challenge
    for name in case.absent:
        assert f"{name}=" not in challenge, challenge
        assert name not in body
    assert set(body) <= {"error", "error_description", "scope", "acr_values", "max_age"}
