"""``genauth-guard doctor`` against a real local issuer over HTTP."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from genauth_guard import GuardConfig
from genauth_guard._doctor import diagnose
from genauth_guard.testing import LocalIssuer, ManualClock


def doctor(run: Any, issuer: str, *args: str, audience: str = "order-api") -> Any:
    return run("doctor", "--issuer", issuer, "--audience", audience, *args)


def line(output: str, name: str) -> str:
    (found,) = [text for text in output.splitlines() if text.split()[1:2] == [name]]
    return found


def test_healthy_setup_and_good_token(issuer: LocalIssuer, run: Any) -> None:
    token = issuer.mint(scope="order:read")
    result = doctor(run, issuer.issuer, "--token", token)
    assert result.returncode == 0, result.stdout
    names = [text.split()[1] for text in result.stdout.splitlines()]
    for name in ("discovery", "issuer", "clock", "endpoint", "jwks", "alg", "typ", "kid", "iss"):
        assert name in names
    assert all(text.startswith("ok") for text in result.stdout.splitlines())
    assert "1 usable key" in line(result.stdout, "jwks")
    assert token not in result.stdout


def test_configuration_only(issuer: LocalIssuer, run: Any) -> None:
    assert doctor(run, issuer.issuer).returncode == 0


def test_reads_the_environment_when_flags_are_absent(issuer: LocalIssuer, run: Any) -> None:
    env = {"GENAUTH_ISSUER": issuer.issuer + "/", "GENAUTH_AUDIENCE": "order-api"}
    result = run("doctor", env=env)
    assert result.returncode == 1
    assert "trailing slash" in line(result.stdout, "issuer")


def test_trailing_slash_is_named(issuer: LocalIssuer, run: Any) -> None:
    result = doctor(run, issuer.issuer + "/")
    assert result.returncode == 1
    text = line(result.stdout, "issuer")
    assert text.startswith("problem")
    assert "configured issuer has a trailing slash" in text
    assert f"configure exactly '{issuer.issuer}'" in text


def test_missing_oidc_is_named(issuer: LocalIssuer, run: Any) -> None:
    result = doctor(run, issuer.url)
    assert result.returncode == 1
    text = line(result.stdout, "discovery")
    assert "HTTP 404" in text
    assert f"missing /oidc: use {issuer.url}/oidc" in text


def test_unreachable_issuer(run: Any) -> None:
    result = doctor(run, "http://127.0.0.1:9/oidc")
    assert result.returncode == 1
    assert "unreachable" in line(result.stdout, "discovery")
    assert "Traceback" not in result.stderr


def test_skipped_keys_are_explained(issuer: LocalIssuer, run: Any) -> None:
    issuer.extra_jwks.append({"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "AA", "y": "AA"})
    issuer.extra_jwks.append({"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"})
    result = doctor(run, issuer.issuer)
    text = line(result.stdout, "jwks")
    assert result.returncode == 0
    assert "1 usable key" in text
    assert "'ec-1' skipped: x/y are not 32 octets for P-256" in text
    assert "'enc-1' skipped: use is not sig" in text


def test_clock_offset_beyond_the_leeway(issuer: LocalIssuer) -> None:
    config = GuardConfig(issuer=issuer.issuer, audience="order-api")
    ahead = ManualClock(start=time.time() + 120)
    report = diagnose(config, clock=ahead)
    (clock,) = [c for c in report.checks if c.name == "clock"]
    assert clock.status == "problem"
    assert "ahead of the issuer's" in clock.message
    assert not report.ok
    fine = diagnose(config, clock=ManualClock(start=time.time() + 10))
    assert fine.ok


@pytest.mark.parametrize(
    ("mint", "name", "words"),
    [
        ({"audience": "another-app"}, "aud", "token is for another app"),
        ({"claims": {"nonce": "n-0S6", "at_hash": "x"}}, "kind", "an ID token"),
        ({"expires_in": -3600}, "exp", "expired"),
        ({"header": {"typ": "logout+jwt"}}, "typ", "is not an accepted type"),
        ({"claims": {"iss": "https://other.example/oidc"}}, "iss", "configured"),
    ],
)
def test_token_problems(
    issuer: LocalIssuer, run: Any, mint: dict[str, Any], name: str, words: str
) -> None:
    result = doctor(run, issuer.issuer, "--token", issuer.mint(scope="order:read", **mint))
    assert result.returncode == 1
    text = line(result.stdout, name)
    assert text.startswith("problem")
    assert words in text
    if name != "kind":  # refusing ID tokens is the verifier's rule (issue 9)
        assert line(result.stdout, "verdict").startswith("problem")


def test_hs256_token_names_the_console_setting(issuer: LocalIssuer, run: Any) -> None:
    claims = issuer.claims_for(scope="order:read")
    token = jwt.encode(claims, "app-secret-" * 4, algorithm="HS256", headers={"typ": "JWT"})
    result = doctor(run, issuer.issuer, "--token", token)
    assert result.returncode == 1
    text = line(result.stdout, "alg")
    assert "'HS256'" in text
    assert "signing algorithm to RS256" in text


def test_unknown_kid_and_audience_hint(issuer: LocalIssuer, run: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(issuer.claims_for(), key, algorithm="ES256", headers={"kid": "someone-else"})
    result = doctor(run, issuer.issuer, "--token", token, audience="orders.example.com")
    assert result.returncode == 1
    assert "not among the JWKS keys" in line(result.stdout, "kid")
    assert "App ID, not its domain" in line(result.stdout, "aud")


def test_garbage_token(issuer: LocalIssuer, run: Any) -> None:
    result = doctor(run, issuer.issuer, "--token", "Bearer not-a-jwt")
    assert result.returncode == 1
    assert "not a signed JWT" in line(result.stdout, "token")
