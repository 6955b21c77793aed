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

from ._asgi import Mode, _PublicPaths, log_denial
from ._bearer import DEFAULT_REALM, BearerSources, find_token, header_token
from ._config import _ENV_OPTIONS, GuardConfig
from ._errors import GuardError, MissingCredentials, render
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
    In both modes a token that is sent but invalid is refused, never ignored.
    """

    def __init__(
        self,
        verifier: Verifier,
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

    def to_verify(self, environ: Environ, path: str) -> str | None:
        """The token to verify for this request, or None for an anonymous one.

        Raises :class:`MissingCredentials` in protect mode when none is sent.
        """
        if self.is_public(path):
            return None
        raw = self.bearer_token(environ)
        if raw is None and self.protect:
            raise MissingCredentials()
        return raw

    def authenticate(self, environ: Environ, path: str) -> AccessToken | None:
        """The verified token, None for an anonymous request; raises :class:`GuardError`."""
        raw = self.to_verify(environ, path)
        return None if raw is None else self.verifier.verify_sync(raw)

    async def authenticate_async(self, environ: Environ, path: str) -> AccessToken | None:
        """:meth:`authenticate` for async views (ASGI): key fetches never block the loop."""
        raw = self.to_verify(environ, path)
        return None if raw is None else await self.verifier.verify(raw)

    def refusal(
        self, error: GuardError, environ: Environ, path: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Log ``error`` and return its HTTP form (``_errors.render``)."""
        client = environ.get("REMOTE_ADDR")
        log_denial(error, {"type": "http", "path": path, "client": (client, 0) if client else None})
        return render(error, self.realm)


def _bytes(value: str) -> bytes:
    # PEP 3333: environ strings are latin-1 decoded bytes ("native strings").
    return value.encode("latin-1", "replace")


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
        Verifier(config),
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
