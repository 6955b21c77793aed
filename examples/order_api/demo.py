"""``make demo``: start the local issuer, get a token over HTTP, print its claims.

(The order API story replaces this once the order API example lands.)
"""

from __future__ import annotations

import json

import httpx
import jwt

from genauth_guard.testing import LocalIssuer


def main() -> None:
    with LocalIssuer(audience="order-api") as issuer:
        issuer.add_client("order-reader", "s3cret", ["order:read"])
        print(f"local issuer (development only): {issuer.issuer}")
        discovery = httpx.get(issuer.discovery_url).json()
        response = httpx.post(
            discovery["token_endpoint"],
            data={"grant_type": "client_credentials", "scope": "order:read"},
            auth=("order-reader", "s3cret"),
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        keys = jwt.PyJWKClient(discovery["jwks_uri"])
        claims = jwt.decode(
            token,
            keys.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],
            audience="order-api",
            issuer=issuer.issuer,
        )
        print("token obtained with client_credentials; its verified claims:")
        print(json.dumps(claims, indent=2))


if __name__ == "__main__":
    main()
