"""`genauth-guard issuer` as a real process: a standard OAuth client gets a token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx2
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet


def read_banner(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    warning = process.stdout.readline()
    assert "DEVELOPMENT" in warning
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            break
    return dict(json.loads("".join(lines)))


def test_cli_issuer_serves_discovery_jwks_and_tokens() -> None:
    command = [
        sys.executable, "-m", "genauth_guard", "issuer", "--port", "0",
        "--audience", "order-api",
        "--client", "order-reader:s3cret:order:read",
        "--client", "order-admin:t0p:order:read,order:write",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        banner = read_banner(process)
        issuer = str(banner["issuer"])
        assert banner["clients"] == {
            "order-reader": ["order:read"],
            "order-admin": ["order:read", "order:write"],
        }
        discovery = httpx2.get(f"{issuer}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == issuer
        response = httpx2.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": "order-reader",
                "client_secret": "s3cret",
                "scope": "order:read",
            },
        )
        assert response.status_code == 200
        keys = KeySet.import_key_set(httpx2.get(discovery["jwks_uri"]).json())
        token = jose_jwt.decode(response.json()["access_token"], keys, algorithms=["RS256"])
        assert token.claims["aud"] == "order-api"
        assert token.claims["scope"] == "order:read"
        assert token.claims["iss"] == issuer
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_cli_issuer_rejects_a_malformed_client() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "genauth_guard", "issuer", "--client", "only-an-id"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ID:SECRET:SCOPE" in result.stderr
