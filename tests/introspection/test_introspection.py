"""Introspection (RFC 7662) against the local issuer over real HTTP.

The API authenticates at the issuer's introspection endpoint with its own client
credentials; opaque tokens come from the token endpoint for clients configured so, or
from ``mint_opaque``. Calls are counted at the issuer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from genauth_guard import GuardConfig, GuardMiddleware
from genauth_guard._errors import IntrospectionUnavailable, InvalidToken, Reason
from genauth_guard._introspection import (
    IntrospectingVerifier,
    make_verifier,
    parse_introspection_response,
)
from genauth_guard.testing import LocalIssuer, ManualClock, serve

AUDIENCE = "order-api"
API_ID, API_SECRET = "order-api-introspector", "introspector-secret"

Make = Callable[..., IntrospectingVerifier]


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        running.add_client(API_ID, API_SECRET)
        running.add_client("opaque-reader", "reader-secret", ["order:read"], opaque=True)
        running.add_client("jwt-reader", "reader-secret", ["order:read"])
        yield running


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
async def make(issuer: LocalIssuer, clock: ManualClock) -> AsyncIterator[Make]:
    made: list[IntrospectingVerifier] = []

    def build(**options: Any) -> IntrospectingVerifier:
        options.setdefault("issuer", issuer.issuer)
        options.setdefault("audience", AUDIENCE)
        options.setdefault("token_check", "introspect")
        options.setdefault("introspection_client_id", API_ID)
        options.setdefault("introspection_client_secret", API_SECRET)
        verifier = IntrospectingVerifier(GuardConfig(**options), clock=clock)
        made.append(verifier)
        return verifier

    yield build
    for verifier in made:
        await verifier.aclose()


def calls(issuer: LocalIssuer) -> int:
    return issuer.counts.get("introspection", 0)


async def test_opaque_token_from_the_token_endpoint_is_accepted_and_cached(
    issuer: LocalIssuer, make: Make
) -> None:
    reply = httpx2.post(
        issuer.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": "opaque-reader",
            "client_secret": "reader-secret",
        },
    )
    token = reply.json()["access_token"]
    assert token.count(".") == 0  # opaque: no JWT structure
    verifier = make()
    first = await verifier.verify(token)
    assert first.scopes == {"order:read"}
    assert (first.subject, first.client_id, first.issuer) == (
        "opaque-reader",
        "opaque-reader",
        issuer.issuer,
    )
    assert await verifier.verify(token) is first
    assert verifier.cached(token) is first
    assert calls(issuer) == 1
    assert token not in repr(first)


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
async def test_both_client_auth_methods(issuer: LocalIssuer, make: Make, method: str) -> None:
    token = issuer.mint_opaque(scope="order:read")
    assert await make(introspection_auth_method=method).verify(token)


async def test_wrong_api_credentials_fail_closed(
    issuer: LocalIssuer, make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint_opaque(scope="order:read")
    with pytest.raises(IntrospectionUnavailable) as down:
        await make(introspection_client_secret="wrong").verify(token)
    assert down.value.status == 503
    assert down.value.description == "token introspection unavailable"  # no internal URL
    logged = caplog.text
    assert "HTTP 401" in logged
    assert "introspection_client_secret" in logged
    assert "wrong" not in logged  # the secret sent is never logged
    assert token not in logged


async def test_inactive_unknown_and_expired_tokens(issuer: LocalIssuer, make: Make) -> None:
    verifier = make()
    expired = issuer.mint_opaque(expires_in=-60)
    for token in ("no-such-token", expired):
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(token)
        assert refused.value.reason is Reason.INACTIVE
        assert token not in refused.value.description


async def test_revocation_before_exp_after_the_cache_ttl(
    issuer: LocalIssuer, make: Make, clock: ManualClock
) -> None:
    verifier = make(introspection_cache_ttl=1)
    token = issuer.mint_opaque(scope="order:read")
    assert await verifier.verify(token)
    issuer.revoke(token)
    assert await verifier.verify(token)  # within the TTL: the cached answer
    assert calls(issuer) == 1
    clock.advance(1.5)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert refused.value.reason is Reason.INACTIVE
    # The negative answer is cached too (short), then asked again.
    with pytest.raises(InvalidToken):
        await verifier.verify(token)
    assert calls(issuer) == 2
    clock.advance(10)
    with pytest.raises(InvalidToken):
        await verifier.verify(token)
    assert calls(issuer) == 3


async def test_positive_cache_never_outlives_exp(
    issuer: LocalIssuer, make: Make, clock: ManualClock
) -> None:
    verifier = make(introspection_cache_ttl=3600, leeway=0)
    token = issuer.mint_opaque(expires_in=5)
    assert await verifier.verify(token)
    clock.advance(6)
    assert verifier.cached(token) is None
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-api"}, Reason.AUDIENCE),
        ({"aud": ["x", "y"]}, Reason.AUDIENCE),
        ({"iss": "https://elsewhere.example/oidc"}, Reason.ISSUER),
        ({"iat": "yesterday"}, Reason.CLAIM),
        ({"nbf": int(time.time()) + 3600}, Reason.NOT_YET_VALID),
        ({"client_id": 7}, Reason.CLAIM),
    ],
)
async def test_response_claims_are_checked_like_a_jwt(
    issuer: LocalIssuer, make: Make, claims: dict[str, Any], reason: Reason
) -> None:
    token = issuer.mint_opaque(scope="order:read", claims=claims)
    verifier = make()
    for _ in range(2):  # the second refusal comes from the cache, for the same reason
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(token)
        assert refused.value.reason is reason
    assert calls(issuer) == 1


async def test_response_without_aud_is_refused() -> None:
    # RFC 7662 makes aud optional; without it nothing says the token is for this API.
    document = {"active": True, "exp": int(time.time()) + 600, "scope": "order:read"}
    with serve(answering(document, with_iss=True)) as url:
        async with IntrospectingVerifier(stand_in_config(url)) as verifier:
            with pytest.raises(InvalidToken) as refused:
                await verifier.verify("some-opaque-token")
    assert refused.value.reason is Reason.MISSING_CLAIM


async def test_one_hundred_concurrent_requests_make_one_call(
    issuer: LocalIssuer, make: Make
) -> None:
    verifier = make()
    token = issuer.mint_opaque(scope="order:read")
    results = await asyncio.gather(*(verifier.verify(token) for _ in range(100)))
    assert len({id(r) for r in results}) == 1
    assert calls(issuer) == 1


async def test_cancelled_waiter_does_not_cancel_the_shared_call(
    issuer: LocalIssuer, make: Make
) -> None:
    verifier = make()
    token = issuer.mint_opaque(scope="order:read")
    first = asyncio.ensure_future(verifier.verify(token))
    second = asyncio.ensure_future(verifier.verify(token))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).scopes == {"order:read"}
    assert calls(issuer) == 1


@pytest.mark.parametrize("mode", ["error", "garbage", "hang"])
async def test_issuer_down_is_503_with_retry_after_and_not_cached(
    issuer: LocalIssuer, make: Make, mode: Any
) -> None:
    verifier = make(http_timeout=0.3)
    token = issuer.mint_opaque(scope="order:read")
    issuer.fail("introspection", mode)
    with pytest.raises(IntrospectionUnavailable) as down:
        await verifier.verify(token)
    assert down.value.status == 503
    assert down.value.retry_after >= 1
    issuer.heal()
    assert await verifier.verify(token)


async def test_outage_is_rate_limited(issuer: LocalIssuer, make: Make) -> None:
    verifier = make()
    issuer.fail("introspection", "error")
    for index in range(60):
        with pytest.raises(IntrospectionUnavailable):
            await verifier.verify(f"opaque-{index}")
    # A bucket of 30 a minute, refilled only as the (manual) clock moves.
    assert calls(issuer) <= 31


async def test_stale_if_error_serves_active_results_only_when_configured(
    issuer: LocalIssuer, make: Make, clock: ManualClock
) -> None:
    stale = make(introspection_cache_ttl=1, introspection_stale_if_error=60)
    strict = make(introspection_cache_ttl=1)
    token = issuer.mint_opaque(scope="order:read")
    revoked = issuer.mint_opaque(scope="order:read")
    issuer.revoke(revoked)
    for verifier in (stale, strict):
        assert await verifier.verify(token)
        with pytest.raises(InvalidToken):
            await verifier.verify(revoked)
    clock.advance(30)
    issuer.fail("introspection", "error")
    assert (await stale.verify(token)).scopes == {"order:read"}
    with pytest.raises(IntrospectionUnavailable):
        await strict.verify(token)
    with pytest.raises(IntrospectionUnavailable):  # negative results never serve stale
        await stale.verify(revoked)
    clock.advance(60)
    with pytest.raises(IntrospectionUnavailable):
        await stale.verify(token)


async def test_introspect_mode_verifies_jwts_locally_unless_asked(
    issuer: LocalIssuer, make: Make
) -> None:
    jwt_token = issuer.mint(scope="order:read")
    assert await make().verify(jwt_token)
    assert calls(issuer) == 0
    assert await make(introspect_jwts=True).verify(jwt_token)
    assert calls(issuer) == 1


async def test_jwt_plus_introspect_honours_revocation(
    issuer: LocalIssuer, make: Make, clock: ManualClock
) -> None:
    verifier = make(token_check="jwt+introspect", introspection_cache_ttl=1)
    token = issuer.mint(scope="order:read")
    verified = await verifier.verify(token)
    assert verified.header["alg"] == "RS256"  # the local verification's result
    assert verifier.cached(token) is not None
    issuer.revoke(token)
    clock.advance(2)
    assert verifier.cached(token) is None
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert refused.value.reason is Reason.INACTIVE
    # A token failing locally never reaches the issuer.
    before = calls(issuer)
    with pytest.raises(InvalidToken) as local:
        await verifier.verify(issuer.mint(audience="another-api"))
    assert local.value.reason is Reason.AUDIENCE
    assert calls(issuer) == before


async def test_endpoint_given_explicitly_skips_discovery(issuer: LocalIssuer, make: Make) -> None:
    verifier = make(introspection_endpoint=issuer.introspection_endpoint)
    assert await verifier.verify(issuer.mint_opaque())
    assert issuer.counts["discovery"] == 0


@pytest.mark.parametrize(
    ("body", "active"),
    [
        (b'{"active": true, "sub": "a"}', {"sub": "a"}),
        (b'{"active": "true", "sub": "a"}', None),
        (b'{"active": 1}', None),
        (b'{"sub": "a"}', None),
        (b'{"active": false}', None),
    ],
)
def test_only_json_true_is_active(body: bytes, active: dict[str, Any] | None) -> None:
    assert parse_introspection_response(body) == active


def answering(document: dict[str, Any], *, with_iss: bool = False) -> Starlette:
    """A stand-in issuer whose introspection endpoint always answers ``document``."""

    async def discovery(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"issuer": f"{base}/oidc", "introspection_endpoint": f"{base}/oidc/introspect"}
        )

    async def introspect(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({**document, "iss": f"{base}/oidc"} if with_iss else document)

    return Starlette(
        routes=[
            Route("/oidc/.well-known/openid-configuration", discovery),
            Route("/oidc/introspect", introspect, methods=["POST"]),
        ]
    )


def stand_in_config(url: str) -> GuardConfig:
    return GuardConfig(
        issuer=f"{url}/oidc",
        audience=AUDIENCE,
        token_check="introspect",
        introspection_client_id="api",
        introspection_client_secret="secret",
    )


async def test_string_true_from_an_issuer_is_refused() -> None:
    exp = int(time.time()) + 600
    document = {"active": "true", "aud": AUDIENCE, "exp": exp, "scope": "order:read"}
    with serve(answering(document, with_iss=True)) as url:
        async with IntrospectingVerifier(stand_in_config(url)) as verifier:
            with pytest.raises(InvalidToken) as refused:
                await verifier.verify("some-opaque-token")
    assert refused.value.reason is Reason.INACTIVE


async def orders(request: Request) -> Response:
    return PlainTextResponse(" ".join(sorted(request.auth.scopes)))


async def test_middleware_with_opaque_tokens(issuer: LocalIssuer) -> None:
    config = GuardConfig(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        token_check="introspect",
        introspection_client_id=API_ID,
        introspection_client_secret=API_SECRET,
    )
    app = GuardMiddleware(Starlette(routes=[Route("/orders", orders)]), config=config)
    assert isinstance(app.verifier, IntrospectingVerifier)
    token = issuer.mint_opaque(scope="order:read")
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://api") as client:
        ok = await client.get("/orders", headers={"authorization": f"Bearer {token}"})
        assert (ok.status_code, ok.text) == (200, "order:read")
        revoked = issuer.mint_opaque(scope="order:read")
        issuer.revoke(revoked)
        refused = await client.get("/orders", headers={"authorization": f"Bearer {revoked}"})
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        issuer.fail("introspection")
        down = await client.get(
            "/orders", headers={"authorization": f"Bearer {issuer.mint_opaque()}"}
        )
        assert down.status_code == 503
        assert int(down.headers["retry-after"]) >= 1
        assert "www-authenticate" not in down.headers
    await app.verifier.aclose()


def test_make_verifier_follows_token_check(issuer: LocalIssuer) -> None:
    from genauth_guard import Verifier

    local = GuardConfig(issuer=issuer.issuer, audience=AUDIENCE)
    assert type(make_verifier(local)) is Verifier
    both = GuardConfig(
        issuer=issuer.issuer,
        audience=AUDIENCE,
        token_check="jwt+introspect",
        introspection_client_id=API_ID,
        introspection_client_secret=API_SECRET,
    )
    made = make_verifier(both)
    assert isinstance(made, IntrospectingVerifier)
    assert API_SECRET not in repr(made.introspector)
    assert API_SECRET not in repr(both)


def test_env_options() -> None:
    config = GuardConfig.from_env(
        {
            "GENAUTH_ISSUER": "https://idp.example/oidc",
            "GENAUTH_AUDIENCE": AUDIENCE,
            "GENAUTH_TOKEN_CHECK": "jwt+introspect",
            "GENAUTH_INTROSPECTION_CLIENT_ID": API_ID,
            "GENAUTH_INTROSPECTION_CLIENT_SECRET": API_SECRET,
            "GENAUTH_INTROSPECTION_CACHE_TTL": "1",
            "GENAUTH_INTROSPECTION_ENDPOINT": "https://idp.example/oidc/token/introspection",
            "GENAUTH_ALGORITHMS": "ES256,EdDSA",
            "GENAUTH_SHARED_SECRET": "x" * 32,
        }
    )
    assert config.token_check == "jwt+introspect"
    assert config.introspection_cache_ttl == 1
    assert config.algorithms == ("ES256", "EdDSA", "HS256")
    assert config.shared_secret == b"x" * 32


async def test_claim_predicates_run_on_every_cached_answer(issuer: LocalIssuer, make: Make) -> None:
    denied: set[str] = set()
    verifier = make(claim_checks={"sub": lambda sub: sub not in denied})
    token = issuer.mint_opaque(sub="svc", scope="order:read")
    assert await verifier.verify(token)
    denied.add("svc")
    assert verifier.cached(token) is None
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert refused.value.reason is Reason.CLAIM
    assert calls(issuer) == 1
