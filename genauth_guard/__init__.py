"""genauth-guard: protect ASGI APIs with GenAuth / OIDC bearer access tokens.

The whole public API is here. Framework adapters live in ``genauth_guard.starlette``
(scope decorators) and ``genauth_guard.fastapi`` (dependencies); the development
issuer and token minting in ``genauth_guard.testing``.

Server side::

    config = GuardConfig(issuer="https://{app-domain}/oidc", audience="{app-id}")
    app = GuardMiddleware(app, config=config, public_paths=["/health"])

Caller side::

    auth = ClientCredentialsAuth(issuer=..., client_id=..., client_secret=...,
                                 scope="order:read")
    httpx2.AsyncClient(auth=auth)

Per-route requirements beyond scopes (roles, claims, predicates, step-up) are built by
``require_roles``, ``claim_equals``... and passed with the scopes to any adapter.
"""

from ._asgi import GuardMiddleware
from ._client import (
    ClientCredentialsAuth,
    ClientCredentialsError,
    TokenEndpointUnavailable,
    TokenRequestError,
    TokenResponseError,
)
from ._config import GuardConfig
from ._dpop import InMemoryReplayCache, NonceSource, ReplayCache
from ._dpop_key import DPoPKey
from ._errors import (
    GuardError,
    InsufficientPrivileges,
    InsufficientScope,
    InsufficientUserAuthentication,
    IntrospectionUnavailable,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingCredentials,
    Reason,
    UseDPoPNonce,
)
from ._introspection import IntrospectingVerifier, Introspector, make_verifier
from ._jwks import JWKSKeySource
from ._requirements import (
    Requirement,
    claim_check,
    claim_equals,
    claim_includes,
    claim_includes_any,
    require_any_role,
    require_roles,
    require_step_up,
)
from ._token import AccessToken
from ._verifier import Verifier

__version__ = "0.1.0"

__all__ = [
    "AccessToken",
    "ClientCredentialsAuth",
    "ClientCredentialsError",
    "DPoPKey",
    "GuardConfig",
    "GuardError",
    "GuardMiddleware",
    "InMemoryReplayCache",
    "InsufficientPrivileges",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectingVerifier",
    "IntrospectionUnavailable",
    "Introspector",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "JWKSKeySource",
    "KeysUnavailable",
    "MissingCredentials",
    "NonceSource",
    "Reason",
    "ReplayCache",
    "Requirement",
    "TokenEndpointUnavailable",
    "TokenRequestError",
    "TokenResponseError",
    "UseDPoPNonce",
    "Verifier",
    "__version__",
    "claim_check",
    "claim_equals",
    "claim_includes",
    "claim_includes_any",
    "make_verifier",
    "require_any_role",
    "require_roles",
    "require_step_up",
]
