"""Strict, fast parsing of JWS Compact Serialization (RFC 7515 section 7.1).

Only parsing lives here: no key, no signature check, no claim rule. Every rejection is
an :class:`InvalidToken` whose description never contains any part of the token.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Container
from typing import Any, NamedTuple

from ._errors import InvalidToken, Reason

# The C string scanner json uses (not in json.decoder's typed interface).
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

__all__ = [
    "ParsedJWS",
    "issuer_hint",
    "named_issuer",
    "parse_claims",
    "parse_compact",
    "split_compact",
]

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
# The header is parsed before anything is trusted, so its JSON work is bounded: a real
# one has a handful of members and one level of nesting (a DPoP proof's jwk), while
# 16 KiB of tiny values or deep nesting would cost a hundred times a verify.
_MAX_HEADER_COMMAS = 64
_MAX_HEADER_NESTING = 8
_MAX_HEADER_INT_DIGITS = 20  # CPython's str-to-int is quadratic: 4000 digits ~ 0.1 ms
# Segment lengths checked before any decoding. Headers are a few hundred characters
# (a DPoP proof's embedded RSA key under a kilobyte); the longest signature is a
# 16384-bit RSA one (2048 bytes, 2731 characters). Bytes beyond these would only be
# work spent on junk.
_MAX_HEADER_CHARS = 4096
_MAX_SIGNATURE_CHARS = 2731
# The unverified issuer is looked for in at most this many bytes after its member name.
_MAX_ISSUER_HINT = 1024
_MAX_ISSUER_HINTS = 16


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


def _small_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_HEADER_INT_DIGITS:
        raise _Malformed("number too long")
    return int(text)


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)
_HEADER_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_members, parse_constant=_no_constant, parse_int=_small_int
)
# Each decoder's C scanner: (text, index) -> (value, end); raises StopIteration when
# no JSON value starts at index.
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_HEADER_SCAN: Callable[[str, int], tuple[Any, int]] = _HEADER_DECODER.scan_once  # type: ignore[attr-defined]


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


def _json_object(
    raw: bytes,
    what: str,
    scan: Callable[[str, int], tuple[Any, int]] = _SCAN,
    decoder: json.JSONDecoder = _DECODER,
) -> dict[str, Any]:
    """A UTF-8 JSON object (RFC 7515 section 5.2 steps 3-4, RFC 7519 section 7.2)."""
    try:
        text = raw.decode("utf-8")
        try:
            # Fast path: tokens carry compact JSON, so one scanner call covers it all;
            # anything else (surrounding whitespace, errors) goes the standard way.
            value, end = scan(text, 0)
            if end != len(text):
                value = decoder.decode(text)
        except StopIteration:
            value = decoder.decode(text)
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


def _header_object(raw: bytes) -> dict[str, Any]:
    """The JOSE header, with its JSON work bounded (it is read before any trust)."""
    if (
        raw.count(b",") > _MAX_HEADER_COMMAS
        or raw.count(b"{") + raw.count(b"[") > _MAX_HEADER_NESTING
    ):
        raise _malformed("header is too complex")
    return _json_object(raw, "header", _HEADER_SCAN, _HEADER_DECODER)


def parse_claims(raw: bytes) -> dict[str, Any]:
    """The payload of :func:`split_compact` as a JSON object (RFC 7519 section 7.2 step 10).

    Meant for after the signature check: its JSON work is bounded only by the token size.
    """
    return _json_object(raw, "payload")


def issuer_hint(payload: bytes, accepted: Container[str]) -> tuple[str, ...] | None:
    """The accepted issuers a not yet verified payload names, found without parsing it.

    Reads the values of the first few ``"iss"`` member names in the raw JSON and keeps
    those in ``accepted``, in order and without repeats: usually one, but a nested
    object (an ``act`` claim, RFC 8693) may name an issuer of its own. Returns () when
    such members exist but none names an accepted issuer, None when none is found.
    Only selects whose keys to try: after the signature the parsed ``iss`` must equal
    the one chosen, so a misleading hint can only cause a refusal (RFC 8725 3.8).
    """
    at = payload.find(b'"iss"')
    if at >= 0 and payload.startswith(b'":"', at + 4):
        # The common case, compact JSON with one iss and no escapes: no scanner call.
        end = payload.find(b'"', at + 7, at + 7 + _MAX_ISSUER_HINT)
        if end > 0 and payload.find(b'"iss"', end) < 0:
            raw = payload[at + 7 : end]
            if b"\\" not in raw:
                text = raw.decode("utf-8", "replace")
                return (text,) if text in accepted else ()
    found: list[str] = []
    seen = False
    for _ in range(_MAX_ISSUER_HINTS):
        if at < 0:
            break
        value = _string_after(payload, at + 5)
        if value is not None:
            seen = True
            if value in accepted and value not in found:
                found.append(value)
        at = payload.find(b'"iss"', at + 5)
    else:
        if not found:
            return None  # too many to look at: let the signature and the parse decide
    return tuple(found) if seen else None


def named_issuer(payload: bytes) -> str | None:
    """The first ``iss`` member's string value in a raw payload, for a refusal's log."""
    at = payload.find(b'"iss"')
    for _ in range(_MAX_ISSUER_HINTS):
        if at < 0:
            break
        value = _string_after(payload, at + 5)
        if value is not None:
            return value
        at = payload.find(b'"iss"', at + 5)
    return None


def _string_after(payload: bytes, start: int) -> str | None:
    """The JSON string after ``: `` at ``start``; "" for another value; None if no colon."""
    rest = payload[start : start + _MAX_ISSUER_HINT].lstrip(b" \t\r\n")
    if rest[:1] != b":":
        return None  # "iss" was a value, not a member name
    rest = rest[1:].lstrip(b" \t\r\n")
    if rest[:1] != b'"':
        return ""
    try:
        value, _ = _scanstring(rest.decode("utf-8", "replace"), 1)
    except ValueError:
        return ""
    return value


def split_compact(
    token: str | bytes | bytearray | memoryview,
    max_bytes: int,
    header_memo: dict[bytes, dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Header (parsed), payload (decoded, not parsed), signing input and signature.

    The same checks as :func:`parse_compact` but the payload's JSON, so a verifier
    can check the signature before spending any work on the payload's content.
    """
    if type(token) is not str:
        if not isinstance(token, bytes | bytearray | memoryview):
            raise _malformed("token must be a string")
        try:
            if len(token) > max_bytes:
                raise InvalidToken(Reason.TOO_LARGE, "token too large")
            token = bytes(token).decode("ascii")
        except (UnicodeDecodeError, ValueError, TypeError, BufferError):
            # Non-ASCII, or a memoryview that is released or not a flat byte buffer.
            raise _malformed("token is not an ASCII string") from None
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
    if len(signature_b64) > _MAX_SIGNATURE_CHARS:
        raise _malformed("signature is longer than any supported key's")
    header = header_memo.get(header_b64) if header_memo is not None else None
    if header is None:
        if len(header_b64) > _MAX_HEADER_CHARS:
            raise _malformed("header too large")
        header = _header_object(_decode(header_b64, "header"))
        _check_header(header)
        if header_memo is not None:
            if len(header_memo) >= _HEADER_MEMO_SIZE:
                header_memo.clear()  # junk headers cannot grow it; real ones come back
            header_memo[header_b64] = header
    payload = _decode(payload_b64, "payload")
    signature = _decode(signature_b64, "signature")
    return header, payload, raw[: len(header_b64) + 1 + len(payload_b64)], signature


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
    header, payload, signing_input, signature = split_compact(token, max_bytes, header_memo)
    return ParsedJWS(header, parse_claims(payload), signing_input, signature)
