"""Fixtures for the verification core: a hand-moved clock and verifiers on a real issuer.

Verifiers fetch keys from the session's local issuer over real HTTP through the real
JWKSKeySource; tests that fault, rotate or count use the per-test ``issuer``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _corekit import AUDIENCE, Clock, MakeVerifier

from genauth_guard._config import GuardConfig
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer


@pytest.fixture
def clock() -> Clock:
    # Tokens minted by the local issuer use the real time, so start there.
    return Clock(time.time())


@pytest.fixture
async def make_verifier(shared_issuer: LocalIssuer, clock: Clock) -> AsyncIterator[MakeVerifier]:
    """Build verifiers (default: the shared issuer, audience order-api); closed after."""
    made: list[Verifier] = []

    def make(*, on: LocalIssuer | None = None, **options: Any) -> Verifier:
        options.setdefault("issuer", (on or shared_issuer).issuer)
        options.setdefault("audience", AUDIENCE)
        verifier = Verifier(GuardConfig(**options), clock=clock)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.aclose()


@pytest.fixture
async def verifier(make_verifier: MakeVerifier) -> Verifier:
    """Default configuration on the shared issuer, token cache off (every call is cold)."""
    return make_verifier(token_cache_size=0)
