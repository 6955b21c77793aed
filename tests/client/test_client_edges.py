"""The client at its edges (issue 9, findings 7, 8, 9, 10): compressed bodies stay
bounded, echoed secrets are redacted in every form, server text loses its control
characters, and only the documented errors escape. Real HTTP to the local issuer.
"""

from __future__ import annotations

import base64
import tracemalloc
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from genauth_guard._client import (
    ClientCredentialsAuth,
    TokenRequestError,
    TokenResponseError,
)
from genauth_guard.testing import LocalIssuer, serve

SECRET = "Sup3r S3cret/Value+x&y"


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
async def test_gzip_answers_are_decoded(issuer: LocalIssuer, make_auth: Any, endpoint: Any) -> None:
    issuer.fail(endpoint, "gzip")
    assert make_auth().get_token()
    assert await make_auth().aget_token()


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
def test_a_gzip_bomb_is_refused_within_the_bound(
    issuer: LocalIssuer, make_auth: Any, endpoint: Any
) -> None:
    issuer.fail(endpoint, "gzip_bomb")
    auth = make_auth(max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(TokenResponseError, match="too large"):
            auth.get_token()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # 64 MiB once decoded; the bound is 256 KiB


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_an_echoing_endpoint_never_shows_the_secret_in_any_form(
    issuer: LocalIssuer, make_auth: Any, method: str
) -> None:
    issuer.add_client("echoed", SECRET, ["order:read"])
    issuer.fail("token", "echo")
    auth = make_auth(client_id="echoed", client_secret=SECRET, auth_method=method)
    with pytest.raises(TokenRequestError) as caught:
        auth.get_token()
    text = str(caught.value) + repr(caught.value)
    assert "echo:" in text  # the server did echo the request
    for form in (
        SECRET,
        quote_plus(SECRET),
        quote(SECRET, safe=""),
        base64.b64encode(f"echoed:{quote_plus(SECRET)}".encode()).decode(),
    ):
        assert form not in text
    assert "[redacted]" in text


def test_redaction_never_mangles_unrelated_words(issuer: LocalIssuer, make_auth: Any) -> None:
    # A weak secret that is also part of OAuth words: "client".
    with pytest.raises(TokenRequestError) as caught:
        make_auth(client_id="order-reader", client_secret="client").get_token()
    assert caught.value.error == "invalid_client"
    issuer.add_client("cc", "client", ["order:read"])
    issuer.fail("token", "echo")
    with pytest.raises(TokenRequestError) as caught:
        make_auth(client_id="cc", client_secret="client").get_token()
    description = caught.value.error_description or ""
    assert "client_secret=[redacted]" in description
    assert "grant_type=client_credentials" in description
    assert "client_id=cc" in description


def test_server_text_loses_control_characters(issuer: LocalIssuer, make_auth: Any) -> None:
    issuer.fail("token", "echo")
    auth = make_auth(audience="x\x1b[31m\r\nFORGED: line\x07\u202e")
    with pytest.raises(TokenRequestError) as caught:
        auth.get_token()
    text = str(caught.value)
    assert "FORGED" in text  # the text is kept...
    for control in ("\x1b", "\r", "\n", "\x07", "\u202e"):
        assert control not in text  # ...without what would rewrite a terminal or log


@pytest.fixture
def bad_discovery() -> Iterator[str]:
    """An issuer whose discovery document names an unparseable token endpoint."""
    where: dict[str, str] = {}

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse({"issuer": where["issuer"], "token_endpoint": "http://[::1"})

    app = Starlette(routes=[Route("/oidc/.well-known/openid-configuration", metadata)])
    with serve(app) as url:
        where["issuer"] = f"{url}/oidc"
        yield where["issuer"]


async def test_an_unparseable_discovered_endpoint_is_a_documented_error(
    bad_discovery: str,
) -> None:
    auth = ClientCredentialsAuth(issuer=bad_discovery, client_id="a", client_secret="b")
    with pytest.raises(TokenResponseError, match="token_endpoint"):
        auth.get_token()
    with pytest.raises(TokenResponseError):
        await auth.aget_token()
    await auth.aclose()
