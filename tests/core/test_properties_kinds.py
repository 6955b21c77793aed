"""Property tests for EC/OKP/HS tokens and introspection answers: only GuardErrors."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from _corekit import AUDIENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genauth_guard import _jwa
from genauth_guard._config import GuardConfig
from genauth_guard._errors import GuardError, InvalidToken
from genauth_guard._introspection import (
    _EMPTY_HEADER,
    _Unusable,
    parse_introspection_response,
)
from genauth_guard._jwk import parse_public_jwk
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, SigningKey

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SECRET = "a-shared-secret-for-the-property-tests"
KINDS = ["ES256", "ES384", "ES512", "EdDSA"]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
CLAIMS = ["active", "iss", "aud", "exp", "nbf", "iat", "sub", "scope", "client_id", "jti"]


class Runner:
    def __init__(self, issuer: LocalIssuer) -> None:
        self.loop = asyncio.new_event_loop()
        config = GuardConfig(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            algorithms=[*KINDS, "RS256"],
            shared_secret=SECRET,
            token_cache_size=0,
        )
        self.verifier = Verifier(config)
        self.loop.run_until_complete(self.verifier.warm_up())

    def verify(self, token: str) -> bool:
        with contextlib.suppress(GuardError):
            self.loop.run_until_complete(self.verifier.verify(token))
            return True
        return False

    def close(self) -> None:
        self.loop.run_until_complete(self.verifier.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalIssuer, dict[str, SigningKey], Runner]]:
    with LocalIssuer(audience=AUDIENCE, app_secret=SECRET) as issuer:
        keys = {alg: SigningKey.generate(alg=alg) for alg in KINDS}
        issuer.extra_jwks.extend(k.public_jwk() for k in keys.values())
        runner = Runner(issuer)
        yield issuer, keys, runner
        runner.close()


@settings(FAST, max_examples=80)
@given(
    kind=st.sampled_from([*KINDS, "HS256"]),
    position=st.integers(min_value=0),
    char=st.sampled_from("AQgw-_09"),
)
def test_one_changed_character_never_verifies(
    world: tuple[LocalIssuer, dict[str, SigningKey], Runner],
    kind: str,
    position: int,
    char: str,
) -> None:
    issuer, keys, runner = world
    if kind == "HS256":
        token = issuer.mint(algorithm="HS256", scope="a")
    else:
        token = issuer.mint(key=keys[kind], scope="a")
    index = position % len(token)
    if token[index] == "." or token[index] == char:
        return
    changed = token[:index] + char + token[index + 1 :]
    # A change in the last character's spare bits decodes to the same bytes and is
    # refused as non-canonical; any other change breaks the signature or the JSON.
    assert not runner.verify(changed)
    assert runner.verify(token)


@settings(FAST, max_examples=100)
@given(alg=st.sampled_from(sorted(_jwa.ASYMMETRIC_ALGORITHMS)), signature=st.binary(max_size=600))
def test_random_signatures_never_verify_and_never_raise(
    world: tuple[LocalIssuer, dict[str, SigningKey], Runner], alg: str, signature: bytes
) -> None:
    _, keys, _ = world
    for signer in keys.values():
        key, _ = parse_public_jwk(signer.public_jwk())
        assert key is not None
        assert not _jwa.verify(alg, key, b"a.b", signature)
    assert not _jwa.verify_hmac("HS256", SECRET.encode(), b"a.b", signature)


@settings(FAST, max_examples=300)
@given(st.binary(max_size=200) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_any_introspection_body_parses_or_is_unusable(body: bytes) -> None:
    try:
        claims = parse_introspection_response(body)
    except _Unusable:
        return
    if claims is not None:
        assert json.loads(body)["active"] is True
        assert "active" not in claims


@settings(FAST, max_examples=100)
@given(st.dictionaries(st.sampled_from(CLAIMS) | st.text(max_size=5), json_values))
def test_any_introspection_claims_give_a_token_or_invalid_token(
    world: tuple[LocalIssuer, dict[str, SigningKey], Runner], document: dict[str, Any]
) -> None:
    issuer, _, runner = world
    claims = parse_introspection_response(json.dumps(document).encode())
    if claims is None:
        assert document.get("active") is not True
        return
    try:
        token, not_before, not_after = runner.verifier.accept_claims(
            claims, _EMPTY_HEADER, issuer.issuer
        )
    except InvalidToken:
        return
    assert not_before < not_after
    assert token.issuer == issuer.issuer
