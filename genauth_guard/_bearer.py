"""Bearer token extraction from an ASGI request (RFC 6750 section 2).

Knows only ASGI scopes (plain dicts and byte strings), never a web framework, so the
middleware and the framework adapters share one reading of the rules:

- the ``Authorization: Bearer <token>`` header (section 2.1) is always read;
- a form-encoded body parameter (section 2.2) and an ``access_token`` query parameter
  (section 2.3) are read only when enabled;
- a token sent in more than one place, several ``Authorization`` headers or
  ``Bearer`` without a token are malformed requests (section 3.1 ``invalid_request``);
- another scheme (``Basic ...``) is simply not a bearer credential.

No function here logs, and no error message contains the token.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ._errors import InvalidRequest

__all__ = [
    "DEFAULT_REALM",
    "BearerSources",
    "find_token",
    "header_token",
    "is_form_candidate",
    "token_from_form",
]

DEFAULT_REALM = "api"

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_CHARS = string.ascii_letters.encode() + string.digits.encode() + b"-._~+/"
_SPACE = b" \t"
_FORM_TYPE = b"application/x-www-form-urlencoded"
_PARAM = "access_token"
# header_token's memo: how many header values it keeps, and the longest it keeps. A
# reused token is the steady state; past the count the memo starts afresh (no LRU
# bookkeeping on the hit path), and a huge header is simply parsed every time.
_MEMO_ENTRIES = 512
_MEMO_MAX_BYTES = 4096

Scope = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class BearerSources:
    """Where a bearer token may come from, and how large its carriers may be.

    ``query`` (RFC 6750 section 2.3) and ``form`` (section 2.2) are off by default: the
    RFC discourages the query form (tokens end up in logs and browser history) and
    the form form needs the body read before the app sees it.
    """

    query: bool = False
    form: bool = False
    max_header_bytes: int = 32 * 1024
    max_form_bytes: int = 64 * 1024


DEFAULT_SOURCES = BearerSources()


def _from_header(value: bytes, limit: int) -> bytes | None:
    """The token of one ``Authorization`` value, or None for another scheme (section 2.1)."""
    # The auth-scheme is case-insensitive (RFC 7235 section 2.1).
    if value[:6].lower() != b"bearer":
        return None
    if len(value) > 6 and value[6] not in _SPACE:
        return None  # "Bearerish ...": another scheme that only starts like ours
    if len(value) > limit:
        raise InvalidRequest("the Authorization header is too large")
    token = value[7:].strip(b" \t")
    if not token:
        raise InvalidRequest("the Bearer scheme requires a token")
    _check_syntax(token)
    return token


def _check_syntax(token: bytes) -> None:
    """RFC 6750 section 2.1 b64token syntax, or :class:`InvalidRequest`.

    ``bytes.translate`` deletes the allowed characters in one C loop, several times
    faster than a regular expression on a kilobyte token: nothing may remain once the
    trailing padding is off.
    """
    body = token.rstrip(b"=")
    if not body or body.translate(None, _B64TOKEN_CHARS):
        raise InvalidRequest("the bearer token is not in b64token syntax (RFC 6750 2.1)")


def _from_query(query_string: bytes) -> bytes | None:
    """The ``access_token`` query parameter (RFC 6750 section 2.3), at most one."""
    if b"access_token" not in query_string:  # cheap test before parsing
        return None
    found = [
        v
        for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
        if k == _PARAM
    ]
    if not found:
        return None
    if len(found) > 1:
        raise InvalidRequest("several access_token query parameters")
    return _check_param(found[0])


def _check_param(value: str) -> bytes:
    token = value.encode("latin-1", "replace")
    if not token:
        raise InvalidRequest("empty access_token parameter")
    _check_syntax(token)
    return token


def _authorization(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The one ``Authorization`` value, None without one; several are a malformed request.

    ASGI servers lowercase header names (ASGI HTTP spec), so no case folding here.
    """
    raw: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if raw is not None:
                raise InvalidRequest("several Authorization headers")
            raw = value
    return raw


def find_token(
    scope: Scope, sources: BearerSources = DEFAULT_SOURCES, form_token: str | None = None
) -> str | None:
    """The bearer token of an ``http``/``websocket`` scope, or None when none is sent.

    ``form_token`` is the body parameter already read by :func:`token_from_form`.
    Raises :class:`InvalidRequest` for the malformed cases of RFC 6750 section 3.1.
    """
    raw = _authorization(scope.get("headers", ()))
    header = _from_header(raw, sources.max_header_bytes) if raw is not None else None
    if not sources.query and form_token is None:  # the common case: header only
        return header.decode("ascii") if header is not None else None
    found: list[bytes] = [header] if header is not None else []
    if sources.query:
        query = _from_query(scope.get("query_string", b""))
        if query is not None:
            found.append(query)
    if form_token is not None:
        found.append(_check_param(form_token))
    if not found:
        return None
    if len(found) > 1:
        # RFC 6750 section 2: clients MUST NOT use more than one method per request.
        raise InvalidRequest("the access token was sent in more than one place")
    return found[0].decode("ascii")


def header_token(
    headers: Iterable[tuple[bytes, bytes]], max_header_bytes: int, memo: dict[bytes, str]
) -> str | None:
    """:func:`find_token` when only the header is a source, memoising parsed values.

    ``memo`` maps ``Authorization`` values that passed the checks of section 2.1 to
    their token; the caller owns it and keeps ``max_header_bytes`` fixed for it. A
    client reuses its token for many requests, so a hit replaces the syntax check and
    the copies (about 1 us for a typical JWT) by one hash.
    Only parsing is memoised: the caller still verifies the token on every request.
    """
    raw = _authorization(headers)
    if raw is None:
        return None
    token = memo.get(raw)
    if token is not None:
        return token
    parsed = _from_header(raw, max_header_bytes)
    if parsed is None:
        return None
    token = parsed.decode("ascii")
    if len(raw) <= _MEMO_MAX_BYTES:
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[raw] = token
    return token


def is_form_candidate(scope: Scope, sources: BearerSources = DEFAULT_SOURCES) -> bool:
    """True when RFC 6750 section 2.2 allows a token in this request's body.

    Only a form-encoded ``POST`` (the section forbids ``GET``; other methods with body
    semantics are rare enough for APIs that ``POST`` alone keeps the rule obvious).
    """
    if not sources.form or scope.get("type") != "http" or scope.get("method") != "POST":
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == _FORM_TYPE)
    return False


def token_from_form(body: bytes) -> str | None:
    """The ``access_token`` parameter of a form-encoded body (RFC 6750 section 2.2)."""
    if b"access_token" not in body:
        return None
    try:
        pairs: Iterable[tuple[str, str]] = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the form body is not UTF-8") from exc
    found = [v for k, v in pairs if k == _PARAM]
    if len(found) > 1:
        raise InvalidRequest("several access_token form parameters")
    return found[0] if found else None
