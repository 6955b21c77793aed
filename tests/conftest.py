"""Shared fixtures: a real local issuer on loopback, started per test or per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genauth_guard.testing import LocalIssuer

AUDIENCE = "order-api"


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """A fresh issuer per test (its own keys, counters and faults)."""
    with LocalIssuer(audience=AUDIENCE) as running:
        running.add_client("order-reader", "reader-secret", ["order:read"])
        running.add_client("order-writer", "writer-secret", ["order:read", "order:write"])
        running.add_client("nobody", "nobody-secret", [])
        yield running


@pytest.fixture(scope="session")
def shared_issuer() -> Iterator[LocalIssuer]:
    """One issuer for the session, for tests that neither fault nor count it."""
    with LocalIssuer(audience=AUDIENCE) as running:
        running.add_client("order-reader", "reader-secret", ["order:read"])
        yield running


@pytest.fixture(autouse=True)
def _fresh_refusal_log() -> None:
    """Refusals logged by the Starlette decorators share one rate limit: reset per test."""
    from genauth_guard._asgi import _REFUSALS

    _REFUSALS.clear()
