"""The HTTP behaviour contract of DESIGN.md as data, shared by the adapter tests."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import httpx2

from genauth_guard._config import GuardConfig
from genauth_guard.testing import LocalIssuer, SigningKey

REALM = "orders"
# The default (DPoP allowed) offers both schemes, each in a header of its own.
DPOP_CHALLENGE = f'DPoP realm="{REALM}", algs="ES256 ES384 RS256 PS256 EdDSA"'
CASES = [
    "no credentials",
    "basic scheme",
    "bearer without token",
    "several authorization headers",
    "token in two places",
    "expired",
    "wrong audience",
    "bad signature",
    "unknown key",
    "not a jwt",
    "scope missing",
    "keys unavailable",
    "valid",
]


def config_for(issuer: LocalIssuer) -> GuardConfig:
    return GuardConfig(issuer=issuer.issuer, audience=issuer.audience)


@dataclass
class Case:
    """One row of the HTTP behaviour contract (DESIGN.md)."""

    name: str
    status: int
    error: str | None = None
    describe: str | None = None  # a word error_description must contain
    headers: list[tuple[str, str]] = field(default_factory=list)
    query: str = ""
    token: str | None = None  # never to appear in a response
    keys_down: bool = False


@functools.cache
def _stranger_key() -> SigningKey:
    """A key the issuer never published (generated once: RSA key generation is slow)."""
    return SigningKey.generate()


def contract_cases(issuer: LocalIssuer) -> list[Case]:
    good = issuer.mint(scope="order:read")
    stranger = _stranger_key()
    forged = issuer.mint(scope="order:read", key=stranger, header={"kid": issuer.signing_key.kid})
    unknown = issuer.mint(scope="order:read", key=stranger)
    expired = issuer.mint(scope="order:read", expires_in=-3600)
    elsewhere = issuer.mint(scope="order:read", audience="another-api")
    weak = issuer.mint(scope="order:write")

    def bearer(token: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {token}")]

    return [
        Case("no credentials", 401),
        Case("basic scheme", 401, headers=[("authorization", "Basic dXNlcjpwYXNz")]),
        Case("bearer without token", 400, "invalid_request", headers=[("authorization", "Bearer")]),
        Case(
            "several authorization headers",
            400,
            "invalid_request",
            headers=[("authorization", f"Bearer {good}"), ("authorization", "Basic eDp5")],
            token=good,
        ),
        Case(
            "token in two places",
            400,
            "invalid_request",
            headers=bearer(good),
            query=f"access_token={good}",
            token=good,
        ),
        Case("expired", 401, "invalid_token", "expired", bearer(expired), token=expired),
        Case(
            "wrong audience", 401, "invalid_token", "audience", bearer(elsewhere), token=elsewhere
        ),
        Case("bad signature", 401, "invalid_token", "signature", bearer(forged), token=forged),
        Case("unknown key", 401, "invalid_token", "key", bearer(unknown), token=unknown),
        Case("not a jwt", 401, "invalid_token", None, bearer("not.a.jwt"), token="not.a.jwt"),
        Case("scope missing", 403, "insufficient_scope", "order:read", bearer(weak), token=weak),
        Case("keys unavailable", 503, headers=bearer(good), token=good, keys_down=True),
        Case("valid", 200, headers=bearer(good), token=good),
    ]


def check_contract(case: Case, response: httpx2.Response) -> None:
    """Assert ``response`` is exactly what the contract table says for ``case``."""
    assert response.status_code == case.status, (case.name, response.text)
    challenge = response.headers.get_list("www-authenticate")
    if case.status == 200:
        return
    body = response.json()
    assert set(body) >= {"error", "error_description"}
    if case.token is not None:
        assert case.token not in response.text
        assert all(case.token not in value for value in response.headers.values())
    if case.status == 503:
        assert challenge == []
        assert int(response.headers["retry-after"]) > 0
        return
    assert len(challenge) == 2
    assert challenge[1] == DPOP_CHALLENGE
    if case.error is None:  # RFC 6750 3.1: no error code without credentials
        assert challenge[0] == f'Bearer realm="{REALM}"'
        return
    assert challenge[0].startswith(f'Bearer realm="{REALM}", error="{case.error}"')
    assert body["error"] == case.error
    assert "error_description=" in challenge[0]
    if case.describe is not None:
        assert case.describe in body["error_description"].lower(), body
    if case.error == "insufficient_scope":
        assert 'scope="order:read"' in challenge[0]


def case_named(issuer: LocalIssuer, name: str) -> Case:
    """The contract row ``name``; puts the issuer's JWKS down for the 503 row."""
    case = next(c for c in contract_cases(issuer) if c.name == name)
    if case.keys_down:
        issuer.fail("jwks")
    return case
