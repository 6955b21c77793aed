"""A local OIDC issuer and token minting, for development, demos and tests.

Not for production: it keeps its keys in memory and binds only to loopback.
"""

from ._issuer import FaultMode, LocalClient, LocalIssuer
from ._keys import SigningKey

__all__ = ["FaultMode", "LocalClient", "LocalIssuer", "SigningKey"]
