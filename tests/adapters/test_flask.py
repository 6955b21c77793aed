"""The Flask extension against the contract table, through Flask's test client."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _contract import (
    CASES,
    DPOP_CHALLENGE,
    REALM,
    case_named,
    challenges,
    check_contract,
    config_for,
)
from _flask_app import create_app
from _wsgi_kit import as_httpx
from flask import Flask
from flask.testing import FlaskClient

from genauth_guard import GuardConfig
from genauth_guard.flask import GenAuthGuard, require_any_scope
from genauth_guard.testing import LocalIssuer

MODES = ["protect", "identify"]


@pytest.fixture
def make_app(issuer: LocalIssuer) -> Iterator[Any]:
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        base = {
            "GENAUTH_ISSUER": issuer.issuer,
            "GENAUTH_AUDIENCE": issuer.audience,
            "GENAUTH_ALLOW_QUERY_TOKEN": True,
        }
        app = create_app(**(base | settings))
        made.append(app)
        return app

    yield make
    for app in made:
        GenAuthGuard.verifier(app).close()


def get(client: FlaskClient, path: str, headers: Any = ()) -> Any:
    response = client.get(path, headers=list(headers))
    return as_httpx(response.status_code, response.headers.items(), response.data)


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CASES)
def test_contract(issuer: LocalIssuer, make_app: Any, mode: str, name: str) -> None:
    case = case_named(issuer, name)
    client = make_app(GENAUTH_MODE=mode).test_client()
    response = get(client, f"/orders?{case.query}", case.headers)
    check_contract(case, response)
    if case.status == 200:
        assert response.json() == {"sub": "local-client", "scopes": ["order:read"]}
        assert get(client, "/orders-async", case.headers).text == "async ok"


@pytest.mark.parametrize("mode", MODES)
def test_any_of_scopes(issuer: LocalIssuer, make_app: Any, mode: str) -> None:
    client = make_app(GENAUTH_MODE=mode).test_client()
    for scope in ("order:read", "order:write", "order:read order:write"):
        assert get(client, "/orders-any", bearer(issuer.mint(scope=scope))).status_code == 200
    refused = get(client, "/orders-any", bearer(issuer.mint(scope="profile")))
    assert refused.status_code == 403
    assert challenges(refused)[0] == (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        'error_description="requires one of: order:read order:write", '
        'scope="order:read order:write"'
    )
    assert refused.json()["scope"] == "order:read order:write"
    assert refused.headers["cache-control"] == "no-store"


def test_identify_mode_lets_anonymous_callers_through(issuer: LocalIssuer, make_app: Any) -> None:
    client = make_app(GENAUTH_MODE="identify").test_client()
    assert get(client, "/me").json() == {"authenticated": False, "sub": None}
    signed = get(client, "/me", bearer(issuer.mint(sub="svc-42")))
    assert signed.json() == {"authenticated": True, "sub": "svc-42"}
    invalid = get(client, "/me", bearer(issuer.mint(expires_in=-3600)))
    assert invalid.status_code == 401  # sent but invalid: refused, never anonymous
    assert get(client, "/signed-in").status_code == 401
    assert get(client, "/signed-in", bearer(issuer.mint(sub="svc-7"))).text == "svc-7"


def test_protect_mode_guards_every_route_but_public_ones(
    issuer: LocalIssuer, make_app: Any
) -> None:
    client = make_app().test_client()
    assert challenges(get(client, "/me")) == [f'Bearer realm="{REALM}"', DPOP_CHALLENGE]
    expired = bearer(issuer.mint(expires_in=-3600))
    assert get(client, "/health", expired).text == "healthy"  # public paths: not inspected
    assert get(client, "/public").status_code == 401


def test_configured_from_a_guard_config(issuer: LocalIssuer, caplog: Any) -> None:
    app = Flask("configured")
    guard = GenAuthGuard(config=config_for(issuer), mode="identify", realm="shop")

    @app.get("/read")
    @require_any_scope("order:read")
    def read() -> str:
        return "ok"

    guard.init_app(app)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="genauth_guard"):
        assert get(client, "/read", bearer(issuer.mint(scope="order:read"))).text == "ok"
        refused = get(client, "/read")
    assert challenges(refused)[0] == 'Bearer realm="shop"'
    assert "/read" in caplog.text  # the refusal is logged, with the path
    GenAuthGuard.verifier(app).close()


def test_missing_configuration_is_an_error_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENAUTH_ISSUER", raising=False)
    with pytest.raises(ValueError, match="GENAUTH_ISSUER"):
        GenAuthGuard(Flask("unconfigured"))


def test_decorator_without_the_extension_says_so() -> None:
    app = Flask("bare")

    @app.get("/x")
    @require_any_scope("a")
    def view() -> str:
        return "never"

    app.testing = True
    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/x")


def test_a_guard_config_in_app_config_wins(issuer: LocalIssuer, make_app: Any) -> None:
    config = GuardConfig(issuer=issuer.issuer, audience="another-api")
    client = make_app(GENAUTH_CONFIG=config, GENAUTH_MODE="identify").test_client()
    refused = get(client, "/orders", bearer(issuer.mint(scope="order:read")))
    assert refused.json()["error_description"] == "audience not accepted"
    accepted = get(
        client, "/orders", bearer(issuer.mint(scope="order:read", audience="another-api"))
    )
    assert accepted.status_code == 200


def test_settings_read_as_their_environment_variables(issuer: LocalIssuer, make_app: Any) -> None:
    # Lists, numbers and booleans as Python values, as in app.config.
    client = make_app(
        GENAUTH_AUDIENCE=["order-api", "billing-api"],
        GENAUTH_LEEWAY=0,
        GENAUTH_ALLOW_HTTP=False,
    ).test_client()
    token = issuer.mint(scope="order:read", audience="billing-api")
    assert get(client, "/orders", bearer(token)).status_code == 200


def test_opaque_tokens_by_introspection(issuer: LocalIssuer, make_app: Any) -> None:
    issuer.add_client("api-introspector", "introspector-secret")
    client = make_app(
        GENAUTH_TOKEN_CHECK="introspect",
        GENAUTH_INTROSPECTION_CLIENT_ID="api-introspector",
        GENAUTH_INTROSPECTION_CLIENT_SECRET="introspector-secret",
    ).test_client()
    token = issuer.mint_opaque(scope="order:read")
    assert get(client, "/orders", bearer(token)).json()["scopes"] == ["order:read"]
    assert get(client, "/orders", bearer(token)).status_code == 200
    assert issuer.counts["introspection"] == 1  # cached
    issuer.revoke(revoked := issuer.mint_opaque(scope="order:read"))
    refused = get(client, "/orders", bearer(revoked))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    issuer.fail("introspection")
    down = get(client, "/orders", bearer(issuer.mint_opaque(scope="order:read")))
    assert down.status_code == 503
    assert int(down.headers["retry-after"]) >= 1
