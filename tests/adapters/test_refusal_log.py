"""Refusals explained in the server log (actual vs expected), never to the client."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from genauth_guard import GuardConfig, GuardMiddleware, Verifier
from genauth_guard._asgi import log_denial
from genauth_guard._errors import InvalidToken, Reason
from genauth_guard._refusal_log import RefusalLog, printable
from genauth_guard.testing import LocalIssuer, ManualClock


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def app_for(verifier: Verifier) -> GuardMiddleware:
    return GuardMiddleware(Starlette(routes=[Route("/orders", ok)]), verifier=verifier)


async def call(app: GuardMiddleware, token: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.get("/orders", headers={"authorization": f"Bearer {token}"})


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "genauth_guard"]


@pytest.mark.parametrize(
    ("configured", "mint", "field", "actual"),
    [
        ({"audience": "app-id-123"}, {}, "aud", "'order-api'"),
        ({"issuer_suffix": "/"}, {}, "iss", None),
        ({}, {"header": {"typ": "logout+jwt"}}, "typ", "'logout+jwt'"),
        ({}, {"header": {"kid": "rotated-away"}}, "kid", "'rotated-away'"),
    ],
)
async def test_mismatch_is_a_warning_with_actual_and_expected(
    issuer: LocalIssuer,
    caplog: pytest.LogCaptureFixture,
    configured: dict[str, str],
    mint: dict[str, Any],
    field: str,
    actual: str | None,
) -> None:
    config = GuardConfig(
        issuer=issuer.issuer + configured.get("issuer_suffix", ""),
        audience=configured.get("audience", issuer.audience),
    )
    token = issuer.mint(scope="order:read", claims={"iss": issuer.issuer}, **mint)
    caplog.set_level(logging.WARNING, logger="genauth_guard")
    async with Verifier(config) as verifier:
        response = await call(app_for(verifier), token)
    assert response.status_code == 401
    body = response.json()["error_description"]
    # The client hears the short generic reason, with no claim values or URLs.
    assert "order-api" not in body
    assert "127.0.0.1" not in body
    (record,) = lines(caplog)
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"token {field} {actual or repr(issuer.issuer)}" in message
    assert "expected" in message
    assert token not in message
    assert token.rsplit(".", 1)[1] not in message


async def test_each_distinct_value_is_logged_once_per_interval(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="genauth_guard")
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience)
    async with Verifier(config) as verifier:
        app = app_for(verifier)
        clock = ManualClock()
        app.refusals = RefusalLog(interval=60, clock=clock)
        for _ in range(20):
            await call(app, issuer.mint(audience="other-app"))
        await call(app, issuer.mint(audience="third-app"))
        assert len(lines(caplog)) == 2
        clock.advance(61)
        await call(app, issuer.mint(audience="other-app"))
    logged = [r.getMessage() for r in lines(caplog)]
    assert len(logged) == 3
    assert "19 more like it in the previous interval" in logged[2]


def test_distinct_values_are_bounded_per_interval() -> None:
    clock = ManualClock()
    refusals = RefusalLog(interval=60, max_keys=3, clock=clock)
    admitted = [refusals.admit(("audience", str(i % 10))) for i in range(100)]
    assert sum(a is not None for a in admitted) == 3
    assert refusals.dropped == 70
    clock.advance(60)
    assert refusals.admit(("audience", "1")) == 9


def test_attacker_text_is_escaped_and_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="genauth_guard")
    forged = "x\nINFO genauth_guard: accepted admin\x1b[31m\u202e" + "A" * 5000
    error = InvalidToken(Reason.AUDIENCE, "audience not accepted", actual=[forged] * 50)
    log_denial(error, {"type": "http", "path": "/a\r\nb", "client": ("1.2.3.4", 1)})
    (record,) = lines(caplog)
    message = record.getMessage()
    assert "\n" not in message
    assert "\r" not in message
    assert "\x1b" not in message
    assert "\u202e" not in message
    assert len(message) < 1200
    assert "45 more" in message


def test_printable_never_raises_on_odd_values() -> None:
    for value in (None, 1, 2.5, True, {"a": 1}, object(), ["a", 1], "\ud800"):
        assert isinstance(printable(value), str)


async def test_routine_refusals_stay_below_warning(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="genauth_guard")
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience)
    async with Verifier(config) as verifier:
        await call(app_for(verifier), issuer.mint(expires_in=-3600))
    (record,) = lines(caplog)
    assert record.levelno == logging.INFO
    assert "token expired" in record.getMessage()
