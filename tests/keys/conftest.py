"""Fixtures for the key source tests: a hand-moved clock and a reusable issuer.

Starting a local issuer costs about 0.4 s, so these tests share one per module and
reset it between tests (faults, counters, extra keys, all keys but the newest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest

from genauth_guard._jwks import JWKSKeySource
from genauth_guard.testing import LocalIssuer, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def _module_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience="order-api") as running:
        yield running


@pytest.fixture
def issuer(_module_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    """The module's issuer, as if fresh: one key, no faults, zero counts."""
    running = _module_issuer
    running.heal()
    running.extra_jwks.clear()
    running.hang_seconds = 30.0
    for key in running.keys[:-1]:
        running.drop_key(key.kid)
    running.reset_counts()
    yield running
    running.heal()


@pytest.fixture
async def make_source() -> AsyncIterator[Callable[..., JWKSKeySource]]:
    """Build key sources sharing one plain-HTTP client (a TLS-ready client costs ~80 ms)."""
    client = httpx2.AsyncClient(verify=False)  # loopback http only: nothing to verify
    made: list[JWKSKeySource] = []

    def make(**kwargs: Any) -> JWKSKeySource:
        kwargs.setdefault("http_client", client)
        source = JWKSKeySource(**kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.aclose()
    await client.aclose()
