"""OIDC discovery and URL policy, shared by the key source and the client.

Only parsing and checks live here; the sync and async I/O belong to the callers.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "DiscoveryError",
    "ProviderMetadata",
    "check_url",
    "discovery_url",
    "parse_provider_metadata",
]


class DiscoveryError(ValueError):
    """The discovery document or a configured URL is unusable."""


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The fields of OpenID Provider Metadata that genauth-guard uses (OIDC Discovery 3)."""

    issuer: str
    jwks_uri: str | None
    token_endpoint: str | None
    introspection_endpoint: str | None = None  # RFC 8414 section 2 / RFC 7662 section 4
    revocation_endpoint: str | None = None  # RFC 8414 section 2 / RFC 7009


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback  # "[::1]" as in URLs
    except ValueError:
        return False


def check_url(url: str, *, allow_http: bool = False, what: str = "URL") -> str:
    """Require ``https``, or ``http`` on a loopback host, unless ``allow_http``.

    Tokens and keys fetched over plain HTTP could be altered in transit (RFC 8725 3.9
    on trusting key material; RFC 6749 section 3.2 requires TLS at the token endpoint).
    """
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a bad port raises only when read
    except ValueError:  # "http://[::1" and the like
        raise DiscoveryError(f"{what} is not a valid URL: {url[:200]!r}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise DiscoveryError(f"{what} must be an absolute https URL, got {url!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback_host(host):
        raise DiscoveryError(
            f"{what} uses plain http on a non-loopback host {parts.hostname!r}; "
            "use https, or allow_http=True for development"
        )
    return url


def discovery_url(issuer: str) -> str:
    """``{issuer}/.well-known/openid-configuration`` (OIDC Discovery 1.0 section 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def parse_provider_metadata(
    issuer: str, content: bytes, *, allow_http: bool = False
) -> ProviderMetadata:
    """Validate a discovery document for ``issuer``.

    Its ``issuer`` must equal the configured one exactly (OIDC Discovery 1.0 section
    4.3), which stops one tenant's document from redirecting keys for another.
    """
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise DiscoveryError("the discovery document is not JSON") from None
    if not isinstance(document, dict):
        raise DiscoveryError("the discovery document is not a JSON object")
    found = document.get("issuer")
    if found != issuer:
        raise DiscoveryError(f"the discovery document names issuer {found!r}, expected {issuer!r}")
    fields: dict[str, str | None] = {}
    for name in ("jwks_uri", "token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        value = document.get(name)
        if value is not None:
            if not isinstance(value, str):
                raise DiscoveryError(f"discovery field {name} is not a string")
            check_url(value, allow_http=allow_http, what=name)
        fields[name] = value
    return ProviderMetadata(
        issuer,
        fields["jwks_uri"],
        fields["token_endpoint"],
        fields["introspection_endpoint"],
        fields["revocation_endpoint"],
    )
