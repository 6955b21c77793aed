"""What the Flask and Django adapters share: no framework import, only WSGI's shapes.

A request is seen through its WSGI environ (Django's ``request.META`` has the same
keys, under WSGI and ASGI alike). :class:`RequestGuard` holds the per-app decisions
of the ASGI middleware (protect or identify, public paths, where a token may come
from) over one :class:`Verifier`, verifying with ``verify_sync`` for WSGI code and
``verify`` for async views; :func:`guard_from_settings` builds it from a Flask
``app.config`` or Django ``settings`` with the ``GENAUTH_*`` names of the environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._asgi import (
    Mode,
    _PublicPaths,
    authenticate_dpop,
    challenge_of,
    dpop_call,
    dpop_of,
    log_denial,
    refuse_bearer,
)
from ._bearer import DEFAULT_REALM, BearerSources, find_token, header_token
from ._config import _ENV_OPTIONS, GuardConfig
from ._errors import GuardError, MissingCredentials, render
from ._introspection import IntrospectingVerifier, make_verifier
from ._token import AccessToken
from ._verifier import Verifier

__all__ = ["RequestGuard", "guard_from_settings"]

logger = logging.getLogger("genauth_guard")

Environ = Mapping[str, Any]
#: The names of the GuardConfig options, as environment variables and settings keys.
CONFIG_NAMES = ("GENAUTH_ISSUER", "GENAUTH_AUDIENCE", *(name for _, name, _ in _ENV_OPTIONS))


class RequestGuard:
    """One app's guard: a verifier, a mode, public paths, a realm, token sources.

    ``mode="protect"``: every path but ``public_paths`` needs a valid token;
    ``"identify"``: a token, when sent, is verified and attached, and routes enforce.
    In both modes a token that is sent but invalid is refused, never ignored. Bearer
    and DPoP (RFC 9449) requests are read with the ASGI adapter's own functions, over
    a scope built from the environ: one reading of the rules for every adapter.
    """

    def __init__(
        self,
        verifier: Verifier | IntrospectingVerifier,
        *,
        mode: Mode = "protect",
        public_paths: Iterable[str] = (),
        realm: str = DEFAULT_REALM,
        allow_query_token: bool = False,
    ) -> None:
        if mode not in ("protect", "identify"):
            raise ValueError(f"mode must be 'protect' or 'identify', not {mode!r}")
        self.verifier = verifier
        self.protect = mode == "protect"
        self.public_paths = _PublicPaths(public_paths)
        self.realm = realm
        self.sources = BearerSources(query=allow_query_token)
        self.dpop = dpop_of(verifier)
        #: ``(dpop_algs, bearer)``: the schemes every refusal offers (see ``render``).
        self.challenge = challenge_of(self.dpop)
        # Header-only reading (the default) memoises parsed header values, as the ASGI
        # middleware does: a client reuses its token, so a hit costs one hash.
        self._header_only = not allow_query_token
        self._parsed: dict[bytes, str] = {}

    def is_public(self, path: str) -> bool:
        public = self.public_paths
        return path in public.exact or bool(public.prefixes and path.startswith(public.prefixes))

    def bearer_token(self, environ: Environ) -> str | None:
        """The request's bearer token (RFC 6750 section 2), None when none is sent.

        WSGI servers join repeated headers with commas into one value, which the
        token syntax check then refuses (400), as several headers are over ASGI.
        """
        authorization = environ.get("HTTP_AUTHORIZATION")
        headers = [] if authorization is None else [(b"authorization", _bytes(authorization))]
        if self._header_only:
            return header_token(headers, self.sources.max_header_bytes, self._parsed)
        scope = {"headers": headers, "query_string": _bytes(environ.get("QUERY_STRING", ""))}
        return find_token(scope, self.sources)

    def _bearer(self, environ: Environ) -> str | None:
        """The bearer token to verify; refused where DPoP is required (RFC 9449 7.2)."""
        raw = self.bearer_token(environ)
        if raw is not None and self.dpop is not None and not self.dpop.bearer_allowed:
            raise refuse_bearer()
        return raw

    def verify_request(
        self, environ: Environ, path: str, scheme: str | None = None
    ) -> AccessToken | None:
        """The request's token (bearer or DPoP) verified, None when it sends none or
        the path is public; raises :class:`GuardError`.

        ``scheme`` is the request's URL scheme when the environ does not say it (a
        DPoP proof names the URL the caller used).
        """
        if self.is_public(path):
            return None
        raw = self._bearer(environ)
        if raw is not None:
            return self.verifier.verify_sync(raw)
        call = dpop_call(self.verifier, self.dpop, asgi_scope(environ, scheme), _SYNC_DPOP)
        if call is None:
            return None
        verify, args = call
        token: AccessToken = verify(*args)
        return token

    async def verify_request_async(
        self, environ: Environ, path: str, scheme: str | None = None
    ) -> AccessToken | None:
        """:meth:`verify_request` for async views (ASGI): fetches never block the loop."""
        if self.is_public(path):
            return None
        raw = self._bearer(environ)
        if raw is not None:
            return await self.verifier.verify(raw)
        if self.dpop is None:
            return None
        return await authenticate_dpop(self.verifier, self.dpop, asgi_scope(environ, scheme))

    def authenticate(
        self, environ: Environ, path: str, scheme: str | None = None
    ) -> AccessToken | None:
        """:meth:`verify_request`, and a 401 in protect mode when no token is sent."""
        return self._required(self.verify_request(environ, path, scheme), path)

    async def authenticate_async(
        self, environ: Environ, path: str, scheme: str | None = None
    ) -> AccessToken | None:
        """:meth:`authenticate` for async views (ASGI)."""
        return self._required(await self.verify_request_async(environ, path, scheme), path)

    def _required(self, token: AccessToken | None, path: str) -> AccessToken | None:
        if token is None and self.protect and not self.is_public(path):
            raise MissingCredentials()
        return token

    def challenges(self, error: GuardError) -> list[str]:
        """The ``WWW-Authenticate`` values a refusal with ``error`` carries."""
        _, headers, _ = self.render(error)
        return [value for name, value in headers if name == "www-authenticate"]

    def render(self, error: GuardError) -> tuple[int, list[tuple[str, str]], bytes]:
        dpop_algs, bearer = self.challenge
        return render(error, self.realm, dpop_algs=dpop_algs, bearer=bearer)

    def refusal(
        self, error: GuardError, environ: Environ, path: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Log ``error`` and return its HTTP form (``_errors.render``)."""
        client = environ.get("REMOTE_ADDR")
        log_denial(error, {"type": "http", "path": path, "client": (client, 0) if client else None})
        return self.render(error)


