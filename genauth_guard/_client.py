"""Client credentials for machine-to-machine callers (RFC 6749 section 4.4).

:class:`ClientCredentialsAuth` is an ``httpx2.Auth`` for both ``httpx2.Client`` and
``httpx2.AsyncClient``. The logic lives in two generators that never do I/O:

* ``_fetch_flow`` discovers the token endpoint, builds the token request, decides on
  retries and backoff, and parses the response; it yields requests to send and pauses
  to sleep, and receives replies.
* ``_flow`` wraps one API request: it asks for a token, sends the request, and after a
  ``401 invalid_token`` asks once for a different token and sends it again.

The sync and async drivers only add the I/O (an internal ``httpx2.Client`` or
``httpx2.AsyncClient``, ``time.sleep`` or ``asyncio.sleep``) and the locking, as
httpx's own ``sync_auth_flow`` / ``async_auth_flow`` do. This module knows nothing
of the server side.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
import re
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, quote_plus

import httpx2

from ._bounded import BodyTooLarge, BoundedBody, UnreadableBody
from ._discovery import DiscoveryError, check_url, discovery_url, parse_provider_metadata
from ._dpop_key import DPoPKey
from ._logsafe import strip_controls

__all__ = [
    "AuthMethod",
    "ClientCredentialsAuth",
    "ClientCredentialsError",
    "TokenEndpointUnavailable",
    "TokenRequestError",
    "TokenResponseError",
]

logger = logging.getLogger("genauth_guard.client")

AuthMethod = Literal["client_secret_post", "client_secret_basic"]
_AUTH_METHODS: tuple[str, ...] = ("client_secret_post", "client_secret_basic")

# A token response is a few kilobytes; anything far larger is not one.
_MAX_RESPONSE_BYTES = 256 * 1024
# RFC 6750 section 2.1 b64token: what may follow "Bearer " in a header.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# The schemes whose invalid_token answer asks for a new token: Bearer (RFC 6750) and
# DPoP (RFC 9449 section 7.1).
_BEARER_SCHEME = re.compile(r"(?:^|,)\s*(?:bearer|dpop)(?=\s|,|$)", re.IGNORECASE)
_USE_DPOP_NONCE = re.compile(r"""error\s*=\s*(?:"use_dpop_nonce"|use_dpop_nonce\b)""")
_INVALID_TOKEN = re.compile(r"""(?:^|[\s,])error\s*=\s*(?:"invalid_token"|invalid_token\b)""")
_USER_AGENT = "genauth-guard"


# -- errors -----------------------------------------------------------------------------


class ClientCredentialsError(Exception):
    """Base of the client-side errors: the caller could not obtain an access token.

    Separate from ``GuardError`` (the server side). Messages never contain the client
    secret or a token.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    @property
    def status(self) -> int | None:
        """Alias of ``status_code``, the name every genauth-guard error uses."""
        return self.status_code


class TokenRequestError(ClientCredentialsError):
    """The token endpoint answered with an OAuth error (RFC 6749 section 5.2).

    ``error`` is the code (``invalid_client``, ``invalid_scope``, ``invalid_target``...),
    ``error_description`` and ``error_uri`` are what the server sent, if anything.
    """

    def __init__(
        self,
        error: str,
        error_description: str | None,
        *,
        status_code: int,
        error_uri: str | None = None,
    ) -> None:
        detail = f": {error_description}" if error_description else ""
        super().__init__(f"{error}{detail} (HTTP {status_code})", status_code=status_code)
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri


class TokenResponseError(ClientCredentialsError):
    """The token endpoint (or discovery document) answered something unusable.

    Not JSON, no ``access_token``, ``token_type`` not ``Bearer``, ``expires_in`` not
    a number (RFC 6749 section 5.1), or a 4xx without an OAuth error body.
    """


