"""The error family and its HTTP form (RFC 6750 section 3).

Every failure of genauth-guard is one of these classes. Each carries its HTTP status,
its RFC 6750 error code and a description; :func:`render` is the only place that turns
one into status, headers and a JSON body. Descriptions never contain the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum

__all__ = [
    "GuardError",
    "InsufficientPrivileges",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionUnavailable",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingCredentials",
    "Reason",
    "UseDPoPNonce",
    "render",
]


class Reason(StrEnum):
    """Why a token was rejected; shown to callers as part of ``error_description``."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    TOO_OLD = "too_old"
    ISSUER = "issuer"
    AUDIENCE = "audience"
    MISSING_CLAIM = "missing_claim"
    CLAIM = "claim"
    TYPE = "type"
    CRIT = "crit"
    INACTIVE = "inactive"
    ID_TOKEN = "id_token"
    SENDER_CONSTRAINED = "sender_constrained"


class GuardError(Exception):
    """Base of every genauth-guard error: catch this to catch them all."""

    status: int = 401
    code: str | None = None
    #: The authentication scheme whose challenge carries the error: "Bearer" (RFC 6750)
    #: or "DPoP" (RFC 9449 section 7.1) when the request used that scheme.
    scheme: str = "Bearer"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"

    @property
    def status_code(self) -> int:
        """The HTTP status, under the name every genauth-guard error uses (``status``
        is the same value, kept as an alias)."""
        return self.status


class MissingCredentials(GuardError):
    """No bearer token was sent (RFC 6750 section 3.1: no error code)."""

    status = 401
    code = None

    def __init__(self, description: str = "bearer token required") -> None:
        super().__init__(description)


class InvalidRequest(GuardError):
    """The request is malformed: several tokens, ``Bearer`` with no token (RFC 6750 3.1)."""

    status = 400
    code = "invalid_request"


class InvalidToken(GuardError):
    """The token failed verification (RFC 6750 section 3.1 ``invalid_token``)."""

    status = 401
    code = "invalid_token"

    def __init__(
        self,
        reason: Reason,
        description: str,
        *,
        actual: object = None,
        expected: object = None,
    ) -> None:
        super().__init__(description)
        self.reason = reason
        # For the server log only (never rendered): the token's unverified value and
        # what the configuration expected, so an operator can see why it was refused.
        self.actual = actual
        self.expected = expected


class InsufficientScope(GuardError):
    """The token is valid but lacks scopes (RFC 6750 section 3.1 ``insufficient_scope``)."""

    status = 403
    code = "insufficient_scope"

    def __init__(
        self, required: Iterable[str], description: str | None = None, *, any_of: bool = False
    ) -> None:
        self.required = tuple(required)
        self.any_of = any_of
        joiner = "one of" if any_of else "all of"
        super().__init__(description or f"requires {joiner}: {' '.join(self.required)}")


class KeysUnavailable(GuardError):
    """The signing keys cannot be fetched and none is cached: HTTP 503, never a 500.

    ``description`` goes to any caller, so it names no internal URL or exception;
    ``detail`` says why for the logs and operators' tools, and is part of ``str()``.
    """

    status = 503
    code = "temporarily_unavailable"

    def __init__(
        self,
        description: str = "signing keys unavailable",
        retry_after: int = 30,
        *,
        detail: str | None = None,
    ):
        super().__init__(description)
        self.retry_after = retry_after
        self.detail = detail
        if detail:
            self.args = (f"{description} ({detail})",)


def _quote(value: str) -> str:
    """Quote an auth-param value (RFC 7235 section 2.1 quoted-string).

    RFC 6750 section 3 restricts ``error_description`` to printable ASCII without
    ``"`` and ``\\``; anything else is replaced so the header stays valid.
    """
    safe = "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in value)
    return f'"{safe}"'


def www_authenticate(error: GuardError, realm: str | None = None) -> str | None:
    """The ``WWW-Authenticate`` value for ``error`` (RFC 6750 section 3), or None for 503."""
    if isinstance(error, KeysUnavailable):
        return None
    return _challenge("Bearer", error, realm, ())


def _challenge(
    scheme: str, error: GuardError | None, realm: str | None, algs: Sequence[str]
) -> str:
    """One challenge: realm, RFC 9449 ``algs`` for DPoP, and the error if it is ours."""
    params: list[str] = []
    if realm:
        params.append(f"realm={_quote(realm)}")
    if algs:
        params.append(f"algs={_quote(' '.join(algs))}")  # RFC 9449 section 7.1
    if error is not None and error.code is not None:
        params.append(f"error={_quote(error.code)}")
        params.append(f"error_description={_quote(error.description)}")
        if isinstance(error, InsufficientScope):
            params.append(f"scope={_quote(' '.join(error.required))}")
        params.extend(f"{name}={_quote(value)}" for name, value in _step_up_params(error))
    return f"{scheme} " + ", ".join(params) if params else scheme


