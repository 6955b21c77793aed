"""Per-route requirements without any framework: rules, claim shapes, errors and their HTTP form."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genauth_guard import (
    AccessToken,
    GuardError,
    InsufficientPrivileges,
    InsufficientScope,
    InsufficientUserAuthentication,
    Requirement,
    claim_check,
    claim_equals,
    claim_includes,
    claim_includes_any,
    require_any_role,
    require_roles,
    require_step_up,
)
from genauth_guard._errors import render
from genauth_guard._requirements import route_requirements
from genauth_guard._token import make_access_token
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, ManualClock

NOW = 1_800_000_000.0


def token(scope: str = "", **claims: Any) -> AccessToken:
    return make_access_token(
        claims, {}, frozenset(scope.split()), "alice", None, "https://issuer/oidc", int(NOW) + 60
    )


def passes(requirement: Requirement, **claims: Any) -> bool:
    error = requirement.refusal(token(**claims))
    assert error is None or isinstance(
        error, InsufficientPrivileges | InsufficientUserAuthentication
    )
    return error is None


# -- claims ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("acme", True),
        ("ACME", False),
        ("acme ", False),
        (["acme"], False),
        ({"acme": True}, False),
        (None, False),
        (7, False),
    ],
)
def test_claim_equals(value: Any, ok: bool) -> None:
    assert passes(claim_equals("tenant", "acme"), tenant=value) is ok
    assert not passes(claim_equals("tenant", "acme"))  # missing


def test_claim_equals_keeps_json_types_apart() -> None:
    assert passes(claim_equals("level", 1), level=1)
    assert passes(claim_equals("level", 1), level=1.0)  # one JSON number
    assert not passes(claim_equals("level", 1), level=True)
    assert not passes(claim_equals("admin", True), admin=1)
    assert passes(claim_equals("admin", True), admin=True)
    assert passes(claim_equals("deleted", None), deleted=None)
    assert not passes(claim_equals("deleted", None))  # a missing claim is not null


@pytest.mark.parametrize(
    ("value", "all_ok", "any_ok"),
    [
        (["ops", "eu"], True, True),
        ("ops eu", True, True),
        ("eu  ops", True, True),  # repeated spaces
        (["eu", "x", "ops", "eu"], True, True),
        (["ops"], False, True),
        ("ops", False, True),
        (["dev"], False, False),
        ([], False, False),
        ("", False, False),
        ("ops,eu", False, False),  # not a space-delimited list
        ([["ops", "eu"]], False, False),
        ({"ops": 1, "eu": 1}, False, False),
        (7, False, False),
        (None, False, False),
        (True, False, False),
    ],
)
def test_claim_includes_shapes(value: Any, all_ok: bool, any_ok: bool) -> None:
    assert passes(claim_includes("groups", "ops", "eu"), groups=value) is all_ok
    assert passes(claim_includes_any("groups", "ops", "eu"), groups=value) is any_ok


def test_claim_includes_compares_json_values() -> None:
    assert passes(claim_includes("levels", 1, 2), levels=[2, 1])
    assert not passes(claim_includes("levels", 1), levels=[True])
    assert not passes(claim_includes("levels", 1), levels="1")  # a string holds strings


def test_roles_are_exact_codes_in_the_roles_claim() -> None:
    admin = require_roles("order-admin")
    assert passes(admin, roles=["order-admin"])
    assert passes(admin, roles="order-clerk order-admin")
    assert not passes(admin, roles=["order-admins"])
    assert not passes(admin, roles=["Order-Admin"])
    assert not passes(admin, role=["order-admin"])  # another claim
    assert passes(require_roles("order-admin", claim="role"), role=["order-admin"])
    both = require_roles("order-admin", "auditor")
    assert not passes(both, roles=["order-admin"])
    assert passes(both, roles=["auditor", "order-admin"])
    either = require_any_role("order-admin", "auditor")
    assert passes(either, roles=["auditor"])
    assert not passes(either, roles=[])


def test_a_refusal_names_the_requirement_and_claim() -> None:
    error = require_roles("order-admin").refusal(token(roles=["clerk"]))
    assert isinstance(error, InsufficientPrivileges)
    assert (error.status, error.code, error.claim) == (403, "insufficient_scope", "roles")
    assert error.description == "requires role order-admin"
    status, headers, body = render(error, "api")
    assert status == 403
    challenge = dict(headers)["www-authenticate"]
    assert challenge == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="requires role order-admin"'
    )
    assert json.loads(body) == {
        "error": "insufficient_scope",
        "error_description": "requires role order-admin",
    }
    hidden = claim_equals("tenant", "t-93421", description="the caller's tenant")
    refused = hidden.refusal(token(tenant="t-1"))
    assert refused is not None
    assert refused.description == "requires the caller's tenant"


# -- predicates --------------------------------------------------------------------------


def test_predicate_gets_the_token_and_runs_every_time() -> None:
    seen: list[AccessToken] = []
    blocked: set[str] = set()

    def not_blocked(t: AccessToken) -> bool:
        seen.append(t)
        return t.subject not in blocked

    requirement = claim_check(not_blocked)
    same = token()
    assert requirement.refusal(same) is None
    blocked.add("alice")
    refused = requirement.refusal(same)
    assert refused is not None
    assert refused.description == "requires check not_blocked"
    assert seen == [same, same]


def test_a_failing_predicate_refuses_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken(t: AccessToken) -> bool:
        return t.claims["missing"] is not None  # KeyError

    with caplog.at_level(logging.WARNING, "genauth_guard"):
        error = claim_check(broken, "a broken rule").refusal(token())
    assert isinstance(error, InsufficientPrivileges)
    assert "a broken rule" in caplog.text
    assert "KeyError" in caplog.text  # the traceback is in the log, not the response


def test_async_predicates_are_refused() -> None:
    async def later(t: AccessToken) -> bool:
        return True

    class AsyncCheck:
        async def __call__(self, t: AccessToken) -> bool:
            return True

    with pytest.raises(TypeError, match="synchronous"):
        claim_check(later)
    with pytest.raises(TypeError, match="synchronous"):
        claim_check(AsyncCheck())
    with pytest.raises(TypeError, match="callable"):
        claim_check("tenant == acme")  # type: ignore[arg-type]

    def sneaky(t: AccessToken) -> Any:
        return later(t)  # a coroutine object is truthy: it must not pass

    assert isinstance(claim_check(sneaky).refusal(token()), InsufficientPrivileges)


def test_lambda_description() -> None:
    error = claim_check(lambda t: False).refusal(token())
    assert error is not None
    assert error.description == "requires a custom check"


# -- step-up (RFC 9470) ------------------------------------------------------------------


def test_acr_must_be_one_of_the_values() -> None:
    mfa = require_step_up(acr_values=["urn:mfa", "urn:hwk"])
    assert passes(mfa, acr="urn:hwk")
    for value in ("urn:pwd", "URN:MFA", ["urn:mfa"], None, 1):
        assert not passes(mfa, acr=value)
    error = mfa.refusal(token())
    assert isinstance(error, InsufficientUserAuthentication)
    assert (error.status, error.code) == (401, "insufficient_user_authentication")
    assert (error.acr_values, error.max_age) == (("urn:mfa", "urn:hwk"), None)
    status, headers, body = render(error, "api")
    assert status == 401
    assert dict(headers)["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        'error_description="a different authentication level is required", '
        'acr_values="urn:mfa urn:hwk"'
    )
    assert json.loads(body) == {
        "error": "insufficient_user_authentication",
        "error_description": "a different authentication level is required",
        "acr_values": "urn:mfa urn:hwk",
    }


def test_auth_time_within_max_age() -> None:
    clock = ManualClock(NOW)
    recent = require_step_up(max_age=300, clock=clock)
    assert passes(recent, auth_time=NOW - 300)
    assert passes(recent, auth_time=int(NOW))
    assert passes(recent, auth_time=NOW + 29)  # clock skew
    assert not passes(recent, auth_time=NOW + 3600)  # a login in the future
    assert not passes(recent, auth_time=NOW - 301)
    for value in (None, str(NOW), True, [NOW], math.inf, math.nan):
        assert not passes(recent, auth_time=value)
    assert not passes(recent)
    fresh = token(auth_time=NOW)
    assert recent.refusal(fresh) is None
    clock.advance(301)  # the same token, later: the login is too old now
    error = recent.refusal(fresh)
    assert isinstance(error, InsufficientUserAuthentication)
    assert error.description == "a more recent authentication is required"
    challenge = dict(render(error, "api")[1])["www-authenticate"]
    assert challenge.endswith('max_age="300"')
    assert json.loads(render(error, "api")[2])["max_age"] == "300"


def test_a_step_up_challenge_carries_every_parameter_the_route_needs() -> None:
    clock = ManualClock(NOW)
    both = require_step_up(acr_values=["urn:mfa"], max_age=60, clock=clock)
    assert passes(both, acr="urn:mfa", auth_time=NOW)
    error = both.refusal(token(acr="urn:mfa", auth_time=NOW - 3600))
    assert isinstance(error, InsufficientUserAuthentication)
    challenge = dict(render(error, "api")[1])["www-authenticate"]
    assert 'acr_values="urn:mfa", max_age="60"' in challenge


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"acr_values": ["urn:a b"]},
        {"acr_values": [""]},
        {"max_age": -1},
        {"max_age": 1.5},
        {"max_age": True},
    ],
)
def test_step_up_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"acr_values|max_age"):
        require_step_up(**options)


def test_a_single_acr_string_is_one_value() -> None:
    assert passes(require_step_up(acr_values="urn:mfa"), acr="urn:mfa")


# -- building requirements ---------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: claim_equals("", "x"),
        lambda: claim_equals("tenant", object()),
        lambda: claim_equals("tenant", ["acme"]),
        lambda: claim_includes("groups"),
        lambda: claim_includes_any("groups"),
        lambda: claim_includes("groups", {"a": 1}),
        lambda: require_roles(),
        lambda: require_roles("order admin"),
        lambda: require_roles(""),
        lambda: require_any_role(),
        lambda: require_roles("admin", claim=""),
    ],
)
def test_bad_requirements_fail_when_declared(build: Any) -> None:
    with pytest.raises(ValueError, match=r"claim|value|role"):
        build()


def test_a_declaration_checks_scopes_then_rights_then_step_up() -> None:
    clock = ManualClock(NOW)
    declared = route_requirements(
        [require_step_up(max_age=60, clock=clock), "order:write", require_roles("admin")]
    )
    assert declared.scopes == ("order:write",)
    old = {"auth_time": NOW - 3600}
    with pytest.raises(InsufficientScope):
        declared.check(token("order:read", **old))
    with pytest.raises(InsufficientPrivileges):
        declared.check(token("order:write", **old))
    with pytest.raises(InsufficientUserAuthentication):
        declared.check(token("order:write", roles=["admin"], **old))
    declared.check(token("order:write", roles=["admin"], auth_time=NOW))


def test_any_scope_with_requirements() -> None:
    declared = route_requirements(["a", "b", claim_equals("t", "x")], any_scope=True)
    declared.check(token("b", t="x"))
    with pytest.raises(InsufficientScope) as refused:
        declared.check(token("c", t="x"))
    assert refused.value.required == ("a", "b")
    with pytest.raises(InsufficientPrivileges):
        declared.check(token("a", t="y"))


def test_declaration_errors() -> None:
    with pytest.raises(TypeError, match="got bytes"):
        route_requirements([b"order:read"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one scope"):
        route_requirements([require_roles("a")], any_scope=True)
    with pytest.raises(ValueError, match="one require_step_up"):
        route_requirements([require_step_up(max_age=1), require_step_up(acr_values=["x"])])


def test_describe_for_docs() -> None:
    assert route_requirements(["order:read"]).describe() is None  # scopes: in security
    text = route_requirements(
        [
            "a",
            "b",
            require_any_role("admin", "ops"),
            claim_includes("groups", "eu"),
            require_step_up(acr_values=["urn:mfa"], max_age=300),
        ],
        any_scope=True,
    ).describe()
    assert text == (
        "Requires one of the scopes `a`, `b`; role admin or ops; claim groups including eu; "
        "authentication context (acr) urn:mfa and a login within the last 300 s (auth_time)."
    )


# -- any claim shape: only the documented refusal -----------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
CLOCK = ManualClock(NOW)
REQUIREMENTS = [
    claim_equals("c", "x"),
    claim_equals("c", 1),
    claim_includes("c", "x", "y"),
    claim_includes_any("c", 0, "x", None),
    require_roles("x", claim="c"),
    require_any_role("x", "y", claim="c"),
    require_step_up(acr_values=["x"], max_age=10, clock=CLOCK),
    claim_check(lambda t: t.claims["c"]["k"] == 1),
]


@given(value=JSON, name=st.sampled_from(["c", "acr", "auth_time"]))
def test_any_claim_value_passes_or_gets_the_documented_refusal(value: Any, name: str) -> None:
    for requirement in REQUIREMENTS:
        error = requirement.refusal(token(**{name: value}))
        if error is not None:
            assert isinstance(error, InsufficientPrivileges | InsufficientUserAuthentication)
            status, _, body = render(error, "api")  # renders, whatever the claim held
            assert status in (401, 403)
            assert json.loads(body)["error"] in (
                "insufficient_scope",
                "insufficient_user_authentication",
            )


async def test_on_a_verified_token_from_the_issuer(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    """The claims as the verifier parsed them from a signed token, not a hand-made dict."""
    now = int(time.time())
    raw = shared_issuer.mint(
        scope="order:write",
        claims={"roles": ["order-admin"], "tenant": "acme", "acr": "urn:mfa", "auth_time": now},
    )
    verified = await verifier.verify(raw)
    declared = route_requirements(
        [
            "order:write",
            require_roles("order-admin"),
            claim_equals("tenant", "acme"),
            require_step_up(acr_values=["urn:mfa"], max_age=60),
        ]
    )
    declared.check(verified)
    with pytest.raises(GuardError):
        route_requirements([claim_equals("tenant", "other")]).check(verified)
