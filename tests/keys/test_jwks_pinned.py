"""Key rules that mutation testing found unpinned (issue 9): private members, every
RSA algorithm label, malformed kids on skipped keys, and the TTL of the fast path."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from genauth_guard._jwks import JWKSKeySource, parse_jwks
from genauth_guard.testing import LocalIssuer, ManualClock
from genauth_guard.testing._keys import SigningKey

KEY = SigningKey.generate(2048, kid="k")
Maker = Callable[..., JWKSKeySource]


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth"])
def test_any_private_member_gets_a_key_skipped(member: str) -> None:
    parsed = parse_jwks(json.dumps({"keys": [{**KEY.public_jwk(), member: "AQAB"}]}).encode())
    assert parsed.keys == ()
    assert parsed.skipped[0].reason == "publishes private key material"


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_every_rsa_signature_algorithm_label_is_kept(alg: str) -> None:
    parsed = parse_jwks(json.dumps({"keys": [{**KEY.public_jwk(), "alg": alg}]}).encode())
    assert [k.alg for k in parsed.keys] == [alg]
    narrowed = parse_jwks(
        json.dumps({"keys": [{**KEY.public_jwk(), "alg": alg}]}).encode(), algorithms=["RS256"]
    )
    assert [k.alg for k in narrowed.keys] == ([alg] if alg == "RS256" else [])


@pytest.mark.parametrize("kid", [123, None, ["k"], {"k": 1}, "x" * 500])
async def test_a_skipped_key_with_an_odd_kid_never_fails_the_fetch(
    issuer: LocalIssuer, make_source: Maker, caplog: pytest.LogCaptureFixture, kid: Any
) -> None:
    bad: dict[str, Any] = {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}
    if kid is not None:
        bad["kid"] = kid
    issuer.extra_jwks.append(bad)
    source = make_source(jwks_uri=issuer.jwks_uri)
    with caplog.at_level(logging.WARNING, logger="genauth_guard"):
        assert (await source.get_key(issuer.signing_key.kid)).kid == issuer.signing_key.kid
    assert "skipped" in caplog.text


async def test_fresh_key_is_none_once_the_ttl_has_passed(
    issuer: LocalIssuer, make_source: Maker
) -> None:
    clock = ManualClock()
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock, cache_ttl=60)
    kid = issuer.signing_key.kid
    assert source.fresh_key(kid) is None  # nothing fetched yet
    key = await source.get_key(kid)
    assert source.fresh_key(kid) is key
    clock.advance(59.9)
    assert source.fresh_key(kid) is key
    clock.advance(0.1)
    assert source.fresh_key(kid) is None  # stale for the fast path: get_key refreshes
