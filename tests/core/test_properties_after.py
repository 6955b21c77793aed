"""Properties of the paths added by issue 9: what is accepted is exactly what the parsed
claims say (whatever text the raw payload holds), hits agree with cold verifies, and
bodies and log text stay bounded and clean."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from _corekit import forge
from hypothesis import given, settings
from hypothesis import strategies as st
from test_properties import FAST, Runner, json_values

from genauth_guard._bounded import BodyTooLarge, BoundedBody
from genauth_guard._errors import GuardError
from genauth_guard._jws import issuer_hint
from genauth_guard._logsafe import strip_controls
from genauth_guard.testing import LocalIssuer

# Keys whose JSON text contains "iss" in ways a byte search could be fooled by.
TRICKY_KEYS = st.sampled_from(['x"iss', "iss ", "ISS", "iss\\", '"iss"', "xiss", "iss"])


@pytest.fixture(scope="module")
def cached_runner(shared_issuer: LocalIssuer) -> Iterator[Runner]:
    running = Runner(shared_issuer, claim_checks={"sub": lambda value: value != "denied"})
    yield running
    running.close()


@settings(FAST, max_examples=80)
@given(
    extra=st.dictionaries(TRICKY_KEYS | st.text(max_size=6), json_values, max_size=5),
    iss=st.sampled_from(["real", "other", "absent"]) | st.text(max_size=10),
    first=st.booleans(),
)
def test_accepted_issuer_is_the_parsed_configured_one(
    cached_runner: Runner, shared_issuer: LocalIssuer, extra: dict[str, Any], iss: str, first: bool
) -> None:
    key = shared_issuer.signing_key
    claims = shared_issuer.claims_for()
    del claims["iss"]
    value = {"real": shared_issuer.issuer, "other": "https://other.example/oidc"}.get(iss, iss)
    ordered = ({} if iss == "absent" else {"iss": value}) if first else {}
    ordered |= {k: v for k, v in extra.items() if k != "iss"} | claims
    if not first and iss != "absent":
        ordered["iss"] = value
    token = forge({"alg": "RS256", "typ": "JWT", "kid": key.kid}, ordered, key=key.private_key)
    outcomes = []
    for _ in range(2):  # cold, then (if accepted) from the cache
        try:
            outcomes.append(
                cached_runner.loop.run_until_complete(cached_runner.verifier.verify(token))
            )
        except GuardError as error:
            outcomes.append(type(error))
    assert outcomes[0] == outcomes[1] or outcomes[0] is outcomes[1]
    if not isinstance(outcomes[0], type):
        assert outcomes[0].issuer == shared_issuer.issuer == ordered["iss"]


@FAST
@given(st.binary(max_size=400))
def test_issuer_hint_never_raises(payload: bytes) -> None:
    for accepted in (set(), {"x"}):
        named = issuer_hint(payload, accepted)
        assert named is None or all(i in accepted for i in named)


@FAST
@given(
    st.dictionaries(st.text(max_size=6), json_values, max_size=6),
    st.text(min_size=1, max_size=60),
)
def test_issuer_hint_finds_an_accepted_iss_even_after_nested_ones(
    claims: dict[str, Any], iss: str
) -> None:
    claims["iss"] = iss
    for text in (json.dumps(claims), json.dumps(claims, ensure_ascii=False, indent=1)):
        assert issuer_hint(text.encode(), {iss}) == (iss,)


@FAST
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=2000), st.integers(1, 500))
def test_bounded_body_decodes_or_refuses_within_the_bound(
    data: bytes, limit: int, chunk: int
) -> None:
    packed = gzip.compress(data)
    body = BoundedBody(limit, "gzip")
    try:
        for start in range(0, len(packed), chunk):
            body.feed(packed[start : start + chunk])
        assert body.finish() == data
        assert len(data) <= limit
    except BodyTooLarge:
        assert len(data) > limit or len(packed) > limit


@FAST
@given(st.text(max_size=300))
def test_log_safe_text_has_no_controls(text: str) -> None:
    for cleaned in (strip_controls(text),):
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
        assert not any(c in cleaned for c in "\u2028\u2029\u202e")