class TokenEndpointUnavailable(ClientCredentialsError):
    """Network errors, timeouts or 5xx answers outlasted the retries."""

    def __init__(self, message: str, *, status_code: int | None = None, attempts: int) -> None:
        super().__init__(message, status_code=status_code)
        self.attempts = attempts


# -- small values -------------------------------------------------------------------------


class _Secret:
    """Holds the client secret so that no repr, ``vars()`` dump or log shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'**********'"


@dataclass(frozen=True, slots=True)
class _Token:
    access_token: str = field(repr=False)
    refresh_at: float  # clock() value after which the token is fetched again
    expires_in: float
    scope: str | None


@dataclass(frozen=True, slots=True)
class _Reply:
    """What a driver got back from the token or discovery endpoint."""

    status_code: int
    headers: httpx2.Headers
    content: bytes
    oversized: bool = False
    unreadable: str | None = None  # why the body could not be read (coding, corrupt)


class _Collect:
    """A response body read raw and decoded under the size bound (see ``_bounded``)."""

    __slots__ = ("body", "oversized", "problem")

    def __init__(self, response: httpx2.Response, *, decoded: bool = False) -> None:
        self.oversized = False
        self.problem: str | None = None
        self.body: BoundedBody | None = None
        try:
            encoding = None if decoded else response.headers.get("content-encoding")
            self.body = BoundedBody(_MAX_RESPONSE_BYTES, encoding)
        except UnreadableBody as exc:
            self.problem = str(exc)

    @classmethod
    def loaded(cls, response: httpx2.Response) -> _Collect:
        """A response whose body a transport already read (and decoded) in memory."""
        body = cls(response, decoded=True)
        body.feed(response.content)
        return body

    def feed(self, chunk: bytes) -> bool:
        """Take one raw chunk; False once reading further is pointless."""
        if self.body is None:
            return False
        try:
            self.body.feed(chunk)
            return True
        except BodyTooLarge:
            self.oversized = True
        except UnreadableBody as exc:
            self.problem = str(exc)
        self.body = None
        return False

    def reply(self, response: httpx2.Response) -> _Reply:
        content = b""
        if self.body is not None:
            try:
                content = self.body.finish()
            except UnreadableBody as exc:
                self.problem = str(exc)
        return _Reply(response.status_code, response.headers, content, self.oversized, self.problem)


@dataclass(frozen=True, slots=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class _NeedToken:
    """The API flow asks its driver for a token; ``stale`` is one the API refused."""

    stale: str | None


# What the fetch flow yields, and what its driver sends back.
_Step = httpx2.Request | _Sleep
_Outcome = _Reply | httpx2.RequestError | None

# Transport faults worth another attempt; others (bad URL scheme, proxy setup) are not.
_RETRYABLE = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)


def backoff_delay(
    attempt: int, base: float, cap: float, rand: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds before retry number ``attempt`` (0-based): exponential, half jittered.

    ``base * 2**attempt`` capped at ``cap``; the second half is random so that many
    clients failing together do not retry in lockstep.
    """
    if base <= 0 or cap <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + rand(0.0, ceiling / 2)


def is_invalid_token_challenge(response: httpx2.Response) -> bool:
    """True for a 401 whose Bearer challenge says ``error="invalid_token"`` (RFC 6750 3.1)."""
    if response.status_code != 401:
        return False
    for value in response.headers.get_list("www-authenticate"):
        # One header may hold several challenges (RFC 9110 11.6.1): look after "Bearer".
        scheme = _BEARER_SCHEME.search(value)
        if scheme is not None and _INVALID_TOKEN.search(value, scheme.end()):
            return True
    return False


