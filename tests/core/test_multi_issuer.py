"""Several issuers (GenAuth multi-tenant): pick by the unverified iss, then verify all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _corekit import AUDIENCE, MakeVerifier, forge

from genauth_guard._config import GuardConfig
from genauth_guard._errors import InvalidToken, Reason
from genauth_guard._jwks import JWKSKeySource
from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer


@pytest.fixture
def tenant_b() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        yield running


async def test_tokens_of_each_issuer_verify_with_its_own_keys(
    make_verifier: MakeVerifier, issuer: LocalIssuer, tenant_b: LocalIssuer
) -> None:
    verifier = make_verifier(issuer=[issuer.issuer, tenant_b.issuer])
    assert (await verifier.verify(issuer.mint())).issuer == issuer.issuer
    assert (await verifier.verify(tenant_b.mint())).issuer == tenant_b.issuer
    assert issuer.counts["jwks"] == 1
    assert tenant_b.counts["jwks"] == 1


async def test_claiming_another_tenant_does_not_borrow_its_keys(
    make_verifier: MakeVerifier, issuer: LocalIssuer, tenant_b: LocalIssuer
) -> None:
    verifier = make_verifier(issuer=[issuer.issuer, tenant_b.issuer], token_cache_size=0)
    # Signed by tenant A's key, claiming to come from tenant B: B's JWKS lacks the kid.
    token = issuer.mint(claims={"iss": tenant_b.issuer})
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason is Reason.UNKNOWN_KEY
    # Same, with the kid B publishes: the signature does not verify under B's key.
    key = issuer.signing_key
    header = {"alg": "RS256", "kid": tenant_b.signing_key.kid}
    claims = issuer.claims_for() | {"iss": tenant_b.issuer}
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(forge(header, claims, key=key.private_key))
    assert caught.value.reason is Reason.SIGNATURE
    assert issuer.counts["jwks"] == 0  # A's keys were never consulted


async def test_unconfigured_issuer_causes_no_fetch(
    make_verifier: MakeVerifier, issuer: LocalIssuer, tenant_b: LocalIssuer
) -> None:
    verifier = make_verifier(issuer=[tenant_b.issuer])
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(issuer.mint())
    assert caught.value.reason is Reason.ISSUER
    assert issuer.counts == {"discovery": 0, "jwks": 0, "token": 0}
    assert tenant_b.counts["jwks"] == 0


async def test_warm_up_fetches_every_issuer(
    make_verifier: MakeVerifier, issuer: LocalIssuer, tenant_b: LocalIssuer
) -> None:
    verifier = make_verifier(issuer=[issuer.issuer, tenant_b.issuer])
    await verifier.warm_up()
    assert issuer.counts["jwks"] == 1
    assert tenant_b.counts["jwks"] == 1


async def test_explicit_key_sources(issuer: LocalIssuer, tenant_b: LocalIssuer) -> None:
    config = GuardConfig(issuer=[issuer.issuer, tenant_b.issuer], audience=AUDIENCE)
    sources = {
        issuer.issuer: JWKSKeySource(jwks_uri=issuer.jwks_uri),
        tenant_b.issuer: JWKSKeySource(issuer=tenant_b.issuer),
    }
    async with Verifier(config, key_sources=sources) as verifier:
        await verifier.verify(issuer.mint())
        await verifier.verify(tenant_b.mint())
    assert issuer.counts["discovery"] == 0
    # Sources passed in belong to the caller: still usable after the verifier closed.
    await sources[issuer.issuer].get_key(issuer.signing_key.kid)
    for source in sources.values():
        await source.aclose()
    with pytest.raises(ValueError, match="exactly the configured issuers"):
        Verifier(config, key_sources={issuer.issuer: sources[issuer.issuer]})
