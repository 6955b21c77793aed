"""A real OIDC issuer for development, demos and tests. Not for production.

Laid out like GenAuth so that configuration carries over one to one: the issuer is
``{url}/oidc``, with discovery at ``/oidc/.well-known/openid-configuration`` (OpenID
Connect Discovery 1.0 section 4), the JWKS at ``/oidc/.well-known/jwks.json`` and the
token endpoint at ``/oidc/token`` (RFC 6749 section 4.4, client credentials).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from genauth_guard._discovery import check_url

from ._access import (
    ROLES_SCOPE,
    AccessDenied,
    ApplicationAccess,
    Effect,
    LocalRole,
    LocalUser,
    SubjectType,
)
from ._keys import SigningKey
from ._serve import ServerThread

__all__ = ["FaultMode", "LocalClient", "LocalIssuer"]

FaultMode = Literal["error", "hang", "garbage"]
Endpoint = Literal["discovery", "jwks", "token"]
_ENDPOINTS: tuple[Endpoint, ...] = ("discovery", "jwks", "token")
_HANG_SECONDS = 30.0


@dataclass
class LocalClient:
    """A programmatic access account (GenAuth console: AK/SK) and its granted scopes."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()
    audience: str | None = None

    def __repr__(self) -> str:  # the secret never shows in reprs or logs
        return f"LocalClient(client_id={self.client_id!r}, scopes={self.scopes!r})"


@dataclass
class _Fault:
    mode: FaultMode
    remaining: int | None  # None: until healed


@dataclass
class _State:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_ENDPOINTS, 0))
    faults: dict[str, _Fault] = field(default_factory=dict)


