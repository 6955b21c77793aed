"""Configuration mistakes fail at construction, in the terms the user wrote them in."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from genauth_guard import GuardConfig
from genauth_guard._config import known_env_names, unknown_env_names

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"GENAUTH_ISSUER": "https://example.genauth.ai/oidc", "GENAUTH_AUDIENCE": "app"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"issuer": "not a url"}, "issuer must be an absolute https URL"),
        ({"issuer": "ftp://x/oidc"}, "issuer must be an absolute https URL"),
        ({"issuer": "http://10.1.2.3/oidc"}, "use https, or allow_http=True"),
        ({"jwks_uri": "ftp://x"}, "jwks_uri must be an absolute https URL"),
        ({"jwks_uri": "http://keys.example/jwks"}, "allow_http=True"),
    ],
)
def test_bad_urls_raise_at_construction(kwargs: dict[str, str], message: str) -> None:
    params = {"issuer": "https://example.genauth.ai/oidc", "audience": "app", **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        GuardConfig(**params)


def test_plain_http_is_fine_on_loopback_or_when_allowed() -> None:
    GuardConfig(issuer="http://127.0.0.1:9000/oidc", audience="app")
    GuardConfig(issuer="http://10.1.2.3/oidc", audience="app", allow_http=True)


def test_env_errors_name_the_variable_and_its_spelling() -> None:
    env = {**GOOD, "GENAUTH_ISSUER": "http://10.1.2.3/oidc"}
    with pytest.raises(ValueError, match="plain http") as raised:
        GuardConfig.from_env(env)
    assert str(raised.value).startswith("GENAUTH_ISSUER: ")
    assert "GENAUTH_ALLOW_HTTP=true" in str(raised.value)
    assert "allow_http=True" not in str(raised.value)
    with pytest.raises(ValueError, match=r"^GENAUTH_LEEWAY: leeway must not be negative"):
        GuardConfig.from_env({**GOOD, "GENAUTH_LEEWAY": "-1"})
    GuardConfig.from_env({**env, "GENAUTH_ALLOW_HTTP": "true"})


def test_an_override_is_not_blamed_on_the_environment() -> None:
    with pytest.raises(ValueError, match="leeway") as raised:
        GuardConfig.from_env(GOOD, leeway=-1)
    assert "GENAUTH_LEEWAY" not in str(raised.value)


def test_unknown_variable_warns_with_the_closest_name() -> None:
    env = {**GOOD, "GENAUTH_JWKS_URL": "https://x/jwks", "GENAUTH_ZZZ": "1"}
    with pytest.warns(UserWarning, match="unknown environment variable") as caught:
        GuardConfig.from_env(env)
    messages = [str(w.message) for w in caught]
    assert any("GENAUTH_JWKS_URL" in m and "GENAUTH_JWKS_URI" in m for m in messages)
    assert any("GENAUTH_ZZZ" in m and "did you mean" not in m for m in messages)


def test_known_variables_do_not_warn() -> None:
    env = {**GOOD, "GENAUTH_CLIENT_ID": "a", "GENAUTH_CLIENT_SECRET": "b", "OTHER": "x"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GuardConfig.from_env(env)
    assert unknown_env_names(env) == []


def test_every_documented_variable_is_known() -> None:
    """Docs and code agree: a documented variable never triggers the typo warning."""
    documented: set[str] = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        documented |= set(re.findall(r"\bGENAUTH_[A-Z0-9_]*[A-Z0-9]\b", page.read_text()))
    # Families written with a wildcard in prose (GENAUTH_JWKS_*), and the typo the
    # docs show as an example of the warning.
    documented = {name for name in documented if not name.endswith("_")} - {"GENAUTH_JWKS_URL"}
    assert documented - known_env_names() == set()


def test_every_error_has_status_code_and_the_status_alias() -> None:
    from genauth_guard import InsufficientScope, KeysUnavailable, MissingCredentials
    from genauth_guard._client import TokenEndpointUnavailable, TokenRequestError
    from genauth_guard._errors import InvalidToken, Reason

    server = [
        MissingCredentials(),
        InvalidToken(Reason.EXPIRED, "token expired"),
        InsufficientScope(["order:read"]),
        KeysUnavailable(),
    ]
    assert [e.status_code for e in server] == [401, 401, 403, 503]
    assert all(e.status == e.status_code for e in server)
    client = [
        TokenRequestError("invalid_client", None, status_code=401),
        TokenEndpointUnavailable("down", attempts=3),
    ]
    assert [e.status_code for e in client] == [401, None]
    assert all(e.status == e.status_code for e in client)
