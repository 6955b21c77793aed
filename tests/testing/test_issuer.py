"""The local issuer over real HTTP: discovery, JWKS, the token endpoint, rotation, minting."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc import jwt as jose_jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from genauth_guard.testing import LocalClient, LocalIssuer, SigningKey

GRANT = {"grant_type": "client_credentials"}


def post_token(issuer: LocalIssuer, data: dict[str, str], **kwargs: Any) -> httpx2.Response:
    return httpx2.post(issuer.token_endpoint, data=data, **kwargs)


def jose_verify(issuer: LocalIssuer, token: str) -> dict[str, Any]:
    """Verify with joserfc, an implementation independent of PyJWT."""
    keys = KeySet.import_key_set(httpx2.get(issuer.jwks_uri).json())
    decoded = jose_jwt.decode(token, keys, algorithms=["RS256"])
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": issuer.issuer},
        aud={"essential": True, "value": issuer.audience},
        exp={"essential": True},
    )
    registry.validate(decoded.claims)
    return dict(decoded.claims)


# -- discovery and JWKS --------------------------------------------------------------


def test_discovery_document_is_genauth_shaped(issuer: LocalIssuer) -> None:
    doc = httpx2.get(issuer.discovery_url).json()
    assert issuer.issuer.endswith("/oidc")
    assert doc["issuer"] == issuer.issuer
    assert doc["jwks_uri"] == f"{issuer.issuer}/.well-known/jwks.json"
    assert doc["token_endpoint"] == f"{issuer.issuer}/token"
    assert "client_credentials" in doc["grant_types_supported"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
    }
    assert "order:read" in doc["scopes_supported"]
    assert issuer.counts["discovery"] == 1


def test_jwks_publishes_rsa_2048_signing_keys(issuer: LocalIssuer) -> None:
    keys = httpx2.get(issuer.jwks_uri).json()["keys"]
    assert len(keys) == 1
    (jwk,) = keys
    assert jwk["kty"] == "RSA"
    assert jwk["use"] == "sig"
    assert jwk["alg"] == "RS256"
    assert jwk["kid"] == issuer.signing_key.kid
    assert not {"d", "p", "q"} & set(jwk)  # never the private parts
    public = jwt.PyJWK(jwk).key
    assert isinstance(public, RSAPublicKey)
    assert public.key_size == 2048


# -- the token endpoint (RFC 6749 section 4.4) --------------------------------------


def test_client_secret_post_issues_a_genauth_shaped_token(issuer: LocalIssuer) -> None:
    response = post_token(
        issuer,
        {**GRANT, "client_id": "order-reader", "client_secret": "reader-secret"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == issuer.token_ttl
    assert body["scope"] == "order:read"
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "RS256", "typ": "JWT", "kid": issuer.signing_key.kid}
    claims = jose_verify(issuer, body["access_token"])
    assert claims["iss"] == issuer.issuer
    assert claims["aud"] == "order-api"
    assert claims["sub"] == "order-reader"
    assert claims["scope"] == "order:read"
    assert claims["exp"] - claims["iat"] == issuer.token_ttl
    assert claims["jti"]
    assert "client_id" not in claims  # GenAuth tokens often carry none


def test_client_secret_basic_is_accepted(issuer: LocalIssuer) -> None:
    response = post_token(issuer, GRANT, auth=("order-writer", "writer-secret"))
    assert response.status_code == 200
    claims = jose_verify(issuer, response.json()["access_token"])
    assert claims["sub"] == "order-writer"
    assert claims["scope"] == "order:read order:write"


def test_basic_credentials_are_form_urlencoded_first(issuer: LocalIssuer) -> None:
    """RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64."""
    issuer.add_client("odd:id", "p@ss word%", ["order:read"])
    raw = base64.b64encode(b"odd%3Aid:p%40ss+word%25").decode()
    response = post_token(issuer, GRANT, headers={"authorization": f"Basic {raw}"})
    assert response.status_code == 200, response.text


def test_scope_narrows_to_the_granted_set(issuer: LocalIssuer) -> None:
    response = post_token(
        issuer,
        {**GRANT, "scope": "order:write order:delete"},
        auth=("order-writer", "writer-secret"),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "order:write"
    assert jose_verify(issuer, response.json()["access_token"])["scope"] == "order:write"


def test_only_ungranted_scopes_is_invalid_scope(issuer: LocalIssuer) -> None:
    response = post_token(
        issuer, {**GRANT, "scope": "order:write"}, auth=("order-reader", "reader-secret")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_client_without_grants_gets_a_token_without_scope(issuer: LocalIssuer) -> None:
    response = post_token(issuer, GRANT, auth=("nobody", "nobody-secret"))
    assert response.status_code == 200
    assert jose_verify(issuer, response.json()["access_token"])["scope"] == ""


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({**GRANT}, ("order-reader", "wrong"), 401, "invalid_client"),
        ({**GRANT}, ("ghost", "reader-secret"), 401, "invalid_client"),
        (
            {**GRANT, "client_id": "order-reader", "client_secret": "nope"},
            None,
            401,
            "invalid_client",
        ),
        ({**GRANT}, None, 401, "invalid_client"),
        ({}, ("order-reader", "reader-secret"), 400, "invalid_request"),
        (
            {"grant_type": "authorization_code"},
            ("order-reader", "reader-secret"),
            400,
            "unsupported_grant_type",
        ),
        (
            {**GRANT, "client_secret": "reader-secret"},
            ("order-reader", "reader-secret"),
            400,
            "invalid_request",
        ),
        (
            {**GRANT, "audience": "someone-else"},
            ("order-reader", "reader-secret"),
            400,
            "invalid_target",
        ),
    ],
)
def test_token_errors_follow_rfc6749_5_2(
    issuer: LocalIssuer,
    data: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = post_token(issuer, data, auth=auth)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert "reader-secret" not in response.text


def test_invalid_client_with_basic_gets_a_basic_challenge(issuer: LocalIssuer) -> None:
    response = post_token(issuer, GRANT, auth=("order-reader", "wrong"))
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"grant_type=client_credentials&grant_type=client_credentials", None),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"\xff\xfe=\xff", None),
    ],
)
def test_malformed_token_requests_are_invalid_request(
    issuer: LocalIssuer, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type or "application/x-www-form-urlencoded"}
    response = httpx2.post(
        issuer.token_endpoint,
        content=content,
        headers=headers,
        auth=("order-reader", "reader-secret"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_rfc9068_option_gives_at_jwt_tokens() -> None:
    with LocalIssuer(audience="order-api", rfc9068=True) as issuer:
        issuer.add_client("svc", "svc-secret", ["order:read"])
        token = post_token(issuer, GRANT, auth=("svc", "svc-secret")).json()["access_token"]
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        assert jose_verify(issuer, token)["client_id"] == "svc"


def test_audience_parameter_picks_an_allowed_audience() -> None:
    with LocalIssuer(audience="order-api", audiences=["billing-api"]) as issuer:
        issuer.add_client("svc", "svc-secret", ["order:read"])
        response = post_token(
            issuer, {**GRANT, "audience": "billing-api"}, auth=("svc", "svc-secret")
        )
        assert (
            jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"]
            == "billing-api"
        )


# -- rotation ------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_for_the_grace_period_then_drops_it(issuer: LocalIssuer) -> None:
    old = issuer.signing_key
    before = issuer.mint(scope="order:read")
    new = issuer.rotate_keys()
    after = issuer.mint(scope="order:read")
    kids = [k["kid"] for k in httpx2.get(issuer.jwks_uri).json()["keys"]]
    assert kids == [old.kid, new.kid]
    assert jwt.get_unverified_header(after)["kid"] == new.kid
    assert jose_verify(issuer, before)["sub"] == jose_verify(issuer, after)["sub"]
    issuer.drop_key(old.kid)
    assert [k["kid"] for k in httpx2.get(issuer.jwks_uri).json()["keys"]] == [new.kid]
    with pytest.raises(JoseError):
        jose_verify(issuer, before)


def test_rotation_grace_period_expires(issuer: LocalIssuer) -> None:
    old = issuer.signing_key
    issuer.rotate_keys(grace_seconds=0.0)
    assert old.kid not in {k["kid"] for k in httpx2.get(issuer.jwks_uri).json()["keys"]}
    issuer.rotate_keys(grace_seconds=3600)
    assert len(issuer.keys) == 2


def test_the_only_key_cannot_be_dropped(issuer: LocalIssuer) -> None:
    with pytest.raises(ValueError, match="only signing key"):
        issuer.drop_key(issuer.signing_key.kid)


# -- minting -------------------------------------------------------------------------


def test_mint_overrides_claims_and_headers(issuer: LocalIssuer) -> None:
    token = issuer.mint(
        scope=["order:read", "order:write"],
        sub="alice",
        claims={"aud": ["a", "b"], "tenant": "t1"},
        header={"typ": "at+jwt"},
    )
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"] == "order:read order:write"
    assert claims["sub"] == "alice"
    assert claims["aud"] == ["a", "b"]
    assert claims["tenant"] == "t1"
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"


def test_mint_expired_and_future_tokens_fail_independent_validation(issuer: LocalIssuer) -> None:
    expired = issuer.mint(expires_in=-60)
    with pytest.raises(ExpiredTokenError):
        jose_verify(issuer, expired)
    future = issuer.mint(claims={"nbf": int(time.time()) + 600})
    with pytest.raises(InvalidClaimError, match="not yet valid"):
        jose_verify(issuer, future)


def test_mint_with_an_unpublished_key_fails_signature(issuer: LocalIssuer) -> None:
    stranger = SigningKey.generate(kid=issuer.signing_key.kid)
    forged = issuer.mint(key=stranger)
    with pytest.raises(BadSignatureError):
        jose_verify(issuer, forged)


def test_mint_omits_claims(issuer: LocalIssuer) -> None:
    token = issuer.mint(omit=["exp", "jti"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert not {"exp", "jti"} & set(claims)


# -- faults and counters -------------------------------------------------------------


def test_jwks_faults_and_counts(issuer: LocalIssuer) -> None:
    issuer.fail("jwks", "error", times=1)
    assert httpx2.get(issuer.jwks_uri).status_code == 503
    assert httpx2.get(issuer.jwks_uri).status_code == 200
    issuer.fail("jwks", "garbage")
    garbage = httpx2.get(issuer.jwks_uri)
    with pytest.raises(json.JSONDecodeError):
        garbage.json()
    issuer.heal("jwks")
    assert httpx2.get(issuer.jwks_uri).json()["keys"]
    assert issuer.counts["jwks"] == 4
    issuer.reset_counts()
    assert issuer.counts == {"discovery": 0, "jwks": 0, "token": 0}


def test_hanging_endpoint_times_out_the_client(issuer: LocalIssuer) -> None:
    issuer.fail("token", "hang")
    with pytest.raises(httpx2.ReadTimeout):
        post_token(issuer, GRANT, auth=("order-reader", "reader-secret"), timeout=0.2)
    issuer.heal()
    assert post_token(issuer, GRANT, auth=("order-reader", "reader-secret")).status_code == 200


# -- lifecycle -----------------------------------------------------------------------


async def test_async_context_manager_serves() -> None:
    async with LocalIssuer(clients=[LocalClient("c", "s", ("r:a",))]) as issuer:
        async with httpx2.AsyncClient() as client:
            response = await client.post(issuer.token_endpoint, data=GRANT, auth=("c", "s"))
        assert response.status_code == 200


def test_stop_ends_a_hanging_request_with_a_response() -> None:
    issuer = LocalIssuer().start()
    issuer.fail("jwks", "hang")  # for 30 s, longer than uvicorn's 2 s shutdown grace
    statuses: list[int] = []
    fetch = threading.Thread(
        target=lambda: statuses.append(httpx2.get(issuer.jwks_uri).status_code)
    )
    fetch.start()
    while issuer.counts["jwks"] == 0 and fetch.is_alive():  # until the request hangs
        time.sleep(0.01)
    issuer.stop()
    fetch.join()
    assert statuses == [504]  # answered, not cut off by the shutdown


def test_refuses_non_loopback_binding() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalIssuer(host="0.0.0.0")


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = LocalIssuer().url


def test_client_repr_hides_the_secret() -> None:
    assert "hunter2" not in repr(LocalClient("svc", "hunter2", ("a:b",)))
