"""Under a plain ``uvicorn`` (no logging set up), a misconfiguration shows on stderr."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from genauth_guard.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]


def test_audience_mismatch_is_on_stderr_with_both_values(issuer: LocalIssuer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENAUTH_")}
    # The App ID vs domain mix-up: the API is configured with its domain.
    env |= {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": "orders.example.com"}
    command = [sys.executable, "-m", "uvicorn", "examples.order_api.app:app", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    token = issuer.mint(scope="order:read")
    try:
        deadline = time.monotonic() + 30
        status = None
        while status is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx2.TransportError):
                status = httpx2.get(
                    f"http://127.0.0.1:{port}/api/private-scoped",
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code
            if status is None:
                time.sleep(0.05)  # waiting for the server to listen, not for time
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert status == 401
    assert "audience not accepted; token aud 'order-api', expected ['orders.example.com']" in err
    assert token not in err
