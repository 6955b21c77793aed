"""``genauth-guard verify`` with introspection and HS256, and ``genauth-guard revoke``."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from genauth_guard.testing import LocalIssuer

API = {"GENAUTH_INTROSPECTION_CLIENT_ID": "api", "GENAUTH_INTROSPECTION_CLIENT_SECRET": "api-s"}


def opaque_token(issuer: LocalIssuer) -> str:
    issuer.add_client("opaque-reader", "opaque-secret", ["order:read"], opaque=True)
    reply = httpx2.post(
        issuer.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": "opaque-reader",
            "client_secret": "opaque-secret",
        },
    )
    token: str = reply.json()["access_token"]
    return token


def test_verify_introspects_and_revoke_revokes(issuer: LocalIssuer, run: Any) -> None:
    issuer.add_client("api", "api-s")
    token = opaque_token(issuer)
    base = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api", **API}
    verified = run("verify", "--token-check", "introspect", token, env=base)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["scope"] == "order:read"

    wrong_client = {
        "GENAUTH_ISSUER": issuer.issuer,
        "GENAUTH_CLIENT_ID": "order-reader",
        "GENAUTH_CLIENT_SECRET": "reader-secret",
    }
    refused = run("revoke", token, env=wrong_client)
    assert refused.returncode == 1
    assert "unauthorized_client" in refused.stderr
    assert token not in refused.stderr

    owner = {**wrong_client, "GENAUTH_CLIENT_ID": "opaque-reader"}
    owner["GENAUTH_CLIENT_SECRET"] = "opaque-secret"
    revoked = run("revoke", "-", env=owner, stdin=token)
    assert revoked.returncode == 0, revoked.stderr
    assert issuer.counts["revocation"] == 2

    inactive = run("verify", "--token-check", "introspect", token, env=base)
    assert inactive.returncode == 1
    assert inactive.stderr.startswith("invalid_token: token is not active")
    assert token not in inactive.stderr + inactive.stdout


def test_verify_introspection_needs_the_api_credentials(issuer: LocalIssuer, run: Any) -> None:
    result = run(
        "verify", "--issuer", issuer.issuer, "--audience", "a", "--token-check", "introspect", "t"
    )
    assert result.returncode == 2
    assert "introspection_client_id" in result.stderr


def test_issuer_down_is_reported(issuer: LocalIssuer, run: Any) -> None:
    issuer.add_client("api", "api-s")
    issuer.fail("introspection")
    base = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api", **API}
    result = run("verify", "--token-check", "introspect", "opaque", env=base)
    assert result.returncode == 1
    assert result.stderr.startswith("temporarily_unavailable: token introspection unavailable")


def test_verify_es256_and_hs256(run: Any) -> None:
    with LocalIssuer(audience="order-api", algorithm="ES256", app_secret="k" * 32) as issuer:
        env = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"}
        es = run("verify", "--algorithm", "ES256", issuer.mint(scope="a"), env=env)
        assert es.returncode == 0, es.stderr
        hs_token = issuer.mint(scope="a", algorithm="HS256")
        assert run("verify", "--algorithm", "ES256", hs_token, env=env).returncode == 1
        hs = run("verify", hs_token, env={**env, "GENAUTH_SHARED_SECRET": "k" * 32})
        assert hs.returncode == 0, hs.stderr
        short = run("verify", hs_token, env={**env, "GENAUTH_SHARED_SECRET": "k" * 31})
        assert short.returncode == 2
        assert "at least 32" in short.stderr
