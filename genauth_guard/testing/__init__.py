"""A local OIDC issuer, token minting, a thread server and a manual clock, for tests.

For development, demos and tests, not production: the issuer keeps its keys in memory
and, like :func:`serve`, binds only to loopback.
"""

from ._access import AccessDenied, AccessPolicy, ApplicationAccess, LocalRole, LocalUser
from ._clock import ManualClock
from ._issuer import FaultMode, LocalClient, LocalIssuer
from ._keys import SigningKey
from ._serve import ServerThread, serve

__all__ = [
    "AccessDenied",
    "AccessPolicy",
    "ApplicationAccess",
    "FaultMode",
    "LocalClient",
    "LocalIssuer",
    "LocalRole",
    "LocalUser",
    "ManualClock",
    "ServerThread",
    "SigningKey",
    "serve",
]
