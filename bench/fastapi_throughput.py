"""Throughput of the FastAPI example's scoped route against its public route.

The order API of ``examples/order_api`` runs unchanged under uvicorn in a subprocess,
configured by ``GENAUTH_*`` variables pointing at a :class:`LocalIssuer`; the load and
the pairing of rounds are those of :mod:`bench.throughput`. ``/api/private-scoped``
(``Depends(guard.require_scopes("order:read"))``) is compared with ``/api/public`` in
the same run: the ratio is the guard's cost in FastAPI, target >= 0.85.

``python -m bench.fastapi_throughput`` runs it alone; ``make bench`` includes it.
"""

from __future__ import annotations

import sys

from bench.throughput import AUDIENCE, HOST, _free_port, measure

PATHS = ("/api/public", "/api/private-scoped")


def run() -> dict[str, float]:
    from genauth_guard.testing import LocalIssuer

    with LocalIssuer(audience=AUDIENCE) as issuer:
        token = issuer.mint(scope="order:read", expires_in=3600)
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.order_api.app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        env = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": AUDIENCE}
        rps = measure(command, env, token, PATHS, port)
    print(
        f"FastAPI example: public {rps['public']:.0f} req/s | private-scoped "
        f"{rps['protected']:.0f} req/s | ratio {rps['ratio']:.2f} (target >= 0.85); "
        f"public with the same Authorization header {rps['public+token']:.0f} req/s"
    )
    return {
        "fastapi_protected_vs_public": round(rps["ratio"], 3),
        "fastapi_public_rps": round(rps["public"], 1),
        "fastapi_protected_rps": round(rps["protected"], 1),
    }


if __name__ == "__main__":
    print(run())
