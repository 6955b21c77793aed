"""``genauth-guard verify`` against the real local issuer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from genauth_guard.testing import LocalIssuer, SigningKey


def test_prints_the_claims(issuer: LocalIssuer, run: Any) -> None:
    token = issuer.mint(scope="order:read", sub="order-reader")
    result = run("verify", "--issuer", issuer.issuer, "--audience", "order-api", token)
    assert result.returncode == 0, result.stderr
    claims = json.loads(result.stdout)
    assert claims["sub"] == "order-reader"
    assert claims["scope"] == "order:read"
    assert claims["iss"] == issuer.issuer
    assert issuer.counts["discovery"] == 1


@pytest.mark.parametrize("dash", [True, False])
def test_token_from_stdin(issuer: LocalIssuer, run: Any, dash: bool) -> None:
    token = issuer.mint(scope="order:read")
    args = ["verify", "--jwks-uri", issuer.jwks_uri] + (["-"] if dash else [])
    env = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "order-api"}
    result = run(*args, env=env, stdin=token + "\n")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["aud"] == "order-api"
    assert issuer.counts["discovery"] == 0  # explicit jwks_uri


def test_token_then_verify_round_trip(issuer: LocalIssuer, run: Any) -> None:
    got = run(
        "token",
        "--issuer",
        issuer.issuer,
        "--client-id",
        "order-writer",
        env={"GENAUTH_CLIENT_SECRET": "writer-secret"},
    )
    assert got.returncode == 0, got.stderr
    result = run("verify", "--issuer", issuer.issuer, "--audience", "order-api", stdin=got.stdout)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scope"] == "order:read order:write"


@pytest.mark.parametrize(
    ("mint", "audience", "reason"),
    [
        ({"expires_in": -3600}, "order-api", "invalid_token: token expired"),
        ({}, "other-api", "invalid_token: audience not accepted"),
        ({"claims": {"iss": "https://evil.example/oidc"}}, "order-api", "issuer not accepted"),
        ({"key": "unpublished"}, "order-api", "invalid_token: "),
    ],
)
def test_rejections_print_the_reason(
    issuer: LocalIssuer, run: Any, mint: dict[str, Any], audience: str, reason: str
) -> None:
    if mint.get("key") == "unpublished":
        mint = {"key": SigningKey.generate()}
    token = issuer.mint(scope="order:read", **mint)
    result = run("verify", "--issuer", issuer.issuer, "--audience", audience, token)
    assert result.returncode == 1
    assert result.stdout == ""
    assert reason in result.stderr
    assert "Traceback" not in result.stderr
    assert token not in result.stderr


def test_garbage_token(issuer: LocalIssuer, run: Any) -> None:
    result = run("verify", "--issuer", issuer.issuer, "--audience", "order-api", "not-a-jwt")
    assert result.returncode == 1
    assert result.stderr.startswith("invalid_token: ")


def test_keys_unavailable(issuer: LocalIssuer, run: Any) -> None:
    issuer.fail("discovery", "error")
    token = issuer.mint(scope="order:read")
    args = ["verify", "--issuer", issuer.issuer, "--audience", "order-api", token]
    result = run(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("temporarily_unavailable: ")
    assert result.stderr.count("\n") == 1  # one line: library logs only with --verbose
    assert "Traceback" not in result.stderr
    verbose = run(*args, "--verbose")
    assert verbose.returncode == 1
    assert verbose.stderr.count("\n") > 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--audience", "order-api", "t"], None, "--issuer is required (or GENAUTH_ISSUER)"),
        (["--issuer", "https://idp.example/oidc", "t"], None, "required"),
        (["--issuer", "https://idp.example/oidc", "--audience", "a"], "  \n", "no token"),
        (["--issuer", "https://i/oidc", "--audience", "a", "--algorithm", "HS256", "t"], None, ""),
    ],
)
def test_usage_errors(run: Any, args: list[str], stdin: str | None, message: str) -> None:
    result = run("verify", *args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
