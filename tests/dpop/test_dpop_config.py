"""DPoP options of GuardConfig and their GENAUTH_* variables."""

from __future__ import annotations

import pytest

from genauth_guard import GuardConfig, Verifier

BASE = {"issuer": "https://example.genauth.ai/oidc", "audience": "order-api"}


def test_defaults_allow_dpop() -> None:
    config = GuardConfig(**BASE)
    assert config.dpop == "allowed"
    assert config.dpop_algorithms == ("ES256", "ES384", "RS256", "PS256", "EdDSA")
    assert config.trusted_proxies == ()
    verifier = Verifier(config)
    assert verifier.dpop is not None
    assert verifier.dpop.challenge == (config.dpop_algorithms, True)


def test_off_builds_no_proof_checker() -> None:
    assert Verifier(GuardConfig(**BASE, dpop="off")).dpop is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dpop": "sometimes"}, "dpop must be one of"),
        ({"dpop_algorithms": ["HS256"]}, "not an asymmetric"),
        ({"dpop_algorithms": ["none"]}, "not an asymmetric"),
        ({"dpop_algorithms": []}, "at least one"),
        ({"dpop_proof_window": 0}, "dpop_proof_window"),
        ({"dpop_nonce_lifetime": -1}, "dpop_nonce_lifetime"),
        ({"dpop_replay_cache_size": 0}, "dpop_replay_cache_size"),
        ({"trusted_proxies": ["not-an-ip"]}, "trusted_proxies"),
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GuardConfig(**BASE, **options)  # type: ignore[arg-type]


def test_from_env() -> None:
    config = GuardConfig.from_env(
        {
            "GENAUTH_ISSUER": BASE["issuer"],
            "GENAUTH_AUDIENCE": BASE["audience"],
            "GENAUTH_DPOP": "Required",
            "GENAUTH_DPOP_ALGORITHMS": "ES256,EdDSA",
            "GENAUTH_DPOP_PROOF_WINDOW": "30",
            "GENAUTH_DPOP_NONCE": "true",
            "GENAUTH_DPOP_NONCE_LIFETIME": "120",
            "GENAUTH_DPOP_REPLAY_CACHE_SIZE": "5000",
            "GENAUTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
        }
    )
    assert config.dpop == "required"
    assert config.dpop_algorithms == ("ES256", "EdDSA")
    assert config.dpop_proof_window == 30
    assert config.dpop_nonce is True
    assert config.dpop_nonce_lifetime == 120
    assert config.dpop_replay_cache_size == 5000
    assert config.trusted_proxies == ("10.0.0.0/8", "192.168.1.7/32")
    checker = Verifier(config).dpop
    assert checker is not None
    assert checker.nonces is not None
    assert checker.challenge == (("ES256", "EdDSA"), False)
