"""ES256 verification and cached introspection, each beside its baseline in the same run.

A :class:`LocalIssuer` signing with ES256 serves the keys and one introspection answer
per opaque token over loopback HTTP (warm-up); it is then stopped and everything below
is in-process, in alternating rounds, best round kept (as ``bench.verify``).

- raw ES256: ``EllipticCurvePublicKey.verify`` of each token's signature, already in
  DER form (the R||S conversion is part of our cost, not of the baseline);
- first-seen ES256: every token new to the verifier (cache on), keys already fetched;
- cached introspection: ``await verify(token)`` of an opaque token whose active answer
  is cached, as a new string object each time (as from a request).

``python -c "import bench.token_kinds as b; print(b.run())"`` runs it alone.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from genauth_guard._config import GuardConfig
from genauth_guard._introspection import IntrospectingVerifier
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer

AUDIENCE = "order-api"
TOKENS = 200
ROUNDS = 25


def _der(token: str) -> tuple[bytes, bytes]:
    head, body, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    return f"{head}.{body}".encode(), encode_dss_signature(r, s)


async def _time_async(run: Callable[[], Awaitable[None]], calls: int) -> float:
    start = time.perf_counter()
    await run()
    return (time.perf_counter() - start) / calls * 1e6


async def _measure(
    issuer: str, source: JWKSKeySource, tokens: list[str], introspecting: IntrospectingVerifier,
    opaque: list[str],
) -> dict[str, float]:  # fmt: skip
    key = source.keys[0].key
    assert isinstance(key, ec.EllipticCurvePublicKey)
    ders = [_der(t) for t in tokens]
    scheme = ec.ECDSA(hashes.SHA256())
    config = GuardConfig(issuer=issuer, audience=AUDIENCE, algorithms=["ES256"])
    n = len(tokens)
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = min(value, best.get(name, float("inf")))

    for _ in range(ROUNDS):
        start = time.perf_counter()
        for data, der in ders:
            key.verify(der, data, scheme)
        keep("raw_ec_verify_us", (time.perf_counter() - start) / n * 1e6)

        fresh = Verifier(config, key_sources={issuer: source})

        async def first_seen(v: Verifier = fresh) -> None:
            for t in tokens:
                await v.verify(t)

        keep("cold_verify_ec_us", await _time_async(first_seen, n))

        copies = [(t + " ")[:-1] for t in opaque] * 10

        async def cached(batch: list[str] = copies) -> None:
            verify = introspecting.verify
            for t in batch:
                await verify(t)

        keep("introspection_cached_us", await _time_async(cached, len(copies)))
    return best


def run() -> dict[str, float]:
    """Measure, print one readable line per figure, return the figures."""
    with LocalIssuer(audience=AUDIENCE, algorithm="ES256") as issuer:
        issuer.add_client("api", "api-secret")
        url = issuer.issuer
        tokens = [issuer.mint(scope="order:read", sub=f"client-{i}") for i in range(TOKENS)]
        opaque = [issuer.mint_opaque(scope="order:read") for _ in range(20)]
        source = JWKSKeySource(issuer=url)
        introspecting = IntrospectingVerifier(
            GuardConfig(
                issuer=url,
                audience=AUDIENCE,
                token_check="introspect",
                introspection_client_id="api",
                introspection_client_secret="api-secret",
                introspection_cache_ttl=3600,
            )
        )

        async def warm_up() -> None:
            await source.refresh()
            for token in opaque:
                await introspecting.verify(token)

        async def close() -> None:
            await source.aclose()
            await introspecting.aclose()

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(warm_up())
            issuer.stop()
            figures: dict[str, Any] = loop.run_until_complete(
                _measure(url, source, tokens, introspecting, opaque)
            )
            loop.run_until_complete(close())
        finally:
            loop.close()

    raw = figures["raw_ec_verify_us"]
    figures["cold_verify_vs_raw_ec"] = figures["cold_verify_ec_us"] / raw
    rows = [
        ("raw ES256 verify (cryptography)", "raw_ec_verify_us", None),
        ("genauth-guard first-seen ES256 verify", "cold_verify_ec_us", "target <= 1.5x raw"),
        ("genauth-guard cached introspection", "introspection_cached_us", "target < 2 us"),
    ]
    for label, name, target in rows:
        value = figures[name]
        note = f"{value / raw:5.2f}x raw ES256 ({raw:.1f} us)"
        print(f"kinds: {label:39s} {value:9.2f} us  {note}" + (f"  [{target}]" if target else ""))
    return {name: round(value, 3) for name, value in figures.items()}


if __name__ == "__main__":
    print(run())
