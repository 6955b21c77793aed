"""WSGI adapters: protected vs public throughput under gunicorn, and the sync cached verify.

The Flask and DRF apps each have a public route and an ``order:read`` route with
identical handlers; each runs under gunicorn (one worker, ``gthread``: it keeps the 16
keep-alive connections, 4 threads serve their requests; with the GIL, 16 threads
measured slower on every route and noisier) in a subprocess and is loaded by
:func:`bench.throughput._load`, the same alternating-rounds load generator as the
uvicorn figure, so the ratio is measured the same way. The protected route gets a
reused token (the steady state of a client), checked by the real verifier with its
cache on; its keys come from a :class:`LocalIssuer` over HTTP.

``sync_cached_verify_us``: :meth:`Verifier.verify_sync` on a token seen before, as a
new string object each time, beside the async cached verify measured in the same run.

``python -m bench.wsgi`` runs it alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from bench.throughput import (
    AUDIENCE,
    CONNECTIONS,
    HOST,
    ROOT,
    ROUNDS,
    ROUTES,
    _free_port,
    _load,
    _wait_ready,
)

TOKENS = 200
VERIFY_ROUNDS = 25
# gthread keeps every keep-alive connection; a few threads serve their requests (with
# the GIL, more threads only add switching).
THREADS = 4


def flask_app() -> Any:
    """The Flask benchmark app (gunicorn ``'bench.wsgi:flask_app()'``)."""
    from flask import Flask

    from genauth_guard.flask import GenAuthGuard, require_scopes

    app = Flask("bench")
    app.config["GENAUTH_PUBLIC_PATHS"] = ["/public"]
    GenAuthGuard(app)

    # Identical handlers: the only difference between the routes is the guard.
    @app.get("/public")
    def public() -> str:
        return "ok"

    @app.get("/orders")
    @require_scopes("order:read")
    def orders() -> str:
        return "ok"

    return app


SERVERS = {
    "flask": ("bench.wsgi:flask_app()", {}),
    "drf": (
        "django.core.wsgi:get_wsgi_application()",
        {"DJANGO_SETTINGS_MODULE": "bench.drf_settings"},
    ),
}


def _worker_pid(master: int) -> int:
    """gunicorn's worker (the process doing the work), else the master itself."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{master}/task/{master}/children") as children:
                found = children.read().split()
        except OSError:
            return master
        if found:
            return int(found[0])
        time.sleep(0.05)
    return master


def _throughput(name: str, issuer: str, token: str) -> dict[str, float]:
    target, extra = SERVERS[name]
    port = _free_port()
    env = {
        **os.environ,
        **extra,
        "PYTHONPATH": str(ROOT),
        "GENAUTH_ISSUER": issuer,
        "GENAUTH_AUDIENCE": AUDIENCE,
    }
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", str(THREADS),
        "--bind", f"{HOST}:{port}", "--log-level", "warning", target,
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        _wait_ready(port, server)
        return asyncio.run(_load(port, token, _worker_pid(server.pid)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _cached_verify(issuer_url: str, tokens: list[str]) -> dict[str, float]:
    from genauth_guard._config import GuardConfig
    from genauth_guard._verifier import Verifier

    verifier = Verifier(GuardConfig(issuer=issuer_url, audience=AUDIENCE))
    for token in tokens:
        verifier.verify_sync(token)
    copies = [(t + " ")[:-1] for t in tokens] * 10  # new str objects: hash not cached
    best = {"sync": float("inf"), "async": float("inf")}

    async def cached_async() -> None:
        for t in copies:
            await verifier.verify(t)

    loop = asyncio.new_event_loop()
    try:
        for _ in range(VERIFY_ROUNDS):
            started = time.perf_counter()
            for t in copies:
                verifier.verify_sync(t)
            best["sync"] = min(best["sync"], time.perf_counter() - started)
            started = time.perf_counter()
            loop.run_until_complete(cached_async())
            best["async"] = min(best["async"], time.perf_counter() - started)
    finally:
        loop.close()
        verifier.close()
    return {name: seconds / len(copies) * 1e6 for name, seconds in best.items()}


def run() -> dict[str, float]:
    """Measure, print readable lines, return the figures."""
    from genauth_guard.testing import LocalIssuer

    figures: dict[str, float] = {}
    with LocalIssuer(audience=AUDIENCE) as issuer:
        tokens = [issuer.mint(scope="order:read", sub=f"client-{i}") for i in range(TOKENS)]
        cached = _cached_verify(issuer.issuer, tokens)
        print(
            f"wsgi: sync cached verify (verify_sync) {cached['sync']:6.2f} us  "
            f"[target < 2 us]; async cached verify, same run: {cached['async']:.2f} us"
        )
        figures["sync_cached_verify_us"] = round(cached["sync"], 3)
        token = issuer.mint(scope="order:read", expires_in=3600)
        for name in SERVERS:
            rps = _throughput(name, issuer.issuer, token)
            print(
                f"wsgi: {name}, gunicorn gthread ({THREADS} threads, {CONNECTIONS} connections, "
                f"{ROUNDS} rounds): public {rps['public']:.0f} req/s | protected "
                f"{rps['protected']:.0f} req/s | ratio {rps['ratio']:.2f} (target >= 0.95)"
            )
            print(
                f"  public sent the same Authorization header: {rps['public+token']:.0f} req/s "
                f"| protected/that {rps['same_headers_ratio']:.2f} (the guard's own cost); "
                "server CPU per request: "
                + " | ".join(f"{r} {rps[r + ' server_us']:.0f} us" for r in ROUTES)
            )
            figures[f"{name}_protected_vs_public"] = round(rps["ratio"], 3)
            figures[f"{name}_public_rps"] = round(rps["public"], 1)
            figures[f"{name}_protected_rps"] = round(rps["protected"], 1)
            figures[f"{name}_protected_vs_public_same_headers"] = round(
                rps["same_headers_ratio"], 3
            )
    return figures


if __name__ == "__main__":
    print(run())
