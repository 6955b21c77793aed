"""RFC 6750 section 2 token extraction, on raw ASGI scopes."""

from __future__ import annotations

from typing import Any

import pytest

from genauth_guard._bearer import (
    BearerSources,
    find_token,
    header_token,
    is_form_candidate,
    token_from_form,
)
from genauth_guard._errors import InvalidRequest

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_~+/=="


def http(*headers: tuple[bytes, bytes], query: bytes = b"", method: str = "GET") -> dict[str, Any]:
    return {"type": "http", "method": method, "headers": list(headers), "query_string": query}


@pytest.mark.parametrize("scheme", [b"Bearer", b"bearer", b"BEARER", b"bEaReR"])
def test_scheme_is_case_insensitive(scheme: bytes) -> None:
    scope = http((b"authorization", scheme + b" " + TOKEN.encode()))
    assert find_token(scope) == TOKEN


def test_no_header_is_no_token() -> None:
    assert find_token(http((b"accept", b"*/*"))) is None


@pytest.mark.parametrize(
    "value", [b"Basic dXNlcjpwYXNz", b"Bearerx abc", b"Digest a=b", b"", b"Token abc"]
)
def test_other_schemes_are_not_bearer_credentials(value: bytes) -> None:
    assert find_token(http((b"authorization", value))) is None


@pytest.mark.parametrize(
    "value",
    [
        b"Bearer",
        b"Bearer ",
        b"Bearer    ",
        b"Bearer a b",
        b"Bearer a,b",
        b"Bearer =abc",
        b"Bearer ==",
        b"Bearer a=b",
        b"Bearer \xff",
    ],
)
def test_malformed_bearer_is_invalid_request(value: bytes) -> None:
    with pytest.raises(InvalidRequest) as caught:
        find_token(http((b"authorization", value)))
    assert "a b" not in caught.value.description


def test_several_authorization_headers_are_invalid() -> None:
    scope = http((b"authorization", b"Bearer abc"), (b"authorization", b"Basic eA=="))
    with pytest.raises(InvalidRequest, match="several Authorization"):
        find_token(scope)


def test_header_size_is_bounded() -> None:
    scope = http((b"authorization", b"Bearer " + b"a" * 40_000))
    with pytest.raises(InvalidRequest, match="too large"):
        find_token(scope)
    assert find_token(scope, BearerSources(max_header_bytes=50_000)) == "a" * 40_000


HEADER_CASES = [
    b"Bearer " + TOKEN.encode(),
    b"bEaReR\t" + TOKEN.encode() + b" ",
    b"Basic dXNlcjpwYXNz",
    b"Bearerx abc",
    b"",
    b"Bearer",
    b"Bearer    ",
    b"Bearer a b",
    b"Bearer =abc",
    b"Bearer \xff",
    b"Bearer " + b"a" * 40_000,
]


@pytest.mark.parametrize("value", HEADER_CASES)
def test_header_token_agrees_with_find_token(value: bytes) -> None:
    """The middleware's fast path reads every value as find_token does, memo or not."""
    scope = http((b"host", b"x"), (b"authorization", value))
    memo: dict[bytes, str] = {}
    for _ in range(2):  # the second call may be served by the memo
        try:
            expected: str | type[InvalidRequest] | None = find_token(scope)
        except InvalidRequest:
            expected = InvalidRequest
        try:
            got: str | type[InvalidRequest] | None = header_token(scope["headers"], 32 * 1024, memo)
        except InvalidRequest:
            got = InvalidRequest
        assert got == expected


def test_header_token_memo_is_bounded_and_keeps_only_good_values() -> None:
    memo: dict[bytes, str] = {}
    assert header_token([(b"authorization", b"Basic eA==")], 1024, memo) is None
    with pytest.raises(InvalidRequest):
        header_token([(b"authorization", b"Bearer a b")], 1024, memo)
    assert memo == {}
    for i in range(2000):
        assert header_token([(b"authorization", b"Bearer t%d" % i)], 1024, memo) == f"t{i}"
    assert 0 < len(memo) <= 512
    with pytest.raises(InvalidRequest, match="several"):
        header_token([(b"authorization", b"Bearer t1999")] * 2, 1024, memo)


def test_query_token_is_off_by_default() -> None:
    assert find_token(http(query=b"access_token=" + TOKEN.encode())) is None


def test_query_token_when_enabled() -> None:
    sources = BearerSources(query=True)
    assert find_token(http(query=b"x=1&access_token=abc.def"), sources) == "abc.def"
    assert find_token(http(query=b"x=1"), sources) is None


def test_query_token_repeated_or_empty_is_invalid() -> None:
    sources = BearerSources(query=True)
    with pytest.raises(InvalidRequest, match="several"):
        find_token(http(query=b"access_token=a&access_token=b"), sources)
    with pytest.raises(InvalidRequest):
        find_token(http(query=b"access_token="), sources)


def test_token_in_two_places_is_invalid() -> None:
    scope = http((b"authorization", b"Bearer abc"), query=b"access_token=abc")
    with pytest.raises(InvalidRequest, match="more than one place"):
        find_token(scope, BearerSources(query=True))
    with pytest.raises(InvalidRequest, match="more than one place"):
        find_token(http((b"authorization", b"Bearer abc")), form_token="abc")


def test_form_candidates() -> None:
    form = (b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")
    on = BearerSources(form=True)
    assert is_form_candidate(http(form, method="POST"), on)
    assert not is_form_candidate(http(form, method="POST"))  # off by default
    assert not is_form_candidate(http(form, method="GET"), on)  # RFC 6750 2.2: never GET
    assert not is_form_candidate(http((b"content-type", b"application/json"), method="POST"), on)


def test_form_token() -> None:
    assert token_from_form(b"a=1&access_token=abc.def") == "abc.def"
    assert token_from_form(b"a=1") is None
    with pytest.raises(InvalidRequest):
        token_from_form(b"access_token=a&access_token=b")
