"""What reaches logs and clients (issue 9, finding 8), over real HTTP with uvicorn:
attacker text is escaped in log lines, and a 503 tells an anonymous caller nothing
about the deployment while the log keeps the details."""

from __future__ import annotations

import logging

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from genauth_guard._asgi import GuardMiddleware
from genauth_guard._config import GuardConfig
from genauth_guard._logsafe import strip_controls
from genauth_guard.testing import LocalIssuer, serve


async def _ok(_: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app(issuer: LocalIssuer) -> GuardMiddleware:
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience)
    routes = [Route("/{rest:path}", _ok)]
    return GuardMiddleware(Starlette(routes=routes), config=config, warm_up=False)


def test_a_decoded_path_cannot_forge_a_log_line(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genauth_guard")
    with serve(_app(issuer)) as url, httpx2.Client(base_url=url) as client:
        forged = "/x%0d%0a2026-01-01 INFO refused nothing: FORGED%1b[2J"
        response = client.get(forged, headers={"authorization": "Bearer a.b.c"})
        assert response.status_code == 401
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines
    for line in lines:
        assert "\r" not in line
        assert "\n" not in line
        assert "\x1b" not in line
        assert "\\r\\n" in line  # still readable: the attempt is visible


def test_a_503_body_names_no_internal_url_but_the_log_does(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genauth_guard")
    issuer.fail("jwks", "error")
    with serve(_app(issuer)) as url, httpx2.Client(base_url=url) as client:
        response = client.get("/orders", headers={"authorization": f"Bearer {issuer.mint()}"})
    assert response.status_code == 503
    body = response.text
    assert issuer.url not in body
    assert "jwks" not in body.lower()
    assert "HTTP" not in body
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "signing keys unavailable",
    }
    assert issuer.jwks_uri in caplog.text  # the operator still learns where and why


def test_strip_controls() -> None:
    assert strip_controls("a\r\n\x1b[1mb\u2028") == "a [1mb "
