"""``genauth-guard doctor`` with token_check introspect / jwt+introspect."""

from __future__ import annotations

from typing import Any

from genauth_guard.testing import LocalIssuer


def env_for(issuer: LocalIssuer, secret: str = "api-s", **extra: str) -> dict[str, str]:
    return {
        "GENAUTH_ISSUER": issuer.issuer,
        "GENAUTH_AUDIENCE": "order-api",
        "GENAUTH_TOKEN_CHECK": "introspect",
        "GENAUTH_INTROSPECTION_CLIENT_ID": "api",
        "GENAUTH_INTROSPECTION_CLIENT_SECRET": secret,
        **extra,
    }


def line(output: str, name: str) -> str:
    (found,) = [text for text in output.splitlines() if text.split()[1:2] == [name]]
    return found


def test_healthy_introspection_and_an_opaque_token(issuer: LocalIssuer, run: Any) -> None:
    issuer.add_client("api", "api-s")
    token = issuer.mint_opaque(scope="order:read")
    result = run("doctor", "--token", token, env=env_for(issuer))
    assert result.returncode == 0, result.stdout
    assert line(result.stdout, "introspect").startswith("ok")
    assert line(result.stdout, "verdict").startswith("ok")
    assert token not in result.stdout
    issuer.revoke(token)
    revoked = run("doctor", "--token", token, env=env_for(issuer))
    assert revoked.returncode == 1
    assert "not active" in line(revoked.stdout, "verdict")


def test_refused_credentials_are_named(issuer: LocalIssuer, run: Any) -> None:
    issuer.add_client("api", "api-s")
    result = run("doctor", env=env_for(issuer, secret="not-it"))
    assert result.returncode == 1
    text = line(result.stdout, "introspect")
    assert text.startswith("problem")
    assert "refused the API's credentials (HTTP 401)" in text
    assert "GENAUTH_INTROSPECTION_CLIENT_SECRET" in text
    assert "not-it" not in result.stdout


def test_no_endpoint_is_named(issuer: LocalIssuer, run: Any) -> None:
    issuer.add_client("api", "api-s")
    missing = f"{issuer.issuer}/no-such-endpoint"
    result = run("doctor", env=env_for(issuer, GENAUTH_INTROSPECTION_ENDPOINT=missing))
    assert result.returncode == 1
    assert "HTTP 404" in line(result.stdout, "introspect")