class LocalIssuer:
    """An in-process OIDC issuer on loopback, usable as a (sync or async) context manager.

    >>> with LocalIssuer(audience="order-api") as issuer:
    ...     issuer.add_client("order-reader", "s3cret", ["order:read"])
    ...     token = issuer.mint(scope="order:read")
    """

    def __init__(
        self,
        *,
        audience: str = "local-api",
        audiences: Iterable[str] = (),
        clients: Iterable[LocalClient] = (),
        resources: Mapping[str, Iterable[str]] | None = None,
        token_ttl: int = 3600,
        rfc9068: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_non_loopback: bool = False,
        key_bits: int = 2048,
        public_url: str | None = None,
    ) -> None:
        if public_url is not None:
            check_url(public_url, allow_http=True, what="public_url")
        # What callers use to reach it, when that is not the bound address (0.0.0.0,
        # a container's port mapping): it names the issuer and every endpoint.
        self.public_url = public_url.rstrip("/") if public_url else None
        self.app = Starlette(
            routes=[
                Route("/oidc/.well-known/openid-configuration", self._discovery),
                Route("/oidc/.well-known/jwks.json", self._jwks),
                Route("/oidc/token", self._token, methods=["POST"]),
            ]
        )
        # Refuses a non-loopback host now, not at start.
        self._server = ServerThread(
            self.app,
            host=host,
            port=port,
            lifespan="off",
            allow_non_loopback=allow_non_loopback,
            name="the local issuer",
        )
        self.audience = audience
        self.audiences = {audience, *audiences}
        self.token_ttl = token_ttl
        self.rfc9068 = rfc9068
        self.host = host
        self.port = port
        self.resources: dict[str, set[str]] = {}
        self.clients: dict[str, LocalClient] = {}
        self.access = ApplicationAccess()  # users, roles, access policies (GenAuth's model)
        self.extra_jwks: list[dict[str, Any]] = []
        self._keys: list[SigningKey] = [SigningKey.generate(key_bits)]
        self._state = _State()
        self._heals = 0
        self.hang_seconds = _HANG_SECONDS
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # ends hanging requests before the server waits
        for name, actions in (resources or {}).items():
            self.add_resource(name, actions)
        for client in clients:
            self.add_client(client.client_id, client.client_secret, client.scopes, client.audience)

    # -- addresses -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53211`` (only once started)."""
        return self._server.url

    @property
    def issuer(self) -> str:
        """The ``iss`` value: ``{url}/oidc``, as GenAuth's ``https://{app-domain}/oidc``.

        ``{public_url}/oidc`` when a ``public_url`` was given.
        """
        return f"{self.public_url or self.url}/oidc"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    # -- console model: resources, clients ------------------------------------------

    def add_resource(self, name: str, actions: Iterable[str]) -> None:
        """Define an API resource with actions; scopes are ``resource:action``."""
        self.resources.setdefault(name, set()).update(actions)

    def add_client(
        self,
        client_id: str,
        client_secret: str | None = None,
        scopes: Iterable[str] = (),
        audience: str | None = None,
    ) -> LocalClient:
        """Create a client granted ``scopes``; unknown resources/actions are created."""
        scopes = tuple(scopes)
        for scope in scopes:
            resource, _, action = scope.partition(":")
            if action:
                self.add_resource(resource, [action])
        client = LocalClient(
            client_id, client_secret or secrets.token_urlsafe(24), scopes, audience
        )
        self.clients[client_id] = client
        if audience:
            self.audiences.add(audience)
        return client

    # -- console model: users, roles, access policies ---------------------------------

    def add_user(
        self,
        user_id: str,
        password: str | None = None,
        *,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
    ) -> LocalUser:
        """Create a user (``sub`` = ``user_id``) in ``groups``, member of ``roles``."""
        return self.access.add_user(user_id, password, groups=groups, roles=roles)

    def add_role(
        self,
        code: str,
        description: str = "",
        *,
        permissions: Iterable[str] = (),
        members: Iterable[str] = (),
    ) -> LocalRole:
        """Create an application role granted ``resource:action`` permissions."""
        permissions = tuple(permissions)
        role = self.access.add_role(code, description, permissions=permissions, members=members)
        for scope in permissions:
            resource, _, action = scope.partition(":")
            self.add_resource(resource, [action])
        return role

    def allow(self, subject_type: SubjectType, subject: str) -> None:
        """An access policy letting a user, a role's or a group's members in."""
        self.access.add_policy("allow", subject_type, subject)

    def deny(self, subject_type: SubjectType, subject: str) -> None:
        """An access policy keeping a user, a role's or a group's members out (deny wins)."""
        self.access.add_policy("deny", subject_type, subject)

    def set_default_access(self, effect: Effect) -> None:
        """What happens to users no policy names: ``allow`` (GenAuth's default) or ``deny``."""
        self.access.default_effect = effect

    def mint_for_user(
        self,
        user_id: str,
        scope: str | Iterable[str] | None = None,
        *,
        roles: bool = False,
        acr: str | None = None,
        auth_time: float | None = None,
        audience: str | list[str] | None = None,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
        omit: Iterable[str] = (),
    ) -> str:
        """A user's access token under the application's rules (the GenAuth console model).

        Its ``scope`` holds the asked permissions the user's roles grant (all of them
        when ``scope`` is None); ``roles=True`` or the ``roles`` scope adds the
        ``roles`` claim (the user's role codes). ``auth_time`` (default: now) and
        ``acr`` say how and when the user logged in (RFC 9470 step-up tests). Raises
        :class:`AccessDenied` when an access policy denies the user.
        """
        asked = None if scope is None else scope.split() if isinstance(scope, str) else list(scope)
        granted, body = self._user_claims(user_id, asked, roles=roles, auth_time=auth_time)
        if acr is not None:
            body["acr"] = acr
        body.update(claims or {})
        return self.mint(
            scope=granted or None,
            sub=user_id,
            audience=audience,
            expires_in=expires_in,
            claims=body,
            omit=omit,
        )

    def _user_claims(
        self,
        user_id: str,
        asked: list[str] | None,
        *,
        roles: bool = False,
        auth_time: float | None = None,
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """The scopes a user's token gets; its ``auth_time`` and ``roles`` claims."""
        granted = self.access.grant(user_id, asked)
        # OIDC Core 2: when the user logged in; a token minted now is a login now.
        body: dict[str, Any] = {"auth_time": int(time.time()) if auth_time is None else auth_time}
        if roles or (asked is not None and ROLES_SCOPE in asked):
            body["roles"] = list(self.access.roles_of(user_id))
        return granted, body

    # -- keys -------------------------------------------------------------------------

    @property
    def signing_key(self) -> SigningKey:
        """The key new tokens are signed with (the newest)."""
        return self._keys[-1]

    @property
    def keys(self) -> list[SigningKey]:
        """Every key currently published in the JWKS, oldest first."""
        now = time.time()
        return [k for k in self._keys if k.retire_at is None or k.retire_at > now]

    def rotate_keys(self, grace_seconds: float | None = None, bits: int = 2048) -> SigningKey:
        """Add a new signing key; older keys stay published for ``grace_seconds``.

        With ``grace_seconds=None`` the old keys stay until :meth:`drop_key`.
        """
        new = SigningKey.generate(bits)
        with self._lock:
            if grace_seconds is not None:
                until = time.time() + grace_seconds
                for key in self._keys:
                    if key.retire_at is None or key.retire_at > until:
                        key.retire_at = until
            self._keys.append(new)
        return new

    def drop_key(self, kid: str) -> None:
        """Stop publishing key ``kid`` now (the end of a rotation's grace period)."""
        with self._lock:
            if len(self._keys) == 1 and self._keys[0].kid == kid:
                raise ValueError("cannot drop the only signing key; rotate first")
            self._keys = [k for k in self._keys if k.kid != kid]

    def jwks(self) -> dict[str, Any]:
        """The JWK Set document served at ``jwks_uri`` (RFC 7517 section 5)."""
        return {"keys": [k.public_jwk() for k in self.keys] + list(self.extra_jwks)}

    # -- minting ---------------------------------------------------------------------

    def claims_for(
        self,
        *,
        sub: str = "local-client",
        scope: str | Iterable[str] | None = None,
        audience: str | list[str] | None = None,
        expires_in: int | None = None,
        client_id: str | None = None,
    ) -> dict[str, Any]:
        """The default claims of an access token, GenAuth-shaped (RFC 9068 if enabled)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": audience if audience is not None else self.audience,
            "iat": now,
            "exp": now + (self.token_ttl if expires_in is None else expires_in),
            "jti": uuid.uuid4().hex,
        }
        if scope is not None:
            claims["scope"] = scope if isinstance(scope, str) else " ".join(scope)
        if self.rfc9068:
            claims["client_id"] = client_id or sub
        return claims

    def mint(
        self,
        *,
        scope: str | Iterable[str] | None = None,
        sub: str = "local-client",
        audience: str | list[str] | None = None,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        omit: Iterable[str] = (),
        key: SigningKey | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """Sign a token without HTTP; any claim or header can be overridden or omitted.

        ``claims`` and ``header`` are merged over the defaults; ``omit`` removes claims
        (e.g. ``omit=["exp"]``); ``key`` signs with another key, published or not
        (``SigningKey.generate()`` gives an unpublished one).
        """
        body = self.claims_for(sub=sub, scope=scope, audience=audience, expires_in=expires_in)
        body.update(claims or {})
        for name in omit:
            body.pop(name, None)
        signer = key or self.signing_key
        head: dict[str, Any] = {"typ": "at+jwt" if self.rfc9068 else "JWT", "kid": signer.kid}
        head.update(header or {})
        return jwt.encode(body, signer.private_key, algorithm=algorithm, headers=head)

    # -- resilience faults and counters ---------------------------------------------

    def fail(self, endpoint: Endpoint, mode: FaultMode = "error", times: int | None = None) -> None:
        """Make ``endpoint`` fail: ``error`` (HTTP 503), ``hang`` or ``garbage`` (not JSON).

        ``times`` limits the fault to the next N requests; None keeps it until healed.
        """
        with self._lock:
            self._state.faults[endpoint] = _Fault(mode, times)

    def heal(self, endpoint: Endpoint | None = None) -> None:
        """Clear the fault of ``endpoint`` (or of all endpoints); hanging requests end."""
        with self._lock:
            self._heals += 1
            if endpoint is None:
                self._state.faults.clear()
            else:
                self._state.faults.pop(endpoint, None)

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per endpoint: ``discovery``, ``jwks``, ``token``."""
        with self._lock:
            return dict(self._state.counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._state.counts = dict.fromkeys(_ENDPOINTS, 0)

    def _enter(self, endpoint: Endpoint) -> FaultMode | None:
        with self._lock:
            self._state.counts[endpoint] += 1
            fault = self._state.faults.get(endpoint)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._state.faults[endpoint]
            return fault.mode

    async def _faulty(self, endpoint: Endpoint) -> Response | None:
        mode = self._enter(endpoint)
        if mode is None:
            return None
        if mode == "hang":
            generation = self._heals
            deadline = time.monotonic() + self.hang_seconds
            while time.monotonic() < deadline and generation == self._heals:
                if self._stopping.is_set():
                    break
                await asyncio.sleep(0.05)
            return Response(status_code=504)
        if mode == "garbage":
            return Response(b"<html>not json{", media_type="application/json")
        return JSONResponse({"error": "server_error"}, status_code=503)

    # -- endpoints -------------------------------------------------------------------

    def discovery_document(self) -> dict[str, Any]:
        """OpenID Provider Metadata (OIDC Discovery 1.0 section 3, RFC 8414 section 2)."""
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.token_endpoint,
            "grant_types_supported": ["client_credentials", "password"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted(
                f"{r}:{a}" for r, actions in self.resources.items() for a in actions
            ),
        }

    async def _discovery(self, request: Request) -> Response:
        return await self._faulty("discovery") or JSONResponse(self.discovery_document())

    async def _jwks(self, request: Request) -> Response:
        return await self._faulty("jwks") or JSONResponse(
            self.jwks(), headers={"cache-control": "public, max-age=300"}
        )

    async def _token(self, request: Request) -> Response:
        faulty = await self._faulty("token")
        if faulty is not None:
            return faulty
        params, problem = _parse_form(request.headers.get("content-type", ""), await request.body())
        if problem is not None:
            return _oauth_error("invalid_request", problem)
        client, failure = self._authenticate(request.headers.get("authorization"), params)
        if failure is not None:
            return failure
        assert client is not None
        grant_type = params.get("grant_type")
        if not grant_type:
            return _oauth_error("invalid_request", "grant_type is required")
        if grant_type == "password":
            return self._password_grant(client, params)
        if grant_type != "client_credentials":
            return _oauth_error("unsupported_grant_type", f"grant_type {grant_type!r}")
        granted = self._grant(client, params.get("scope"))
        if granted is None:
            return _oauth_error("invalid_scope", "none of the requested scopes is granted")
        audience = params.get("audience") or params.get("resource") or client.audience
        if audience is None:
            audience = self.audience
        elif audience not in self.audiences:
            return _oauth_error("invalid_target", "unknown audience or resource")
        token = self.mint(
            scope=granted, sub=client.client_id, audience=audience, claims=self._client_id(client)
        )
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": " ".join(granted),
        }
        return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})

    def _client_id(self, client: LocalClient) -> dict[str, Any]:
        return {"client_id": client.client_id} if self.rfc9068 else {}

    def _authenticate(
        self, authorization: str | None, params: dict[str, str]
    ) -> tuple[LocalClient | None, Response | None]:
        """Client authentication, RFC 6749 section 2.3.1 (basic or post, never both)."""
        basic = authorization is not None and authorization[:6].lower() == "basic "
        posted = "client_id" in params or "client_secret" in params
        if basic and "client_secret" in params:
            return None, _oauth_error("invalid_request", "use one client authentication method")
        if basic:
            assert authorization is not None
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
                raw_id, _, raw_secret = decoded.partition(":")
                # RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
                client_id, secret = (
                    unquote(raw_id.replace("+", " ")),
                    unquote(raw_secret.replace("+", " ")),
                )
            except (binascii.Error, UnicodeDecodeError):
                return None, _oauth_error("invalid_request", "malformed basic credentials")
            if "client_id" in params and params["client_id"] != client_id:
                return None, _oauth_error("invalid_request", "client_id mismatch")
        elif posted:
            client_id = params.get("client_id", "")
            secret = params.get("client_secret", "")
        else:
            return None, _invalid_client("client authentication required", basic=True)
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(
            client.client_secret.encode(), secret.encode()
        ):
            return None, _invalid_client("unknown client or wrong secret", basic=basic)
        return client, None

    @staticmethod
    def _grant(client: LocalClient, requested: str | None) -> tuple[str, ...] | None:
        """Scopes to issue, RFC 6749 section 3.3: none asked gives every granted scope."""
        if requested is None or not requested.strip():
            return client.scopes
        asked = requested.split()
        granted = tuple(s for s in dict.fromkeys(asked) if s in client.scopes)
        return granted or None

    def _audience(self, client: LocalClient, params: dict[str, str]) -> str | None:
        """The token's audience: asked (``audience``, RFC 8707 ``resource``) or default."""
        audience = params.get("audience") or params.get("resource") or client.audience
        if audience is None:
            return self.audience
        return audience if audience in self.audiences else None

    def _password_grant(self, client: LocalClient, params: dict[str, str]) -> Response:
        """A user's token, RFC 6749 section 4.3 (development only: OAuth 2.1 drops it).

        The scopes follow :meth:`mint_for_user`; a user denied by the access policies
        gets ``access_denied`` and no token.
        """
        username, password = params.get("username"), params.get("password")
        if not username or password is None:
            return _oauth_error("invalid_request", "username and password are required")
        user = self.access.users.get(username)
        if (
            user is None
            or user.password is None
            or not secrets.compare_digest(user.password.encode(), password.encode())
        ):
            return _oauth_error("invalid_grant", "unknown user or wrong password")
        audience = self._audience(client, params)
        if audience is None:
            return _oauth_error("invalid_target", "unknown audience or resource")
        requested = params.get("scope")
        asked = requested.split() if requested and requested.strip() else None
        try:
            granted, claims = self._user_claims(username, asked)
        except AccessDenied:
            return _oauth_error("access_denied", "the application's access policies deny this user")
        claims.update(self._client_id(client))
        token = self.mint(scope=granted or None, sub=username, audience=audience, claims=claims)
        return self._token_response(token, granted)

    def _token_response(self, token: str, granted: Iterable[str]) -> JSONResponse:
        """A successful token response, RFC 6749 section 5.1 (never cached)."""
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": " ".join(granted),
        }
        return JSONResponse(body, headers={"cache-control": "no-store", "pragma": "no-cache"})

    # -- running ---------------------------------------------------------------------

    def start(self) -> LocalIssuer:
        """Serve on a background thread (uvicorn) until :meth:`stop`; returns self."""
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests end at once."""
        self._stopping.set()
        self._server.stop()

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalIssuer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], str | None]:
    """Token request parameters, RFC 6749 section 4.4.2 and 3.2 (no repeats)."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return {}, "the body must be application/x-www-form-urlencoded"
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return {}, "the body is not valid form encoding"
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            return {}, f"repeated parameter {name}"
        params[name] = value
    return params, None


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    """An RFC 6749 section 5.2 error response."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"cache-control": "no-store", "pragma": "no-cache"},
    )


def _invalid_client(description: str, *, basic: bool) -> JSONResponse:
    response = _oauth_error("invalid_client", description, status=401)
    if basic:  # RFC 6749 section 5.2: a challenge for the scheme the client used
        response.headers["www-authenticate"] = 'Basic realm="genauth-guard local issuer"'
    return response
