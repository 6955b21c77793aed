"""A real OIDC issuer for development, demos and tests. Not for production.

Laid out like GenAuth so that configuration carries over one to one: the issuer is
``{url}/oidc``, with discovery at ``/oidc/.well-known/openid-configuration`` (OpenID
Connect Discovery 1.0 section 4), the JWKS at ``/oidc/.well-known/jwks.json``, the
token endpoint at ``/oidc/token`` (RFC 6749 section 4.4, client credentials), and
introspection (RFC 7662) and revocation (RFC 7009) at ``/oidc/token/introspection`` and
``/oidc/token/revocation``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
import time
import uuid
import zlib
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
from genauth_guard._dpop import NonceSource, ProofChecker
from genauth_guard._errors import GuardError, UseDPoPNonce

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

FaultMode = Literal["error", "hang", "garbage", "gzip", "gzip_bomb", "echo"]
Endpoint = Literal["discovery", "jwks", "token", "introspection", "revocation"]
_ENDPOINTS: tuple[Endpoint, ...] = ("discovery", "jwks", "token", "introspection", "revocation")
_HANG_SECONDS = 30.0
_BOMB_BYTES = 64 * 1024 * 1024


def _gzip_bomb() -> bytes:
    """A gzip body of ~64 KiB that expands to 64 MiB of spaces (built without holding it)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    parts = [packer.compress(block) for _ in range(_BOMB_BYTES // len(block))]
    return b"".join(parts) + packer.flush()


def _gzip(response: Response) -> Response:
    """The same response with a gzip-encoded body, whatever the client accepts."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = packer.compress(bytes(response.body)) + packer.flush()
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    headers["content-encoding"] = "gzip"
    return Response(body, status_code=response.status_code, headers=headers)


@dataclass
class LocalClient:
    """A programmatic access account (GenAuth console: AK/SK) and its granted scopes."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    opaque: bool = False  # its access tokens are opaque strings (introspection only)
    dpop: bool = False  # must prove a DPoP key at the token endpoint (RFC 9449 section 5)

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

    _bomb: bytes | None = None  # built on first use, shared by every issuer

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
        algorithm: str = "RS256",
        app_secret: str | None = None,
        dpop_nonce: bool = False,
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
                Route("/oidc/token/introspection", self._introspect, methods=["POST"]),
                Route("/oidc/token/revocation", self._revoke, methods=["POST"]),
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
        # HS256 signs with the app secret (GenAuth's "HS256" app setting); every other
        # alg with a published key pair of its kind.
        self.algorithm = algorithm
        self.app_secret = app_secret or secrets.token_urlsafe(48)
        self._key_bits = key_bits
        self._keys: list[SigningKey] = [SigningKey.generate(key_bits, alg=self._key_alg)]
        self._opaque: dict[str, dict[str, Any]] = {}  # opaque token -> its claims
        self._revoked: set[str] = set()  # revoked opaque tokens and JWT jti values
        self._state = _State()
        self._heals = 0
        self.hang_seconds = _HANG_SECONDS
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # ends hanging requests before the server waits
        # DPoP at the token endpoint (RFC 9449 section 5): the same proof rules as an API.
        self._dpop = ProofChecker(leeway=5.0)
        self._nonces = NonceSource(lifetime=300.0)
        self.dpop_nonce = dpop_nonce
        for name, actions in (resources or {}).items():
            self.add_resource(name, actions)
        for client in clients:
            self.add_client(
                client.client_id,
                client.client_secret,
                client.scopes,
                client.audience,
                client.opaque,
                client.dpop,
            )

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

    @property
    def introspection_endpoint(self) -> str:
        return f"{self.issuer}/token/introspection"

    @property
    def revocation_endpoint(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def _key_alg(self) -> str:
        return "RS256" if self.algorithm.startswith("HS") else self.algorithm

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
        opaque: bool = False,
        dpop: bool = False,
    ) -> LocalClient:
        """Create a client granted ``scopes``; unknown resources/actions are created.

        ``opaque=True``: the token endpoint gives this client opaque access tokens,
        which only introspection can check.
        """
        scopes = tuple(scopes)
        for scope in scopes:
            resource, _, action = scope.partition(":")
            if action:
                self.add_resource(resource, [action])
        client = LocalClient(
            client_id, client_secret or secrets.token_urlsafe(24), scopes, audience, opaque, dpop
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
        new = SigningKey.generate(bits, alg=self._key_alg)
        with self._lock:
            if grace_seconds is not None:
                until = time.time() + grace_seconds
                for key in self._keys:
                    if key.retire_at is None or key.retire_at > until:
                        key.retire_at = until
            self._keys.append(new)
        return new

    def republish(self, kid: str | None = None, bits: int = 2048) -> SigningKey:
        """Replace key ``kid`` (default: the signing key) by a new key under the same kid.

        What an issuer does when it rotates without changing kids (or rotates its one
        kid-less key): tokens of the old key must stop being accepted.
        """
        kid = kid or self.signing_key.kid
        with self._lock:
            for index, old in enumerate(self._keys):
                if old.kid == kid:
                    new = SigningKey.generate(bits, kid=kid)
                    new.alg = old.alg
                    self._keys[index] = new
                    return new
        raise KeyError(kid)

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
        algorithm: str | None = None,
    ) -> str:
        """Sign a token without HTTP; any claim or header can be overridden or omitted.

        ``claims`` and ``header`` are merged over the defaults; ``omit`` removes claims
        (e.g. ``omit=["exp"]``); ``key`` signs with another key, published or not
        (``SigningKey.generate()`` gives an unpublished one). ``algorithm`` defaults to
        the key's (or, for an HS256 issuer without ``key``, HS256 with the app secret).
        """
        body = self.claims_for(sub=sub, scope=scope, audience=audience, expires_in=expires_in)
        body.update(claims or {})
        for name in omit:
            body.pop(name, None)
        head: dict[str, Any] = {"typ": "at+jwt" if self.rfc9068 else "JWT"}
        alg = algorithm or (key.alg if key is not None else self.algorithm)
        if alg.startswith("HS") and key is None:
            head.update(header or {})
            return jwt.encode(body, self.app_secret, algorithm=alg, headers=head)
        signer = key or self.signing_key
        head["kid"] = signer.kid
        head.update(header or {})
        return jwt.encode(body, signer.private_key, algorithm=alg, headers=head)

    def mint_opaque(
        self,
        *,
        scope: str | Iterable[str] | None = None,
        sub: str = "local-client",
        audience: str | list[str] | None = None,
        expires_in: int | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """An opaque access token (random, no structure) that introspection describes."""
        body = self.claims_for(sub=sub, scope=scope, audience=audience, expires_in=expires_in)
        body.setdefault("client_id", sub)
        body.update(claims or {})
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._opaque[token] = body
        return token

    def revoke(self, token: str) -> None:
        """Revoke an opaque token or a JWT (by its ``jti``) without HTTP (RFC 7009)."""
        with self._lock:
            self._revoked.add(self._revocation_handle(token))

    def introspect(self, token: str) -> dict[str, Any]:
        """The RFC 7662 section 2.2 answer for ``token``: claims and ``active``."""
        now = time.time()
        with self._lock:
            if self._revocation_handle(token) in self._revoked:
                return {"active": False}
            claims = self._opaque.get(token)
        if claims is None:
            claims = self._decode_own(token)
        if claims is None or not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            return {"active": False}
        return {"active": True, "token_type": "Bearer", **claims}

    def _revocation_handle(self, token: str) -> str:
        if token in self._opaque:
            return token
        claims = self._decode_own(token)
        jti = claims.get("jti") if claims is not None else None
        return f"jti:{jti}" if isinstance(jti, str) else token

    def _decode_own(self, token: str) -> dict[str, Any] | None:
        """The claims of a JWT this issuer signed (expiry checked by the caller)."""
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            if isinstance(alg, str) and alg.startswith("HS"):
                key: Any = self.app_secret
            else:
                found = [k for k in self.keys if k.kid == header.get("kid")]
                if not found:
                    return None
                key, alg = found[0].public_key, found[0].alg
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                options={"verify_aud": False, "verify_exp": False},
            )
            return claims
        except jwt.PyJWTError:
            return None

    # -- resilience faults and counters ---------------------------------------------

    def fail(self, endpoint: Endpoint, mode: FaultMode = "error", times: int | None = None) -> None:
        """Make ``endpoint`` fail: ``error`` (HTTP 503), ``hang`` or ``garbage`` (not JSON).

        Misbehaviours a client must survive: ``gzip`` (the normal answer gzip-encoded
        even when the request asked for ``identity``), ``gzip_bomb`` (64 KiB of gzip
        expanding to 64 MiB) and, for the token endpoint, ``echo`` (a 400 whose
        ``error_description`` echoes the request: Authorization header, raw body and
        decoded parameters, as some proxies and endpoints do). ``times`` limits the
        fault to the next N requests; None keeps it until healed.
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
        """Requests received per endpoint: ``discovery``, ``jwks``, ``token``, and
        ``introspection`` / ``revocation`` once they have been called."""
        with self._lock:
            return {
                name: count
                for name, count in self._state.counts.items()
                if count or name in ("discovery", "jwks", "token")
            }

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

    async def _faulty(self, endpoint: Endpoint, request: Request | None = None) -> Response | None:
        mode = self._enter(endpoint)
        if mode is None:
            return None
        if mode == "gzip" and request is not None:  # discovery, jwks and token
            return _gzip(await self._answer(endpoint, request))
        if mode == "gzip_bomb":
            bomb = type(self)._bomb
            if bomb is None:
                bomb = type(self)._bomb = _gzip_bomb()
            return Response(
                bomb, media_type="application/json", headers={"content-encoding": "gzip"}
            )
        if mode == "echo" and request is not None:
            raw = (await request.body()).decode("utf-8", "replace")
            params = dict(parse_qsl(raw, keep_blank_values=True))
            echoed = " ".join(
                [
                    request.headers.get("authorization", ""),
                    raw,
                    *(f"{k}={v}" for k, v in params.items()),
                ]
            )
            return _oauth_error("invalid_request", f"echo: {echoed}")
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
            "introspection_endpoint": self.introspection_endpoint,
            "revocation_endpoint": self.revocation_endpoint,
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "grant_types_supported": ["client_credentials", "password"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
            "dpop_signing_alg_values_supported": list(self._dpop.algorithms),
            "scopes_supported": sorted(
                f"{r}:{a}" for r, actions in self.resources.items() for a in actions
            ),
        }

    async def _discovery(self, request: Request) -> Response:
        return await self._faulty("discovery", request) or await self._answer("discovery", request)

    async def _jwks(self, request: Request) -> Response:
        return await self._faulty("jwks", request) or await self._answer("jwks", request)

    async def _token(self, request: Request) -> Response:
        return await self._faulty("token", request) or await self._answer("token", request)

    async def _answer(self, endpoint: Endpoint, request: Request) -> Response:
        """The endpoint's normal answer."""
        if endpoint == "discovery":
            return JSONResponse(self.discovery_document())
        if endpoint == "jwks":
            return JSONResponse(self.jwks(), headers={"cache-control": "public, max-age=300"})
        return await self._token_answer(request)

    async def _token_answer(self, request: Request) -> Response:
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
        audience = self._audience(client, params)
        if audience is None:
            return _oauth_error("invalid_target", "unknown audience or resource")
        proofs = request.headers.getlist("dpop")
        bound: dict[str, Any] = {}
        if proofs:
            jkt, refused = self._check_dpop(proofs)
            if refused is not None:
                return refused
            bound = {"cnf": {"jkt": jkt}}  # RFC 9449 section 6.1
        elif client.dpop:
            return _oauth_error("invalid_request", "this client must send a DPoP proof")
        if client.opaque:
            token = self.mint_opaque(
                scope=granted, sub=client.client_id, audience=audience, claims=bound
            )
        else:
            token = self.mint(
                scope=granted,
                sub=client.client_id,
                audience=audience,
                claims={**self._client_id(client), **bound},
            )
        return self._token_response(token, granted, "DPoP" if bound else "Bearer")

    @property
    def dpop_nonce(self) -> bool:
        """Whether token requests must carry a server nonce (RFC 9449 section 8)."""
        return self._dpop.nonces is not None

    @dpop_nonce.setter
    def dpop_nonce(self, required: bool) -> None:
        self._dpop.nonces = self._nonces if required else None

    def _check_dpop(self, proofs: list[str]) -> tuple[str, Response | None]:
        """The proof of a token request (RFC 9449 sections 4.3, 5): its key thumbprint,
        or the 400 answer (``invalid_dpop_proof``, or ``use_dpop_nonce`` with a nonce)."""
        try:
            result = self._dpop.check(proofs, "POST", self.token_endpoint)
            self._dpop.accept(result)
        except UseDPoPNonce as error:
            response = _oauth_error(error.code or "use_dpop_nonce", error.description)
            response.headers["dpop-nonce"] = error.nonce
            return "", response
        except GuardError as error:
            return "", _oauth_error(error.code or "invalid_dpop_proof", error.description)
        return result.thumbprint, None

    async def _client_request(
        self, endpoint: Endpoint, request: Request
    ) -> tuple[LocalClient | None, str, Response | None]:
        """Fault, form and client authentication shared by introspection and revocation."""
        faulty = await self._faulty(endpoint)
        if faulty is not None:
            return None, "", faulty
        params, problem = _parse_form(request.headers.get("content-type", ""), await request.body())
        if problem is not None:
            return None, "", _oauth_error("invalid_request", problem)
        client, failure = self._authenticate(request.headers.get("authorization"), params)
        if failure is not None:
            return None, "", failure
        token = params.get("token")
        if not token:
            return None, "", _oauth_error("invalid_request", "token is required")
        return client, token, None

    async def _introspect(self, request: Request) -> Response:
        """RFC 7662 section 2: any authenticated client may ask (the API's credentials)."""
        _, token, failure = await self._client_request("introspection", request)
        if failure is not None:
            return failure
        return JSONResponse(self.introspect(token), headers={"cache-control": "no-store"})

    async def _revoke(self, request: Request) -> Response:
        """RFC 7009 section 2: only the client the token was issued to may revoke it."""
        client, token, failure = await self._client_request("revocation", request)
        if failure is not None:
            return failure
        assert client is not None
        answer = self.introspect(token)
        if answer.get("active") and answer.get("client_id", answer.get("sub")) != client.client_id:
            return _oauth_error("unauthorized_client", "the token was issued to another client")
        if answer.get("active"):
            self.revoke(token)
        # RFC 7009 2.2: 200 also for invalid or unknown tokens.
        return Response(status_code=200, headers={"cache-control": "no-store"})

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

    def _token_response(
        self, token: str, granted: Iterable[str], token_type: str = "Bearer"
    ) -> JSONResponse:
        """A successful token response, RFC 6749 section 5.1 (never cached)."""
        body = {
            "access_token": token,
            "token_type": token_type,
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
