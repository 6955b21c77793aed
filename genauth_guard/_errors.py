"""The error family and its HTTP form (RFC 6750 section 3).

Every failure of genauth-guard is one of these classes. Each carries its HTTP status,
its RFC 6750 error code and a description; :func:`render` is the only place that turns
one into status, headers and a JSON body. Descriptions never contain the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum

__all__ = [
    "GuardError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingCredentials",
    "Reason",
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
    ID_TOKEN = "id_token"
    SENDER_CONSTRAINED = "sender_constrained"


class GuardError(Exception):
    """Base of every genauth-guard error: catch this to catch them all."""

    status: int = 401
    code: str | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


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

    def __init__(self, reason: Reason, description: str) -> None:
        super().__init__(description)
        self.reason = reason


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
    params: list[str] = []
    if realm:
        params.append(f"realm={_quote(realm)}")
    if error.code is not None:
        params.append(f"error={_quote(error.code)}")
        params.append(f"error_description={_quote(error.description)}")
    if isinstance(error, InsufficientScope):
        params.append(f"scope={_quote(' '.join(error.required))}")
    return "Bearer " + ", ".join(params) if params else "Bearer"


def render(error: GuardError, realm: str | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """HTTP form of ``error``: status, headers and a JSON body (RFC 6750 section 3)."""
    headers = [("content-type", "application/json"), ("cache-control", "no-store")]
    challenge = www_authenticate(error, realm)
    if challenge is not None:
        headers.append(("www-authenticate", challenge))
    if isinstance(error, KeysUnavailable):
        headers.append(("retry-after", str(error.retry_after)))
    body: dict[str, object] = {"error": error.code or "unauthorized"}
    body["error_description"] = error.description
    if isinstance(error, InsufficientScope):
        body["scope"] = " ".join(error.required)
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers.append(("content-length", str(len(payload))))
    return error.status, headers, payload
