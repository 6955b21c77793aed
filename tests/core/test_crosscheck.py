"""Cross-check with joserfc, an independent JOSE implementation."""

from __future__ import annotations

from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, RSAKey

from genauth_guard._verifier import Verifier
from genauth_guard.testing import LocalIssuer


async def test_issuer_token_verifies_with_joserfc_and_with_us(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    token = shared_issuer.mint(scope="order:read")
    theirs = jose_jwt.decode(token, KeySet.import_key_set(shared_issuer.jwks()), ["RS256"])
    ours = await verifier.verify(token)
    assert dict(ours.claims) == theirs.claims
    assert dict(ours.header) == theirs.header


async def test_joserfc_signed_token_verifies_with_us(
    verifier: Verifier, shared_issuer: LocalIssuer
) -> None:
    key = RSAKey.import_key(shared_issuer.signing_key.private_key)
    header = {"alg": "RS256", "kid": shared_issuer.signing_key.kid}
    token = jose_jwt.encode(header, shared_issuer.claims_for(scope="order:read"), key)
    assert (await verifier.verify(token)).scopes == {"order:read"}
