"""A local OIDC issuer, token minting, a thread server and a manual clock, for tests.

For development, demos and tests, not production: the issuer keeps its keys in memory
and, like :func:`serve`, binds only to loopback.
"""

from ._clock import ManualClock
from ._issuer import FaultMode, LocalClient, LocalIssuer
from ._keys import SigningKey
from ._serve import ServerThread, serve

__all__ = [
    "FaultMode",
    "LocalClient",
    "LocalIssuer",
    "ManualClock",
    "ServerThread",
    "SigningKey",
    "serve",
]
