"""Size bounds count the bytes actually held (issue 9, finding 7): a JWKS or discovery
document compressed although ``identity`` was asked for is decoded under the bound."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from genauth_guard._errors import KeysUnavailable
from genauth_guard._jwks import JWKSKeySource
from genauth_guard.testing import LocalIssuer

Maker = Callable[..., JWKSKeySource]


@pytest.mark.parametrize("endpoint", ["jwks", "discovery"])
async def test_a_gzip_answer_is_decoded(
    issuer: LocalIssuer, make_source: Maker, endpoint: Any
) -> None:
    issuer.fail(endpoint, "gzip")
    source = make_source(issuer=issuer.issuer)
    assert (await source.get_key(issuer.signing_key.kid)).kid == issuer.signing_key.kid


@pytest.mark.parametrize("endpoint", ["jwks", "discovery"])
async def test_a_gzip_bomb_fails_the_fetch_within_the_bound(
    issuer: LocalIssuer, make_source: Maker, endpoint: Any
) -> None:
    issuer.fail(endpoint, "gzip_bomb")
    source = make_source(issuer=issuer.issuer)
    tracemalloc.start()
    try:
        with pytest.raises(KeysUnavailable) as caught:
            await source.refresh()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "larger than" in (caught.value.detail or "")
    assert peak < 8 * 1024 * 1024  # 64 MiB decoded; the bound is 512 KiB
