"""Throughput of a protected route against an unprotected one, on the wire.

One Starlette app with :class:`GuardMiddleware` runs under uvicorn in a subprocess on
a free loopback port; its keys come from a :class:`LocalIssuer` over HTTP and the
protected route gets a real token from it, verified by the real verifier with its
cache on (the steady state of a client reusing its token). This process loads it
with a small keep-alive HTTP/1.1 client on raw asyncio streams (pure Python, about a
third of the server's CPU per request, so the server is what gets measured: the
figures printed include both processes' CPU load to show it). The routes alternate
in many short phases on the same connections, so drift of a shared machine hits all
alike. Bounded: about 25 seconds, loopback only, the server is always stopped.

``python -m bench.throughput`` runs it alone; ``make bench`` includes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
AUDIENCE = "order-api"
CONNECTIONS = 16
ROUNDS = 30
PHASE_SECONDS = 0.2
WARM_SECONDS = 0.5
ROOT = Path(__file__).resolve().parent.parent
ROUTES = ("public", "public+token", "protected")


# -- the server (runs in the subprocess) -------------------------------------------------


def serve(issuer: str, port: int) -> None:
    """Serve the benchmark app until terminated."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from genauth_guard._asgi import GuardMiddleware
    from genauth_guard._config import GuardConfig
    from genauth_guard.starlette import require_scopes

    # Identical handlers: the only difference between the routes is the guard.
    async def public(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @require_scopes("order:read")
    async def orders(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    config = GuardConfig(issuer=issuer, audience=AUDIENCE)
    app = Starlette(
        routes=[Route("/public", public), Route("/orders", orders)],
        middleware=[Middleware(GuardMiddleware, config=config, public_paths=["/public"])],
    )
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


# -- the load generator (this process) ---------------------------------------------------


def _request(path: str, token: str | None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _send_until(connection: Connection, request: bytes, deadline: float) -> tuple[int, int]:
    """Send ``request`` back to back on one keep-alive connection: (ok, failed)."""
    reader, writer = connection
    ok = failed = 0
    while time.perf_counter() < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        if head.startswith(b"HTTP/1.1 200"):
            ok += 1
        else:
            failed += 1
    return ok, failed


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of process ``pid`` so far, from /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def _phase(
    connections: list[Connection], request: bytes, seconds: float
) -> tuple[int, int, float]:
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_send_until(c, request, started + seconds) for c in connections)
    )
    elapsed = time.perf_counter() - started
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


async def _load(
    port: int,
    token: str,
    server_pid: int,
    public_path: str = "/public",
    protected_path: str = "/orders",
) -> dict[str, float]:
    """Alternate short phases of the routes on the same connections; ratios per round.

    Ratios are medians of each round's ratio: a burst of load from elsewhere on the
    machine spoils one round, not the figure. Phases are short and many, so such a
    burst rarely covers one route's phase without its neighbours', and the order of
    the routes is reversed every other round, so a steady drift of the machine's speed
    favours none of them. The connections stay open across phases: no phase pays for
    connection setup.

    ``public+token`` is the public route sent the same ``Authorization`` header, which
    the guard does not read there: it separates the server's cost of parsing that
    header (uvicorn's h11 parser checks every byte of it in Python) from the guard's own.

    CPU time of the server and of this process is kept per route: the server should
    be near 100% of a core (it is what is measured) and this process well below, or
    the figures say more about the load generator than about the guard.
    """
    requests = {
        "public": _request(public_path, None),
        "public+token": _request(public_path, token),
        "protected": _request(protected_path, token),
    }
    connections = [await asyncio.open_connection(HOST, port) for _ in range(CONNECTIONS)]
    try:
        return await _rounds(connections, requests, server_pid)
    finally:
        for _, writer in connections:
            writer.close()
        for _, writer in connections:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _rounds(
    connections: list[Connection], requests: dict[str, bytes], server_pid: int
) -> dict[str, float]:
    for request in requests.values():  # warm every path: keys, token cache, code paths
        await _phase(connections, request, WARM_SECONDS)
    done = dict.fromkeys(requests, 0)
    spent = dict.fromkeys(requests, 0.0)
    server_cpu = dict.fromkeys(requests, 0.0)
    client_cpu = dict.fromkeys(requests, 0.0)
    failed = 0
    ratios: list[float] = []
    same_headers: list[float] = []
    order = list(requests)
    for _ in range(ROUNDS):
        rates = {}
        for name in order:
            server_before, client_before = _cpu_seconds(server_pid), time.process_time()
            ok, bad, elapsed = await _phase(connections, requests[name], PHASE_SECONDS)
            server_after, client_after = _cpu_seconds(server_pid), time.process_time()
            if server_before is not None and server_after is not None:
                server_cpu[name] += server_after - server_before
            client_cpu[name] += client_after - client_before
            done[name] += ok
            spent[name] += elapsed
            failed += bad
            rates[name] = ok / elapsed
        order.reverse()
        ratios.append(rates["protected"] / rates["public"])
        same_headers.append(rates["protected"] / rates["public+token"])
    if failed:
        raise RuntimeError(f"{failed} non-200 responses during the benchmark")
    figures = {name: done[name] / spent[name] for name in requests}
    for name in requests:
        figures[f"{name} server_us"] = 1e6 * server_cpu[name] / done[name]
        figures[f"{name} server_load"] = server_cpu[name] / spent[name]
        figures[f"{name} client_load"] = client_cpu[name] / spent[name]
    figures["ratio"] = statistics.median(ratios)
    figures["same_headers_ratio"] = statistics.median(same_headers)
    return figures


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the benchmark server exited at startup")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the benchmark server did not start")


