"""Django middleware and DRF classes against the contract table, WSGI and ASGI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _django_settings
import django
import httpx2
import pytest
from _contract import CASES, DPOP_CHALLENGE, REALM, Case, case_named, challenges, check_contract
from _wsgi_kit import as_httpx
from django.conf import settings

# Configured in code, not through DJANGO_SETTINGS_MODULE: that variable would reach the
# servers other tests start as subprocesses.
if not settings.configured:
    settings.configure(
        **{
            name: getattr(_django_settings, name)
            for name in dir(_django_settings)
            if name.isupper()
        }
    )
    django.setup()

from django.test import AsyncClient, Client, override_settings

from genauth_guard import GuardConfig
from genauth_guard.django import GenAuthMiddleware, get_guard
from genauth_guard.testing import LocalIssuer

MIDDLEWARE = "genauth_guard.django.GenAuthMiddleware"
# DRF alone (its authentication class), then the middleware in front in either mode.
SETUPS = {
    "drf": {},
    "protect": {"MIDDLEWARE": [MIDDLEWARE], "GENAUTH_MODE": "protect"},
    "identify": {"MIDDLEWARE": [MIDDLEWARE], "GENAUTH_MODE": "identify"},
}


@pytest.fixture
def configured(issuer: LocalIssuer) -> Iterator[Any]:
    """Apply settings for one test: the per-test issuer plus ``extra``."""
    applied: list[override_settings] = []

    def apply(**extra: Any) -> None:
        base = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": issuer.audience}
        override = override_settings(**(base | extra))
        override.enable()
        applied.append(override)

    yield apply
    for override in reversed(applied):
        override.disable()


def meta(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Request headers as WSGI puts them: repeated ones joined with commas."""
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        joined.setdefault("HTTP_" + name.upper().replace("-", "_"), []).append(value)
    return {name: ", ".join(values) for name, values in joined.items()}


def asgi_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Request headers for Django's AsyncClient, repeated ones joined as ASGI Django does."""
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        joined.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def converted(response: Any) -> httpx2.Response:
    return as_httpx(response.status_code, response.items(), response.content)


def get(path: str, headers: list[tuple[str, str]] | None = None) -> httpx2.Response:
    return converted(Client().get(path, **meta(headers or [])))


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def run_case(case: Case, path: str = "/orders") -> httpx2.Response:
    response = get(f"{path}?{case.query}", case.headers)
    check_contract(case, response)
    return response


@pytest.mark.parametrize("setup", list(SETUPS))
@pytest.mark.parametrize("name", CASES)
def test_contract_wsgi(issuer: LocalIssuer, configured: Any, setup: str, name: str) -> None:
    configured(**SETUPS[setup])
    response = run_case(case_named(issuer, name))
    if response.status_code == 200:
        assert response.json() == {"sub": "local-client", "scopes": ["order:read"]}


@pytest.mark.parametrize("setup", ["protect", "identify"])
@pytest.mark.parametrize("name", CASES)
async def test_contract_asgi(issuer: LocalIssuer, configured: Any, setup: str, name: str) -> None:
    configured(**SETUPS[setup])
    case = case_named(issuer, name)
    response = await AsyncClient().get(f"/orders?{case.query}", headers=asgi_headers(case.headers))
    check_contract(case, converted(response))


@pytest.mark.parametrize("setup", list(SETUPS))
def test_any_of_scopes(issuer: LocalIssuer, configured: Any, setup: str) -> None:
    configured(**SETUPS[setup])
    for scope in ("order:read", "order:write"):
        allowed = get("/orders-any", bearer(issuer.mint(scope=scope, sub="svc-1")))
        assert allowed.json() == {"user": "svc-1"}
    refused = get("/orders-any", bearer(issuer.mint(scope="profile")))
    assert refused.status_code == 403
    assert 'scope="order:read order:write"' in refused.headers["www-authenticate"]
    assert refused.json()["error_description"] == "requires one of: order:read order:write"


def test_drf_without_the_exception_handler_keeps_the_contract(
    issuer: LocalIssuer, configured: Any
) -> None:
    configured(REST_FRAMEWORK={"DEFAULT_AUTHENTICATION_CLASSES": SETTINGS_AUTH})
    for name in ("keys unavailable", "no credentials", "expired", "scope missing", "valid"):
        run_case(case_named(issuer, name))
        issuer.heal()


SETTINGS_AUTH = ["genauth_guard.django.GenAuthAuthentication"]