_SYNC_DPOP = "verify_dpop_sync"


def _bytes(value: str) -> bytes:
    # PEP 3333: environ strings are latin-1 decoded bytes ("native strings").
    return value.encode("latin-1", "replace")


def asgi_scope(environ: Environ, scheme: str | None = None) -> dict[str, Any]:
    """The parts of an ASGI scope the request readers use, from a WSGI environ."""
    headers = [
        (name[5:].lower().replace("_", "-").encode("latin-1"), _bytes(value))
        for name, value in environ.items()
        if name.startswith("HTTP_") and isinstance(value, str)
    ]
    port = environ.get("SERVER_PORT", "")
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    client = environ.get("REMOTE_ADDR")
    return {
        "type": "http",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": environ.get("wsgi.url_scheme") or scheme or "http",
        "server": (environ.get("SERVER_NAME", "localhost"), int(port) if port.isdigit() else 80),
        "client": (client, 0) if client else None,
        "root_path": environ.get("SCRIPT_NAME", ""),
        "path": environ.get("PATH_INFO", "/"),
        "raw_path": _bytes(raw_path) if isinstance(raw_path, str) else None,
        "query_string": _bytes(environ.get("QUERY_STRING", "")),
        "headers": headers,
    }


def guard_from_settings(
    get: Callable[[str], Any], *, environ: Mapping[str, str] | None = None
) -> RequestGuard:
    """A guard from ``GENAUTH_*`` settings (Flask ``app.config``, Django ``settings``).

    ``GENAUTH_CONFIG`` may hold a ready :class:`GuardConfig`; otherwise the options are
    read under their environment variable names (docs/configuration.md), the settings
    winning over the process environment. The adapter's own options:
    ``GENAUTH_MODE`` (``protect``), ``GENAUTH_PUBLIC_PATHS``, ``GENAUTH_REALM`` and
    ``GENAUTH_ALLOW_QUERY_TOKEN``.
    """
    config = get("GENAUTH_CONFIG")
    if config is None:
        env = os.environ if environ is None else environ
        merged = {name: env[name] for name in CONFIG_NAMES if name in env}
        for name in CONFIG_NAMES:
            value = get(name)
            if value is not None:
                merged[name] = _setting_text(value)
        try:
            config = GuardConfig.from_env(merged)
        except ValueError as exc:  # name where the values came from
            raise ValueError(f"genauth-guard settings (or environment): {exc}") from None
    elif not isinstance(config, GuardConfig):
        raise TypeError("GENAUTH_CONFIG must be a GuardConfig")
    public = get("GENAUTH_PUBLIC_PATHS") or ()
    return RequestGuard(
        make_verifier(config),  # local verification, or introspection (token_check)
        mode=get("GENAUTH_MODE") or "protect",
        public_paths=(public,) if isinstance(public, str) else public,
        realm=get("GENAUTH_REALM") or DEFAULT_REALM,
        allow_query_token=bool(get("GENAUTH_ALLOW_QUERY_TOKEN")),
    )


def _setting_text(value: Any) -> str:
    """A setting as its environment-variable text: lists comma-joined, bools as words."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)
