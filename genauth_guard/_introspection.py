"""Token introspection (RFC 7662): opaque tokens, and revocation honoured before ``exp``.

Three pieces, so that a synchronous driver can reuse all but the I/O:

- rules, without I/O: :func:`introspection_request` (what to send, RFC 7662 2.1),
  :func:`parse_introspection_response` (what an answer means, RFC 7662 2.2) and
  :class:`IntrospectionCache` (what to remember, for how long);
- :class:`Introspector`, the async I/O: discovery of ``introspection_endpoint``, one
  bounded POST, and a rate limit on calls while the issuer is failing;
- :class:`IntrospectingVerifier`, the ``TokenVerifier`` the adapters call: the guard's
  modes ``introspect`` and ``jwt+introspect``, the cache and single flight per token.

Tokens are never logged, and the cache is keyed by a SHA-256 of the token, so no
token is held in memory once its request is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping, Sequence
from functools import partial
from types import MappingProxyType, TracebackType
from typing import Any, Literal

import httpx2

from ._client import AuthMethod, client_auth
from ._config import GuardConfig
from ._discovery import DiscoveryError, check_url, discovery_url, parse_provider_metadata
from ._dpop import ProofChecker
from ._errors import GuardError, IntrospectionUnavailable, InvalidToken, KeysUnavailable, Reason
from ._http import FetchFailed, bounded_request, bounded_request_sync
from ._token import AccessToken
from ._verifier import (
    Verifier,
    binding_refused,
    verify_dpop_request,
    verify_dpop_request_sync,
)

__all__ = [
    "IntrospectingVerifier",
    "IntrospectionCache",
    "Introspector",
    "make_verifier",
    "parse_introspection_response",
]

logger = logging.getLogger("genauth_guard.introspection")

_EMPTY_HEADER: Mapping[str, Any] = MappingProxyType({})
# One request of the flow: keyword arguments of _http.bounded_request(_sync).
_Request = dict[str, Any]
_ANSWERS = (200, 400, 401, 403)
_MAX_RESPONSE_BYTES = 64 * 1024


class _Unusable(Exception):
    """An introspection answer that is not a well-formed RFC 7662 response."""


_sha256 = hashlib.sha256


def token_key(token: str) -> bytes:
    """The cache key of a token: its SHA-256, so the cache never holds the token."""
    return _sha256(token.encode()).digest()


def api_credentials(config: GuardConfig) -> tuple[str, str, AuthMethod]:
    """The API's client id, secret and authentication method for introspection."""
    if not config.introspection_client_id or not config.introspection_client_secret:
        raise ValueError("introspection needs introspection_client_id and ..._client_secret")
    method: AuthMethod = (
        "client_secret_basic"
        if config.introspection_auth_method == "client_secret_basic"
        else "client_secret_post"
    )
    return config.introspection_client_id, config.introspection_client_secret, method