@dataclass
class _LoopState:
    """Per event loop: asyncio locks and connections cannot cross loops."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: httpx2.AsyncClient | None = None


# -- the auth -----------------------------------------------------------------------------


def _auth_base() -> type[httpx2.Auth]:
    """``httpx2.Auth``, plus ``httpx.Auth`` when httpx is installed.

    Each library's client refuses an ``auth`` that is not an instance of its own
    ``Auth``; both call only ``sync_auth_flow`` / ``async_auth_flow`` and read
    ``requires_request_body`` / ``requires_response_body`` (set here or on the base),
    and their requests and responses offer the same attributes the flow uses.
    """
    try:
        import httpx
    except ImportError:
        return httpx2.Auth
    return type("_Auth", (httpx2.Auth, httpx.Auth), {"__module__": __name__})


if TYPE_CHECKING:
    _AuthBase = httpx2.Auth
else:
    _AuthBase = _auth_base()


class ClientCredentialsAuth(_AuthBase):
    """Bearer tokens from the client_credentials grant (RFC 6749 section 4.4).

    Works with ``httpx2.Client`` / ``httpx2.AsyncClient`` and, when httpx is
    installed, with ``httpx.Client`` / ``httpx.AsyncClient`` too.

    ::

        auth = ClientCredentialsAuth(
            issuer="https://{app-domain}/oidc",
            client_id="...", client_secret="...", scope="order:read",
        )
        async with httpx2.AsyncClient(auth=auth) as api:
            await api.get("https://orders.example.com/orders")

    Give ``issuer`` (the token endpoint is discovered once from
    ``{issuer}/.well-known/openid-configuration``) or ``token_url``. The token is
    cached and fetched again ``min(refresh_margin, lifetime / 2)`` seconds before
    ``expires_in`` runs out; without ``expires_in`` it lives ``default_expires_in``
    seconds. Concurrent callers share one token request. Token requests go through an
    internal client (``http_client`` / ``async_http_client`` replace it), never through
    the client this auth is attached to.
    """

    # The request may be sent twice (401 invalid_token retry): buffer its body.
    requires_request_body = True

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        issuer: str | None = None,
        token_url: str | None = None,
        scope: str | Sequence[str] | None = None,
        audience: str | None = None,
        resource: str | Sequence[str] | None = None,
        auth_method: AuthMethod = "client_secret_post",
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        refresh_margin: float = 30.0,
        default_expires_in: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        allow_http: bool = False,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        dpop: bool | DPoPKey = False,
    ) -> None:
        if (issuer is None) == (token_url is None):
            raise ValueError("give exactly one of issuer= (discovery) or token_url=")
        if not client_id:
            raise ValueError("client_id is required")
        if not client_secret:
            raise ValueError("client_secret is required")
        if auth_method not in _AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {', '.join(_AUTH_METHODS)}")
        if max_retries < 0 or timeout <= 0 or refresh_margin < 0 or default_expires_in <= 0:
            raise ValueError(
                "max_retries and refresh_margin must be >= 0, timeout and default_expires_in > 0"
            )
        if issuer is not None:
            check_url(issuer, allow_http=allow_http, what="issuer")
        if token_url is not None:
            check_url(token_url, allow_http=allow_http, what="token_url")
        self.client_id = client_id
        self._secret = _Secret(client_secret)
        self.issuer = issuer
        self.token_url = token_url
        self._endpoint = token_url  # discovered on the first fetch when None
        self.scope = _join_scope(scope)
        self.audience = audience
        self.resource = [resource] if isinstance(resource, str) else list(resource or ())
        self.auth_method: AuthMethod = auth_method
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.refresh_margin = refresh_margin
        self.default_expires_in = default_expires_in
        self.allow_http = allow_http
        self._clock = clock
        self._user_client = http_client
        self._user_async_client = async_http_client
        self._client: httpx2.Client | None = None
        self._token: _Token | None = None
        # Single flight: one fetch at a time; callers who waited on a failed fetch
        # share its error instead of each retrying against a failing issuer.
        self._lock = threading.Lock()
        self._generation = 0
        self._last_error: tuple[int, ClientCredentialsError] | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._loops_lock = threading.Lock()
        #: The key proving possession (RFC 9449) when ``dpop`` is on: ``True`` makes an
        #: ES256 key for this auth's lifetime; a :class:`DPoPKey` is used as given.
        self.dpop_key: DPoPKey | None = (
            dpop if isinstance(dpop, DPoPKey) else DPoPKey.generate() if dpop else None
        )
        # The last DPoP-Nonce of each origin (RFC 9449 sections 8, 9): issuer and API.
        self._nonces: dict[str, str] = {}
        self._redaction: re.Pattern[str] | None = None

    def __repr__(self) -> str:
        where = f"issuer={self.issuer!r}" if self.issuer else f"token_url={self.token_url!r}"
        return (
            f"ClientCredentialsAuth(client_id={self.client_id!r}, {where}, "
            f"scope={self.scope!r}, auth_method={self.auth_method!r})"
        )

    # -- public: tokens without an httpx request --------------------------------------

    def get_token(self) -> str:
        """A valid access token (cached, or fetched now), for gRPC or other clients."""
        return self._sync_token(stale=None)

    async def aget_token(self) -> str:
        """A valid access token (cached, or fetched now), from async code."""
        return await self._async_token(stale=None)

    @property
    def granted_scope(self) -> str | None:
        """The ``scope`` of the cached token's response (RFC 6749 5.1), when it said one.

        Issuers may grant less than was asked for; RFC 6749 5.1 then requires them to
        say what they granted.
        """
        token = self._token
        return token.scope if token is not None else None

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is ``token``, when given).

        For callers outside httpx whose API refused ``token``: the next
        :meth:`get_token` fetches a new one, unless another caller already did.
        """
        cached = self._token
        if cached is not None and (token is None or cached.access_token == token):
            self._token = None

    # -- the httpx2.Auth protocol -------------------------------------------------------

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        """Not used: fetching a token needs I/O outside the API client's flow."""
        raise RuntimeError(
            "ClientCredentialsAuth works through httpx2.Client / httpx2.AsyncClient "
            "(sync_auth_flow / async_auth_flow)"
        )

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        request.read()
        flow = self._flow(request)
        step = next(flow)
        while True:
            answer: str | httpx2.Response
            if isinstance(step, _NeedToken):
                answer = self._sync_token(step.stale)
            else:
                answer = yield step
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        await request.aread()
        flow = self._flow(request)
        step = next(flow)
        while True:
            answer: str | httpx2.Response
            if isinstance(step, _NeedToken):
                answer = await self._async_token(step.stale)
            else:
                answer = yield step
            try:
                step = flow.send(answer)
            except StopIteration:
                return

    def _flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request | _NeedToken, str | httpx2.Response, None]:
        """One API request; after a 401 ``invalid_token`` one new token, one retry.

        A second refusal goes back to the caller as is: a loop would hammer both the
        API and the issuer when the token is refused for a reason a new one won't fix.
        With DPoP, a ``use_dpop_nonce`` answer is retried once with the API's nonce.
        """
        token = yield _NeedToken(stale=None)
        assert isinstance(token, str)
        response = yield self._authorize(request, token)
        # An httpx2.Response, or an httpx.Response when the auth serves an httpx client.
        assert not isinstance(response, str)
        if self._took_nonce(request.url, response) and _asks_nonce(response):
            response = yield self._authorize(request, token)
            assert not isinstance(response, str)
        if not is_invalid_token_challenge(response):
            return
        logger.info("the API refused the token (invalid_token); fetching a new one")
        token = yield _NeedToken(stale=token)
        assert isinstance(token, str)
        yield self._authorize(request, token)

    def _authorize(self, request: httpx2.Request, token: str) -> httpx2.Request:
        """``Authorization: Bearer``, or ``DPoP`` with a fresh proof (RFC 9449 section 7.1)."""
        key = self.dpop_key
        if key is None:
            request.headers["Authorization"] = f"Bearer {token}"
            return request
        request.headers["Authorization"] = f"DPoP {token}"
        url = request.url
        request.headers["DPoP"] = key.proof(
            request.method, str(url), access_token=token, nonce=self._nonces.get(_origin(url))
        )
        return request

    def _took_nonce(self, url: httpx2.URL, reply: httpx2.Response | _Reply) -> bool:
        """Remember a ``DPoP-Nonce`` the origin sent (RFC 9449 8.2); True if it was new."""
        nonce = reply.headers.get("dpop-nonce")
        if self.dpop_key is None or not nonce or len(nonce) > 1024:
            return False
        origin = _origin(url)
        if self._nonces.get(origin) == nonce:
            return False
        self._nonces[origin] = nonce
        return True

    # -- cache and single flight -------------------------------------------------------

    def _cached(self, stale: str | None) -> str | None:
        token = self._token
        if token is None or token.access_token == stale or self._clock() >= token.refresh_at:
            return None
        return token.access_token

    def _shared_failure(self, generation: int) -> ClientCredentialsError | None:
        """The error of a fetch that ran while this caller waited for the lock."""
        last = self._last_error
        if last is not None and last[0] > generation:
            return last[1]
        return None

    def _record(self, outcome: _Token | ClientCredentialsError) -> None:
        self._generation += 1
        if isinstance(outcome, _Token):
            self._token = outcome
            self._last_error = None
        else:
            self._last_error = (self._generation, outcome)

    def _sync_token(self, stale: str | None) -> str:
        cached = self._cached(stale)
        if cached is not None:
            return cached
        generation = self._generation
        with self._lock:
            cached = self._cached(stale)
            if cached is not None:
                return cached
            shared = self._shared_failure(generation)
            if shared is not None:
                raise shared.with_traceback(None)
            try:
                token = self._drive_sync(self._fetch_flow())
            except ClientCredentialsError as error:
                self._record(error)
                raise
            self._record(token)
            return token.access_token

    async def _async_token(self, stale: str | None) -> str:
        cached = self._cached(stale)
        if cached is not None:
            return cached
        generation = self._generation
        state = self._loop_state()
        async with state.lock:
            cached = self._cached(stale)
            if cached is not None:
                return cached
            shared = self._shared_failure(generation)
            if shared is not None:
                raise shared.with_traceback(None)
            try:
                token = await self._drive_async(self._fetch_flow(), state)
            except ClientCredentialsError as error:
                self._record(error)
                raise
            self._record(token)
            return token.access_token

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._loops_lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState()
            return state

    # -- the fetch flow (no I/O) -------------------------------------------------------

    def _fetch_flow(self) -> Generator[_Step, _Outcome, _Token]:
        """Discovery (once), then the token request (RFC 6749 section 4.4.2)."""
        if self._endpoint is None:
            self._endpoint = yield from self._discover()
        reply, sent_at = yield from self._exchange(self._token_request, "token endpoint")
        endpoint = httpx2.URL(self._endpoint)
        if self._took_nonce(endpoint, reply) and reply.status_code == 400:
            # RFC 9449 section 8: the issuer wants its nonce in the proof; once more.
            reply, sent_at = yield from self._exchange(self._token_request, "token endpoint")
            self._took_nonce(endpoint, reply)
        return self._parse_token_response(reply, sent_at)

    def _discover(self) -> Generator[_Step, _Outcome, str]:
        """The token endpoint from the issuer's metadata (OIDC Discovery 1.0 section 4)."""
        assert self.issuer is not None
        issuer = self.issuer
        url = discovery_url(issuer)

        def request() -> httpx2.Request:
            return self._request("GET", url, headers={"Accept": "application/json"})

        reply, _ = yield from self._exchange(request, "discovery document")
        if reply.status_code != 200 or reply.oversized or reply.unreadable:
            raise TokenResponseError(
                f"discovery document at {url}: HTTP {reply.status_code}"
                + (", response too large" if reply.oversized else "")
                + (f", {reply.unreadable}" if reply.unreadable else ""),
                status_code=reply.status_code,
            )
        try:
            metadata = parse_provider_metadata(issuer, reply.content, allow_http=self.allow_http)
        except DiscoveryError as exc:
            raise TokenResponseError(f"discovery document at {url}: {exc}") from None
        if metadata.token_endpoint is None:
            raise TokenResponseError(f"discovery document at {url} has no token_endpoint")
        logger.debug("discovered token endpoint %r", metadata.token_endpoint)
        return metadata.token_endpoint

    def _exchange(
        self, build: Callable[[], httpx2.Request], what: str
    ) -> Generator[_Step, _Outcome, tuple[_Reply, float]]:
        """Send until a non-5xx reply; retry network faults and 5xx with backoff."""
        attempt = 0
        while True:
            sent_at = self._clock()
            try:
                request = build()
            except (httpx2.InvalidURL, ValueError):
                # A discovered endpoint that passed the scheme/host checks but that
                # httpx cannot use (a bad port, say): the documented error, not a crash.
                raise TokenResponseError(f"{what}: the URL is not usable") from None
            outcome = yield request
            if isinstance(outcome, _Reply) and outcome.status_code < 500:
                return outcome, sent_at
            status = outcome.status_code if isinstance(outcome, _Reply) else None
            problem = (
                f"HTTP {status}" if isinstance(outcome, _Reply) else _describe_transport(outcome)
            )
            retryable = isinstance(outcome, (_Reply, *_RETRYABLE))
            if not retryable or attempt >= self.max_retries:
                tries = attempt + 1
                raise TokenEndpointUnavailable(
                    f"{what} unavailable after {tries} attempt{'s' * (tries > 1)}: {problem}",
                    status_code=status,
                    attempts=tries,
                )
            delay = backoff_delay(attempt, self.backoff, self.backoff_max)
            attempt += 1
            logger.warning(
                "%s failed (%s); retry %d of %d in %.2f s",
                what,
                problem,
                attempt,
                self.max_retries,
                delay,
            )
            yield _Sleep(delay)

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        data: dict[str, str | list[str]] | None = None,
    ) -> httpx2.Request:
        headers.setdefault("User-Agent", _USER_AGENT)
        # Bodies are decoded here under the size bound; ask for none to decode.
        headers.setdefault("Accept-Encoding", "identity")
        # Set here, not by a client: the request may go through a caller's client.
        timeout = httpx2.Timeout(self.timeout).as_dict()
        return httpx2.Request(
            method, url, headers=headers, data=data, extensions={"timeout": timeout}
        )

    def _token_request(self) -> httpx2.Request:
        """The client_credentials request, RFC 6749 sections 4.4.2 and 2.3.1."""
        assert self._endpoint is not None
        form: dict[str, str | list[str]] = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        client_auth(self.client_id, self._secret.reveal(), self.auth_method, headers, form)
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        if self.resource:
            form["resource"] = self.resource  # RFC 8707 section 2: may repeat
        if self.dpop_key is not None:  # RFC 9449 section 5: a proof for the token endpoint
            nonce = self._nonces.get(_origin(httpx2.URL(self._endpoint)))
            headers["DPoP"] = self.dpop_key.proof("POST", self._endpoint, nonce=nonce)
        return self._request("POST", self._endpoint, headers=headers, data=form)

    def _parse_token_response(self, reply: _Reply, sent_at: float) -> _Token:
        """A successful response (RFC 6749 5.1) or an error response (RFC 6749 5.2)."""
        status = reply.status_code
        if reply.oversized:
            raise TokenResponseError("token response too large", status_code=status)
        if reply.unreadable:
            raise TokenResponseError(f"token response: {reply.unreadable}", status_code=status)
        try:
            body: Any = json.loads(reply.content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise TokenResponseError(
                f"token endpoint answered HTTP {status} without a JSON object", status_code=status
            )
        if status != 200:
            error = body.get("error")
            if not isinstance(error, str) or not error:
                raise TokenResponseError(
                    f"token endpoint answered HTTP {status} without an OAuth error code",
                    status_code=status,
                )
            description = body.get("error_description")
            uri = body.get("error_uri")
            raise TokenRequestError(
                self._scrub(error),
                self._scrub(description) if isinstance(description, str) else None,
                status_code=status,
                error_uri=self._scrub(uri) if isinstance(uri, str) else None,
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise TokenResponseError("token response has no access_token", status_code=status)
        if not _B64TOKEN.fullmatch(access_token):
            raise TokenResponseError(
                "access_token has characters not allowed in a bearer token (RFC 6750 2.1)",
                status_code=status,
            )
        token_type = body.get("token_type")
        expected = "DPoP" if self.dpop_key is not None else "Bearer"
        if not isinstance(token_type, str) or token_type.lower() != expected.lower():
            # Sending a non-bearer token as bearer would be refused or misused; a bearer
            # token where DPoP was asked for would not be sender-constrained (RFC 9449 5).
            raise TokenResponseError(
                f"token_type is {self._scrub(str(token_type))[:40]!r}, expected {expected!r}",
                status_code=status,
            )
        expires_in = body.get("expires_in")
        if expires_in is None:
            lifetime = self.default_expires_in
        elif (
            isinstance(expires_in, int | float)
            and not isinstance(expires_in, bool)
            and math.isfinite(expires_in)
            and expires_in >= 0
        ):
            lifetime = float(expires_in)
        else:
            raise TokenResponseError(
                "expires_in is not a non-negative number of seconds", status_code=status
            )
        scope = body.get("scope")
        margin = min(self.refresh_margin, lifetime / 2)
        logger.debug(
            "new access token for client_id=%s, scope=%s, expires_in=%s",
            self.client_id,
            scope,
            lifetime,
        )
        return _Token(
            access_token=access_token,
            refresh_at=sent_at + lifetime - margin,
            expires_in=lifetime,
            scope=scope if isinstance(scope, str) else None,
        )

    def _scrub(self, text: str) -> str:
        """Server-provided text: no echoed form of the secret, no control characters.

        The forms are every encoding this client sends (raw, form-encoded, percent-
        encoded, the ``Basic`` value). A short form is redacted only where it stands
        alone, so a secret such as ``client`` leaves ``invalid_client`` intact.
        """
        return strip_controls(self._secret_forms().sub("[redacted]", text))[:500]

    def _secret_forms(self) -> re.Pattern[str]:
        pattern = self._redaction
        if pattern is None:
            secret = self._secret.reveal()
            forms = {secret, quote_plus(secret), quote(secret, safe="")}
            for pair in (
                f"{quote_plus(self.client_id)}:{quote_plus(secret)}",  # what Basic sends
                f"{self.client_id}:{secret}",  # what other clients send
            ):
                forms.add(base64.b64encode(pair.encode()).decode())
            alternatives = [
                re.escape(form) if len(form) >= 16 else rf"(?<![\w-]){re.escape(form)}(?![\w-])"
                for form in sorted(forms, key=len, reverse=True)
            ]
            pattern = self._redaction = re.compile("|".join(alternatives))
        return pattern

    # -- the drivers: I/O only -----------------------------------------------------------

    def _drive_sync(self, flow: Generator[_Step, _Outcome, _Token]) -> _Token:
        outcome: _Outcome = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(step, _Sleep):
                if step.seconds > 0:
                    time.sleep(step.seconds)
                outcome = None
            else:
                outcome = self._send_sync(step)

    async def _drive_async(
        self, flow: Generator[_Step, _Outcome, _Token], state: _LoopState
    ) -> _Token:
        outcome: _Outcome = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            if isinstance(step, _Sleep):
                if step.seconds > 0:
                    await asyncio.sleep(step.seconds)
                outcome = None
            else:
                outcome = await self._send_async(step, state)

    def _send_sync(self, request: httpx2.Request) -> _Reply | httpx2.RequestError:
        client = self._user_client
        if client is None:
            if self._client is None:
                self._client = httpx2.Client()
            client = self._client
        try:
            # auth=None: the caller's client may carry this very auth.
            response = client.send(request, auth=None, follow_redirects=False, stream=True)
            try:
                body = _Collect(response)
                try:
                    for chunk in response.iter_raw():
                        if not body.feed(chunk):
                            break
                except httpx2.StreamConsumed:  # an in-memory response (mock transports)
                    body = _Collect.loaded(response)
            finally:
                response.close()
        except httpx2.RequestError as exc:
            return exc
        return body.reply(response)

    async def _send_async(
        self, request: httpx2.Request, state: _LoopState
    ) -> _Reply | httpx2.RequestError:
        client = self._user_async_client
        if client is None:
            if state.client is None:
                state.client = httpx2.AsyncClient()
            client = state.client
        try:
            response = await client.send(request, auth=None, follow_redirects=False, stream=True)
            try:
                body = _Collect(response)
                try:
                    async for chunk in response.aiter_raw():
                        if not body.feed(chunk):
                            break
                except httpx2.StreamConsumed:  # an in-memory response (mock transports)
                    body = _Collect.loaded(response)
            finally:
                await response.aclose()
        except httpx2.RequestError as exc:
            return exc
        return body.reply(response)

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the internal sync token client (clients passed in stay open)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the internal async token client of this event loop, and the sync one."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        state = self._loops.get(loop) if loop is not None else None
        if state is not None and state.client is not None:
            client, state.client = state.client, None
            await client.aclose()
        if self._client is not None:
            # close() waits for a sync fetch in progress: not on the event loop.
            await asyncio.to_thread(self.close)

    def __enter__(self) -> ClientCredentialsAuth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ClientCredentialsAuth:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def client_auth(
    client_id: str,
    secret: str,
    method: AuthMethod,
    headers: MutableMapping[str, str],
    form: MutableMapping[str, str | list[str]] | MutableMapping[str, str],
) -> None:
    """Authenticate a client (RFC 6749 section 2.3.1) in ``headers`` or ``form``.

    Shared by the token request and by introspection (RFC 7662 section 2.1) and
    revocation (RFC 7009 section 2.1) requests.
    """
    if method == "client_secret_basic":
        # RFC 6749 2.3.1: id and secret are form-urlencoded, then base64'd.
        pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_id"] = client_id
        form["client_secret"] = secret


def _origin(url: httpx2.URL) -> str:
    """Scheme, host and port: the scope of a DPoP nonce (RFC 9449 section 8)."""
    return f"{url.scheme}://{url.host}:{url.port or ''}"


def _asks_nonce(response: httpx2.Response) -> bool:
    """A 401 whose DPoP challenge says ``use_dpop_nonce`` (RFC 9449 section 9)."""
    if response.status_code != 401:
        return False
    return any(_USE_DPOP_NONCE.search(v) for v in response.headers.get_list("www-authenticate"))


def _join_scope(scope: str | Sequence[str] | None) -> str | None:
    """The ``scope`` parameter: space-delimited scope tokens (RFC 6749 section 3.3)."""
    if scope is None:
        return None
    tokens = scope.split() if isinstance(scope, str) else list(scope)
    for token in tokens:
        if not token or any(c.isspace() or c in '"\\' for c in token):
            raise ValueError(f"invalid scope token {token!r} (RFC 6749 section 3.3)")
    return " ".join(tokens) or None


def _describe_transport(error: httpx2.RequestError | None) -> str:
    if error is None:
        return "no response"
    if isinstance(error, httpx2.TimeoutException):
        return f"timed out ({type(error).__name__})"
    detail = str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
