"""Serve an ASGI app with uvicorn on a background thread, for development and tests.

Not for production: it binds only to loopback unless told otherwise, on a free port by
default, and gives up on requests still running two seconds after :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from genauth_guard._discovery import is_loopback_host

if TYPE_CHECKING:
    import uvicorn

__all__ = ["ServerThread", "serve"]

Lifespan = Literal["auto", "on", "off"]
_START_SECONDS = 10.0
# A request that never ends (a hanging fault, a stuck client) must not hold stop() long.
_GRACEFUL_SHUTDOWN_SECONDS = 2


class ServerThread:
    """An ASGI app served by uvicorn on a background thread until :meth:`stop`.

    ``port=0`` picks a free port; :attr:`url` tells which once started. Usable as a
    (sync or async) context manager. ``lifespan`` is uvicorn's: ``"on"`` makes a failing
    startup fail :meth:`start`. ``name`` is how errors and the thread call it. Needs
    uvicorn (the ``server`` extra).

    >>> with ServerThread(app) as server:
    ...     httpx2.get(f"{server.url}/health")
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Lifespan = "auto",
        allow_non_loopback: bool = False,
        name: str = "the server",
    ) -> None:
        if not allow_non_loopback and not is_loopback_host(host):
            raise ValueError(
                f"{name} is for development and binds only to loopback; "
                f"refusing host {host!r} without allow_non_loopback=True"
            )
        self.app = app
        self.host = host
        self.port = port
        self.lifespan: Lifespan = lifespan
        self.name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53211`` (only once started)."""
        if self._url is None:
            raise RuntimeError(f"{self.name} is not running; use it as a context manager")
        return self._url

    def start(self) -> ServerThread:
        """Bind, serve on a new thread and return once uvicorn accepts connections."""
        import uvicorn

        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan=self.lifespan,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
        server = uvicorn.Server(config)

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except SystemExit:  # uvicorn's answer to a failed lifespan startup
                pass  # start() sees the thread end and raises
            finally:
                sock.close()

        thread = threading.Thread(target=run, name=f"genauth-guard: {self.name}", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} failed to start")
            time.sleep(0.005)
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self._url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread; requests still running get two seconds."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_START_SECONDS)
        self._server = self._thread = self._url = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ServerThread:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


@contextmanager
def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Lifespan = "auto",
    allow_non_loopback: bool = False,
) -> Iterator[str]:
    """Serve ``app`` on a background thread for the ``with`` block; yields its base URL.

    >>> with serve(app) as url:
    ...     assert httpx2.get(f"{url}/orders").status_code == 401
    """
    with ServerThread(
        app, host=host, port=port, lifespan=lifespan, allow_non_loopback=allow_non_loopback
    ) as server:
        yield server.url
