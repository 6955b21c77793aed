"""serve() and ServerThread: an app really served on loopback, then really stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from genauth_guard.testing import ManualClock, ServerThread, serve


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"hello from {request.url.port}")


def app() -> Starlette:
    return Starlette(routes=[Route("/", hello)])


def test_serve_yields_a_reachable_url_and_stops_on_exit() -> None:
    with serve(app()) as url:
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        response = httpx2.get(url)
        assert response.text == f"hello from {port}"
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url)


async def test_server_thread_as_async_context_manager() -> None:
    async with ServerThread(app()) as server, httpx2.AsyncClient() as client:
        assert (await client.get(server.url)).status_code == 200
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_start_and_stop_are_idempotent() -> None:
    server = ServerThread(app())
    assert server.start() is server
    url = server.url
    assert server.start().url == url  # already running: same server
    server.stop()
    server.stop()
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_refuses_a_non_loopback_host(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"), serve(app(), host=host):
        pass


def test_a_failing_lifespan_startup_fails_start() -> None:
    @asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield

    server = ServerThread(Starlette(lifespan=broken), lifespan="on")
    with pytest.raises(RuntimeError, match="failed to start"):
        server.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock()
    assert clock() == clock() == 1000.0
    clock.advance(2.5)
    assert clock() == clock.now == 1002.5
    clock.advance(-3)  # a clock corrected backwards
    assert clock() == 999.5
    assert ManualClock(start=5)() == 5
