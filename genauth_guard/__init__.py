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
from ._errors import (
    GuardError,
    InsufficientPrivileges,
    InsufficientScope,
    InsufficientUserAuthentication,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingCredentials,
    Reason,
)
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
    "GuardConfig",
    "GuardError",
    "GuardMiddleware",
    "InsufficientPrivileges",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidRequest",
    "InvalidToken",
    "JWKSKeySource",
    "KeysUnavailable",
    "MissingCredentials",
    "Reason",
    "Requirement",
    "TokenEndpointUnavailable",
    "TokenRequestError",
    "TokenResponseError",
    "Verifier",
    "__version__",
    "claim_check",
    "claim_equals",
    "claim_includes",
    "claim_includes_any",
    "require_any_role",
    "require_roles",
    "require_step_up",
]
