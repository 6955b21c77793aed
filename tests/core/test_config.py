"""GuardConfig: defaults, normalisation, validation and GENAUTH_* variables."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from genauth_guard._config import GuardConfig

ISS = "https://example.genauth.ai/oidc"


def test_defaults_accept_genauth_tokens() -> None:
    config = GuardConfig(issuer=ISS, audience="app-id")
    assert config.issuers == (ISS,)
    assert config.audiences == ("app-id",)
    assert config.issuer == ISS
    assert config.algorithms == ("RS256",)
    assert config.leeway == 30.0
    assert config.max_token_age is None
    assert config.strict_rfc9068 is False
    assert config.scope_claims == ("scope", "scp")
    assert config.max_token_bytes == 16 * 1024
    assert config.token_cache_size == 10_000
    assert config.refetch_per_minute == 5.0
    assert config.allow_http is False
    assert config.effective_required_claims == ("iss", "exp", "aud")


def test_frozen() -> None:
    config = GuardConfig(issuer=ISS, audience="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.leeway = 0  # type: ignore[misc]


def test_several_issuers_and_audiences_are_normalised() -> None:
    config = GuardConfig(issuer=[ISS, "https://b.genauth.ai/oidc", ISS], audience=("a", "b"))
    assert config.issuers == (ISS, "https://b.genauth.ai/oidc")
    assert config.audiences == ("a", "b")


def test_claim_checks_are_frozen_copies() -> None:
    checks: dict[str, Any] = {"roles": ["admin"], "tenant": "t1"}
    config = GuardConfig(issuer=ISS, audience="a", claim_checks=checks)
    checks["tenant"] = "t2"
    assert config.claim_checks == {"roles": ("admin",), "tenant": "t1"}
    with pytest.raises(TypeError):
        config.claim_checks["x"] = 1  # type: ignore[index]


def test_strict_mode_requires_rfc9068_claims() -> None:
    config = GuardConfig(issuer=ISS, audience="a", strict_rfc9068=True, required_claims=["tid"])
    assert config.effective_required_claims == (
        "iss",
        "exp",
        "aud",
        "sub",
        "client_id",
        "iat",
        "jti",
        "tid",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"issuer": ""}, "issuer"),
        ({"issuer": []}, "issuer is required"),
        ({"audience": []}, "audience is required"),
        ({"audience": ""}, "audience"),
        ({"audience": [" a"]}, "audience"),
        ({"algorithms": ["none"]}, "never accepted"),
        ({"algorithms": ["NoNe"]}, "never accepted"),
        ({"algorithms": ["HS256"]}, "HMAC"),
        ({"algorithms": ["RS256", "hs512"]}, "not supported"),
        ({"algorithms": ["ES256K"]}, "not supported"),
        ({"algorithms": ["HS512"], "shared_secret": "s" * 63}, "at least 64"),
        ({"shared_secret": "s" * 31}, "at least 32"),
        ({"shared_secret": ""}, "non-empty"),
        ({"issuer": [ISS, "https://b/oidc"], "shared_secret": "s" * 32}, "single issuer"),
        ({"token_check": "opaque"}, "token_check must be one of"),
        ({"token_check": "introspect"}, "introspection_client_id"),
        ({"introspection_cache_ttl": 0}, "introspection_cache_ttl"),
        ({"algorithms": []}, "at least one"),
        ({"leeway": -1}, "leeway"),
        ({"leeway": float("inf")}, "leeway"),
        ({"max_token_age": 0}, "max_token_age"),
        ({"max_token_bytes": 10}, "max_token_bytes"),
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"token_cache_size": True}, "token_cache_size"),
        ({"refetch_per_minute": 0}, "refetch_per_minute"),
        ({"http_timeout": 0}, "http_timeout"),
        ({"scope_claims": []}, "scope_claims"),
        ({"claim_checks": {"x": object()}}, "claim check"),
        ({"issuer": [ISS, "https://b/oidc"], "jwks_uri": "https://b/jwks"}, "single issuer"),
    ],
)
def test_invalid_configuration(options: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"issuer": ISS, "audience": "a"}
    with pytest.raises(ValueError, match=message):
        GuardConfig(**(base | options))


def test_from_env_minimal() -> None:
    config = GuardConfig.from_env({"GENAUTH_ISSUER": ISS, "GENAUTH_AUDIENCE": "app-id"})
    assert config == GuardConfig(issuer=ISS, audience="app-id")
    assert config.audiences == ("app-id",)


def test_from_env_everything() -> None:
    env = {
        "GENAUTH_ISSUER": f"{ISS}, https://b.genauth.ai/oidc",
        "GENAUTH_AUDIENCE": "a,b",
        "GENAUTH_ALGORITHMS": "RS256,PS256",
        "GENAUTH_LEEWAY": "5",
        "GENAUTH_MAX_TOKEN_AGE": "3600",
        "GENAUTH_REQUIRED_CLAIMS": "sub,tid",
        "GENAUTH_STRICT_RFC9068": "true",
        "GENAUTH_SCOPE_CLAIMS": "scope,permissions",
        "GENAUTH_MAX_TOKEN_BYTES": "8192",
        "GENAUTH_TOKEN_CACHE_SIZE": "0",
        "GENAUTH_JWKS_CACHE_TTL": "300",
        "GENAUTH_JWKS_REFETCH_PER_MINUTE": "10",
        "GENAUTH_JWKS_STALE_MAX_AGE": "600",
        "GENAUTH_HTTP_TIMEOUT": "2.5",
        "GENAUTH_ALLOW_HTTP": "yes",
    }
    config = GuardConfig.from_env(env)
    assert config.issuers == (ISS, "https://b.genauth.ai/oidc")
    assert config.audiences == ("a", "b")
    assert config.algorithms == ("RS256", "PS256")
    assert config.leeway == 5.0
    assert config.max_token_age == 3600.0
    assert config.required_claims == ("sub", "tid")
    assert config.strict_rfc9068 is True
    assert config.scope_claims == ("scope", "permissions")
    assert config.max_token_bytes == 8192
    assert config.token_cache_size == 0
    assert config.cache_ttl == 300.0
    assert config.refetch_per_minute == 10.0
    assert config.stale_max_age == 600.0
    assert config.http_timeout == 2.5
    assert config.allow_http is True


def test_from_env_jwks_uri_and_overrides() -> None:
    env = {"GENAUTH_ISSUER": ISS, "GENAUTH_AUDIENCE": "a", "GENAUTH_JWKS_URI": ISS + "/jwks"}
    config = GuardConfig.from_env(env, claim_checks={"tid": "t1"}, leeway=0)
    assert config.jwks_uri == ISS + "/jwks"
    assert config.claim_checks == {"tid": "t1"}
    assert config.leeway == 0


@pytest.mark.parametrize("missing", ["GENAUTH_ISSUER", "GENAUTH_AUDIENCE"])
def test_from_env_names_the_missing_variable(missing: str) -> None:
    env = {"GENAUTH_ISSUER": ISS, "GENAUTH_AUDIENCE": "a"}
    for blank in ("  ", ",", " , "):  # blank counts as unset
        env[missing] = blank
        with pytest.raises(ValueError, match=missing):
            GuardConfig.from_env(env)
    del env[missing]
    with pytest.raises(ValueError, match=missing):
        GuardConfig.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GENAUTH_LEEWAY", "soon"),
        ("GENAUTH_TOKEN_CACHE_SIZE", "1.5"),
        ("GENAUTH_STRICT_RFC9068", "maybe"),
        ("GENAUTH_ALGORITHMS", ","),
    ],
)
def test_from_env_names_the_invalid_variable(name: str, value: str) -> None:
    env = {"GENAUTH_ISSUER": ISS, "GENAUTH_AUDIENCE": "a", name: value}
    with pytest.raises(ValueError, match=name):
        GuardConfig.from_env(env)


def test_from_env_value_errors_are_explained() -> None:
    env = {"GENAUTH_ISSUER": ISS, "GENAUTH_AUDIENCE": "a", "GENAUTH_ALGORITHMS": "HS256"}
    with pytest.raises(ValueError, match="HMAC"):
        GuardConfig.from_env(env)