def test_drf_answers_401_with_the_challenge_for_its_own_permissions(
    issuer: LocalIssuer, configured: Any
) -> None:
    configured()
    refused = get("/authenticated")
    assert refused.status_code == 401  # not DRF's 403: authenticate_header gives a challenge
    assert challenges(refused) == [f'Bearer realm="{REALM}"', DPOP_CHALLENGE]
    signed = get("/authenticated", bearer(issuer.mint()))
    assert signed.status_code == 200


def test_identify_middleware_with_plain_views(issuer: LocalIssuer, configured: Any) -> None:
    configured(**SETUPS["identify"])
    assert get("/me").json() == {"authenticated": False, "sub": None}
    assert get("/me", bearer(issuer.mint(sub="svc-9"))).json() == {
        "authenticated": True,
        "sub": "svc-9",
    }
    invalid = get("/me", bearer(issuer.mint(expires_in=-3600)))
    assert invalid.status_code == 401
    assert invalid.json()["error"] == "invalid_token"
    assert get("/signed-in").status_code == 401
    assert get("/signed-in", bearer(issuer.mint(sub="svc-3"))).json() == {"user": "svc-3"}


def test_protect_middleware_and_public_paths(issuer: LocalIssuer, configured: Any) -> None:
    configured(**SETUPS["protect"])
    assert challenges(get("/me")) == [f'Bearer realm="{REALM}"', DPOP_CHALLENGE]
    expired = bearer(issuer.mint(expires_in=-3600))
    assert get("/health", expired).json() == {"ok": True}  # public: not inspected
    assert get("/public").json() == {"ok": True}


async def test_async_views_under_asgi(issuer: LocalIssuer, configured: Any) -> None:
    configured(**SETUPS["protect"])
    client = AsyncClient()
    token = issuer.mint(sub="svc-async")
    signed = await client.get("/me-async", headers=asgi_headers(bearer(token)))
    assert signed.json() == {"authenticated": True, "sub": "svc-async"}
    assert (await client.get("/me-async")).status_code == 401
    # The async path and DRF's sync path share one verifier: one JWKS fetch in all.
    assert (
        await client.get("/orders", headers=asgi_headers(bearer(issuer.mint(scope="order:read"))))
    ).status_code == 200
    assert issuer.counts["jwks"] == 1


def test_settings_changes_rebuild_the_guard(issuer: LocalIssuer, configured: Any) -> None:
    configured()
    first = get_guard()
    assert first.realm == REALM
    configured(GENAUTH_REALM="elsewhere")
    assert get_guard() is not first
    assert get_guard().realm == "elsewhere"


@pytest.mark.parametrize(
    ("bad", "named"),
    [({"GENAUTH_AUDIENCE": None}, "GENAUTH_AUDIENCE"), ({"GENAUTH_LEEWAY": "soon"}, "LEEWAY")],
)
def test_bad_settings_stop_the_middleware_at_startup(
    configured: Any, bad: dict[str, Any], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GENAUTH_AUDIENCE", raising=False)  # the settings' fallback
    configured(**bad)
    with pytest.raises(ValueError, match=named):
        GenAuthMiddleware(lambda request: None)


def test_a_guard_config_setting_wins(issuer: LocalIssuer, configured: Any) -> None:
    configured(
        GENAUTH_CONFIG=GuardConfig(issuer=issuer.issuer, audience="another-api"),
        GENAUTH_AUDIENCE="ignored",
        **SETUPS["identify"],
    )
    refused = get("/orders", bearer(issuer.mint(scope="order:read")))
    assert refused.json()["error_description"] == "audience not accepted"
    assert get("/orders", bearer(issuer.mint(scope="order:read", audience="another-api"))).json()


@pytest.mark.parametrize("setup", ["drf", "protect"])
def test_opaque_tokens_by_introspection(issuer: LocalIssuer, configured: Any, setup: str) -> None:
    issuer.add_client("api-introspector", "introspector-secret")
    configured(
        GENAUTH_TOKEN_CHECK="introspect",
        GENAUTH_INTROSPECTION_CLIENT_ID="api-introspector",
        GENAUTH_INTROSPECTION_CLIENT_SECRET="introspector-secret",
        **SETUPS[setup],
    )
    token = issuer.mint_opaque(scope="order:read")
    assert get("/orders", bearer(token)).json()["scopes"] == ["order:read"]
    issuer.revoke(revoked := issuer.mint_opaque(scope="order:read"))
    assert get("/orders", bearer(revoked)).json()["error"] == "invalid_token"
    issuer.fail("introspection")
    down = get("/orders", bearer(issuer.mint_opaque(scope="order:read")))
    assert down.status_code == 503
    assert int(down.headers["retry-after"]) >= 1
