"""DPoP (RFC 9449) through the Flask extension and DRF, WSGI and ASGI: the same proof
rules and challenges as the ASGI middleware (one reading of the request for all)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx2
import pytest
import test_django  # configures Django for this session
from _flask_app import create_app
from _wsgi_kit import as_httpx
from django.test import AsyncClient, Client, override_settings

from genauth_guard._dpop_key import DPoPKey
from genauth_guard.flask import GenAuthGuard
from genauth_guard.testing import LocalIssuer

ALGS = 'algs="ES256 ES384 RS256 PS256 EdDSA"'
Send = Callable[[dict[str, str]], httpx2.Response]


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey.generate("ES256")


@pytest.fixture(params=["flask", "drf-wsgi", "drf-asgi"])
def send(request: pytest.FixtureRequest, issuer: LocalIssuer) -> Iterator[tuple[str, Send]]:
    """GET /orders on one adapter, with the URL a proof must name."""
    kind = request.param
    if kind == "flask":
        app = create_app(GENAUTH_ISSUER=issuer.issuer, GENAUTH_AUDIENCE=issuer.audience)
        client = app.test_client()

        def flask_get(headers: dict[str, str]) -> httpx2.Response:
            response = client.get("/orders", headers=headers)
            return as_httpx(response.status_code, response.headers.items(), response.data)

        yield "http://localhost/orders", flask_get
        GenAuthGuard.verifier(app).close()
        return
    settings = {"GENAUTH_ISSUER": issuer.issuer, "GENAUTH_AUDIENCE": issuer.audience}
    with override_settings(**settings):
        if kind == "drf-wsgi":

            def wsgi_get(headers: dict[str, str]) -> httpx2.Response:
                return test_django.converted(Client().get("/orders", headers=headers))

            yield "http://testserver/orders", wsgi_get
        else:
            import asyncio

            def asgi_get(headers: dict[str, str]) -> httpx2.Response:
                response = asyncio.run(AsyncClient().get("/orders", headers=headers))
                return test_django.converted(response)

            yield "http://testserver/orders", asgi_get


def dpop(key: DPoPKey, token: str, url: str) -> dict[str, str]:
    return {"authorization": f"DPoP {token}", "dpop": key.proof("GET", url, access_token=token)}


def bound(issuer: LocalIssuer, key: DPoPKey, scope: str = "order:read") -> str:
    return issuer.mint(scope=scope, claims={"cnf": {"jkt": key.thumbprint}})


def dpop_challenge(response: httpx2.Response) -> str:
    found = [c for c in test_django.challenges(response) if c.startswith("DPoP ")]
    assert len(found) == 1, response.headers
    assert ALGS in found[0]
    return found[0]


def test_a_dpop_call_is_accepted_and_its_replay_refused(
    issuer: LocalIssuer, key: DPoPKey, send: tuple[str, Send]
) -> None:
    url, get = send
    headers = dpop(key, bound(issuer, key), url)
    accepted = get(headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["sub"] == "local-client"
    replayed = get(headers)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"
    assert 'error="invalid_dpop_proof"' in dpop_challenge(replayed)


def test_a_proof_for_another_url_is_refused(
    issuer: LocalIssuer, key: DPoPKey, send: tuple[str, Send]
) -> None:
    _, get = send
    refused = get(dpop(key, bound(issuer, key), "http://elsewhere.test/orders"))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_dpop_proof"


def test_a_bound_token_sent_as_bearer_is_invalid(
    issuer: LocalIssuer, key: DPoPKey, send: tuple[str, Send]
) -> None:
    _, get = send
    refused = get({"authorization": f"Bearer {bound(issuer, key)}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"


def test_missing_scope_is_answered_in_the_dpop_challenge(
    issuer: LocalIssuer, key: DPoPKey, send: tuple[str, Send]
) -> None:
    url, get = send
    refused = get(dpop(key, bound(issuer, key, scope="order:write"), url))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in dpop_challenge(refused)
