"""Strict, fast parsing of JWS Compact Serialization (RFC 7515 section 7.1).

Only parsing lives here: no key, no signature check, no claim rule. Every rejection is
an :class:`InvalidToken` whose description never contains any part of the token.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from ._errors import InvalidToken, Reason

__all__ = ["ParsedJWS", "parse_compact"]

# One bytes.translate pass maps the base64url alphabet (RFC 4648 section 5) onto the
# standard one for binascii, and maps "+", "/" and "=" (not base64url, and padding is
# forbidden by RFC 7515 section 2) onto "*", which binascii's strict mode rejects. No
# per-character Python loop: the whole check runs in C.
_URL_TO_STD = bytes.maketrans(b"-_+/=", b"+/***")
# The last character of a segment carries unused low bits that must be zero for the
# encoding to be canonical (RFC 4648 section 3.5): 4 unused bits when len % 4 == 2,
# 2 when len % 4 == 3. These are the characters with those bits clear.
_LAST_OF_2 = frozenset(b"AQgw")
_LAST_OF_3 = frozenset(b"AEIMQUYcgkosw048")
_PADDING = (b"", b"", b"==", b"=")
_HEADER_MEMO_SIZE = 64


class _Malformed(Exception):
    """Internal: a JSON text that is valid JSON but not acceptable here."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Reject duplicate member names (RFC 7515 section 5.2 step 4, RFC 7519 section 4)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Malformed("duplicate member name")
    return obj


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259 section 6)."""
    raise _Malformed(name)


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)
# The decoder's C scanner: (text, index) -> (value, end); raises StopIteration when
# no JSON value starts at index.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


class ParsedJWS(NamedTuple):
    """The decoded parts of a compact JWS; the signature is not yet verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes  # ASCII(BASE64URL(header) || "." || BASE64URL(payload))
    signature: bytes


def _malformed(description: str) -> InvalidToken:
    return InvalidToken(Reason.MALFORMED, description)


def _decode(segment: bytes, what: str) -> bytes:
    """Strict, canonical base64url of one segment already mapped by ``_URL_TO_STD``."""
    rest = len(segment) & 3
    if rest == 1:
        raise _malformed(f"{what} is not valid base64url")
    if (rest == 2 and segment[-1] not in _LAST_OF_2) or (
        rest == 3 and segment[-1] not in _LAST_OF_3
    ):
        raise _malformed(f"{what} is not canonical base64url")
    try:
        return binascii.a2b_base64(segment + _PADDING[rest], strict_mode=True)
    except (binascii.Error, ValueError):
        raise _malformed(f"{what} is not valid base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    """A UTF-8 JSON object (RFC 7515 section 5.2 steps 3-4, RFC 7519 section 7.2)."""
    try:
        text = raw.decode("utf-8")
        try:
            # Fast path: tokens carry compact JSON, so one scanner call covers it all;
            # anything else (surrounding whitespace, errors) goes the standard way.
            value, end = _SCAN(text, 0)
            if end != len(text):
                value = _DECODER.decode(text)
        except StopIteration:
            value = _DECODER.decode(text)
    except _Malformed as exc:
        raise _malformed(f"{what} is not acceptable JSON ({exc.args[0]})") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise _malformed(f"{what} is not valid UTF-8 JSON") from None
    if type(value) is not dict:
        raise _malformed(f"{what} is not a JSON object")
    return value


def _check_header(header: dict[str, Any]) -> None:
    """Critical extensions (RFC 7515 section 4.1.11): none is understood here.

    ``crit`` lists extensions the recipient must understand or reject; this verifier
    implements none, so any ``crit`` is rejected. ``b64: false`` (RFC 7797) changes the
    signing input and is rejected too. ``jku``, ``x5u``, ``jwk`` and ``x5c`` are never
    read: keys come only from the configured JWKS (RFC 8725 sections 3.5 and 3.10).
    """
    if "crit" in header:
        raise InvalidToken(Reason.CRIT, "critical header extension not supported")
    if "b64" in header and header["b64"] is not True:
        raise InvalidToken(Reason.CRIT, "unencoded payload (b64) not supported")


def parse_compact(
    token: str, max_bytes: int, header_memo: dict[bytes, dict[str, Any]] | None = None
) -> ParsedJWS:
    """Parse a compact JWS (RFC 7515 section 7.1) without verifying it.

    The size limit is checked before anything else, so a huge token costs one length
    comparison. Exactly three segments of canonical, unpadded base64url are required;
    header and payload must be JSON objects without duplicate members. A 5-segment JWE
    (RFC 7516 section 7.1) is rejected as malformed.

    ``header_memo`` (owned by the caller, bounded here) remembers decoded headers that
    passed these checks: an issuer's tokens share a few headers, so this saves a
    base64 and JSON decode per token. The returned header must not be mutated.
    """
    if type(token) is not str:
        if not isinstance(token, bytes | bytearray | memoryview):
            raise _malformed("token must be a string")
        if len(token) > max_bytes:
            raise InvalidToken(Reason.TOO_LARGE, "token too large")
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("token contains non-ASCII characters") from None
    if len(token) > max_bytes:
        raise InvalidToken(Reason.TOO_LARGE, "token too large")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise _malformed("token contains non-ASCII characters") from None
    parts = raw.translate(_URL_TO_STD).split(b".")
    if len(parts) != 3:
        if len(parts) == 5:
            raise _malformed("token is a JWE (encrypted), not a signed JWT")
        raise _malformed("token must have three dot-separated segments")
    header_b64, payload_b64, signature_b64 = parts
    header = header_memo.get(header_b64) if header_memo is not None else None
    if header is None:
        header = _json_object(_decode(header_b64, "header"), "header")
        _check_header(header)
        if header_memo is not None:
            if len(header_memo) >= _HEADER_MEMO_SIZE:
                header_memo.clear()  # junk headers cannot grow it; real ones come back
            header_memo[header_b64] = header
    payload = _json_object(_decode(payload_b64, "payload"), "payload")
    signature = _decode(signature_b64, "signature")
    return ParsedJWS(
        header=header,
        payload=payload,
        signing_input=raw[: len(header_b64) + 1 + len(payload_b64)],
        signature=signature,
    )
