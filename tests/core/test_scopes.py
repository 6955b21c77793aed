"""Scope parsing and all-of / any-of requirements (RFC 6749 section 3.3)."""

from __future__ import annotations

from typing import Any

import pytest

from genauth_guard._errors import InsufficientScope, InvalidToken, Reason
from genauth_guard._scopes import parse_scopes, require
from genauth_guard._token import AccessToken


def access(*scopes: str) -> AccessToken:
    return AccessToken(
        claims={}, header={}, scopes=frozenset(scopes), subject=None, client_id=None,
        issuer="https://i/oidc", expires_at=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("claims", "names", "expected"),
    [
        ({"scope": "order:read order:write"}, ("scope",), {"order:read", "order:write"}),
        ({"scope": "  a   b "}, ("scope",), {"a", "b"}),
        ({"scope": ""}, ("scope",), set()),
        ({"scope": ["a", "b"]}, ("scope",), {"a", "b"}),
        ({"scp": "a b"}, ("scope", "scp"), {"a", "b"}),
        ({"scp": ["a"], "scope": "b"}, ("scope", "scp"), {"a", "b"}),
        ({"permissions": ["order:read"]}, ("scope", "scp"), set()),
        ({"permissions": ["order:read"]}, ("scope", "permissions"), {"order:read"}),
        ({"scope": None}, ("scope",), set()),
        ({}, ("scope", "scp"), set()),
        # RFC 6749 3.3 separates with spaces only: a tab is part of the scope string.
        ({"scope": "a\tb"}, ("scope",), {"a\tb"}),
    ],
)
def test_parse_scopes(claims: dict[str, Any], names: tuple[str, ...], expected: set[str]) -> None:
    assert parse_scopes(claims, names) == expected


@pytest.mark.parametrize("value", [1, True, {"a": 1}, ["a", 1], [["a"]]])
def test_malformed_scope_claims(value: Any) -> None:
    with pytest.raises(InvalidToken) as caught:
        parse_scopes({"scp": value}, ("scope", "scp"))
    assert caught.value.reason is Reason.CLAIM


def test_all_of_is_the_default() -> None:
    token = access("order:read", "order:write")
    require(token, ["order:read"])
    require(token, ["order:read", "order:write"])
    with pytest.raises(InsufficientScope) as caught:
        require(token, ["order:read", "order:delete"])
    assert caught.value.required == ("order:read", "order:delete")
    assert caught.value.any_of is False


def test_any_of() -> None:
    token = access("order:read")
    require(token, ["order:write", "order:read"], any_of=True)
    with pytest.raises(InsufficientScope) as caught:
        require(token, ["order:write", "order:delete"], any_of=True)
    assert caught.value.any_of is True
    assert "one of" in caught.value.description


@pytest.mark.parametrize("granted", ["order:reader", "order", "ORDER:READ", "order:read "])
def test_exact_match_only(granted: str) -> None:
    with pytest.raises(InsufficientScope):
        require(access(granted), ["order:read"])


def test_empty_requirement_passes() -> None:
    require(access(), [])
    require(access(), [], any_of=True)


def test_a_single_string_is_not_split_into_characters() -> None:
    require(access("order:read"), "order:read")
    with pytest.raises(InsufficientScope):
        require(access("o", "r", "d", "e", ":", "a"), "order:read")
    require(access("a", "b"), "a b")
