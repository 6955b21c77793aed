"""Helpers for the WSGI adapter tests: responses as httpx2 ones, apps under gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2


def as_httpx(status: int, headers: Any, content: bytes) -> httpx2.Response:
    """A framework test client's response in the shape ``check_contract`` reads."""
    return httpx2.Response(status, headers=list(headers), content=content)


HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(target: str, env: dict[str, str], threads: int = 32) -> Iterator[str]:
    """``target`` served by gunicorn (one worker, ``threads`` threads) on loopback."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(HERE), "--workers", "1",
        "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        target,
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}")
            try:
                httpx2.get(f"{url}/health", timeout=1)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not answer within 30 s") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
