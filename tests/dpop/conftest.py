"""Fixtures for the DPoP tests: two ES256 keys, generated once."""

from __future__ import annotations

import pytest
from _dpopkit import cached_key

from genauth_guard._dpop_key import DPoPKey


@pytest.fixture
def key() -> DPoPKey:
    return cached_key("ES256")


@pytest.fixture
def other_key() -> DPoPKey:
    return cached_key("ES256", 1)
