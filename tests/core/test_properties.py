"""Property tests: no input makes verify raise anything but the GuardError family.

Each test drives one event loop of its own (Hypothesis runs examples synchronously),
with a verifier whose keys were fetched once from the local issuer over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from _corekit import AUDIENCE, forge, segment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genauth_guard._config import GuardConfig
from genauth_guard._errors import GuardError
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer


class Runner:
    def __init__(self, issuer: LocalIssuer, **options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        config = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE, **options)
        self.verifier = Verifier(config)
        self.loop.run_until_complete(self.verifier.warm_up())

    def verify(self, token: Any) -> None:
        with contextlib.suppress(GuardError):
            self.loop.run_until_complete(self.verifier.verify(token))

    def close(self) -> None:
        self.loop.run_until_complete(self.verifier.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def runner(shared_issuer: LocalIssuer) -> Iterator[Runner]:
    running = Runner(shared_issuer, algorithms=["RS256", "PS256"], max_token_age=3600)
    yield running
    running.close()


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
CLAIM_NAMES = ["iss", "aud", "exp", "nbf", "iat", "sub", "scope", "scp", "client_id", "azp", "jti"]
HEADER_NAMES = ["alg", "kid", "typ", "crit", "b64", "jku", "jwk", "x5u", "x5c", "cty"]
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

base64url_text = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ",
    max_size=200,
)


@FAST
@given(st.text(max_size=300) | base64url_text)
def test_any_string(runner: Runner, token: str) -> None:
    runner.verify(token)


@FAST
@given(st.binary(max_size=300))
def test_any_bytes(runner: Runner, token: bytes) -> None:
    runner.verify(token)


@FAST
@given(st.lists(base64url_text | st.text(max_size=40), min_size=1, max_size=6))
def test_any_segments(runner: Runner, parts: list[str]) -> None:
    runner.verify(".".join(parts))


@settings(FAST, max_examples=60)
@given(header=json_values, payload=json_values)
def test_arbitrary_json_signed_with_the_real_key(
    runner: Runner, shared_issuer: LocalIssuer, header: Any, payload: Any
) -> None:
    key = shared_issuer.signing_key
    runner.verify(forge(header, payload, key=key.private_key))


@settings(FAST, max_examples=120)
@given(
    header_extra=st.dictionaries(st.sampled_from(HEADER_NAMES) | st.text(max_size=5), json_values),
    claims_extra=st.dictionaries(st.sampled_from(CLAIM_NAMES) | st.text(max_size=5), json_values),
    drop=st.lists(st.sampled_from(CLAIM_NAMES)),
)
def test_mutated_genuine_tokens(
    runner: Runner,
    shared_issuer: LocalIssuer,
    header_extra: dict[str, Any],
    claims_extra: dict[str, Any],
    drop: list[str],
) -> None:
    key = shared_issuer.signing_key
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid} | header_extra
    claims = shared_issuer.claims_for(scope="order:read") | claims_extra
    for name in drop:
        claims.pop(name, None)
    runner.verify(forge(header, claims, key=key.private_key))


@settings(FAST, max_examples=60)
@given(text=st.text(max_size=80))
def test_arbitrary_json_text_in_payload(
    runner: Runner, shared_issuer: LocalIssuer, text: str
) -> None:
    key = shared_issuer.signing_key
    header = {"alg": "RS256", "kid": key.kid}
    runner.verify(forge(header, text.encode("utf-8", "surrogatepass"), key=key.private_key))
    runner.verify(forge(header, json.dumps(text), key=key.private_key))
    runner.verify(segment(header) + "." + text)
