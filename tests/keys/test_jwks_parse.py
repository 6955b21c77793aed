"""parse_jwks: document-level failures and each key-hygiene rule, without HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genauth_guard._jwks import JWKSError, ParsedJWKS, parse_jwks
from genauth_guard.testing._keys import SigningKey, b64url_uint

GOOD = SigningKey.generate(2048, kid="good")
OTHER = SigningKey.generate(2048, kid="other")
SMALL = SigningKey.generate(1024, kid="small")


def doc(*jwks: Any) -> bytes:
    return json.dumps({"keys": list(jwks)}).encode()


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    jwk = dict(base, **changes)
    return {k: v for k, v in jwk.items() if v is not _DROP}


_DROP = object()


def test_good_key_is_kept_with_its_fields() -> None:
    parsed = parse_jwks(doc(GOOD.public_jwk()))
    assert [k.kid for k in parsed.keys] == ["good"]
    key = parsed.keys[0]
    assert (key.kty, key.alg) == ("RSA", "RS256")
    assert key.key.public_numbers() == GOOD.public_key.public_numbers()
    assert parsed.skipped == ()


def test_key_without_use_alg_or_kid_is_kept() -> None:
    jwk = with_(GOOD.public_jwk(), use=_DROP, alg=_DROP, kid=_DROP)
    parsed = parse_jwks(doc(jwk))
    assert len(parsed.keys) == 1
    assert parsed.keys[0].kid is None
    assert parsed.keys[0].alg is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kty": "EC"}, "malformed or missing crv"),
        ({"kty": "oct"}, "kty is not RSA, EC or OKP"),
        ({"kty": _DROP}, "malformed kty"),
        ({"use": "enc"}, "use is not sig"),
        ({"use": ["sig"]}, "malformed use"),
        ({"key_ops": ["encrypt"]}, "key_ops does not allow verify"),
        ({"key_ops": "verify"}, "malformed key_ops"),
        ({"key_ops": ["verify", 1]}, "malformed key_ops"),
        ({"alg": "HS256"}, "alg is not"),
        ({"alg": "ES256"}, "alg is not"),
        ({"alg": "none"}, "alg is not"),
        ({"alg": 256}, "malformed alg"),
        ({"kid": 7}, "malformed kid"),
        ({"kid": ""}, "malformed kid"),
        ({"n": _DROP}, "malformed or missing n/e"),
        ({"e": _DROP}, "malformed or missing n/e"),
        ({"n": 12345}, "malformed or missing n/e"),
        ({"e": "AQ*B"}, "malformed or missing n/e"),
        ({"n": "a+b/"}, "malformed or missing n/e"),
        ({"n": "A"}, "malformed or missing n/e"),
        ({"n": ""}, "malformed or missing n/e"),
        ({"e": "AA"}, "malformed or missing n/e"),
        ({"e": "Ag"}, "invalid RSA public numbers"),  # e = 2: even
        ({"e": b64url_uint(2**80 + 1)}, "too large"),
        ({"d": "AQAB"}, "private key material"),
    ],
)
def test_bad_key_is_skipped_and_good_one_kept(changes: dict[str, Any], reason: str) -> None:
    bad = with_(GOOD.public_jwk(), **{"kid": "bad", **changes})
    parsed = parse_jwks(doc(bad, OTHER.public_jwk()))
    assert [k.kid for k in parsed.keys] == ["other"]
    assert len(parsed.skipped) == 1
    assert parsed.skipped[0].index == 0
    assert reason in parsed.skipped[0].reason


def test_key_under_2048_bits_is_skipped() -> None:
    parsed = parse_jwks(doc(SMALL.public_jwk(), GOOD.public_jwk()))
    assert [k.kid for k in parsed.keys] == ["good"]
    assert parsed.skipped[0].kid == "small"
    assert "2048" in parsed.skipped[0].reason


def test_padding_and_leading_zero_octets_are_tolerated() -> None:
    jwk = GOOD.public_jwk()
    numbers = GOOD.public_key.public_numbers()
    import base64

    padded = base64.urlsafe_b64encode(b"\0" + numbers.n.to_bytes(256, "big")).decode()
    parsed = parse_jwks(doc(with_(jwk, n=padded, e="AQAB")))
    assert parsed.keys[0].key.public_numbers() == numbers


def test_non_object_entries_are_skipped() -> None:
    parsed = parse_jwks(doc("x", 1, None, [], GOOD.public_jwk()))
    assert [k.kid for k in parsed.keys] == ["good"]
    assert [s.index for s in parsed.skipped] == [0, 1, 2, 3]
    assert all(s.kid is None for s in parsed.skipped)


def test_duplicate_kid_first_usable_wins() -> None:
    clash = with_(OTHER.public_jwk(), kid="good")
    unusable_first = with_(SMALL.public_jwk(), kid="good")
    parsed = parse_jwks(doc(unusable_first, GOOD.public_jwk(), clash))
    assert len(parsed.keys) == 1
    assert parsed.keys[0].key.public_numbers() == GOOD.public_key.public_numbers()
    assert [s.reason.split()[0] for s in parsed.skipped] == ["RSA", "duplicate"]


def test_entries_beyond_max_keys_are_not_looked_at() -> None:
    jwks = [with_(GOOD.public_jwk(), kid=f"k{i}") for i in range(10)]
    parsed = parse_jwks(doc(*jwks), max_keys=3)
    assert [k.kid for k in parsed.keys] == ["k0", "k1", "k2"]
    assert parsed.beyond_max_keys == 7


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>not json{", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[]", "not a JSON object"),
        (b'"keys"', "not a JSON object"),
        (b"{}", 'no "keys" list'),
        (b'{"keys": {"kid": "x"}}', 'no "keys" list'),
        (b'{"keys": null}', 'no "keys" list'),
    ],
)
def test_unusable_document_raises_jwks_error(content: bytes, message: str) -> None:
    with pytest.raises(JWKSError, match=message):
        parse_jwks(content)


def test_empty_key_list_is_a_valid_empty_set() -> None:
    assert parse_jwks(b'{"keys": []}').keys == ()


# -- property: arbitrary JSON-ish documents raise nothing but JWKSError -------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
_good = GOOD.public_jwk()
_field_values = {
    "kty": st.sampled_from(["RSA", "EC", "rsa", ""]) | _json,
    "use": st.sampled_from(["sig", "enc"]) | _json,
    "key_ops": st.lists(st.sampled_from(["verify", "sign", "encrypt"]), max_size=3) | _json,
    "alg": st.sampled_from(["RS256", "RS512", "HS256", "none"]) | _json,
    "kid": st.text(max_size=6) | _json,
    "n": st.sampled_from([_good["n"], SMALL.public_jwk()["n"], "", "A", "AA=="]) | _json,
    "e": st.sampled_from(["AQAB", "Aw", "Ag", "AA", "", "////"]) | _json,
    "d": _json,
}
_jwk = (
    st.fixed_dictionaries({}, optional={name: values for name, values in _field_values.items()})
    | _json
)
_document = st.one_of(
    st.fixed_dictionaries({"keys": st.lists(_jwk, max_size=5)}).map(json.dumps),
    _json.map(json.dumps),
)


@settings(max_examples=100, deadline=None)
@given(content=_document.map(str.encode) | st.binary(max_size=64))
def test_parser_raises_only_jwks_error(content: bytes) -> None:
    try:
        parsed = parse_jwks(content, max_keys=4)
    except JWKSError:
        return
    assert isinstance(parsed, ParsedJWKS)
    assert len(parsed.keys) <= 4
    for key in parsed.keys:
        assert key.kty == "RSA"
        assert key.key.key_size >= 2048
        assert key.alg in (None, "RS256", "RS384", "RS512")
