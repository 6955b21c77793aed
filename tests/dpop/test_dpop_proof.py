"""The proof rules without HTTP: htu normalisation, request URLs, replay cache, nonces,
cross-checks with joserfc, and property tests of the proof parser (RFC 9449)."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from genauth_guard._dpop import (
    InMemoryReplayCache,
    NonceSource,
    ProofChecker,
    access_token_hash,
    normalize_htu,
    request_url,
    trusted_networks,
)
from genauth_guard._dpop_key import DPoPKey, b64url
from genauth_guard._errors import InvalidDPoPProof, UseDPoPNonce
from genauth_guard.testing import ManualClock

URL = "https://api.example.com/orders"


@pytest.mark.parametrize(
    ("given_url", "normal"),
    [
        ("https://API.Example.com/orders", URL),
        ("https://api.example.com:443/orders", URL),
        ("https://api.example.com/./a/../orders", URL),
        ("https://api.example.com/%6frders", URL),
        ("https://api.example.com/orders?x=1#y", URL),
        ("HTTPS://api.example.com/orders", URL),
        ("wss://api.example.com/orders", URL),
        ("https://api.example.com", "https://api.example.com/"),
        ("http://api.example.com:80/", "http://api.example.com/"),
        ("http://api.example.com:8080/a%2fb", "http://api.example.com:8080/a%2Fb"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
    ],
)
def test_normalize_htu(given_url: str, normal: str) -> None:
    assert normalize_htu(given_url) == normal


@pytest.mark.parametrize(
    "bad",
    ["", "/orders", "ftp://x/y", "https://", "https://u:p@host/x", "https://h:99999/", "x" * 5000],
)
def test_unusable_htu(bad: str) -> None:
    assert normalize_htu(bad) is None


def _scope(**extra: object) -> dict[str, object]:
    scope: dict[str, object] = {
        "type": "http",
        "scheme": "http",
        "path": "/orders",
        "raw_path": b"/orders",
        "root_path": "",
        "headers": [(b"host", b"internal:8000")],
        "client": ("10.0.0.5", 5555),
        "server": ("10.0.0.9", 8000),
    }
    scope.update(extra)
    return scope


def test_request_url_ignores_forwarded_headers_from_untrusted_peers() -> None:
    headers = [(b"host", b"internal:8000"), (b"x-forwarded-host", b"evil.example")]
    assert request_url(_scope(headers=headers)) == "http://internal:8000/orders"
    trusted = trusted_networks(["10.0.0.0/24"])
    assert request_url(_scope(headers=headers), trusted) == "http://evil.example/orders"
    assert request_url(_scope(headers=headers, client=("10.1.0.5", 1)), trusted) == (
        "http://internal:8000/orders"
    )


def test_request_url_takes_the_nearest_proxy_and_refuses_junk_hosts() -> None:
    trusted = trusted_networks(["10.0.0.5"])
    chain = [(b"forwarded", b'host=a.example;proto=http, host="b.example";proto=https')]
    assert request_url(_scope(headers=chain), trusted) == "https://b.example/orders"
    junk = [(b"host", b"internal:8000"), (b"x-forwarded-host", b"a b/c")]
    assert request_url(_scope(headers=junk), trusted) == "http://internal:8000/orders"


def test_replay_cache_is_bounded_and_fails_closed() -> None:
    cache = InMemoryReplayCache(max_entries=3)
    assert cache.remember(b"a", 100.0, 0.0)
    assert not cache.remember(b"a", 100.0, 1.0)
    assert cache.remember(b"b", 100.0, 1.0)
    assert cache.remember(b"c", 100.0, 1.0)
    assert not cache.remember(b"d", 100.0, 1.0)  # full of live entries: refused
    assert len(cache) == 3
    assert cache.remember(b"d", 200.0, 150.0)  # the expired ones made room
    assert len(cache) == 1
    assert cache.remember(b"a", 300.0, 150.0)  # an expired key may come back


def test_replay_cache_under_a_flood_stays_within_its_bound() -> None:
    cache = InMemoryReplayCache(max_entries=1000)
    for i in range(20_000):
        cache.remember(i.to_bytes(16, "big"), i / 100 + 5, i / 100)
    assert len(cache) <= 1000


def test_nonces_rotate_and_stay_valid_for_a_period() -> None:
    clock = ManualClock(1_000_000.0)
    nonces = NonceSource(lifetime=10, clock=clock)
    first = nonces.current()
    assert nonces.is_valid(first)
    clock.advance(10)
    assert nonces.current() != first
    assert nonces.is_valid(first)
    clock.advance(10)
    assert not nonces.is_valid(first)
    assert not nonces.is_valid(None)
    assert not NonceSource(lifetime=10, clock=clock).is_valid(nonces.current())  # other secret


def test_nonce_required_error_carries_the_current_nonce() -> None:
    key = DPoPKey.generate()
    nonces = NonceSource()
    checker = ProofChecker(nonces=nonces)
    with pytest.raises(UseDPoPNonce) as needed:
        checker.check(key.proof("GET", URL), "GET", URL)
    assert needed.value.nonce == nonces.current()
    checker.check(key.proof("GET", URL, nonce=nonces.current()), "GET", URL)


# -- cross-checks with joserfc ------------------------------------------------------------

JOSE_KEYS = {
    "ES256": lambda: ECKey.generate_key("P-256"),
    "ES384": lambda: ECKey.generate_key("P-384"),
    "RS256": lambda: RSAKey.generate_key(2048),
    "PS256": lambda: RSAKey.generate_key(2048),
    "EdDSA": lambda: OKPKey.generate_key("Ed25519"),
}


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
@pytest.mark.parametrize("alg", list(JOSE_KEYS))
def test_joserfc_proof_accepted_with_its_thumbprint(alg: str) -> None:
    key = JOSE_KEYS[alg]()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    claims = {
        "jti": "x1",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": access_token_hash("tok"),
    }
    registry = jws.JWSRegistry(algorithms=[alg])
    proof = jwt.encode(header, claims, key, algorithms=[alg], registry=registry)
    result = ProofChecker().check(proof, "GET", URL, "tok")
    assert result.thumbprint == key.thumbprint()


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
@pytest.mark.parametrize("alg", list(JOSE_KEYS))
def test_our_proof_verifies_with_joserfc(alg: str) -> None:
    ours = DPoPKey.generate(alg)
    proof = ours.proof("POST", URL, access_token="tok", nonce="n")
    key = {"EC": ECKey, "RSA": RSAKey, "OKP": OKPKey}[ours.public_jwk["kty"]].import_key(
        ours.public_jwk
    )
    registry = jws.JWSRegistry(algorithms=[alg])
    registry.max_header_length = 4096
    theirs = jwt.decode(proof, key, algorithms=[alg], registry=registry)
    assert theirs.header["typ"] == "dpop+jwt"
    assert theirs.claims["ath"] == access_token_hash("tok")
    assert key.thumbprint() == ours.thumbprint


# -- the parser under arbitrary input --------------------------------------------------------

_KEY = DPoPKey.generate()
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_CLAIMS = ["jti", "htm", "htu", "iat", "ath", "nonce"]


def _refused_cleanly(proof: str) -> None:
    checker = ProofChecker(nonces=NonceSource())
    try:
        checker.check(proof, "GET", URL, "tok")
    except (InvalidDPoPProof, UseDPoPNonce):
        return
    raise AssertionError("an arbitrary proof was accepted")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused_cleanly(proof: str) -> None:
    _refused_cleanly(proof)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["typ", "alg", "jwk", "crit", "kid"]), _json, max_size=5),
    st.dictionaries(st.sampled_from(_CLAIMS), _json, max_size=6),
)
def test_arbitrary_headers_and_claims_are_refused_cleanly(
    header: dict[str, object], claims: dict[str, object]
) -> None:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    _refused_cleanly(f"{signing_input}.{b64url(_KEY._sign(signing_input.encode()))}")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(_CLAIMS), _json, max_size=6))
@example({"ath": "\x80"})  # hmac.compare_digest raises TypeError on non-ASCII str
def test_signed_proofs_with_arbitrary_claims_never_crash(claims: dict[str, object]) -> None:
    # A real header and signature: only the claim rules stand between it and acceptance.
    _refused_cleanly(_KEY.proof("GET", URL, claims=claims, jti="fixed"))