def introspection_request(
    token: str, client_id: str, client_secret: str, auth_method: AuthMethod
) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and form of an introspection request (RFC 7662 section 2.1).

    The API authenticates with its own client credentials (RFC 7662 section 2.1: the
    endpoint requires authorization), as the client helper does at the token endpoint.
    """
    headers = {"accept": "application/json"}
    form = {"token": token, "token_type_hint": "access_token"}
    client_auth(client_id, client_secret, auth_method, headers, form)
    return headers, form


def parse_introspection_response(content: bytes) -> dict[str, Any] | None:
    """The claims of an active token, or None when the issuer says it is not active.

    RFC 7662 section 2.2: ``active`` is required and only the JSON ``true`` means
    active (a string ``"true"``, ``1`` or a missing member is not). Raises
    :class:`_Unusable` when the answer is not a JSON object at all (the issuer is
    broken, which is not the token's fault).
    """
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        raise _Unusable("the introspection response is not JSON") from None
    if not isinstance(document, dict):
        raise _Unusable("the introspection response is not a JSON object")
    if document.get("active") is not True:
        return None
    claims = dict(document)
    del claims["active"]
    return claims


# (token, or None for a refused one; fresh until; stale until; the refusal, if refused)
# The refusal is kept as (reason, description), not as the exception: a raised one holds
# its traceback, whose frames hold the token.
_Entry = tuple[AccessToken | None, float, float, tuple[Reason, str] | None]


class IntrospectionCache:
    """Introspection results by token hash: a bounded LRU.

    Active results are fresh until ``exp`` and at most ``ttl`` seconds; past that they
    may still serve while the issuer is down, for ``stale_if_error`` more seconds but
    never past ``exp``. Inactive results are remembered for ``negative_ttl`` seconds
    and never serve stale.
    """

    __slots__ = ("_entries", "maxsize", "negative_ttl", "stale_if_error", "ttl")

    def __init__(
        self, maxsize: int, ttl: float, negative_ttl: float, stale_if_error: float
    ) -> None:
        self.maxsize = max(1, maxsize)
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.stale_if_error = stale_if_error
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()

    def get(self, key: bytes, now: float) -> _Entry | None:
        """The fresh entry for ``key`` (active or not), else None."""
        entry = self._entries.get(key)
        if entry is None or now >= entry[1]:
            return None
        try:  # noqa: SIM105 (suppress() would build a context manager on every hit)
            self._entries.move_to_end(key)
        except KeyError:  # dropped meanwhile by another thread
            pass
        return entry

    def stale(self, key: bytes, now: float) -> AccessToken | None:
        """An active result past its TTL that may still serve while the issuer is down."""
        entry = self._entries.get(key)
        if entry is None or entry[0] is None or now >= entry[2]:
            return None
        return entry[0]

    def put_active(self, key: bytes, token: AccessToken, now: float, not_after: float) -> None:
        fresh = min(not_after, now + self.ttl)
        self._put(key, (token, fresh, min(not_after, fresh + self.stale_if_error), None))

    def put_refused(self, key: bytes, now: float, refusal: InvalidToken) -> None:
        """Remember why a token was refused (inactive, or its claims failed the rules)."""
        if self.negative_ttl > 0:
            until = now + self.negative_ttl
            self._put(key, (None, until, until, (refusal.reason, refusal.description)))

    def _put(self, key: bytes, entry: _Entry) -> None:
        entries = self._entries
        entries[key] = entry
        with contextlib.suppress(KeyError):  # threads (verify_sync) may race here
            entries.move_to_end(key)
            if len(entries) > self.maxsize:
                entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Introspector:
    """Asks one issuer's introspection endpoint about tokens (RFC 7662), async I/O.

    The endpoint is given or read from the issuer's discovery document
    (``introspection_endpoint``, RFC 8414 section 2). Each call is one POST bounded by
    ``timeout`` (whole exchange) and ``max_bytes``; redirects are not followed. While
    the issuer fails, calls take a token from a bucket of ``retry_per_minute``; without
    one the answer is :class:`IntrospectionUnavailable` at once, so an outage costs
    the issuer a bounded number of requests, not one per API request.
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        endpoint: str | None = None,
        auth_method: AuthMethod = "client_secret_post",
        http_client: httpx2.AsyncClient | None = None,
        timeout: float = 5.0,
        max_bytes: int = _MAX_RESPONSE_BYTES,
        retry_per_minute: float = 30.0,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if endpoint is not None:
            check_url(endpoint, allow_http=allow_http, what="introspection_endpoint")
        else:
            check_url(issuer, allow_http=allow_http, what="issuer")
        self.issuer = issuer
        self.endpoint = endpoint
        self._client_id = client_id
        self._secret = client_secret
        self._auth_method: AuthMethod = auth_method
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._allow_http = allow_http
        self._clock = clock
        self._capacity = max(1.0, retry_per_minute)
        self._rate = retry_per_minute / 60.0
        self._tokens = self._capacity
        self._bucket_at = clock()
        self._failing = False
        self.calls = 0
        self._lock = threading.Lock()
        self._sync_client: httpx2.Client | None = None

    def __repr__(self) -> str:  # the client secret never shows
        return f"Introspector(issuer={self.issuer!r}, client_id={self._client_id!r})"

    async def introspect(self, token: str) -> dict[str, Any] | None:
        """The active token's claims, None if inactive; raises IntrospectionUnavailable."""
        flow = self._flow(token)
        try:
            request = next(flow)
            while True:
                request = flow.send(await bounded_request(self._http(), **request))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except FetchFailed as exc:
            raise self._failed(exc) from None

    def introspect_sync(self, token: str) -> dict[str, Any] | None:
        """:meth:`introspect` for synchronous code: the same flow, I/O on this thread."""
        flow = self._flow(token)
        try:
            request = next(flow)
            while True:
                request = flow.send(bounded_request_sync(self._sync_http(), **request))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except FetchFailed as exc:
            raise self._failed(exc) from None

    def _flow(self, token: str) -> Generator[_Request, tuple[int, bytes], dict[str, Any] | None]:
        """One introspection without I/O: yields requests, receives (status, body)."""
        if self._failing and not self._take_token():
            raise self._unavailable()
        try:
            endpoint = self.endpoint
            if endpoint is None:
                _, content = yield self._request(
                    "GET", discovery_url(self.issuer), {"accept": "application/json"}, 512 * 1024
                )
                metadata = parse_provider_metadata(
                    self.issuer, content, allow_http=self._allow_http
                )
                if metadata.introspection_endpoint is None:
                    raise DiscoveryError("the discovery document has no introspection_endpoint")
                endpoint = self.endpoint = metadata.introspection_endpoint
            headers, form = introspection_request(
                token, self._client_id, self._secret, self._auth_method
            )
            self.calls += 1
            status, body = yield self._request(
                "POST", endpoint, headers, self._max_bytes, data=form, ok=_ANSWERS
            )
            if status != 200:
                # RFC 7662 2.3 / RFC 6749 5.2: the API's own request or credentials
                # were refused, a configuration problem no token can fix.
                raise FetchFailed(
                    f"{endpoint} answered HTTP {status}: check introspection_client_id, "
                    "introspection_client_secret and introspection_auth_method"
                )
            claims = parse_introspection_response(body)
        except (FetchFailed, DiscoveryError, _Unusable) as exc:
            raise self._failed(exc) from None
        if self._failing:
            logger.info("introspection endpoint of %s answers again", self.issuer)
        self._failing = False
        return claims

    def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        max_bytes: int,
        *,
        data: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> dict[str, Any]:
        """One request of the flow, as the keyword arguments of ``bounded_request``."""
        return {
            "method": method,
            "url": url,
            "headers": headers,
            "data": data,
            "ok": ok,
            "max_bytes": max_bytes,
            "timeout": self._timeout,
        }

    def _failed(self, exc: Exception) -> IntrospectionUnavailable:
        self._record_failure(str(exc))
        return self._unavailable()

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self._timeout, follow_redirects=False)
        return self._client

    def _sync_http(self) -> httpx2.Client:
        with self._lock:
            if self._sync_client is None:
                self._sync_client = httpx2.Client(timeout=self._timeout, follow_redirects=False)
            return self._sync_client

    def _record_failure(self, why: str) -> None:
        self._failing = True
        logger.warning("token introspection at %s failed: %s", self.issuer, why)

    def _take_token(self) -> bool:
        with self._lock:
            return self._take_token_locked()

    def _take_token_locked(self) -> bool:
        now = self._clock()
        elapsed = max(0.0, now - self._bucket_at)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._bucket_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _unavailable(self) -> IntrospectionUnavailable:
        """503 for the caller; the reason (with URLs) is in the log, not in the response."""
        retry_after = max(1, math.ceil((1.0 - min(self._tokens, 1.0)) / self._rate))
        return IntrospectionUnavailable("token introspection unavailable", retry_after)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            await client.aclose()
        self.close()

    def close(self) -> None:
        """Close the sync HTTP client (the async one belongs to its event loop)."""
        with self._lock:
            client, self._sync_client = self._sync_client, None
        if client is not None:
            client.close()