def render(
    error: GuardError,
    realm: str | None = None,
    *,
    dpop_algs: Sequence[str] = (),
    bearer: bool = True,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """HTTP form of ``error``: status, headers and a JSON body (RFC 6750 section 3).

    ``dpop_algs`` non-empty adds a ``DPoP`` challenge (RFC 9449 section 7.1) as a header
    of its own; ``bearer=False`` (DPoP required) drops the ``Bearer`` one. The error's
    code goes to the challenge of the scheme the request used (``error.scheme``).
    A :class:`UseDPoPNonce` also sends the ``DPoP-Nonce`` header (RFC 9449 section 9).
    """
    headers = [("content-type", "application/json"), ("cache-control", "no-store")]
    if not isinstance(error, KeysUnavailable):
        dpop_error = error.scheme == "DPoP" and bool(dpop_algs)
        if bearer or not dpop_algs:
            headers.append(
                ("www-authenticate", _challenge("Bearer", None if dpop_error else error, realm, ()))
            )
        if dpop_algs:
            headers.append(
                (
                    "www-authenticate",
                    _challenge("DPoP", error if dpop_error else None, realm, dpop_algs),
                )
            )
    if isinstance(error, KeysUnavailable):
        headers.append(("retry-after", str(error.retry_after)))
    if isinstance(error, UseDPoPNonce):
        headers.append(("dpop-nonce", error.nonce))
    body: dict[str, object] = {"error": error.code or "unauthorized"}
    body["error_description"] = error.description
    if isinstance(error, InsufficientScope):
        body["scope"] = " ".join(error.required)
    body.update(_step_up_params(error))
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers.append(("content-length", str(len(payload))))
    return error.status, headers, payload


class InsufficientPrivileges(GuardError):
    """A valid token whose roles or claims miss a route requirement: HTTP 403.

    RFC 6750 section 3.1 ``insufficient_scope`` ("the request requires higher privileges
    than provided by the access token"): a registered code clients already understand.
    No ``scope`` attribute is sent, since scopes are not what is missing; the
    description names the requirement. ``claim`` is the claim it reads, when one.
    """

    status = 403
    code = "insufficient_scope"

    def __init__(self, description: str, *, claim: str | None = None) -> None:
        super().__init__(description)
        self.claim = claim


class InsufficientUserAuthentication(GuardError):
    """The user's authentication is too weak or too old for the route: HTTP 401.

    RFC 9470 section 3: ``error="insufficient_user_authentication"`` with the
    ``acr_values`` and ``max_age`` the client must ask for when it logs the user in again.
    """

    status = 401
    code = "insufficient_user_authentication"

    def __init__(
        self, description: str, *, acr_values: Iterable[str] = (), max_age: int | None = None
    ) -> None:
        super().__init__(description)
        self.acr_values = tuple(acr_values)
        self.max_age = max_age


def _step_up_params(error: GuardError) -> list[tuple[str, str]]:
    """RFC 9470 section 3 auth-params of a step-up refusal, for the challenge and the body."""
    if not isinstance(error, InsufficientUserAuthentication):
        return []
    params: list[tuple[str, str]] = []
    if error.acr_values:
        params.append(("acr_values", " ".join(error.acr_values)))
    if error.max_age is not None:
        params.append(("max_age", str(error.max_age)))
    return params


class IntrospectionUnavailable(KeysUnavailable):
    """The issuer's introspection endpoint cannot answer and no usable answer is cached.

    Fail closed (RFC 7662 section 4: the resource server cannot know the token is
    active): HTTP 503 with ``Retry-After``, rendered like :class:`KeysUnavailable`.
    """

    def __init__(self, description: str = "token introspection unavailable", retry_after: int = 30):
        super().__init__(description, retry_after)


class InvalidDPoPProof(GuardError):
    """The DPoP proof failed a check of RFC 9449 section 4.3 (``invalid_dpop_proof``).

    401 at a resource server (section 7.1); the local issuer answers 400 (section 5).
    """

    status = 401
    code = "invalid_dpop_proof"
    scheme = "DPoP"


class UseDPoPNonce(GuardError):
    """The proof lacks the server's current nonce (RFC 9449 section 9, ``use_dpop_nonce``).

    Carries the nonce to send in the ``DPoP-Nonce`` header.
    """

    status = 401
    code = "use_dpop_nonce"
    scheme = "DPoP"

    def __init__(self, nonce: str, description: str = "a DPoP nonce is required") -> None:
        super().__init__(description)
        self.nonce = nonce
