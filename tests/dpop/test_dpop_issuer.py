"""The local issuer's DPoP token endpoint (RFC 9449 sections 5, 6.1, 8) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import jwt
import pytest

from genauth_guard._dpop_key import DPoPKey
from genauth_guard.testing import LocalIssuer


@pytest.fixture
def dpop_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience="order-api") as running:
        running.add_client("order-reader", "reader-secret", ["order:read"])
        running.add_client("strict", "strict-secret", ["order:read"], dpop=True)
        yield running


def token_request(
    issuer: LocalIssuer, proof: str | list[str] | None, client: str = "order-reader"
) -> httpx2.Response:
    secret = {"order-reader": "reader-secret", "strict": "strict-secret"}[client]
    headers = [("dpop", p) for p in ([proof] if isinstance(proof, str) else proof or [])]
    return httpx2.post(
        issuer.token_endpoint,
        data={"grant_type": "client_credentials", "client_id": client, "client_secret": secret},
        headers=headers,
    )


def test_valid_proof_gives_a_bound_token(dpop_issuer: LocalIssuer, key: DPoPKey) -> None:
    reply = token_request(dpop_issuer, key.proof("POST", dpop_issuer.token_endpoint))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["token_type"] == "DPoP"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.thumbprint}


def test_without_proof_the_token_is_bearer(dpop_issuer: LocalIssuer) -> None:
    reply = token_request(dpop_issuer, None)
    assert reply.json()["token_type"] == "Bearer"
    assert "cnf" not in jwt.decode(
        reply.json()["access_token"], options={"verify_signature": False}
    )


@pytest.mark.parametrize(
    "bad",
    ["wrong url", "wrong method", "two proofs", "garbage", "replay", "old"],
)
def test_bad_proof_is_400_invalid_dpop_proof(
    dpop_issuer: LocalIssuer, key: DPoPKey, bad: str
) -> None:
    endpoint = dpop_issuer.token_endpoint
    proof: str | list[str] = {
        "wrong url": lambda: key.proof("POST", dpop_issuer.issuer + "/other"),
        "wrong method": lambda: key.proof("GET", endpoint),
        "old": lambda: key.proof("POST", endpoint, iat=__import__("time").time() - 3600),
        "two proofs": lambda: [key.proof("POST", endpoint), key.proof("POST", endpoint)],
        "garbage": lambda: "a.b.c",
        "replay": lambda: key.proof("POST", endpoint, jti="once"),
    }[bad]()
    if bad == "replay":
        assert token_request(dpop_issuer, proof).status_code == 200
    reply = token_request(dpop_issuer, proof)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "invalid_dpop_proof"


def test_client_requiring_dpop(dpop_issuer: LocalIssuer, key: DPoPKey) -> None:
    refused = token_request(dpop_issuer, None, client="strict")
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    ok = token_request(dpop_issuer, key.proof("POST", dpop_issuer.token_endpoint), "strict")
    assert ok.json()["token_type"] == "DPoP"


def test_nonce_switch(dpop_issuer: LocalIssuer, key: DPoPKey) -> None:
    dpop_issuer.dpop_nonce = True
    first = token_request(dpop_issuer, key.proof("POST", dpop_issuer.token_endpoint))
    assert first.status_code == 400
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    again = token_request(dpop_issuer, key.proof("POST", dpop_issuer.token_endpoint, nonce=nonce))
    assert again.status_code == 200, again.text
    dpop_issuer.dpop_nonce = False
    assert token_request(dpop_issuer, key.proof("POST", dpop_issuer.token_endpoint)).is_success


def test_discovery_advertises_dpop_algorithms(dpop_issuer: LocalIssuer) -> None:
    metadata = httpx2.get(dpop_issuer.discovery_url).json()
    assert metadata["dpop_signing_alg_values_supported"] == [
        "ES256",
        "ES384",
        "RS256",
        "PS256",
        "EdDSA",
    ]
