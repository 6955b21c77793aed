"""Fixtures for the adapter tests: a real Verifier on the per-test local issuer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _contract import config_for

from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer


@pytest.fixture
async def verifier(issuer: LocalIssuer) -> AsyncIterator[Verifier]:
    async with Verifier(config_for(issuer)) as running:
        yield running
