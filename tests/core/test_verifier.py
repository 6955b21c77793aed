"""Every verification rule, accepted and rejected, against a real issuer over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from _corekit import AUDIENCE, Clock, MakeVerifier, assert_not_echoed, forge, mint

from genauth_guard._errors import GuardError, InvalidToken, KeysUnavailable, Reason
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer, SigningKey


async def rejected(verifier: Verifier, token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert_not_echoed(caught.value, token)
    return caught.value


def timed(clock: Clock, **offsets: float | None) -> dict[str, Any]:
    """exp/nbf/iat claims at offsets (seconds) from the test clock; None omits nothing."""
    return {name: int(clock.now + offset) for name, offset in offsets.items() if offset is not None}


# -- a GenAuth-shaped token passes, and what the application sees -------------------


async def test_genauth_shaped_token_is_accepted(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    token = shared_issuer.mint(scope="order:read order:write", sub="app-client")
    access = await verifier.verify(token)
    assert access.scopes == frozenset({"order:read", "order:write"})
    assert access.subject == "app-client"
    assert access.client_id is None  # GenAuth tokens often carry no client_id
    assert access.issuer == shared_issuer.issuer
    assert access.expires_at == access.claims["exp"]
    assert access.header["typ"] == "JWT"
    assert token not in repr(access)


async def test_claims_are_read_only(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    access = await verifier.verify(shared_issuer.mint())
    with pytest.raises(TypeError):
        access.claims["sub"] = "someone-else"  # type: ignore[index]


@pytest.mark.parametrize(
    ("claims", "expected"),
    [({"client_id": "c1"}, "c1"), ({"azp": "a1"}, "a1"), ({"client_id": "c1", "azp": "a1"}, "c1")],
)
async def test_client_id_from_client_id_or_azp(
    verifier: Verifier, shared_issuer: LocalIssuer, claims: dict[str, str], expected: str
) -> None:
    access = await verifier.verify(shared_issuer.mint(claims=claims))
    assert access.client_id == expected


# -- algorithms (RFC 8725 3.1) -------------------------------------------------------


async def test_algorithm_outside_the_allow_list_is_rejected(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    error = await rejected(verifier, shared_issuer.mint(algorithm="RS384"))
    assert error.reason is Reason.ALGORITHM


async def test_allowed_rs512_with_a_key_declaring_rs512(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    key = SigningKey.generate()
    key.alg = "RS512"
    issuer.extra_jwks.append(key.public_jwk())
    verifier = make_verifier(on=issuer, algorithms=["RS256", "RS512"])
    access = await verifier.verify(issuer.mint(key=key, algorithm="RS512"))
    assert access.header["alg"] == "RS512"
    # The key says RS512: the same key may not be used with RS256 (RFC 7517 4.4).
    error = await rejected(verifier, issuer.mint(key=key, algorithm="RS256"))
    assert error.reason is Reason.ALGORITHM


async def test_ps256_needs_allowing_and_a_key_without_an_rs_alg(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    key = SigningKey.generate()
    jwk = key.public_jwk()
    del jwk["alg"]
    issuer.extra_jwks.append(jwk)
    ps = make_verifier(on=issuer, algorithms=["RS256", "PS256"])
    assert (await ps.verify(issuer.mint(key=key, algorithm="PS256"))).header["alg"] == "PS256"
    # The issuer's main key declares RS256, so PS256 under it is refused.
    error = await rejected(ps, issuer.mint(algorithm="PS256"))
    assert error.reason is Reason.ALGORITHM
    rs_only = make_verifier(on=issuer)
    error = await rejected(rs_only, issuer.mint(key=key, algorithm="PS256"))
    assert error.reason is Reason.ALGORITHM


# -- keys ---------------------------------------------------------------------------


async def test_kid_selects_among_several_keys(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    old = issuer.signing_key
    issuer.rotate_keys()
    verifier = make_verifier(on=issuer)
    assert (await verifier.verify(issuer.mint(key=old))).header["kid"] == old.kid
    assert (await verifier.verify(issuer.mint())).header["kid"] == issuer.signing_key.kid


async def test_unknown_kid_is_rejected(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    stranger = SigningKey.generate()
    error = await rejected(verifier, shared_issuer.mint(key=stranger))
    assert error.reason is Reason.UNKNOWN_KEY


async def test_no_kid_works_only_with_a_single_key(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    key = issuer.signing_key.private_key
    token = forge({"alg": "RS256", "typ": "JWT"}, issuer.claims_for(), key=key)
    verifier = make_verifier(on=issuer)
    assert (await verifier.verify(token)).subject == "local-client"
    issuer.rotate_keys()
    other = make_verifier(on=issuer)
    error = await rejected(other, token)
    assert error.reason is Reason.UNKNOWN_KEY


async def test_wrong_key_under_a_published_kid_fails_the_signature(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    impostor = SigningKey.generate(kid=shared_issuer.signing_key.kid)
    error = await rejected(verifier, shared_issuer.mint(key=impostor))
    assert error.reason is Reason.SIGNATURE
    assert error.description == "signature invalid"


async def test_issuer_down_with_no_keys_is_keys_unavailable(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    issuer.fail("jwks")
    verifier = make_verifier(on=issuer)
    with pytest.raises(KeysUnavailable):
        await verifier.verify(issuer.mint())
    with pytest.raises(KeysUnavailable):
        await verifier.warm_up()
    issuer.heal()
    await verifier.warm_up()
    assert (await verifier.verify(issuer.mint())).subject == "local-client"


async def test_warm_up_fetches_keys_once_then_verify_needs_no_fetch(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer)
    await verifier.warm_up()
    fetched = issuer.counts["jwks"]
    assert fetched == 1
    await verifier.verify(issuer.mint())
    assert issuer.counts["jwks"] == fetched


async def test_explicit_jwks_uri_skips_discovery(
    make_verifier: MakeVerifier, issuer: LocalIssuer
) -> None:
    verifier = make_verifier(on=issuer, jwks_uri=issuer.jwks_uri)
    await verifier.verify(issuer.mint())
    assert issuer.counts["discovery"] == 0
    assert issuer.counts["jwks"] == 1


# -- issuer (RFC 7519 4.1.1) ---------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example/oidc",
        "{issuer}/",  # trailing slash: not the same string
        "{ISSUER}",  # case differs
        "{issuer} ",
        ["{issuer}"],
        42,
    ],
)
async def test_issuer_must_match_exactly(
    verifier: Verifier, shared_issuer: LocalIssuer, iss: Any
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str):
            return value.format(issuer=shared_issuer.issuer, ISSUER=shared_issuer.issuer.upper())
        return value

    error = await rejected(verifier, mint(shared_issuer, claims={"iss": fill(iss)}))
    assert error.reason is Reason.ISSUER
    assert error.description == "issuer not accepted"


async def test_missing_issuer_is_a_missing_claim(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    error = await rejected(verifier, shared_issuer.mint(omit=["iss"]))
    assert error.reason is Reason.MISSING_CLAIM
    assert "iss" in error.description


# -- audience (RFC 7519 4.1.3) -------------------------------------------------------


@pytest.mark.parametrize(
    "aud", [AUDIENCE, [AUDIENCE], ["other-api", AUDIENCE], [AUDIENCE, "other-api"]]
)
async def test_audience_string_or_list_containing_ours(
    verifier: Verifier, shared_issuer: LocalIssuer, aud: str | list[str]
) -> None:
    assert (await verifier.verify(shared_issuer.mint(audience=aud))).claims["aud"] == aud


@pytest.mark.parametrize(
    ("aud", "reason"),
    [
        ("other-api", Reason.AUDIENCE),
        (["other-api", "third"], Reason.AUDIENCE),
        ([], Reason.AUDIENCE),
        ("order-api ", Reason.AUDIENCE),
        ("ORDER-API", Reason.AUDIENCE),
        (["order-api", 1], Reason.AUDIENCE),
        ([["order-api"]], Reason.AUDIENCE),
        ({"order-api": True}, Reason.AUDIENCE),
        (None, Reason.AUDIENCE),
        (7, Reason.AUDIENCE),
    ],
)
async def test_audience_rejections(
    verifier: Verifier, shared_issuer: LocalIssuer, aud: Any, reason: Reason
) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims={"aud": aud}))
    assert error.reason is reason


async def test_missing_audience(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    error = await rejected(verifier, shared_issuer.mint(omit=["aud"]))
    assert error.reason is Reason.MISSING_CLAIM


async def test_any_of_several_configured_audiences(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    verifier = make_verifier(audience=["billing-api", AUDIENCE])
    await verifier.verify(shared_issuer.mint(audience="billing-api"))
    await verifier.verify(shared_issuer.mint(audience=AUDIENCE))
    error = await rejected(verifier, shared_issuer.mint(audience="other"))
    assert error.description == "audience not accepted"


# -- time: exp, nbf, iat, leeway, max age (RFC 7519 4.1.4-4.1.6) ---------------------


async def test_expired_token(verifier: Verifier, shared_issuer: LocalIssuer, clock: Clock) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims=timed(clock, exp=-31, iat=-600)))
    assert error.reason is Reason.EXPIRED
    assert error.description == "token expired"


async def test_expiry_within_leeway_is_accepted(
    verifier: Verifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    await verifier.verify(shared_issuer.mint(claims=timed(clock, exp=-29, iat=-600)))


async def test_leeway_is_configurable(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    token = shared_issuer.mint(claims=timed(clock, exp=-5, iat=-600))
    error = await rejected(make_verifier(leeway=0), token)
    assert error.reason is Reason.EXPIRED
    await make_verifier(leeway=10).verify(token)


async def test_exp_is_required(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    error = await rejected(verifier, shared_issuer.mint(omit=["exp"]))
    assert error.reason is Reason.MISSING_CLAIM
    assert "exp" in error.description


@pytest.mark.parametrize("value", ["9999999999", True, None, [1], 1e300, -1e300, 10**400])
async def test_exp_must_be_a_numeric_date(
    verifier: Verifier, shared_issuer: LocalIssuer, value: Any
) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims={"exp": value}))
    assert error.reason is Reason.CLAIM


async def test_fractional_exp_is_a_numeric_date(
    verifier: Verifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    access = await verifier.verify(shared_issuer.mint(claims={"exp": clock.now + 60.5}))
    assert access.expires_at == int(clock.now + 60.5)


async def test_not_before(verifier: Verifier, shared_issuer: LocalIssuer, clock: Clock) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims=timed(clock, nbf=31)))
    assert error.reason is Reason.NOT_YET_VALID
    await verifier.verify(shared_issuer.mint(claims=timed(clock, nbf=29)))
    await verifier.verify(shared_issuer.mint(claims=timed(clock, nbf=-100)))
    error = await rejected(verifier, shared_issuer.mint(claims={"nbf": "soon"}))
    assert error.reason is Reason.CLAIM


async def test_issued_in_the_future(
    verifier: Verifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims=timed(clock, iat=31)))
    assert error.reason is Reason.ISSUED_IN_FUTURE
    await verifier.verify(shared_issuer.mint(claims=timed(clock, iat=29)))
    error = await rejected(verifier, shared_issuer.mint(claims={"iat": False}))
    assert error.reason is Reason.CLAIM


async def test_iat_and_nbf_are_optional(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    await verifier.verify(shared_issuer.mint(omit=["iat", "nbf", "jti", "sub"]))


async def test_max_token_age(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, clock: Clock
) -> None:
    verifier = make_verifier(max_token_age=300, token_cache_size=0)
    await verifier.verify(shared_issuer.mint(claims=timed(clock, iat=-300)))
    error = await rejected(verifier, shared_issuer.mint(claims=timed(clock, iat=-331)))
    assert error.reason is Reason.TOO_OLD
    error = await rejected(verifier, shared_issuer.mint(omit=["iat"]))
    assert error.reason is Reason.MISSING_CLAIM


# -- required claims, claim checks, claim types -------------------------------------


async def test_required_claims(make_verifier: MakeVerifier, shared_issuer: LocalIssuer) -> None:
    verifier = make_verifier(required_claims=["sub", "tenant"])
    await verifier.verify(shared_issuer.mint(claims={"tenant": "t1"}))
    error = await rejected(verifier, shared_issuer.mint())
    assert error.reason is Reason.MISSING_CLAIM
    assert error.description == "missing claim: tenant"


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        ("t1", "t1", "t2"),
        (True, True, 1),  # JSON true is not the number 1
        (3, 3, True),
        (["admin", "ops"], ["ops", "admin", "dev"], ["admin"]),
        (["admin"], "dev admin", "administrator"),
        (("a",), ["a"], "a-b"),
    ],
)
async def test_claim_check_equals_and_includes(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, check: Any, good: Any, bad: Any
) -> None:
    verifier = make_verifier(claim_checks={"x": check})
    await verifier.verify(shared_issuer.mint(claims={"x": good}))
    error = await rejected(verifier, shared_issuer.mint(claims={"x": bad}))
    assert error.reason is Reason.CLAIM
    assert error.description == "claim x not accepted"
    error = await rejected(verifier, shared_issuer.mint())
    assert error.reason is Reason.MISSING_CLAIM


async def test_claim_check_predicate(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    def tenant_ok(value: Any) -> bool:
        return isinstance(value, str) and value.startswith("acme-")

    def broken(value: Any) -> bool:
        raise RuntimeError("bug in a user predicate")

    verifier = make_verifier(claim_checks={"tenant": tenant_ok})
    await verifier.verify(shared_issuer.mint(claims={"tenant": "acme-1"}))
    error = await rejected(verifier, shared_issuer.mint(claims={"tenant": "evil-1"}))
    assert error.reason is Reason.CLAIM
    # A predicate that raises rejects the token; verify still raises only GuardError.
    crashing = make_verifier(claim_checks={"tenant": broken})
    error = await rejected(crashing, shared_issuer.mint(claims={"tenant": "acme-1"}))
    assert error.reason is Reason.CLAIM


@pytest.mark.parametrize("name", ["sub", "client_id", "azp", "jti"])
@pytest.mark.parametrize("value", [1, ["x"], {"a": 1}, True])
async def test_string_claims_must_be_strings(
    verifier: Verifier, shared_issuer: LocalIssuer, name: str, value: Any
) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims={name: value}))
    assert error.reason is Reason.CLAIM


# -- typ and strict RFC 9068 ---------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "application/at+jwt", None])
async def test_default_mode_accepts_jwt_and_at_jwt(
    verifier: Verifier, shared_issuer: LocalIssuer, typ: str | None
) -> None:
    header = {"typ": typ} if typ else {}
    key = shared_issuer.signing_key
    head = {"alg": "RS256", "kid": key.kid, **header}
    await verifier.verify(forge(head, shared_issuer.claims_for(), key=key.private_key))


@pytest.mark.parametrize("typ", ["logout+jwt", "dpop+jwt", "secevent+jwt", 1, ["JWT"]])
async def test_other_token_types_are_refused(
    verifier: Verifier, shared_issuer: LocalIssuer, typ: Any
) -> None:
    error = await rejected(verifier, shared_issuer.mint(header={"typ": typ}))
    assert error.reason is Reason.TYPE


RFC9068_CLAIMS = {"client_id": "order-reader"}


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
async def test_strict_rfc9068_accepts_at_jwt_with_its_claims(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, typ: str
) -> None:
    verifier = make_verifier(strict_rfc9068=True)
    token = shared_issuer.mint(header={"typ": typ}, claims=RFC9068_CLAIMS)
    assert (await verifier.verify(token)).client_id == "order-reader"


@pytest.mark.parametrize("typ", ["JWT", None])
async def test_strict_rfc9068_refuses_other_types(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, typ: str | None
) -> None:
    verifier = make_verifier(strict_rfc9068=True)
    key = shared_issuer.signing_key
    head = {"alg": "RS256", "kid": key.kid} | ({"typ": typ} if typ else {})
    claims = shared_issuer.claims_for() | RFC9068_CLAIMS
    error = await rejected(verifier, forge(head, claims, key=key.private_key))
    assert error.reason is Reason.TYPE


@pytest.mark.parametrize("missing", ["sub", "client_id", "iat", "jti"])
async def test_strict_rfc9068_requires_its_claims(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer, missing: str
) -> None:
    verifier = make_verifier(strict_rfc9068=True)
    token = shared_issuer.mint(header={"typ": "at+jwt"}, claims=RFC9068_CLAIMS, omit=[missing])
    error = await rejected(verifier, token)
    assert error.reason is Reason.MISSING_CLAIM
    assert error.description == f"missing claim: {missing}"


# -- scopes -------------------------------------------------------------------------


async def test_scopes_from_scope_and_scp(verifier: Verifier, shared_issuer: LocalIssuer) -> None:
    token = shared_issuer.mint(scope="a b", claims={"scp": ["c", "d"]})
    assert (await verifier.verify(token)).scopes == {"a", "b", "c", "d"}
    token = shared_issuer.mint(claims={"scope": ["x", "y"]})
    assert (await verifier.verify(token)).scopes == {"x", "y"}


async def test_permissions_claim_when_configured(
    make_verifier: MakeVerifier, shared_issuer: LocalIssuer
) -> None:
    token = shared_issuer.mint(scope="a", claims={"permissions": ["order:read"]})
    plain = make_verifier()
    assert (await plain.verify(token)).scopes == {"a"}
    configured = make_verifier(scope_claims=["scope", "scp", "permissions"])
    assert (await configured.verify(token)).scopes == {"a", "order:read"}


@pytest.mark.parametrize("value", [1, {"order:read": True}, ["order:read", 2], True])
async def test_malformed_scope_claim_rejects_the_token(
    verifier: Verifier, shared_issuer: LocalIssuer, value: Any
) -> None:
    error = await rejected(verifier, shared_issuer.mint(claims={"scope": value}))
    assert error.reason is Reason.CLAIM


# -- size ---------------------------------------------------------------------------


async def test_size_limit(make_verifier: MakeVerifier, shared_issuer: LocalIssuer) -> None:
    token = shared_issuer.mint(claims={"pad": "x" * 3000})
    verifier = make_verifier(max_token_bytes=len(token))
    await verifier.verify(token)
    small = make_verifier(max_token_bytes=len(token) - 1)
    error = await rejected(small, token)
    assert error.reason is Reason.TOO_LARGE


# -- lifecycle ----------------------------------------------------------------------


async def test_context_manager_and_config_attribute(shared_issuer: LocalIssuer) -> None:
    from genauth_guard._config import GuardConfig

    config = GuardConfig(issuer=shared_issuer.issuer, audience=AUDIENCE)
    async with Verifier(config) as verifier:
        assert verifier.config is config
        await verifier.verify(shared_issuer.mint())


async def test_every_failure_is_a_guard_error(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    for token in ["", "a.b.c", shared_issuer.mint(audience="x"), None, 5, b"\xff"]:
        with pytest.raises(GuardError):
            await verifier.verify(token)  # type: ignore[arg-type]
