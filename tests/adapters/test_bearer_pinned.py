"""Form-body token rules that mutation testing found unpinned (issue 9, RFC 6750 2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from genauth_guard._bearer import BearerSources, find_token, is_form_candidate, token_from_form
from genauth_guard._errors import InvalidRequest

FORM = BearerSources(form=True)


def post(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "method": "POST", "headers": list(headers), "query_string": b""}


def test_a_post_without_content_type_is_not_a_form() -> None:
    assert not is_form_candidate(post(), FORM)
    assert not is_form_candidate(post((b"content-type", b"application/json")), FORM)
    form = (b"content-type", b"Application/X-WWW-Form-URLencoded; charset=utf-8")
    assert is_form_candidate(post(form), FORM)


@pytest.mark.parametrize(
    "body", [b"note=access_token", b"access_tokens=x", b"x=1&my_access_token=y"]
)
def test_a_body_mentioning_access_token_without_the_parameter_has_none(body: bytes) -> None:
    assert token_from_form(body) is None


def test_a_non_utf8_form_body_is_a_bad_request() -> None:
    with pytest.raises(InvalidRequest):
        token_from_form(b"access_token=\xff\xfe")


def test_an_empty_access_token_parameter_is_a_bad_request_not_ignored() -> None:
    assert token_from_form(b"access_token=") == ""
    with pytest.raises(InvalidRequest):
        find_token(post(), FORM, token_from_form(b"access_token="))
