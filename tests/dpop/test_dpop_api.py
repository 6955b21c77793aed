"""DPoP on the API (RFC 9449 sections 4.3, 7, 9): every proof check failing alone, modes,
nonces and forwarded headers, through the Starlette middleware and the FastAPI dependency.
Tokens come from the local issuer's real token endpoint or its minting; keys from its JWKS
over loopback HTTP."""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Callable
from hashlib import sha256
from typing import Any

import httpx2
import pytest
from _dpopkit import bound_token, cached_key
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genauth_guard import AccessToken, GuardConfig, Verifier
from genauth_guard._asgi import GuardMiddleware
from genauth_guard._dpop_key import DPoPKey, b64url
from genauth_guard.fastapi import FastAPIGuard
from genauth_guard.starlette import access_token, require_scopes
from genauth_guard.testing import LocalIssuer, ManualClock

URL = "http://api.test/orders"
ALGS = 'algs="ES256 ES384 RS256 PS256 EdDSA"'
KINDS = ["starlette", "fastapi"]

AppFactory = Callable[..., Any]


def _described(token: AccessToken) -> dict[str, Any]:
    return {"sub": token.subject, "bound": token.dpop_bound, "jkt": token.thumbprint}


def starlette_app(verifier: Verifier) -> Starlette:
    @require_scopes("order:read")
    async def orders(request: Request) -> Response:
        token = access_token(request)
        assert token is not None
        return JSONResponse(_described(token))

    middleware = Middleware(GuardMiddleware, verifier=verifier, realm="api")
    return Starlette(
        routes=[Route("/orders", orders, methods=["GET", "POST"])], middleware=[middleware]
    )


def fastapi_app(verifier: Verifier) -> FastAPI:
    guard = FastAPIGuard(verifier, realm="api")
    app = FastAPI()
    guard.install(app)
    reader = Depends(guard.require_scopes("order:read"))

    @app.get("/orders")
    async def orders(token: AccessToken = reader) -> dict[str, Any]:
        return _described(token)

    @app.post("/orders")
    async def place(token: AccessToken = reader) -> dict[str, Any]:
        return _described(token)

    return app


@pytest.fixture(params=KINDS)
def make_client(
    request: pytest.FixtureRequest, issuer: LocalIssuer
) -> Callable[..., httpx2.AsyncClient]:
    """``make_client(**config_options)``: an API of the parametrised kind, and a client."""

    def make(clock: Callable[[], float] | None = None, **options: Any) -> httpx2.AsyncClient:
        config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience, **options)
        verifier = Verifier(config, clock=clock) if clock is not None else Verifier(config)
        build = starlette_app if request.param == "starlette" else fastapi_app
        transport = httpx2.ASGITransport(app=build(verifier))
        return httpx2.AsyncClient(transport=transport, base_url="http://api.test")

    return make