TokenCheck = Literal["introspect", "jwt+introspect"]


def _binding(access: AccessToken, bound: bool) -> AccessToken:
    """RFC 9449 section 7.1: ``cnf`` only with proof of possession, and required then."""
    if ("cnf" in access.claims) is not bound:
        raise binding_refused(bound)
    return access


class _Answer:
    """One introspection call shared by the threads asking about the same token."""

    __slots__ = ("done", "error", "token")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: AccessToken | None = None
        self.error: GuardError | None = None


class IntrospectingVerifier:
    """A ``TokenVerifier`` that asks the issuer (RFC 7662), with a cache and single flight.

    ``introspect``: opaque tokens are introspected; JWT-shaped ones are verified
    locally unless ``introspect_jwts``. ``jwt+introspect``: every token is verified
    locally, then the issuer is asked whether it is still active (revocation before
    ``exp``). The claims of an introspection answer go through the same rules as a
    JWT's (``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, claim checks), and its ``iss``
    must be the issuer that was asked.
    """

    def __init__(
        self,
        config: GuardConfig,
        *,
        http_client: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        verifier: Verifier | None = None,
        introspector: Introspector | None = None,
    ) -> None:
        if config.token_check == "jwt":
            raise ValueError("IntrospectingVerifier needs token_check introspect or jwt+introspect")
        self.config = config
        self.mode: TokenCheck = (
            "introspect" if config.token_check == "introspect" else "jwt+introspect"
        )
        self.issuer = config.issuers[0]
        self._clock = clock
        self._owned: list[Verifier | Introspector] = []
        if verifier is None:
            verifier = Verifier(config, http_client=http_client, clock=clock)
            self._owned.append(verifier)
        self.verifier = verifier
        if introspector is None:
            client_id, client_secret, method = api_credentials(config)
            introspector = Introspector(
                issuer=self.issuer,
                client_id=client_id,
                client_secret=client_secret,
                endpoint=config.introspection_endpoint,
                auth_method=method,
                http_client=http_client,
                timeout=config.http_timeout,
                allow_http=config.allow_http,
                clock=clock,
            )
            self._owned.append(introspector)
        self.introspector = introspector
        self.cache = IntrospectionCache(
            config.token_cache_size,
            config.introspection_cache_ttl,
            config.introspection_negative_ttl,
            config.introspection_stale_if_error,
        )
        self._both = self.mode == "jwt+introspect"
        self._local_jwts = self.mode == "introspect" and not config.introspect_jwts
        self._predicates: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
            (name, check) for name, check in config.claim_checks.items() if callable(check)
        )
        self._max_bytes = config.max_token_bytes
        self._inflight: dict[bytes, asyncio.Task[AccessToken]] = {}
        self._lock = threading.Lock()
        self._thread_flights: dict[bytes, _Answer] = {}

    @property
    def dpop(self) -> ProofChecker | None:
        """The DPoP rules (RFC 9449) of the configuration, as the local verifier's."""
        return self.verifier.dpop

    async def verify_dpop(
        self, token: str, proof: str | Sequence[str] | None, method: str, url: str
    ) -> AccessToken:
        """A DPoP request: the proof, then the token as this verifier checks it (an
        introspection answer carries ``cnf.jkt``, RFC 9449 section 6.2)."""
        return await verify_dpop_request(self, token, proof, method, url)

    def verify_dpop_sync(
        self, token: str, proof: str | Sequence[str] | None, method: str, url: str
    ) -> AccessToken:
        """:meth:`verify_dpop` for synchronous code."""
        return verify_dpop_request_sync(self, token, proof, method, url)

    def cached(self, token: str) -> AccessToken | None:
        """A cached active result (and, in ``jwt+introspect``, the local one): no I/O."""
        if type(token) is not str or len(token) > self._max_bytes:
            return None
        if self._local_jwts and token.startswith("eyJ") and token.count(".") == 2:
            return self.verifier.cached(token)
        entry = self.cache.get(token_key(token), self._clock())
        if entry is None or entry[0] is None:
            return None
        if self._both:
            return self.verifier.cached(token)
        if self._predicates and self._predicates_accept(entry[0]) is not None:
            return None
        return _binding(entry[0], False)

    async def verify(self, token: str) -> AccessToken:
        """Verify ``token`` as the mode says; InvalidToken, IntrospectionUnavailable...

        The bearer entry point: a token bound to a key (``cnf``) is refused here.
        """
        # A cached answer without a second coroutine: the common case stays cheap.
        return self.cached(token) or await self._check(token, False)

    async def verify_bound(self, token: str) -> AccessToken:
        """The proof-of-possession path (DPoP): ``cnf`` required instead of refused."""
        return await self._check(token, True)

    def verify_sync(self, token: str) -> AccessToken:
        """:meth:`verify` for synchronous code: the same rules and cache; threads with
        one new token share one introspection call."""
        return self.cached(token) or self._check_sync(token, False)

    def verify_bound_sync(self, token: str) -> AccessToken:
        """:meth:`verify_bound` for synchronous code."""
        return self._check_sync(token, True)

    async def _check(self, token: str, bound: bool) -> AccessToken:
        step = self._local_step(token)
        locally = self.verifier.verify_bound if bound else self.verifier.verify
        local: AccessToken | None = None
        if step == "both":
            local = await locally(token)
        elif step == "only":
            return await locally(token)
        key = token_key(token)
        hit = self._cached_answer(key, local, bound)
        if hit is not None:
            return hit
        task = self._inflight.get(key)
        if task is None:
            # Single flight: concurrent requests with one new token make one call.
            task = asyncio.get_running_loop().create_task(self._ask(token, key, local))
            self._inflight[key] = task
            task.add_done_callback(partial(self._landed, key))
        # shield: one cancelled request must not cancel the call the others share.
        access = await asyncio.shield(task)
        return local or _binding(access, bound)

    def _check_sync(self, token: str, bound: bool) -> AccessToken:
        step = self._local_step(token)
        locally = self.verifier.verify_bound_sync if bound else self.verifier.verify_sync
        local: AccessToken | None = None
        if step == "both":
            local = locally(token)
        elif step == "only":
            return locally(token)
        key = token_key(token)
        hit = self._cached_answer(key, local, bound)
        if hit is not None:
            return hit
        with self._lock:
            flight = self._thread_flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._thread_flights[key] = _Answer()
        if leader:
            try:
                flight.token = self._answered(key, local, self._asked_sync(token, key))
            except GuardError as error:
                flight.error = error.with_traceback(None)  # its frames would hold the token
                raise
            finally:
                with self._lock:
                    del self._thread_flights[key]
                flight.done.set()
        # Bounded: one call (discovery and introspection, each time-bounded) at most.
        elif not flight.done.wait(2 * self.config.http_timeout + 1.0):
            raise self.introspector._unavailable()
        if flight.token is None:
            raise self._shared_refusal(flight)
        return local or _binding(flight.token, bound)

    def _local_step(self, token: str) -> Literal["both", "only", "none"]:
        """The checks before the cache, no I/O; and what the local verifier must do."""
        if type(token) is not str:
            raise InvalidToken(Reason.MALFORMED, "token must be a string")
        if not token:
            raise InvalidToken(Reason.MALFORMED, "token is empty")
        if len(token) > self._max_bytes:
            raise InvalidToken(Reason.TOO_LARGE, "token too large")
        if self._both:
            return "both"
        if self._local_jwts and token.startswith("eyJ") and token.count(".") == 2:
            return "only"  # JWT-shaped (a header that decodes to '{"'): verified locally
        return "none"

    def _cached_answer(
        self, key: bytes, local: AccessToken | None, bound: bool
    ) -> AccessToken | None:
        """The cached answer for ``key``: the token, a raised refusal, or None (ask)."""
        entry = self.cache.get(key, self._clock())
        if entry is None:
            return None
        access = entry[0]
        if access is None:
            refusal = entry[3]
            assert refusal is not None
            raise InvalidToken(*refusal)  # same reason and words as the first refusal
        if local is not None:
            return local  # its claim checks ran in the local verification
        if self._predicates:
            refused = self._predicates_accept(access)
            if refused is not None:
                raise InvalidToken(Reason.CLAIM, f"claim {refused} not accepted")
        return _binding(access, bound)

    def _shared_refusal(self, flight: _Answer) -> GuardError:
        """The leader's error, as a new one for a waiting thread (same kind and words)."""
        error = flight.error
        assert error is not None
        if isinstance(error, InvalidToken):
            return InvalidToken(error.reason, error.description)
        if isinstance(error, IntrospectionUnavailable | KeysUnavailable):
            return type(error)(error.description, error.retry_after)
        return type(error)(error.description)

    def _predicates_accept(self, access: AccessToken) -> str | None:
        """Re-run callable claim checks on a cached answer: the name of one that fails.

        Predicates may depend on state that changes (a deny list), so, like the
        verifier's own cache, a cached answer never skips them.
        """
        for name, check in self._predicates:
            try:
                if not check(access.claims.get(name)):
                    return name
            except Exception:
                logger.warning("claim check for %r raised; token rejected", name)
                return name
        return None

    def _landed(self, key: bytes, task: asyncio.Task[AccessToken]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have been cancelled meanwhile

    async def _ask(self, token: str, key: bytes, local: AccessToken | None) -> AccessToken:
        try:
            answer: dict[str, Any] | AccessToken | None = await self.introspector.introspect(token)
        except IntrospectionUnavailable as error:
            answer = self._stale_or_raise(key, error)
        return self._answered(key, local, answer)

    def _asked_sync(self, token: str, key: bytes) -> dict[str, Any] | AccessToken | None:
        try:
            return self.introspector.introspect_sync(token)
        except IntrospectionUnavailable as error:
            return self._stale_or_raise(key, error)

    def _stale_or_raise(self, key: bytes, error: IntrospectionUnavailable) -> AccessToken:
        """Issuer down: a cached active result past its TTL may serve, else ``error``."""
        stale = self.cache.stale(key, self._clock())
        if stale is None:
            raise error
        logger.warning("introspection unavailable; serving a cached active result")
        return stale

    def _answered(
        self, key: bytes, local: AccessToken | None, answer: dict[str, Any] | AccessToken | None
    ) -> AccessToken:
        """The issuer's answer through the claim rules, remembered (RFC 7662 2.2)."""
        if isinstance(answer, AccessToken):
            return answer  # a stale cached result
        claims = answer
        now = self._clock()
        try:
            if claims is None:
                raise InvalidToken(Reason.INACTIVE, "token is not active (introspection)")
            # The binding (cnf sent as bearer or not) is judged per request, not cached:
            # the same answer serves the bearer and the DPoP path.
            access, _, not_after = self.verifier.accept_claims(
                claims, _EMPTY_HEADER, self.issuer, bound="cnf" in claims
            )
            if claims.get("iss") != self.issuer:
                raise InvalidToken(Reason.ISSUER, "issuer not accepted (introspection)")
        except InvalidToken as error:
            self.cache.put_refused(key, now, error)
            raise
        if local is not None:
            not_after = min(not_after, float(local.expires_at) + self.config.leeway)
        self.cache.put_active(key, local or access, now, not_after)
        return local or access

    async def warm_up(self) -> None:
        """Fetch the keys when JWTs are verified locally (nothing to fetch otherwise)."""
        if self.mode == "jwt+introspect" or self._local_jwts:
            await self.verifier.warm_up()

    def warm_up_sync(self) -> None:
        """:meth:`warm_up` for synchronous code."""
        if self.mode == "jwt+introspect" or self._local_jwts:
            self.verifier.warm_up_sync()

    def close(self) -> None:
        """Close the sync HTTP clients (``aclose`` closes everything)."""
        self.cache.clear()
        for owned in self._owned:
            owned.close()

    def __enter__(self) -> IntrospectingVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def aclose(self) -> None:
        tasks = list(self._inflight.values())
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        self.cache.clear()
        for owned in self._owned:
            await owned.aclose()

    async def __aenter__(self) -> IntrospectingVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def make_verifier(
    config: GuardConfig, *, http_client: httpx2.AsyncClient | None = None
) -> Verifier | IntrospectingVerifier:
    """The verifier ``config.token_check`` asks for: local (``jwt``) or introspecting."""
    if config.token_check == "jwt":
        return Verifier(config, http_client=http_client)
    return IntrospectingVerifier(config, http_client=http_client)
