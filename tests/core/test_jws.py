"""The compact JWS parser on its own (RFC 7515 section 7.1), no keys involved."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from _corekit import b64url, segment

from genauth_guard._errors import InvalidToken, Reason
from genauth_guard._jws import parse_compact

LIMIT = 16 * 1024
HEADER = {"alg": "RS256", "kid": "k1"}
PAYLOAD = {"iss": "https://i/oidc", "aud": "a", "exp": 1}
SIG = b64url(b"\x01" * 256)


def token(header: Any = HEADER, payload: Any = PAYLOAD, sig: str = SIG) -> str:
    return f"{segment(header)}.{segment(payload)}.{sig}"


def malformed(value: Any, reason: Reason = Reason.MALFORMED) -> str:
    with pytest.raises(InvalidToken) as caught:
        parse_compact(value, LIMIT)
    assert caught.value.reason is reason
    return caught.value.description


def test_parses_header_payload_signing_input_and_signature() -> None:
    value = token()
    parsed = parse_compact(value, LIMIT)
    assert parsed.header == HEADER
    assert parsed.payload == PAYLOAD
    assert parsed.signing_input == value.rsplit(".", 1)[0].encode()
    assert parsed.signature == b"\x01" * 256


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 31, 32, 33])
def test_every_segment_length_round_trips(length: int) -> None:
    raw = bytes(range(length))
    parsed = parse_compact(token(sig=b64url(raw)), LIMIT)
    assert parsed.signature == raw


def test_accepts_bytes_tokens() -> None:
    assert parse_compact(token().encode(), LIMIT).header == HEADER


def test_size_is_checked_first() -> None:
    assert malformed("x" * (LIMIT + 1), Reason.TOO_LARGE) == "token too large"
    assert malformed(b"x" * (LIMIT + 1), Reason.TOO_LARGE) == "token too large"
    # Exactly at the limit is still parsed (and here fails later, as malformed).
    malformed("x" * LIMIT)


@pytest.mark.parametrize("bad", [None, 1, ["a.b.c"], {"t": 1}])
def test_non_string_tokens(bad: Any) -> None:
    malformed(bad)


def test_non_canonical_trailing_bits_rejected() -> None:
    # "QQ" is the canonical encoding of b"A"; "QR" decodes to the same byte.
    assert base64.urlsafe_b64decode("QR==") == b"A"
    assert "canonical" in malformed(token(sig="QR"))
    parse_compact(token(sig="QQ"), LIMIT)
    assert "canonical" in malformed(token(sig="QUF"))  # 2 spare bits set
    parse_compact(token(sig="QUE"), LIMIT)


@pytest.mark.parametrize("char", ["+", "/", "=", " ", "\t", "\n", "*", "%", "é"])
def test_characters_outside_base64url(char: str) -> None:
    malformed(token(sig=SIG[:10] + char + SIG[11:]))


def test_duplicate_members_even_nested() -> None:
    assert "duplicate" in malformed(token(payload='{"a":1,"a":2}'))
    assert "duplicate" in malformed(token(payload='{"a":{"b":1,"b":1}}'))
    assert "duplicate" in malformed(token(header='{"alg":"RS256","alg":"none"}'))


@pytest.mark.parametrize("text", ['{"exp":NaN}', '{"exp":Infinity}', '{"exp":-Infinity}'])
def test_non_json_constants(text: str) -> None:
    malformed(token(payload=text))


def test_json_with_whitespace_is_fine() -> None:
    assert parse_compact(token(payload=' {"a" : 1}\n'), LIMIT).payload == {"a": 1}


def test_utf8_bom_and_other_encodings_are_refused() -> None:
    malformed(token(payload=b"\xef\xbb\xbf" + json.dumps(PAYLOAD).encode()))
    malformed(token(payload=json.dumps(PAYLOAD).encode("utf-16")))


def test_crit_and_b64() -> None:
    with pytest.raises(InvalidToken) as caught:
        parse_compact(token(header=HEADER | {"crit": ["x"], "x": 1}), LIMIT)
    assert caught.value.reason is Reason.CRIT
    with pytest.raises(InvalidToken) as caught:
        parse_compact(token(header=HEADER | {"b64": False}), LIMIT)
    assert caught.value.reason is Reason.CRIT
    # b64: true is the default meaning and changes nothing.
    assert parse_compact(token(header=HEADER | {"b64": True}), LIMIT).header["b64"] is True


def test_header_key_parameters_are_returned_but_never_interpreted() -> None:
    header = HEADER | {"jku": "https://evil/jwks", "x5u": "https://evil/c", "jwk": {"kty": "RSA"}}
    assert parse_compact(token(header=header), LIMIT).header["jku"] == "https://evil/jwks"


def test_header_memo_reuses_checked_headers_only() -> None:
    memo: dict[bytes, dict[str, Any]] = {}
    first = parse_compact(token(), LIMIT, memo)
    second = parse_compact(token(payload={"other": 1}), LIMIT, memo)
    assert second.header is first.header
    assert len(memo) == 1
    with pytest.raises(InvalidToken):
        parse_compact(token(header=HEADER | {"crit": ["x"]}), LIMIT, memo)
    assert len(memo) == 1
    for i in range(200):
        parse_compact(token(header=HEADER | {"n": i}), LIMIT, memo)
    assert len(memo) <= 64


def test_descriptions_never_echo_the_token() -> None:
    secretish = "c2VjcmV0LXBheWxvYWQ"
    for bad in [f"{secretish}.{secretish}", f"{secretish}.{secretish}.{secretish}!"]:
        assert secretish[:8] not in malformed(bad)
