"""Cost of verifying a token, each figure beside a raw RSA verify measured in the same run.

Keys come from a :class:`LocalIssuer` over loopback HTTP once (warm-up); the issuer is
then stopped so its server thread cannot disturb the timings, and everything below is
in-process. Measurements alternate in rounds (raw RSA, PyJWT, ours...) so drift of a
shared machine hits all alike; each figure is the best round (the least disturbed).

- raw RSA: ``RSAPublicKey.verify`` (PKCS#1 v1.5, SHA-256) of each token's signature;
- PyJWT: ``jwt.decode`` with the key, audience and algorithms given;
- first-seen: every token new to the verifier (cache on, so the cost of storing it
  is included), keys already fetched;
- no cache: the same token again and again with the cache turned off;
- cached: a token seen before, as a new string object each time (as from a request,
  so its hash is computed again);
- 1 MB token: rejected by the size limit;
- worst reject: the most expensive refusals we could build within the default limits
  (16 KiB tokens), each a different token so no memo helps: a valid header with a
  16 KiB payload of tiny JSON values and a forged signature; headers filled to the
  JSON bounds (64 members of escaped strings, or of long numbers); a 16 KiB signature.
  ``worst_reject_vs_verify`` is the costliest of them over a first-seen valid verify.

``python -c "import bench.verify as b; print(b.run())"`` runs it alone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from genauth_guard._config import GuardConfig
from genauth_guard._errors import InvalidToken
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._jws import parse_compact
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer

AUDIENCE = "order-api"
TOKENS = 200
LIMIT = 16 * 1024  # GuardConfig.max_token_bytes default


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _fill(prefix: str, suffix: str, unit: str, budget: int) -> str:
    """``prefix`` + as many ``unit`` as fit in ``budget`` base64 characters + ``suffix``."""
    room = budget * 3 // 4 - len(prefix) - len(suffix)
    return prefix + unit * max(0, room // len(unit)) + suffix


def junk_tokens(issuer_url: str, kid: str, count: int) -> dict[str, list[str]]:
    """Refusals as costly as we can make them within the default size limit."""
    signature = _b64(os.urandom(256))
    claims = json.dumps({"iss": issuer_url, "aud": AUDIENCE, "exp": 4102444800})
    kinds: dict[str, list[str]] = {}
    budget = LIMIT - len(signature) - 2

    def header(i: int, **extra: object) -> str:
        return _b64(json.dumps({"alg": "RS256", "kid": kid, "n": i, **extra}).encode())

    # 1. A real-looking header, a payload filled with tiny values, a forged signature.
    payload = _fill(f'{{"iss":"{issuer_url}","x":[', "0]}", "[],", budget - 80)
    kinds["junk payload"] = [
        f"{header(i)}.{_b64(payload.encode())}.{signature}" for i in range(count)
    ]
    # 2. Headers at the JSON bounds: 60 members, each a long escaped string or number.
    body = _b64(claims.encode())
    per = (budget - len(body)) * 3 // 4 // 64
    escape = "\\u00e9"  # six characters of JSON text for one decoded character
    strings = ",".join(f'"m{j}":"{escape * (per // 6 - 2)}"' for j in range(60))
    numbers = ",".join(f'"m{j}":1.{"9" * (per - 10)}' for j in range(60))
    for name, members in (("junk header strings", strings), ("junk header numbers", numbers)):
        kinds[name] = [
            f'{_b64(f"""{{"alg":"RS256","kid":"{kid}","n":{i},{members}}}""".encode())}'
            f".{body}.{signature}"
            for i in range(count)
        ]
    # 3. A signature segment filling the token.
    long_sig = _b64(os.urandom((budget - len(body) - 120) * 3 // 4))
    kinds["junk signature"] = [f"{header(i)}.{body}.{long_sig}" for i in range(count)]
    return kinds


ROUNDS = 25
HUGE = 1024 * 1024


def _per_call_us(seconds: float, calls: int) -> float:
    return seconds / calls * 1e6


def _time_sync(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return _per_call_us(time.perf_counter() - start, calls)


async def _time_async(run: Callable[[], Awaitable[None]], calls: int) -> float:
    start = time.perf_counter()
    await run()
    return _per_call_us(time.perf_counter() - start, calls)


async def _measure(
    issuer_url: str, sources: dict[str, JWKSKeySource], tokens: list[str]
) -> dict[str, float]:
    key = (await sources[issuer_url].get_key(parse_compact(tokens[0], 1 << 20).header["kid"])).key
    config = GuardConfig(issuer=issuer_url, audience=AUDIENCE)
    no_cache = Verifier(
        GuardConfig(issuer=issuer_url, audience=AUDIENCE, token_cache_size=0), key_sources=sources
    )
    parsed = [parse_compact(t, 1 << 20) for t in tokens]
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    n = len(tokens)
    huge = "a" * HUGE
    kid = parse_compact(tokens[0], 1 << 20).header["kid"]
    junk = junk_tokens(issuer_url, kid, n)
    for name, batch in junk.items():
        assert all(len(t) <= LIMIT for t in batch), name
    best: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        best[name] = min(value, best.get(name, float("inf")))

    for _ in range(ROUNDS):

        def raw_rsa() -> None:
            for p in parsed:
                key.verify(p.signature, p.signing_input, pkcs1, sha256)

        keep("raw_rsa_verify_us", _time_sync(raw_rsa, 1) / n)

        def pyjwt() -> None:
            for t in tokens:
                jwt.decode(t, key, algorithms=["RS256"], audience=AUDIENCE)

        keep("pyjwt_decode_us", _time_sync(pyjwt, 1) / n)

        fresh = Verifier(config, key_sources=sources)  # empty cache: every token first-seen

        async def first_seen(v: Verifier = fresh) -> None:
            for t in tokens:
                await v.verify(t)

        keep("cold_verify_us", await _time_async(first_seen, n))

        async def uncached() -> None:
            token = tokens[0]
            for _ in range(n):
                await no_cache.verify(token)

        keep("cold_verify_nocache_us", await _time_async(uncached, n))

        copies = [(t + " ")[:-1] for t in tokens] * 10  # new str objects: hash not cached

        async def cached(v: Verifier = fresh, batch: list[str] = copies) -> None:
            for t in batch:
                await v.verify(t)

        keep("cached_verify_us", await _time_async(cached, len(copies)))

        async def huge_reject(v: Verifier = fresh) -> None:
            for _ in range(n):
                try:  # noqa: SIM105 (cheaper than contextlib.suppress: not timed in)
                    await v.verify(huge)
                except InvalidToken:
                    pass

        keep("huge_token_reject_us", await _time_async(huge_reject, n))

        for name, batch in junk.items():

            async def reject(v: Verifier = fresh, batch: list[str] = batch) -> None:
                for t in batch:
                    try:  # noqa: SIM105
                        await v.verify(t)
                    except InvalidToken:
                        pass

            keep(f"reject {name}", await _time_async(reject, len(batch)))
    await no_cache.aclose()
    return best


def run() -> dict[str, float]:
    """Measure, print one readable line per figure, return the figures."""
    with LocalIssuer(audience=AUDIENCE) as issuer:
        issuer_url = issuer.issuer
        tokens = [
            issuer.mint(scope="order:read order:write", sub=f"client-{i}") for i in range(TOKENS)
        ]
        source = JWKSKeySource(issuer=issuer_url)
        sources = {issuer_url: source}

        async def warm_up() -> None:
            await source.refresh()

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(warm_up())
            issuer.stop()  # keys are cached; the issuer's thread must not disturb timings
            figures = loop.run_until_complete(_measure(issuer_url, sources, tokens))
            loop.run_until_complete(source.aclose())
        finally:
            loop.close()

    raw = figures["raw_rsa_verify_us"]
    rejects = {k: v for k, v in figures.items() if k.startswith("reject ")}
    for name in rejects:
        del figures[name]
    worst = max(rejects, key=rejects.__getitem__)
    figures["worst_reject_us"] = rejects[worst]
    figures["worst_reject_vs_verify"] = rejects[worst] / figures["cold_verify_us"]
    figures["cold_verify_vs_raw_rsa"] = figures["cold_verify_us"] / raw
    figures["pyjwt_decode_vs_raw_rsa"] = figures["pyjwt_decode_us"] / raw
    rows = [
        ("raw RSA-2048 verify (cryptography)", "raw_rsa_verify_us", None),
        ("PyJWT jwt.decode", "pyjwt_decode_us", "target: none, for comparison"),
        ("genauth-guard first-seen verify", "cold_verify_us", "target <= 1.5x raw RSA"),
        ("genauth-guard verify, cache off", "cold_verify_nocache_us", None),
        ("genauth-guard cached verify", "cached_verify_us", "target < 2 us"),
        ("1 MB token rejected", "huge_token_reject_us", "target < 10 us"),
    ]
    for label, name, target in rows:
        value = figures[name]
        note = f"{value / raw:5.2f}x raw RSA ({raw:.1f} us)"
        print(f"verify: {label:38s} {value:9.2f} us  {note}" + (f"  [{target}]" if target else ""))
    cold = figures["cold_verify_us"]
    for name, value in sorted(rejects.items()):
        label = f"rejected: {name[len('reject ') :]}"
        print(f"verify: {label:38s} {value:9.2f} us  {value / cold:5.2f}x first-seen verify")
    print(
        f"verify: {'worst reject / first-seen verify':38s} "
        f"{figures['worst_reject_vs_verify']:9.2f} x   ({worst[len('reject ') :]})  [target <= 3]"
    )
    figures = {name: round(value, 3) for name, value in figures.items()}
    return figures


if __name__ == "__main__":
    print(run())
