"""The client secret and access tokens never show in reprs, errors or logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest

from genauth_guard._client import ClientCredentialsError, TokenRequestError
from genauth_guard.testing import LocalIssuer

SECRET = "Sup3r-S3cret/Value+x"


@pytest.fixture
def secret_client(issuer: LocalIssuer) -> str:
    issuer.add_client("secretive", SECRET, ["order:read"])
    return "secretive"


def test_repr_and_attributes_hide_the_secret(make_auth: Any, secret_client: str) -> None:
    auth = make_auth(client_id=secret_client, client_secret=SECRET)
    token = auth.get_token()
    for text in (repr(auth), str(auth), repr(vars(auth)), repr(auth._token)):
        assert SECRET not in text
        assert token not in text
    assert "secretive" in repr(auth)


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_errors_hide_the_secret(
    issuer: LocalIssuer, make_auth: Any, secret_client: str, method: str
) -> None:
    wrong = SECRET + "-wrong"
    with pytest.raises(ClientCredentialsError) as caught:
        make_auth(client_id=secret_client, client_secret=wrong, auth_method=method).get_token()
    for text in (str(caught.value), repr(caught.value), repr(vars(caught.value))):
        assert SECRET not in text


def test_a_server_echoing_the_secret_is_redacted(
    make_auth: Any, secret_client: str, tamper: Any
) -> None:
    body = {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
    auth = make_auth(
        client_id=secret_client,
        client_secret=SECRET,
        http_client=tamper(lambda _: body, status=401),
    )
    with pytest.raises(TokenRequestError) as caught:
        auth.get_token()
    assert caught.value.error_description == "bad secret [redacted]"
    assert SECRET not in str(caught.value)


def test_logs_hide_secret_and_token(
    issuer: LocalIssuer,
    make_auth: Any,
    secret_client: str,
    api: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    order_api, url = api
    caplog.set_level(logging.DEBUG)
    issuer.fail("token", "error", times=1)  # a retry warning
    auth = make_auth(client_id=secret_client, client_secret=SECRET)
    with httpx2.Client(auth=auth) as client:
        order_api.revoked.add(auth.get_token())
        assert client.get(f"{url}/orders").status_code == 200  # a refresh after 401
    with pytest.raises(ClientCredentialsError):
        make_auth(client_id=secret_client, client_secret="nope", max_retries=0).get_token()
    assert caplog.records  # the flows above do log
    for token in order_api.tokens:
        assert token not in caplog.text
    assert SECRET not in caplog.text
    assert "nope" not in caplog.text
