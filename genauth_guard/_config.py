"""Verifier configuration: one frozen, typed object with documented defaults.

Built in code (``GuardConfig(issuer=..., audience=...)``) or from environment
variables (:meth:`GuardConfig.from_env`). Every option is described, with its default
and the reason for it, in ``docs/configuration.md``.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias

from ._discovery import check_url
from ._jwa import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, HMAC_MIN_SECRET_BYTES

__all__ = [
    "DPOP_ALGORITHMS",
    "DPOP_MODES",
    "SUPPORTED_ALGORITHMS",
    "ClaimCheck",
    "GuardConfig",
    "unknown_env_names",
]

#: Algorithms the verifier can check with the keys of a JWKS: RSA (RFC 7518 3.3, 3.5),
#: EC (3.4) and Ed25519 (RFC 8037); HS* (RFC 7518 3.2) only with ``shared_secret``.
SUPPORTED_ALGORITHMS: frozenset[str] = ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS
#: How a guard checks tokens: locally, by introspection (RFC 7662), or both.
TOKEN_CHECKS = ("jwt", "introspect", "jwt+introspect")

#: Asymmetric algorithms a DPoP proof may use (RFC 9449 section 4.2: never none or MAC).
DPOP_ALGORITHMS: frozenset[str] = ASYMMETRIC_ALGORITHMS
#: ``dpop`` modes: bearer only, both schemes, DPoP only (RFC 9449 section 7).
DPOP_MODES = ("off", "allowed", "required")

#: A claim check: a value the claim must equal, a sequence (list or tuple) whose
#: members must all be included in the claim, or a predicate returning True to accept.
ClaimCheck: TypeAlias = Callable[[Any], bool] | Sequence[Any] | str | int | float | bool | None

_RFC9068_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


def _names(value: str | Sequence[str], what: str) -> tuple[str, ...]:
    """A str or a sequence of str as a non-empty tuple of non-empty, unique strings."""
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ValueError(f"{what} is required")
    for item in items:
        if not isinstance(item, str) or not item or item != item.strip():
            raise ValueError(f"{what} must be non-empty strings without surrounding spaces")
    return tuple(dict.fromkeys(items))


def _check_algorithm(alg: object) -> str:
    if not isinstance(alg, str):
        raise ValueError("algorithms must be strings such as 'RS256'")
    if alg.lower() == "none":
        raise ValueError("algorithm 'none' is never accepted (RFC 8725 section 3.1)")
    if alg not in SUPPORTED_ALGORITHMS:
        raise ValueError(
            f"algorithm {alg!r} is not supported; choose from {sorted(SUPPORTED_ALGORITHMS)}"
        )
    return alg


def _non_negative(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number")
    if value < 0:
        raise ValueError(f"{what} must not be negative")
    return value


def _positive(value: float, what: str) -> float:
    if _non_negative(value, what) == 0:
        raise ValueError(f"{what} must be greater than zero")
    return value


def _int_option(value: int, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}")
    return value


def _freeze_check(name: object, check: ClaimCheck) -> ClaimCheck:
    if not isinstance(name, str) or not name:
        raise ValueError("claim_checks keys must be claim names")
    if callable(check) or check is None or isinstance(check, str | int | float | bool):
        return check
    if isinstance(check, Sequence):
        return tuple(check)
    raise ValueError(
        f"claim check for {name!r} must be a value, a list of values, or a callable predicate"
    )


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """How access tokens are verified (RFC 7519, RFC 8725, optionally RFC 9068).

    ``issuer`` and ``audience`` accept one string or several; the normalised tuples
    are :attr:`issuers` and :attr:`audiences`. Defaults accept GenAuth access tokens
    (``typ: JWT``, RS256, no ``client_id``).
    """

    issuer: str | Sequence[str]
    """Accepted ``iss`` values, compared exactly (RFC 7519 section 4.1.1)."""
    audience: str | Sequence[str]
    """Accepted audiences; the token's ``aud`` must hold one (RFC 7519 section 4.1.3)."""
    jwks_uri: str | None = None
    """Explicit JWKS URL (one issuer only); otherwise discovered from the issuer."""
    algorithms: Sequence[str] = ("RS256",)
    """Allow-list of ``alg`` values (RFC 8725 section 3.1): RS*, PS*, ES*, EdDSA; HS* only
    with ``shared_secret``."""
    leeway: float = 30.0
    """Seconds of clock skew tolerated on ``exp``, ``nbf``, ``iat`` (RFC 7519 4.1.4)."""
    max_token_age: float | None = None
    """Reject tokens whose ``iat`` is older than this many seconds (needs ``iat``)."""
    required_claims: Sequence[str] = ()
    """Claims that must be present (in addition to ``iss``, ``aud``, ``exp``)."""
    claim_checks: Mapping[str, ClaimCheck] = field(default_factory=dict)
    """Claim name -> value to equal / list whose members must all be included / predicate."""
    strict_rfc9068: bool = False
    """Require ``typ`` ``at+jwt`` and the claims of RFC 9068 section 2.2."""
    scope_claims: Sequence[str] = ("scope", "scp")
    """Claims read for scopes, e.g. add ``"permissions"``."""
    max_token_bytes: int = 16 * 1024
    """Longer tokens are rejected before any decoding (RFC 8725 section 3.x DoS)."""
    token_cache_size: int = 10_000
    """Verified tokens kept (LRU); 0 disables the cache."""
    cache_ttl: float = 600.0
    """Seconds a fetched JWKS is used before it is fetched again."""
    refetch_per_minute: float = 5.0
    """JWKS refetches per minute allowed for unknown ``kid`` values."""
    stale_max_age: float = 86400.0
    """Seconds the last good JWKS keeps serving while the issuer is down."""
    http_timeout: float = 5.0
    """Seconds allowed for each discovery or JWKS request."""
    allow_http: bool = False
    """Allow plain http for non-loopback issuer and JWKS URLs (development only)."""
    shared_secret: str | bytes | None = field(default=None, repr=False)
    """HMAC secret (GenAuth's app secret) enabling HS256/384/512 for this guard only."""
    token_check: str = "jwt"
    """``jwt`` (local), ``introspect`` (RFC 7662) or ``jwt+introspect`` (both)."""
    introspection_client_id: str | None = None
    """The API's own client id at the introspection endpoint."""
    introspection_client_secret: str | None = field(default=None, repr=False)
    """The API's own client secret at the introspection endpoint."""
    introspection_cache_ttl: float = 60.0
    """Seconds an active introspection result is reused at most (never past ``exp``)."""
    introspection_endpoint: str | None = None
    """Introspection URL; otherwise ``introspection_endpoint`` from discovery."""
    introspection_auth_method: str = "client_secret_post"
    """``client_secret_post`` (GenAuth's default) or ``client_secret_basic``."""
    introspection_negative_ttl: float = 5.0
    """Seconds an inactive introspection result is reused."""
    introspection_stale_if_error: float = 0.0
    """Seconds past its TTL an active result may serve while the issuer is down (0: off)."""
    introspect_jwts: bool = False
    """In ``introspect`` mode, also introspect JWT-shaped tokens (else verified locally)."""
    dpop: str = "allowed"
    """DPoP (RFC 9449): ``off`` (bearer only), ``allowed`` (both) or ``required``."""
    dpop_algorithms: Sequence[str] = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
    """Allow-list of DPoP proof ``alg`` values (asymmetric only, RFC 9449 section 4.2)."""
    dpop_proof_window: float = 60.0
    """Seconds a proof's ``iat`` may lie in the past (plus ``leeway`` both ways)."""
    dpop_nonce: bool = False
    """Require server nonces in proofs (RFC 9449 section 9)."""
    dpop_nonce_lifetime: float = 300.0
    """Seconds between nonce rotations; a nonce is accepted for two such periods."""
    dpop_replay_cache_size: int = 100_000
    """Proof ``jti`` values remembered per process (RFC 9449 section 11.1)."""
    trusted_proxies: Sequence[str] = ()
    """Addresses or networks whose forwarded headers give the URL for ``htu``."""
    reject_id_tokens: bool = True
    """Refuse ID tokens (``nonce``, ``at_hash``, ``c_hash``, ``s_hash``) as access tokens."""

    issuers: tuple[str, ...] = field(init=False)
    audiences: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        issuers = _names(self.issuer, "issuer")
        audiences = _names(self.audience, "audience")
        put("issuer", issuers[0] if isinstance(self.issuer, str) else issuers)
        put("audience", audiences[0] if isinstance(self.audience, str) else audiences)
        put("issuers", issuers)
        put("audiences", audiences)
        allow_http = bool(self.allow_http)
        for url in issuers:
            check_url(url, allow_http=allow_http, what="issuer")
        if self.jwks_uri is not None:
            if not isinstance(self.jwks_uri, str) or not self.jwks_uri:
                raise ValueError("jwks_uri must be a URL")
            check_url(self.jwks_uri, allow_http=allow_http, what="jwks_uri")
            if len(issuers) > 1:
                raise ValueError(
                    "jwks_uri applies to a single issuer; with several issuers each one's "
                    "keys are discovered from its /.well-known/openid-configuration"
                )
        algorithms = (
            (self.algorithms,) if isinstance(self.algorithms, str) else tuple(self.algorithms)
        )
        if not algorithms:
            raise ValueError("algorithms must name at least one algorithm, e.g. 'RS256'")
        put("algorithms", tuple(dict.fromkeys(_check_algorithm(a) for a in algorithms)))
        _non_negative(self.leeway, "leeway")
        if self.max_token_age is not None:
            _positive(self.max_token_age, "max_token_age")
        required = (
            (self.required_claims,)
            if isinstance(self.required_claims, str)
            else tuple(self.required_claims)
        )
        if required:
            required = _names(required, "required_claims")
        put("required_claims", required)
        if not isinstance(self.claim_checks, Mapping):
            raise ValueError("claim_checks must be a mapping of claim name to check")
        checks = {name: _freeze_check(name, c) for name, c in self.claim_checks.items()}
        put("claim_checks", MappingProxyType(checks))
        put("scope_claims", _names(self.scope_claims, "scope_claims"))
        _int_option(self.max_token_bytes, "max_token_bytes", 64)
        _int_option(self.token_cache_size, "token_cache_size", 0)
        _positive(self.cache_ttl, "cache_ttl")
        _positive(self.refetch_per_minute, "refetch_per_minute")
        _non_negative(self.stale_max_age, "stale_max_age")
        _positive(self.http_timeout, "http_timeout")
        put("strict_rfc9068", bool(self.strict_rfc9068))
        put("allow_http", bool(self.allow_http))
        put("reject_id_tokens", bool(self.reject_id_tokens))
        self._check_hmac()
        self._check_introspection()
        self._check_dpop()

    def _check_hmac(self) -> None:
        """HS* only with a shared secret at least as long as the hash (RFC 7518 3.2)."""
        secret = self.shared_secret
        hmac_algs = [a for a in self.algorithms if a in HMAC_ALGORITHMS]
        if secret is None:
            if hmac_algs:
                raise ValueError(
                    f"algorithm {hmac_algs[0]!r} is an HMAC algorithm: it needs "
                    "shared_secret (GENAUTH_SHARED_SECRET); public keys are never used as "
                    "HMAC secrets (RFC 8725 sections 2.1 and 3.1)"
                )
            return
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, bytes) or not secret:
            raise ValueError("shared_secret must be a non-empty str or bytes")
        object.__setattr__(self, "shared_secret", secret)
        if len(self.issuers) > 1:
            raise ValueError("shared_secret applies to a single issuer")
        if not hmac_algs:
            # The secret is the explicit opt-in: it enables HS256 unless another HS* is named.
            hmac_algs = ["HS256"]
            object.__setattr__(self, "algorithms", (*self.algorithms, "HS256"))
        for alg in hmac_algs:
            if len(secret) < HMAC_MIN_SECRET_BYTES[alg]:
                raise ValueError(
                    f"shared_secret is {len(secret)} bytes; {alg} needs at least "
                    f"{HMAC_MIN_SECRET_BYTES[alg]} (RFC 7518 section 3.2)"
                )

    def _check_introspection(self) -> None:
        if self.token_check not in TOKEN_CHECKS:
            raise ValueError(f"token_check must be one of {', '.join(TOKEN_CHECKS)}")
        if self.introspection_auth_method not in ("client_secret_post", "client_secret_basic"):
            raise ValueError(
                "introspection_auth_method must be client_secret_post or client_secret_basic"
            )
        _positive(self.introspection_cache_ttl, "introspection_cache_ttl")
        _non_negative(self.introspection_negative_ttl, "introspection_negative_ttl")
        _non_negative(self.introspection_stale_if_error, "introspection_stale_if_error")
        put = object.__setattr__
        put(self, "introspect_jwts", bool(self.introspect_jwts))
        if self.introspection_endpoint is not None:
            check_url(
                self.introspection_endpoint,
                allow_http=self.allow_http,
                what="introspection_endpoint",
            )
        if self.token_check == "jwt":
            return
        if not self.introspection_client_id or not self.introspection_client_secret:
            raise ValueError(
                f"token_check={self.token_check!r} needs introspection_client_id and "
                "introspection_client_secret (the API's own client credentials)"
            )
        if len(self.issuers) > 1:
            # An opaque token names no issuer: whose endpoint to ask must be certain.
            raise ValueError(f"token_check={self.token_check!r} supports a single issuer")

    def _check_dpop(self) -> None:
        """DPoP options (RFC 9449): mode, asymmetric proof algorithms, proxies."""
        put = object.__setattr__
        if self.dpop not in DPOP_MODES:
            raise ValueError(f"dpop must be one of {', '.join(DPOP_MODES)}, not {self.dpop!r}")
        dpop_algs = (
            (self.dpop_algorithms,)
            if isinstance(self.dpop_algorithms, str)
            else tuple(self.dpop_algorithms)
        )
        for alg in dpop_algs:
            if alg not in DPOP_ALGORITHMS:
                raise ValueError(
                    f"dpop_algorithms: {alg!r} is not an asymmetric JWS algorithm supported for "
                    f"DPoP proofs; choose from {sorted(DPOP_ALGORITHMS)}"
                )
        if not dpop_algs and self.dpop != "off":
            raise ValueError("dpop_algorithms must name at least one algorithm, e.g. 'ES256'")
        put(self, "dpop_algorithms", tuple(dict.fromkeys(dpop_algs)))
        _positive(self.dpop_proof_window, "dpop_proof_window")
        put(self, "dpop_nonce", bool(self.dpop_nonce))
        _positive(self.dpop_nonce_lifetime, "dpop_nonce_lifetime")
        _int_option(self.dpop_replay_cache_size, "dpop_replay_cache_size", 1)
        proxies = (
            (self.trusted_proxies,)
            if isinstance(self.trusted_proxies, str)
            else tuple(self.trusted_proxies)
        )
        try:
            networks = tuple(str(ipaddress.ip_network(p, strict=False)) for p in proxies)
        except (TypeError, ValueError):
            raise ValueError(
                "trusted_proxies must be IP addresses or networks such as '10.0.0.0/8'"
            ) from None
        put(self, "trusted_proxies", networks)

    @property
    def effective_required_claims(self) -> tuple[str, ...]:
        """Claims that must be present: ``required_claims`` plus RFC 9068's when strict."""
        base = _RFC9068_CLAIMS if self.strict_rfc9068 else ("iss", "exp", "aud")
        return tuple(dict.fromkeys((*base, *self.required_claims)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> GuardConfig:
        """Build from ``GENAUTH_*`` variables (see docs/configuration.md).

        ``GENAUTH_ISSUER`` (comma-separated for several) and ``GENAUTH_AUDIENCE`` are
        required; empty variables count as unset. Keyword ``overrides`` win over the
        environment (e.g. ``claim_checks``, which has no variable).
        """
        env = os.environ if environ is None else environ
        for name, closest in unknown_env_names(env):
            hint = f"; did you mean {closest}?" if closest else ""
            warnings.warn(f"unknown environment variable {name} ignored{hint}", stacklevel=2)

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        def required(name: str) -> str | tuple[str, ...]:
            parts = _split(get(name) or "")
            if not parts:
                raise ValueError(f"environment variable {name} is required but not set")
            return parts[0] if len(parts) == 1 else parts

        def parse(name: str, convert: Callable[[str], Any]) -> Any:
            value = get(name)
            if value is None:
                return None
            try:
                return convert(value)
            except ValueError:
                raise ValueError(f"environment variable {name} is invalid: {value!r}") from None

        kwargs: dict[str, Any] = {}
        if "issuer" not in overrides:
            kwargs["issuer"] = required("GENAUTH_ISSUER")
        if "audience" not in overrides:
            kwargs["audience"] = required("GENAUTH_AUDIENCE")
        for option, name, convert in _ENV_OPTIONS:
            value = parse(name, convert)
            if value is not None:
                kwargs[option] = value
        from_env = {name for option, name in _env_names() if option in kwargs}
        kwargs.update(overrides)
        from_env -= {name for option, name in _env_names() if option in overrides}
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise ValueError(_env_message(str(exc), from_env)) from None


def _env_names() -> tuple[tuple[str, str], ...]:
    """(option, variable) for every option ``from_env`` reads."""
    return (
        ("issuer", "GENAUTH_ISSUER"),
        ("audience", "GENAUTH_AUDIENCE"),
        *((option, name) for option, name, _ in _ENV_OPTIONS),
    )


def _env_message(message: str, from_env: set[str]) -> str:
    """A construction error in the terms of the environment the value came from.

    ``"issuer must be ..."`` becomes ``"GENAUTH_ISSUER: issuer must be ..."``, and a
    hint to set ``allow_http=True`` becomes one to set ``GENAUTH_ALLOW_HTTP=true``.
    """
    message = message.replace("allow_http=True", "GENAUTH_ALLOW_HTTP=true")
    for option, name in _env_names():
        if name in from_env and (message + " ").startswith(option + " "):
            return f"{name}: {message}"
    return f"invalid GENAUTH_* configuration: {message}"


#: ``GENAUTH_*`` variables read outside :class:`GuardConfig` (the client helper and the
#: CLI); together with ``_env_names()`` they are every documented variable.
OTHER_ENV_NAMES: tuple[str, ...] = (
    "GENAUTH_CLIENT_ID",
    "GENAUTH_CLIENT_SECRET",
    "GENAUTH_SCOPE",
    "GENAUTH_APP_SECRET",  # the local issuer's HS256 secret (genauth-guard issuer)
)


def known_env_names() -> frozenset[str]:
    """Every ``GENAUTH_*`` variable genauth-guard reads."""
    return frozenset((*(name for _, name in _env_names()), *OTHER_ENV_NAMES))


def unknown_env_names(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``GENAUTH_*`` variables nobody reads, each with the closest known name (or None).

    A typo such as ``GENAUTH_JWKS_URL`` would otherwise be ignored in silence.
    """
    known = known_env_names()
    # Compared without the shared prefix, which would make every name look close.
    suffixes = {name[8:]: name for name in known}
    unknown: list[tuple[str, str | None]] = []
    for name in sorted(env):
        if name.startswith("GENAUTH_") and name not in known:
            close = difflib.get_close_matches(name[8:], suffixes, n=1, cutoff=0.6)
            unknown.append((name, suffixes[close[0]] if close else None))
    return unknown


def _split(value: str) -> tuple[str, ...]:
    """Comma-separated values, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _split_nonempty(value: str) -> tuple[str, ...]:
    parts = _split(value)
    if not parts:
        raise ValueError(value)
    return parts


def _optional_seconds(value: str) -> float | None:
    return None if value.lower() in ("none", "off") else float(value)


_ENV_OPTIONS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("jwks_uri", "GENAUTH_JWKS_URI", str),
    ("algorithms", "GENAUTH_ALGORITHMS", _split_nonempty),
    ("leeway", "GENAUTH_LEEWAY", float),
    ("max_token_age", "GENAUTH_MAX_TOKEN_AGE", _optional_seconds),
    ("required_claims", "GENAUTH_REQUIRED_CLAIMS", _split),
    ("strict_rfc9068", "GENAUTH_STRICT_RFC9068", _bool),
    ("scope_claims", "GENAUTH_SCOPE_CLAIMS", _split_nonempty),
    ("max_token_bytes", "GENAUTH_MAX_TOKEN_BYTES", int),
    ("token_cache_size", "GENAUTH_TOKEN_CACHE_SIZE", int),
    ("cache_ttl", "GENAUTH_JWKS_CACHE_TTL", float),
    ("refetch_per_minute", "GENAUTH_JWKS_REFETCH_PER_MINUTE", float),
    ("stale_max_age", "GENAUTH_JWKS_STALE_MAX_AGE", float),
    ("http_timeout", "GENAUTH_HTTP_TIMEOUT", float),
    ("allow_http", "GENAUTH_ALLOW_HTTP", _bool),
    ("shared_secret", "GENAUTH_SHARED_SECRET", str),
    ("token_check", "GENAUTH_TOKEN_CHECK", str),
    ("introspection_client_id", "GENAUTH_INTROSPECTION_CLIENT_ID", str),
    ("introspection_client_secret", "GENAUTH_INTROSPECTION_CLIENT_SECRET", str),
    ("introspection_cache_ttl", "GENAUTH_INTROSPECTION_CACHE_TTL", float),
    ("introspection_endpoint", "GENAUTH_INTROSPECTION_ENDPOINT", str),
    ("dpop", "GENAUTH_DPOP", str.lower),
    ("dpop_algorithms", "GENAUTH_DPOP_ALGORITHMS", _split_nonempty),
    ("dpop_proof_window", "GENAUTH_DPOP_PROOF_WINDOW", float),
    ("dpop_nonce", "GENAUTH_DPOP_NONCE", _bool),
    ("dpop_nonce_lifetime", "GENAUTH_DPOP_NONCE_LIFETIME", float),
    ("dpop_replay_cache_size", "GENAUTH_DPOP_REPLAY_CACHE_SIZE", int),
    ("trusted_proxies", "GENAUTH_TRUSTED_PROXIES", _split),
    ("reject_id_tokens", "GENAUTH_REJECT_ID_TOKENS", _bool),
)