@pytest.fixture
async def api(make_client: Callable[..., httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    async with make_client() as client:
        yield client


def dpop(
    key: DPoPKey, token: str, *, method: str = "GET", url: str = URL, **proof: Any
) -> dict[str, str]:
    return {
        "authorization": f"DPoP {token}",
        "dpop": key.proof(method, url, access_token=token, **proof),
    }


def challenges(response: httpx2.Response) -> list[str]:
    return response.headers.get_list("www-authenticate")


def assert_refused(
    response: httpx2.Response, error: str, status: int = 401, word: str = ""
) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    detail = body.get("detail", body)
    assert detail["error"] == error
    assert word in detail["error_description"].lower()
    dpop_challenge = [c for c in challenges(response) if c.startswith("DPoP ")]
    assert len(dpop_challenge) == 1
    assert f'error="{error}"' in dpop_challenge[0]
    assert ALGS in dpop_challenge[0]
    # The Bearer challenge (allowed mode) carries no error: the request used DPoP.
    assert all("error=" not in c for c in challenges(response) if c.startswith("Bearer"))


# -- the valid call, end to end ----------------------------------------------------------


async def test_valid_dpop_call_with_a_token_from_the_token_endpoint(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    async with httpx2.AsyncClient() as http:
        reply = await http.post(
            issuer.token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": "order-reader",
                "client_secret": "reader-secret",
            },
            headers={"dpop": key.proof("POST", issuer.token_endpoint)},
        )
    assert reply.status_code == 200, reply.text
    assert reply.json()["token_type"] == "DPoP"
    token = reply.json()["access_token"]
    response = await api.get("/orders", headers=dpop(key, token))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "order-reader", "bound": True, "jkt": key.thumbprint}


@pytest.mark.parametrize("alg", ["ES384", "RS256", "PS256", "EdDSA"])
async def test_every_default_algorithm_works(
    issuer: LocalIssuer, api: httpx2.AsyncClient, alg: str
) -> None:
    key = cached_key(alg)
    token = bound_token(issuer, key)
    response = await api.get("/orders", headers=dpop(key, token))
    assert response.status_code == 200, response.text


async def test_a_post_is_checked_with_its_own_method(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key)
    response = await api.post("/orders", headers=dpop(key, token, method="POST"))
    assert response.status_code == 200, response.text


async def test_query_is_ignored_in_htu(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key)
    response = await api.get("/orders?page=2", headers=dpop(key, token, url=URL + "?other=1"))
    assert response.status_code == 200, response.text


async def test_htu_compared_after_normalisation(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key)
    url = "HTTP://API.test:80/./%6Frders#frag"  # case, default port, dots, %6F = "o"
    response = await api.get("/orders", headers=dpop(key, token, url=url))
    assert response.status_code == 200, response.text


# -- each check failing alone ------------------------------------------------------------


def _forge(
    key: DPoPKey, header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    def part(value: dict[str, Any]) -> str:
        return b64url(json.dumps(value).encode())

    signing_input = f"{part(header)}.{part(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def _claims(token: str, **extra: Any) -> dict[str, Any]:
    import time

    ath = b64url(sha256(token.encode()).digest())
    return {
        "jti": "j-" + str(time.time()),
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": ath,
        **extra,
    }


PROOF_CASES: dict[str, Callable[[DPoPKey, DPoPKey, str], dict[str, str]]] = {
    "wrong typ": lambda k, o, t: dpop(k, t, header={"typ": "JWT"}),
    "alg none": lambda k, o, t: {
        "authorization": f"DPoP {t}",
        "dpop": _forge(
            k, {"typ": "dpop+jwt", "alg": "none", "jwk": k.public_jwk}, _claims(t), lambda _: b""
        ),
    },
    "HS256": lambda k, o, t: {
        "authorization": f"DPoP {t}",
        "dpop": _forge(
            k,
            {"typ": "dpop+jwt", "alg": "HS256", "jwk": k.public_jwk},
            _claims(t),
            lambda data: hmac.new(json.dumps(k.public_jwk).encode(), data, sha256).digest(),
        ),
    },
    "private key in jwk": lambda k, o, t: dpop(k, t, header={"jwk": k.private_jwk()}),
    "alg not the key's": lambda k, o, t: dpop(k, t, header={"alg": "ES384"}),
    "signature by another key": lambda k, o, t: dpop(o, t, header={"jwk": k.public_jwk}),
    "wrong htm": lambda k, o, t: dpop(k, t, method="POST"),
    "htu another host": lambda k, o, t: dpop(k, t, url="http://evil.test/orders"),
    "htu another path": lambda k, o, t: dpop(k, t, url="http://api.test/admin"),
    "htu another port": lambda k, o, t: dpop(k, t, url="http://api.test:8080/orders"),
    "htu another scheme": lambda k, o, t: dpop(k, t, url="https://api.test/orders"),
    "iat too old": lambda k, o, t: dpop(k, t, iat=__import__("time").time() - 600),
    "iat in the future": lambda k, o, t: dpop(k, t, iat=__import__("time").time() + 600),
    "wrong ath": lambda k, o, t: dpop(k, t, claims={"ath": b64url(sha256(b"other").digest())}),
    "missing ath": lambda k, o, t: {
        "authorization": f"DPoP {t}",
        "dpop": k.proof("GET", URL),
    },
    "missing jti": lambda k, o, t: dpop(k, t, claims={"jti": ""}),
    "thumbprint mismatch": lambda k, o, t: dpop(o, t),
    "two DPoP headers": lambda k, o, t: dpop(k, t),  # a second header is added below
    "token without proof": lambda k, o, t: {"authorization": f"DPoP {t}"},
    "not a JWT": lambda k, o, t: {"authorization": f"DPoP {t}", "dpop": "not-a-jwt"},
}
WORDS = {
    "wrong typ": "typ",
    "alg none": "algorithm",
    "HS256": "algorithm",
    "private key in jwk": "private",
    "alg not the key's": "algorithm",
    "signature by another key": "signature",
    "wrong htm": "htm",
    "htu another host": "htu",
    "htu another path": "htu",
    "htu another port": "htu",
    "htu another scheme": "htu",
    "iat too old": "old",
    "iat in the future": "future",
    "wrong ath": "ath",
    "missing ath": "ath",
    "missing jti": "jti",
    "thumbprint mismatch": "cnf.jkt",
    "two DPoP headers": "more than one",
    "token without proof": "missing",
    "not a JWT": "malformed",
}


@pytest.mark.parametrize("case", list(PROOF_CASES))
async def test_each_proof_check_failing_alone(
    issuer: LocalIssuer, key: DPoPKey, other_key: DPoPKey, api: httpx2.AsyncClient, case: str
) -> None:
    token = bound_token(issuer, key)
    headers = list(PROOF_CASES[case](key, other_key, token).items())
    if case == "two DPoP headers":
        headers.append(("dpop", key.proof("GET", URL, access_token=token)))
    response = await api.get("/orders", headers=headers)
    error = "invalid_token" if case == "thumbprint mismatch" else "invalid_dpop_proof"
    assert_refused(response, error, word=WORDS[case])
    assert token not in response.text
    # The same token with a good proof still works: the refusal consumed nothing.
    assert (await api.get("/orders", headers=dpop(key, token))).status_code == 200


async def test_replayed_proof_is_refused(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key)
    headers = dpop(key, token)
    assert (await api.get("/orders", headers=headers)).status_code == 200
    assert_refused(await api.get("/orders", headers=headers), "invalid_dpop_proof", word="replayed")


async def test_proof_without_token_is_no_credential(key: DPoPKey, api: httpx2.AsyncClient) -> None:
    response = await api.get("/orders", headers={"dpop": key.proof("GET", URL)})
    assert response.status_code == 401
    assert challenges(response) == ['Bearer realm="api"', f'DPoP realm="api", {ALGS}']


async def test_unbound_token_under_dpop_scheme_is_refused(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = issuer.mint(scope="order:read")
    assert_refused(
        await api.get("/orders", headers=dpop(key, token)), "invalid_token", word="dpop-bound"
    )


async def test_invalid_token_under_dpop_scheme_is_answered_in_the_dpop_challenge(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = issuer.mint(
        scope="order:read", expires_in=-3600, claims={"cnf": {"jkt": key.thumbprint}}
    )
    assert_refused(
        await api.get("/orders", headers=dpop(key, token)), "invalid_token", word="expired"
    )


async def test_insufficient_scope_for_a_dpop_token(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key, scope="order:write")
    assert_refused(await api.get("/orders", headers=dpop(key, token)), "insufficient_scope", 403)


async def test_dpop_scheme_without_token_is_a_bad_request(api: httpx2.AsyncClient) -> None:
    response = await api.get("/orders", headers={"authorization": "DPoP", "dpop": "x"})
    assert response.status_code == 400


# -- modes ---------------------------------------------------------------------------------


async def test_allowed_mode_accepts_both_and_offers_both(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    plain = issuer.mint(scope="order:read")
    assert (
        await api.get("/orders", headers={"authorization": f"Bearer {plain}"})
    ).status_code == 200
    token = bound_token(issuer, key)
    assert (await api.get("/orders", headers=dpop(key, token))).status_code == 200
    missing = await api.get("/orders")
    assert challenges(missing) == ['Bearer realm="api"', f'DPoP realm="api", {ALGS}']


async def test_required_mode_refuses_bearer(
    issuer: LocalIssuer, key: DPoPKey, make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(dpop="required") as api:
        plain = issuer.mint(scope="order:read")
        refused = await api.get("/orders", headers={"authorization": f"Bearer {plain}"})
        assert refused.status_code == 401
        assert challenges(refused) == [
            f'DPoP realm="api", {ALGS}, error="invalid_token", '
            'error_description="bearer tokens are not accepted here; use DPoP"'
        ]
        missing = await api.get("/orders")
        assert challenges(missing) == [f'DPoP realm="api", {ALGS}']
        token = bound_token(issuer, key)
        assert (await api.get("/orders", headers=dpop(key, token))).status_code == 200


async def test_off_mode_knows_no_dpop(
    issuer: LocalIssuer, key: DPoPKey, make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    async with make_client(dpop="off") as api:
        token = bound_token(issuer, key)
        refused = await api.get("/orders", headers=dpop(key, token))
        assert refused.status_code == 401
        assert challenges(refused) == ['Bearer realm="api"']  # another scheme: no credentials
        plain = issuer.mint(scope="order:read")
        assert (
            await api.get("/orders", headers={"authorization": f"Bearer {plain}"})
        ).status_code == 200


# The rule lives in Verifier.verify (issue 9: cnf-bound tokens refused as bearer).
async def test_dpop_bound_token_sent_as_bearer_is_invalid_token(
    issuer: LocalIssuer, key: DPoPKey, api: httpx2.AsyncClient
) -> None:
    token = bound_token(issuer, key)
    refused = await api.get("/orders", headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in challenges(refused)[0]


# -- nonces ----------------------------------------------------------------------------------


async def test_nonce_flow_with_rotation(
    issuer: LocalIssuer, key: DPoPKey, make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    import time

    clock = ManualClock(time.time())
    async with make_client(clock=clock, dpop_nonce=True, dpop_nonce_lifetime=60) as api:
        token = bound_token(issuer, key)
        first = await api.get("/orders", headers=dpop(key, token, iat=clock()))
        assert_refused(first, "use_dpop_nonce", word="nonce")
        nonce = first.headers["dpop-nonce"]
        ok = await api.get("/orders", headers=dpop(key, token, nonce=nonce, iat=clock()))
        assert ok.status_code == 200, ok.text
        clock.advance(61)  # rotated once: the previous nonce is still accepted
        again = await api.get("/orders", headers=dpop(key, token, nonce=nonce, iat=clock()))
        assert again.status_code == 200, again.text
        clock.advance(60)  # rotated twice: stale
        stale = await api.get("/orders", headers=dpop(key, token, nonce=nonce, iat=clock()))
        assert_refused(stale, "use_dpop_nonce", word="stale")
        assert stale.headers["dpop-nonce"] != nonce
        forged = await api.get("/orders", headers=dpop(key, token, nonce="x" * 32, iat=clock()))
        assert_refused(forged, "use_dpop_nonce")


# -- proxies -----------------------------------------------------------------------------------

FORWARDED = [
    {"x-forwarded-proto": "https", "x-forwarded-host": "orders.example.com"},
    {"forwarded": 'for=10.0.0.1;proto=https;host="orders.example.com"'},
]


@pytest.mark.parametrize("forwarded", FORWARDED, ids=["x-forwarded", "forwarded"])
async def test_forwarded_headers_only_from_trusted_proxies(
    issuer: LocalIssuer,
    key: DPoPKey,
    make_client: Callable[..., httpx2.AsyncClient],
    forwarded: dict[str, str],
) -> None:
    token = bound_token(issuer, key)
    public = "https://orders.example.com/orders"
    # httpx2's ASGI transport presents the client as 127.0.0.1.
    async with make_client(trusted_proxies=["127.0.0.0/8"]) as behind_proxy:
        ok = await behind_proxy.get(
            "/orders", headers={**dpop(key, token, url=public), **forwarded}
        )
        assert ok.status_code == 200, ok.text
    async with make_client() as direct:  # nobody trusted: the headers are ignored
        refused = await direct.get("/orders", headers={**dpop(key, token, url=public), **forwarded})
        assert_refused(refused, "invalid_dpop_proof", word="htu")
    async with make_client(trusted_proxies=["10.9.0.0/16"]) as other_proxy:
        refused = await other_proxy.get(
            "/orders", headers={**dpop(key, token, url=public), **forwarded}
        )
        assert_refused(refused, "invalid_dpop_proof", word="htu")


async def test_forwarded_prefix_from_a_trusted_proxy(
    issuer: LocalIssuer, key: DPoPKey, make_client: Callable[..., httpx2.AsyncClient]
) -> None:
    token = bound_token(issuer, key)
    public = "https://gw.example.com/shop/orders"
    headers = {
        **dpop(key, token, url=public),
        "x-forwarded-proto": "https",
        "x-forwarded-host": "gw.example.com",
        "x-forwarded-prefix": "/shop",
    }
    async with make_client(trusted_proxies=["127.0.0.1"]) as api:
        assert (await api.get("/orders", headers=headers)).status_code == 200


@pytest.fixture
def issuer(shared_issuer: LocalIssuer) -> LocalIssuer:
    """One issuer for this module: these tests neither fault it nor count its requests."""
    return shared_issuer


@pytest.mark.parametrize(
    ("mode", "schemes"),
    [("allowed", ["bearer", "dpop"]), ("required", ["dpop"]), ("off", ["bearer"])],
)
def test_openapi_documents_the_accepted_schemes(
    issuer: LocalIssuer, mode: str, schemes: list[str]
) -> None:
    config = GuardConfig(issuer=issuer.issuer, audience=issuer.audience, dpop=mode)
    schema = fastapi_app(Verifier(config)).openapi()
    # Alternatives (one requirement object each), every one with the route's scopes.
    assert schema["paths"]["/orders"]["get"]["security"] == [
        {name: ["order:read"]} for name in schemes
    ]
    declared = schema["components"]["securitySchemes"]
    assert set(declared) == set(schemes)
    if "dpop" in declared:
        assert declared["dpop"]["type"] == "http"
        assert declared["dpop"]["scheme"] == "DPoP"
