"""`genauth-guard issuer --algorithm ... --opaque-client ...` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx2
from test_issuer_cli import read_banner


def test_es256_issuer_with_an_opaque_client() -> None:
    command = [
        sys.executable, "-m", "genauth_guard", "issuer", "--port", "0",
        "--algorithm", "ES256", "--client", "api:api-s:",
        "--opaque-client", "reader:r-s:order:read",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        banner = read_banner(process)
        assert banner["algorithm"] == "ES256"
        assert banner["introspection_endpoint"] == f"{banner['issuer']}/token/introspection"
        jwks = httpx2.get(str(banner["jwks_uri"])).json()
        assert [k["alg"] for k in jwks["keys"]] == ["ES256"]
        token = httpx2.post(
            str(banner["token_endpoint"]),
            data={
                "grant_type": "client_credentials",
                "client_id": "reader",
                "client_secret": "r-s",
            },
        ).json()["access_token"]
        answer = httpx2.post(
            str(banner["introspection_endpoint"]),
            data={"token": token, "client_id": "api", "client_secret": "api-s"},
        ).json()
        assert (answer["active"], answer["scope"]) == (True, "order:read")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_hs256_issuer_needs_the_app_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GENAUTH_APP_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "genauth_guard", "issuer", "--algorithm", "HS256"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 2
    assert "GENAUTH_APP_SECRET" in result.stderr
