"""Cost of a DPoP request's proof check, beside one raw ES256 verify in the same run.

The access token is cached (the steady state: a caller reuses its token), so the figure
is what DPoP adds to a request: parsing the proof, its ES256 signature, the claim rules
(htm, htu, iat, ath), the cnf.jkt binding and the replay cache. Proofs are signed in
advance, each with its own jti; every round starts with an empty replay cache so no
proof counts as a replay. Each round interleaves the two call by call (raw verify, then
our check of the same proof) with the garbage collector paused; each figure is the best
round (the machine is shared: the least disturbed round is closest to the code's cost).

Also the replay cache's memory: bytes per remembered proof, measured with tracemalloc
at the default bound (100 000 entries).

``python -c "import bench.dpop as b; print(b.run())"`` runs it alone.
"""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from genauth_guard._config import GuardConfig
from genauth_guard._dpop import InMemoryReplayCache, ProofChecker
from genauth_guard._dpop_key import DPoPKey
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._jws import parse_compact
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer

AUDIENCE = "order-api"
PROOFS = 50
ROUNDS = 80
URL = "https://api.example.com/orders"
REPLAY_ENTRIES = 100_000


def _replay_bytes_per_entry() -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = InMemoryReplayCache(REPLAY_ENTRIES)
    now = time.time()
    for i in range(REPLAY_ENTRIES):
        cache.remember(i.to_bytes(16, "big"), now + 90 + i * 1e-6, now)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(cache) == REPLAY_ENTRIES
    # Past the bound nothing grows: the flood is refused, not stored.
    assert not cache.remember(b"one more proof!!", now + 90, now)
    return (after - before) / REPLAY_ENTRIES


async def _measure(verifier: Verifier, token: str, key: DPoPKey) -> dict[str, float]:
    dpop = verifier.dpop
    assert dpop is not None
    public = key.private_key.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    scheme = ec.ECDSA(hashes.SHA256())
    best: dict[str, float] = {}
    await verifier.verify(token)  # cached from here on
    for _ in range(ROUNDS):
        proofs = [key.proof("GET", URL, access_token=token) for _ in range(PROOFS)]
        raw = []
        for proof in proofs:
            parsed = parse_compact(proof, 1 << 16)
            sig = parsed.signature
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            raw.append((der, parsed.signing_input))

        dpop.replay_cache = InMemoryReplayCache()
        clock = time.perf_counter_ns
        raw_ns = ours_ns = 0
        gc.collect()
        gc.disable()  # a collection landing in one side only would decide the ratio
        try:
            # Interleaved call by call: both sides see the same machine and caches.
            for proof, (der, data) in zip(proofs, raw, strict=True):
                start = clock()
                public.verify(der, data, scheme)
                middle = clock()
                await verifier.verify_dpop(token, proof, "GET", URL)
                raw_ns += middle - start
                ours_ns += clock() - middle
        finally:
            gc.enable()
        raw_us = raw_ns / PROOFS / 1000
        ours_us = ours_ns / PROOFS / 1000
        best["raw_es256_verify_us"] = min(raw_us, best.get("raw_es256_verify_us", 1e9))
        best["dpop_verify_us"] = min(ours_us, best.get("dpop_verify_us", 1e9))
    return best


def run() -> dict[str, float]:
    """Measure, print the readable lines, return the figures."""
    key = DPoPKey.generate("ES256")
    with LocalIssuer(audience=AUDIENCE) as issuer:
        token = issuer.mint(scope="order:read", claims={"cnf": {"jkt": key.thumbprint}})
        source = JWKSKeySource(issuer=issuer.issuer)
        config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
        verifier = Verifier(config, key_sources={issuer.issuer: source})
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(source.refresh())
            issuer.stop()  # keys are cached; the issuer's thread must not disturb timings
            figures = loop.run_until_complete(_measure(verifier, token, key))
            loop.run_until_complete(source.aclose())
        finally:
            loop.close()
    assert isinstance(verifier.dpop, ProofChecker)
    figures["dpop_verify_vs_raw_ec"] = figures["dpop_verify_us"] / figures["raw_es256_verify_us"]
    figures["replay_cache_bytes_per_entry"] = _replay_bytes_per_entry()
    raw = figures["raw_es256_verify_us"]
    print(f"dpop: raw ES256 verify (cryptography)           {raw:9.2f} us")
    print(
        f"dpop: proof check, token cached                  {figures['dpop_verify_us']:9.2f} us"
        f"  {figures['dpop_verify_vs_raw_ec']:5.2f}x raw ES256  [target <= 1.5x]"
    )
    per_entry = figures["replay_cache_bytes_per_entry"]
    print(
        f"dpop: replay cache {per_entry:.0f} B/entry; default bound {REPLAY_ENTRIES} entries"
        f" = {per_entry * REPLAY_ENTRIES / 1e6:.1f} MB, refused (fail closed) beyond"
    )
    return {name: round(value, 3) for name, value in figures.items()}


if __name__ == "__main__":
    print(run())
