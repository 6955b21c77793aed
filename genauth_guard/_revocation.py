"""Token revocation (RFC 7009), the caller's side: ask the issuer to revoke a token.

The request rules are apart from the I/O (a synchronous ``httpx2`` call here, used by
``genauth-guard revoke``), as for introspection.
"""

from __future__ import annotations

import json

import httpx2

from ._client import AuthMethod, client_auth
from ._discovery import DiscoveryError, check_url, discovery_url, parse_provider_metadata

__all__ = ["RevocationError", "revocation_request", "revoke_token"]

_MAX_BYTES = 64 * 1024


class RevocationError(Exception):
    """The issuer refused or could not take the revocation; the text says why."""


def revocation_request(
    token: str,
    client_id: str,
    client_secret: str,
    auth_method: AuthMethod,
    token_type_hint: str | None = "access_token",
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form of a revocation request (RFC 7009 section 2.1)."""
    headers = {"accept": "application/json"}
    form = {"token": token}
    if token_type_hint:
        form["token_type_hint"] = token_type_hint
    client_auth(client_id, client_secret, auth_method, headers, form)
    return headers, form


def _error_text(response: httpx2.Response) -> str:
    """``error: description`` of an RFC 6749 5.2 error body, else the status."""
    try:
        body = json.loads(response.content[:_MAX_BYTES])
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        described = body.get("error_description")
        text = str(body["error"]) + (f": {described}" if isinstance(described, str) else "")
        return text[:300]
    return f"HTTP {response.status_code}"


def revoke_token(
    token: str,
    *,
    client_id: str,
    client_secret: str,
    issuer: str | None = None,
    endpoint: str | None = None,
    auth_method: AuthMethod = "client_secret_post",
    timeout: float = 10.0,
    allow_http: bool = False,
) -> None:
    """Revoke ``token`` at ``endpoint`` (or the issuer's discovered revocation endpoint).

    RFC 7009 section 2.2: a 200 means revoked or already invalid. Raises
    :class:`RevocationError` otherwise; the token and secret never appear in it.
    """
    with httpx2.Client(timeout=timeout, follow_redirects=False) as http:
        try:
            if endpoint is None:
                if issuer is None:
                    raise RevocationError("an issuer or a revocation endpoint is required")
                check_url(issuer, allow_http=allow_http, what="issuer")
                found = http.get(discovery_url(issuer), headers={"accept": "application/json"})
                if found.status_code != 200:
                    raise RevocationError(f"discovery answered HTTP {found.status_code}")
                metadata = parse_provider_metadata(
                    issuer, found.content[:_MAX_BYTES], allow_http=allow_http
                )
                if metadata.revocation_endpoint is None:
                    raise RevocationError("the issuer advertises no revocation_endpoint")
                endpoint = metadata.revocation_endpoint
            check_url(endpoint, allow_http=allow_http, what="revocation endpoint")
            headers, form = revocation_request(token, client_id, client_secret, auth_method)
            response = http.post(endpoint, headers=headers, data=form)
        except DiscoveryError as exc:
            raise RevocationError(str(exc)) from None
        except httpx2.HTTPError as exc:
            raise RevocationError(f"revocation request failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        text = _error_text(response)
        for secret in (token, client_secret):
            text = text.replace(secret, "[redacted]")
        raise RevocationError(f"revocation refused: {text}")
