"""``genauth-guard token --dpop`` and ``genauth-guard dpop-proof``: a curl user's loop."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from genauth_guard import GuardConfig
from genauth_guard._asgi import GuardMiddleware
from genauth_guard.cli import main
from genauth_guard.testing import LocalIssuer


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"bound={request.auth.token.dpop_bound}")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


async def test_token_then_proofs_for_curl(
    issuer: LocalIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys,
        "token",
        "--dpop",
        "--issuer",
        issuer.issuer,
        "--client-id",
        "order-reader",
        "--client-secret",
        "reader-secret",
    )
    assert code == 0, err
    saved = json.loads(out)
    assert saved["token_type"] == "DPoP"
    assert saved["dpop_key"]["kty"] == "EC"
    assert "d" in saved["dpop_key"]
    creds = tmp_path / "creds.json"
    creds.write_text(out)

    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience)
    app = Starlette(
        routes=[Route("/hello", hello)], middleware=[Middleware(GuardMiddleware, config=config)]
    )
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as api:
        for _ in range(2):  # a new proof each time: no replay
            code, proof, err = run(
                capsys, "dpop-proof", "--key", str(creds), "--url", "http://api.test/hello"
            )
            assert code == 0, err
            response = await api.get(
                "/hello",
                headers={"authorization": f"DPoP {saved['access_token']}", "dpop": proof.strip()},
            )
            assert response.text == "bound=True"


def test_dpop_key_is_reused_and_bad_keys_are_errors(
    issuer: LocalIssuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text('{"kty": "EC"}')
    code, _, err = run(capsys, "dpop-proof", "--key", str(key_file), "--url", "https://x/y")
    assert code == 2
    assert "not a private JWK" in err
    code, _, err = run(capsys, "dpop-proof", "--key", str(tmp_path / "none"), "--url", "https://x")
    assert code == 2
