"""``genauth-guard token`` against the real local issuer."""

from __future__ import annotations

import socket
from typing import Any

import jwt
import pytest

from genauth_guard.testing import LocalIssuer


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def token_at(issuer: LocalIssuer) -> list[str]:
    """``token`` for order-reader at ``issuer``; each test adds the secret and its options."""
    return ["token", "--issuer", issuer.issuer, "--client-id", "order-reader"]


def test_prints_the_token_only(issuer: LocalIssuer, run: Any) -> None:
    result = run(*token_at(issuer), "--client-secret", "reader-secret", "--scope", "order:read")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    token = result.stdout.removesuffix("\n")
    assert "\n" not in token
    assert claims(token)["scope"] == "order:read"
    assert claims(token)["sub"] == "order-reader"
    assert issuer.counts == {"discovery": 1, "jwks": 0, "token": 1}


def test_settings_from_the_environment(issuer: LocalIssuer, run: Any) -> None:
    env = {
        "GENAUTH_ISSUER": issuer.issuer,
        "GENAUTH_CLIENT_ID": "order-writer",
        "GENAUTH_CLIENT_SECRET": "writer-secret",
    }
    result = run("token", "--scope", "order:read", "--scope", "order:write", env=env)
    assert result.returncode == 0, result.stderr
    assert claims(result.stdout.strip())["scope"] == "order:read order:write"


@pytest.mark.parametrize("method", ["basic", "post"])
def test_token_url_and_auth_method(issuer: LocalIssuer, run: Any, method: str) -> None:
    result = run(
        "token",
        "--token-url",
        issuer.token_endpoint,
        "--auth-method",
        method,
        "--client-id",
        "order-reader",
        env={"GENAUTH_CLIENT_SECRET": "reader-secret", "GENAUTH_ISSUER": "https://unused"},
    )
    assert result.returncode == 0, result.stderr
    assert claims(result.stdout.strip())["sub"] == "order-reader"
    assert issuer.counts["discovery"] == 0


def test_audience(issuer: LocalIssuer, run: Any) -> None:
    issuer.audiences.add("billing-api")
    env = {"GENAUTH_CLIENT_SECRET": "reader-secret"}
    result = run(*token_at(issuer), "--audience", "billing-api", env=env)
    assert claims(result.stdout.strip())["aud"] == "billing-api"
    result = run(*token_at(issuer), "--audience", "nowhere", env=env)
    assert result.returncode == 1
    assert "invalid_target" in result.stderr


def test_wrong_secret_is_a_clear_error_without_the_secret(issuer: LocalIssuer, run: Any) -> None:
    secret = "wrong-Secret-123"
    result = run(*token_at(issuer), "--client-secret", secret, "--auth-method", "basic")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "invalid_client" in result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr


def test_unreachable_issuer(run: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "token",
        "--token-url",
        f"http://127.0.0.1:{port}/oidc/token",
        "--retries",
        "0",
        env={"GENAUTH_CLIENT_ID": "a", "GENAUTH_CLIENT_SECRET": "b"},
    )
    assert result.returncode == 1
    assert "unavailable" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issuer", "https://idp.example/oidc", "--client-id", "x"], "--client-secret"),
        (["--client-id", "x", "--client-secret", "y"], "--issuer or --token-url"),
        (["--token-url", "http://idp.example/t", "--client-id", "x"], "plain http"),
    ],
)
def test_usage_errors(run: Any, args: list[str], message: str) -> None:
    env = {"GENAUTH_CLIENT_SECRET": "s3cret"} if "--token-url" in args else {}
    result = run("token", *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr


def test_issuer_and_token_url_are_exclusive(run: Any) -> None:
    result = run("token", "--issuer", "https://a/oidc", "--token-url", "https://a/t")
    assert result.returncode == 2
    assert "not allowed with" in result.stderr