def measure(
    command: list[str], env: dict[str, str], token: str, paths: tuple[str, str], port: int
) -> dict[str, float]:
    """Start the server ``command`` on ``port``, load its public and protected paths."""
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    try:
        _wait_ready(port, server)
        return asyncio.run(_load(port, token, server.pid, *paths))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run() -> dict[str, float]:
    """Measure both routes in one run; print them side by side; return the figures."""
    from genauth_guard.testing import LocalIssuer

    with LocalIssuer(audience=AUDIENCE) as issuer:
        token = issuer.mint(scope="order:read", expires_in=3600)
        port = _free_port()
        command = [sys.executable, "-m", "bench.throughput", "serve", issuer.issuer, str(port)]
        rps = measure(command, {}, token, ("/public", "/orders"), port)
    ratio = rps["ratio"]
    print(
        f"throughput (uvicorn, {CONNECTIONS} keep-alive connections, "
        f"{ROUNDS}x{PHASE_SECONDS:g}s per route): "
        f"public {rps['public']:.0f} req/s | protected {rps['protected']:.0f} req/s "
        f"| ratio {ratio:.2f} (median of paired rounds; target >= 0.90)"
    )
    print(
        f"  public sent the same Authorization header: {rps['public+token']:.0f} req/s "
        f"| protected/that {rps['same_headers_ratio']:.2f} (the guard's own cost)"
    )
    if rps["public server_us"]:
        print(
            "  server CPU per request: "
            + " | ".join(f"{name} {rps[name + ' server_us']:.0f} us" for name in ROUTES)
            + "; busy: server "
            + "/".join(f"{rps[name + ' server_load']:.0%}" for name in ROUTES)
            + ", load generator "
            + "/".join(f"{rps[name + ' client_load']:.0%}" for name in ROUTES)
        )
    return {
        "protected_vs_public_throughput": round(ratio, 3),
        "public_rps": round(rps["public"], 1),
        "protected_rps": round(rps["protected"], 1),
        "protected_vs_public_same_headers_throughput": round(rps["same_headers_ratio"], 3),
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        print(run())
