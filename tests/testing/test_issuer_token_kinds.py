"""The local issuer's EC/Ed25519/HS256 signing, opaque tokens, introspection, revocation."""

from __future__ import annotations

import contextlib

import httpx2
import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, OctKey

from genauth_guard.testing import LocalIssuer


@pytest.mark.parametrize(
    ("alg", "kty", "crv"),
    [("ES256", "EC", "P-256"), ("ES384", "EC", "P-384"), ("ES512", "EC", "P-521"),
     ("EdDSA", "OKP", "Ed25519"), ("PS256", "RSA", None)],
)  # fmt: skip
def test_signing_keys_of_each_kind(alg: str, kty: str, crv: str | None) -> None:
    with LocalIssuer(algorithm=alg) as issuer:
        document = httpx2.get(issuer.discovery_url).json()
        assert document["id_token_signing_alg_values_supported"] == [alg]
        jwks = httpx2.get(issuer.jwks_uri).json()
        [jwk] = jwks["keys"]
        assert (jwk["kty"], jwk.get("crv"), jwk["alg"]) == (kty, crv, alg)
        assert "d" not in jwk
        token = issuer.mint(scope="a")
        assert jwt.get_unverified_header(token)["alg"] == alg
        with pytest.warns() if alg == "EdDSA" else contextlib.nullcontext():
            claims = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg]).claims
        assert claims["scope"] == "a"
        issuer.rotate_keys()
        assert [k["alg"] for k in httpx2.get(issuer.jwks_uri).json()["keys"]] == [alg, alg]


def test_hs256_with_the_app_secret() -> None:
    secret = "s" * 32
    with LocalIssuer(algorithm="HS256", app_secret=secret) as issuer:
        issuer.add_client("c", "c-secret", ["a:b"])
        reply = httpx2.post(
            issuer.token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": "c",
                "client_secret": "c-secret",
            },
        )
        token = reply.json()["access_token"]
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        key = OctKey.import_key(secret)
        assert jose_jwt.decode(token, key, algorithms=["HS256"]).claims["sub"] == "c"


def form(client_id: str, secret: str, **extra: str) -> dict[str, str]:
    return {"client_id": client_id, "client_secret": secret, **extra}


def test_introspection_and_revocation_endpoints() -> None:
    with LocalIssuer(audience="order-api") as issuer:
        issuer.add_client("api", "api-secret")
        issuer.add_client("opaque", "opaque-secret", ["order:read"], opaque=True)
        document = httpx2.get(issuer.discovery_url).json()
        assert document["introspection_endpoint"] == issuer.introspection_endpoint
        assert document["revocation_endpoint"] == issuer.revocation_endpoint
        reply = httpx2.post(
            issuer.token_endpoint,
            data=form("opaque", "opaque-secret", grant_type="client_credentials"),
        )
        token = reply.json()["access_token"]
        assert "." not in token

        anonymous = httpx2.post(issuer.introspection_endpoint, data={"token": token})
        assert anonymous.status_code == 401
        wrong = httpx2.post(issuer.introspection_endpoint, data=form("api", "no", token=token))
        assert wrong.status_code == 401
        basic = httpx2.post(
            issuer.introspection_endpoint, data={"token": token}, auth=("api", "api-secret")
        )
        answer = basic.json()
        assert answer["active"] is True
        assert (answer["client_id"], answer["scope"], answer["aud"]) == (
            "opaque",
            "order:read",
            "order-api",
        )
        assert answer["iss"] == issuer.issuer
        missing = httpx2.post(issuer.introspection_endpoint, data=form("api", "api-secret"))
        assert missing.json()["error"] == "invalid_request"

        # RFC 7009 2.1: only the client the token was issued to may revoke it.
        other = httpx2.post(issuer.revocation_endpoint, data=form("api", "api-secret", token=token))
        assert other.status_code == 400
        assert other.json()["error"] == "unauthorized_client"
        own = httpx2.post(
            issuer.revocation_endpoint, data=form("opaque", "opaque-secret", token=token)
        )
        assert own.status_code == 200
        again = httpx2.post(
            issuer.revocation_endpoint, data=form("opaque", "opaque-secret", token=token)
        )
        assert again.status_code == 200  # RFC 7009 2.2: already invalid is fine
        after = httpx2.post(
            issuer.introspection_endpoint, data=form("api", "api-secret", token=token)
        )
        assert after.json() == {"active": False}
        assert issuer.counts["introspection"] == 5
        assert issuer.counts["revocation"] == 3


def test_revoked_jwt_and_unknown_tokens_introspect_inactive() -> None:
    with LocalIssuer() as issuer:
        token = issuer.mint(scope="a")
        assert issuer.introspect(token)["active"] is True
        issuer.revoke(token)
        assert issuer.introspect(token) == {"active": False}
        assert issuer.introspect("garbage") == {"active": False}
        assert issuer.introspect(issuer.mint(expires_in=-10)) == {"active": False}
