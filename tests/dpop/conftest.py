"""Fixtures for the DPoP tests: keys (generated once), DPoP-bound tokens, apps."""

from __future__ import annotations

import functools

import pytest

from genauth_guard._dpop_key import DPoPKey
from genauth_guard.testing import LocalIssuer


@functools.cache
def _key(alg: str, n: int = 0) -> DPoPKey:
    return DPoPKey.generate(alg)


@pytest.fixture
def key() -> DPoPKey:
    return _key("ES256")


@pytest.fixture
def other_key() -> DPoPKey:
    return _key("ES256", 1)


def bound_token(issuer: LocalIssuer, key: DPoPKey, scope: str = "order:read") -> str:
    """A token bound to ``key`` (``cnf.jkt``, RFC 9449 section 6.1), minted directly."""
    return issuer.mint(scope=scope, claims={"cnf": {"jkt": key.thumbprint}})
