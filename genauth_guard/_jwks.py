"""JWKS key source: fetch, validate, cache and refresh an issuer's signing keys.

The keys come only from the configured (or discovered) ``jwks_uri``, never from a
token header (RFC 8725 section 3.10 on ``jku``/``x5u``). Everything here is bounded:
the time a fetch may take, the bytes it may read, the keys it may hold and how often
the issuer may be asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx2

from ._discovery import DiscoveryError, check_url, discovery_url, parse_provider_metadata
from ._errors import InvalidToken, KeysUnavailable, Reason
from ._http import FetchFailed, bounded_request, bounded_request_sync
from ._jwk import VerificationKey, parse_public_jwk

__all__ = [
    "JWKSError",
    "JWKSKeySource",
    "ParsedJWKS",
    "SkippedKey",
    "VerificationKey",
    "parse_jwks",
]

logger = logging.getLogger("genauth_guard")

_SKIP_LOG_MEMORY = 1024


class JWKSError(ValueError):
    """A JWK Set document is unusable as a whole (a fetch that failed, not a bad key)."""


@dataclass(frozen=True, slots=True)
class SkippedKey:
    """A JWK left out of the key set, and why (the key material itself is not kept)."""

    index: int
    kid: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedJWKS:
    """The usable keys of a JWK Set, the skipped ones and how many were beyond the cap."""

    keys: tuple[VerificationKey, ...]
    skipped: tuple[SkippedKey, ...]
    beyond_max_keys: int


def parse_jwks(
    content: bytes, *, max_keys: int = 64, algorithms: Collection[str] | None = None
) -> ParsedJWKS:
    """Parse a JWK Set document (RFC 7517 section 5), keeping only usable public keys.

    Raises only :class:`JWKSError`, when the document as a whole is unusable (not
    JSON, not an object, no ``keys`` list). A bad key never fails the set: it is
    skipped with a reason (see :func:`._jwk.parse_public_jwk` for the rules). Only the first
    ``max_keys`` entries are looked at. When several usable keys share a ``kid``
    the first one wins and the others are skipped: RFC 7517 section 4.5 asks for
    distinct ``kid`` values within a set, and picking by position keeps the choice
    deterministic.
    """
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise JWKSError("the JWKS is not JSON") from None
    if not isinstance(document, dict):
        raise JWKSError("the JWKS is not a JSON object")
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise JWKSError('the JWKS has no "keys" list')
    keys: list[VerificationKey] = []
    skipped: list[SkippedKey] = []
    seen: set[str] = set()
    for index, jwk in enumerate(entries[:max_keys]):
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        kid = kid if isinstance(kid, str) else None
        key, reason = parse_public_jwk(jwk)
        # A key labelled for an alg the verifier does not allow could never verify an
        # accepted token; a token naming it is told why (see JWKSKeySource.get_key).
        alg = key.alg if key is not None else None
        if alg is not None and algorithms is not None and alg not in algorithms:
            key, reason = None, f"alg {alg} not in the allow-list"
        if key is not None and key.kid is not None and key.kid in seen:
            key, reason = None, "duplicate kid (the first key with it is used)"
        if key is None:
            skipped.append(SkippedKey(index, kid, reason))
            continue
        if key.kid is not None:
            seen.add(key.kid)
        keys.append(key)
    return ParsedJWKS(tuple(keys), tuple(skipped), max(0, len(entries) - max_keys))


@dataclass(frozen=True, slots=True)
class _KeySet:
    by_kid: Mapping[str, VerificationKey]
    keys: tuple[VerificationKey, ...]
    fingerprint: frozenset[tuple[str | None, str, str | None]]
    # kid -> why the issuer's key of that kid was left out (for a clearer refusal).
    skipped: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        keys: tuple[VerificationKey, ...],
        previous: _KeySet | None = None,
        skipped: tuple[SkippedKey, ...] = (),
    ) -> _KeySet:
        """The set, reusing ``previous``'s objects for unchanged keys.

        The verified-token cache recognises "the same key" by object identity, so a
        refetch that changes nothing (or only adds keys) keeps its entries valid, and
        a key republished with new material under the same kid never matches.
        """
        identities = [(k.kid, k.thumbprint, k.alg) for k in keys]
        if previous is not None:
            known = {(k.kid, k.thumbprint, k.alg): k for k in previous.keys}
            keys = tuple(known.get(i, k) for i, k in zip(identities, keys, strict=True))
        by_kid = {k.kid: k for k in keys if k.kid is not None}
        reasons = {s.kid: s.reason for s in skipped if s.kid is not None and s.kid not in by_kid}
        return cls(by_kid, keys, frozenset(identities), reasons)

    def find(self, kid: str | None) -> VerificationKey | None:
        if kid is None:
            # RFC 7515 4.1.4: without a kid the key is implied, which is only
            # unambiguous when the set holds exactly one usable key.
            return self.keys[0] if len(self.keys) == 1 else None
        return self.by_kid.get(kid)


#: What the key flow asks of its driver: "wait" joins (or starts) the single-flight
#: fetch and sends back whether it succeeded; "background" starts one unless one runs.
_Step = Literal["wait", "background"]
_KeyFlow = Generator[_Step, bool | None, "VerificationKey"]
_FETCH_HEADERS = {"accept": "application/json"}


def _advance(flow: _KeyFlow, answer: bool | None) -> VerificationKey | _Step:
    """The key flow's next step, or the key it ended with."""
    try:
        return flow.send(answer)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class _ThreadFlight:
    """One fetch shared by every thread that needs it (the sync single flight)."""

    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class JWKSKeySource:
    """Signing keys of one issuer, from ``jwks_uri`` or discovered from ``issuer``.

    With only ``issuer``, ``jwks_uri`` is read from
    ``{issuer}/.well-known/openid-configuration``, whose ``issuer`` must equal the
    configured one (OIDC Discovery 1.0 sections 4 and 4.3); it is discovered once per
    source. An explicit ``jwks_uri`` skips discovery. Construction does no I/O.

    Defaults and why:

    - ``cache_ttl`` 600 s: keys are fresh for ten minutes; the next ``get_key`` after
      that refreshes them (awaited, single flight).
    - ``refetch_per_minute`` 5 (GenAuth's Express quick start): a token bucket of that
      capacity, refilled continuously. An unknown ``kid`` takes a token to refetch;
      without one it is ``InvalidToken(UNKNOWN_KEY)`` at once. After a failed fetch,
      every further attempt (TTL refresh included) also takes a token, so an outage
      costs the issuer at most this many requests a minute (after a first burst of
      that size) from this process.
    - ``stale_max_age`` 86400 s (never less than ``cache_ttl``): when refreshing
      fails, the last good keys keep serving (with a warning) until this long after
      their last successful fetch; past that, or with no keys at all,
      ``KeysUnavailable`` (HTTP 503). While stale keys serve, retries run in the
      background so requests do not wait on a dead issuer. An unknown ``kid`` whose
      refetch fails is also ``KeysUnavailable``: the issuer could not be asked.
    - ``timeout`` 5 s for the whole fetch (connect to last byte), ``max_bytes`` 512
      KiB read while streaming, ``max_keys`` 64 JWK entries looked at.
    - Redirects are never followed (a 3xx is a failed fetch): the keys come from the
      configured URL only.
    - Plain ``http`` only for loopback hosts unless ``allow_http=True``.

    ``clock`` (default ``time.monotonic``) drives the TTL, the bucket and staleness.

    Every decision lives in I/O-free generators (``_key_flow``, ``_fetch_flow``), as
    in h11 and httpx's auth flows; two drivers add the I/O. ``get_key`` / ``refresh``
    run them on asyncio (an ``httpx2.AsyncClient``, one task as the single flight,
    background refreshes as tasks): the async side belongs to one event loop.
    ``get_key_sync`` / ``refresh_sync`` run them on threads (an ``httpx2.Client``, one
    fetch shared by all waiting threads, background refreshes on a daemon thread),
    with the same bounds, rate limit and stale-if-error. Both share the keys and the
    bucket; each driver has its own single flight.
    """

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        issuer: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        cache_ttl: float = 600.0,
        refetch_per_minute: float = 5.0,
        stale_max_age: float = 86400.0,
        timeout: float = 5.0,
        max_bytes: int = 512 * 1024,
        max_keys: int = 64,
        allow_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sync_http_client: httpx2.Client | None = None,
        algorithms: Collection[str] | None = None,
    ) -> None:
        if jwks_uri is None and issuer is None:
            raise ValueError("JWKSKeySource needs jwks_uri or issuer (for discovery)")
        for name, number in (
            ("cache_ttl", cache_ttl),
            ("refetch_per_minute", refetch_per_minute),
            ("timeout", timeout),
            ("max_bytes", max_bytes),
            ("max_keys", max_keys),
        ):
            if not number > 0:
                raise ValueError(f"{name} must be positive, got {number!r}")
        if stale_max_age < 0:
            raise ValueError(f"stale_max_age must not be negative, got {stale_max_age!r}")
        self.issuer = issuer
        self._discovery_url: str | None = None
        if jwks_uri is not None:
            check_url(jwks_uri, allow_http=allow_http, what="jwks_uri")
        elif issuer is not None:
            check_url(issuer, allow_http=allow_http, what="issuer")
            self._discovery_url = discovery_url(issuer)
        self._jwks_uri = jwks_uri
        self._client = http_client
        self._owns_client = http_client is None
        self._cache_ttl = cache_ttl
        self._stale_max_age = max(stale_max_age, cache_ttl)
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_keys = max_keys
        self._allow_http = allow_http
        self._clock = clock
        self._capacity = max(1.0, refetch_per_minute)
        self._rate = refetch_per_minute / 60.0
        self._tokens = self._capacity
        self._bucket_at = clock()
        self._keyset: _KeySet | None = None
        self._fetched_at = 0.0
        self._last_failed = False
        self._last_error: str | None = None
        self._inflight: asyncio.Task[bool] | None = None
        self._logged_skips: set[tuple[str | None, str]] = set()
        self._logged_beyond = 0
        self._generation = 0
        # Guards the state above against threads; held only for decisions, never I/O.
        self._lock = threading.Lock()
        self._sync_client = sync_http_client
        self._owns_sync_client = sync_http_client is None
        self._thread_flight: _ThreadFlight | None = None
        self._algorithms = None if algorithms is None else frozenset(algorithms)

    # -- public ------------------------------------------------------------------

    @property
    def jwks_uri(self) -> str | None:
        """The configured or discovered ``jwks_uri`` (None until discovered)."""
        return self._jwks_uri

    @property
    def generation(self) -> int:
        """Increments each time the set of usable keys changes (0: never fetched)."""
        return self._generation

    @property
    def keys(self) -> tuple[VerificationKey, ...]:
        """The usable keys of the last good fetch (empty before the first one)."""
        return self._keyset.keys if self._keyset is not None else ()

    async def get_key(self, kid: str | None) -> VerificationKey:
        """The key for ``kid``; raises InvalidToken(UNKNOWN_KEY) or KeysUnavailable.

        ``kid`` None works only when the set holds exactly one usable key.
        """
        flow = self._key_flow(kid, lambda: self._inflight is not None)
        answer: bool | None = None
        while True:
            with self._lock:
                step = _advance(flow, answer)
            if isinstance(step, VerificationKey):
                return step
            if step == "wait":
                answer = await self._flight()
            else:
                self._start()
                answer = False

    def get_key_sync(self, kid: str | None) -> VerificationKey:
        """:meth:`get_key` for synchronous code: same rules, I/O on the calling thread.

        Threads needing a fetch share one (the first one fetches, the others wait for
        it); a background refresh runs on a daemon thread.
        """
        flow = self._key_flow(kid, lambda: self._thread_flight is not None)
        answer: bool | None = None
        while True:
            with self._lock:
                step = _advance(flow, answer)
                if isinstance(step, VerificationKey):
                    return step
                # Joined under the lock that took the decision, so concurrent threads
                # see the flight at once (and take no rate-limit token for it).
                flight, leader = self._join_thread_flight()
            answer = self._run_thread_flight(flight, leader, wait=step == "wait")

    def _key_flow(self, kid: str | None, busy: Callable[[], bool]) -> _KeyFlow:
        """Every decision of a key lookup, without I/O (run under ``self._lock``).

        ``busy`` tells whether the driver's single flight is running.
        """
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken(Reason.UNKNOWN_KEY, "the token's kid is not a string")
        fresh = False
        if self._expired(self._clock()):
            fresh = yield from self._refresh_due(busy)
        keyset = self._servable_or_raise()
        key = keyset.find(kid)
        if key is not None:
            return key
        if kid is not None and kid in keyset.skipped:
            raise self._skipped(kid, keyset)
        if kid is None:
            raise InvalidToken(
                Reason.UNKNOWN_KEY,
                f"the token has no kid and the issuer's JWKS holds {len(keyset.keys)} "
                "usable keys; a kid is required unless it holds exactly one",
            )
        if not fresh:
            # An unknown kid may be a key the issuer just rotated in (RFC 7517 4.5):
            # refetch once, rate-limited, shared with concurrent misses.
            if not busy() and not self._take_token():
                raise InvalidToken(
                    Reason.UNKNOWN_KEY,
                    "no key in the issuer's JWKS matches the token's kid "
                    "(JWKS refetch rate limit reached)",
                )
            if not (yield "wait"):
                raise self._unavailable()
            keyset = self._servable_or_raise()
            key = keyset.find(kid)
            if key is not None:
                return key
            if kid in keyset.skipped:
                raise self._skipped(kid, keyset)
        raise InvalidToken(
            Reason.UNKNOWN_KEY,
            "no key in the issuer's JWKS matches the token's kid",
            actual=kid,
            expected=[key.kid for key in self.keys],
        )

    def fresh_key(self, kid: str | None) -> VerificationKey | None:
        """The key for ``kid`` if the cached set is fresh, else None: no I/O, no await.

        The verifier's fast path; :meth:`get_key` handles every other case (refresh,
        unknown kid, outage), so a None here never means "rejected".
        """
        keyset = self._keyset
        if keyset is None or self._clock() - self._fetched_at >= self._cache_ttl:
            return None
        return keyset.find(kid)

    def serves(self, kid: str | None, key: VerificationKey) -> bool:
        """Synchronous, no I/O: is ``key`` still this source's key for ``kid``?

        The verified-token cache asks this on every hit. ``key`` must be the very object
        that verified the token: a key republished under the same kid is another object.
        Past the TTL a refresh starts in the background (single flight; rate-limited
        after a failure) and the current keys answer meanwhile, so a withdrawn key stops
        being honoured one fetch after ``cache_ttl`` even when every request is a hit.
        False once the keys are older than the stale bound.
        """
        keyset = self._keyset
        if keyset is None:
            return False
        age = self._clock() - self._fetched_at
        if age >= self._cache_ttl:
            if age > self._stale_max_age:
                return False
            self._refresh_soon()
        return keyset.find(kid) is key

    def has_key(self, kid: str | None) -> bool:
        """Cheap, synchronous: is ``kid`` in the current key set (no I/O).

        False once the keys are older than the stale bound.
        """
        keyset = self._servable()
        return keyset is not None and keyset.find(kid) is not None

    async def refresh(self) -> None:
        """Fetch the key set now (warm-up); raises KeysUnavailable on failure.

        Shares a fetch already in flight; not subject to the refetch rate limit.
        """
        if not await self._flight():
            raise self._unavailable()

    def refresh_sync(self) -> None:
        """:meth:`refresh` for synchronous code (shares a thread's fetch in flight)."""
        with self._lock:
            flight, leader = self._join_thread_flight()
        if not self._run_thread_flight(flight, leader, wait=True):
            with self._lock:
                raise self._unavailable()

    def close(self) -> None:
        """Close the sync HTTP client if this source created it (a fetch running on a
        background thread then fails and is recorded like any failed fetch)."""
        with self._lock:
            client = self._sync_client if self._owns_sync_client else None
            if client is not None:
                self._sync_client = None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Cancel a fetch in flight and close the HTTP client if this source created it."""
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():  # our caller was cancelled, not the task
                    raise
        client, owned = self._client, self._owns_client
        if owned:
            self._client = None
        if client is not None and owned:
            await client.aclose()

    async def __aenter__(self) -> JWKSKeySource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- freshness, staleness, rate limit ---------------------------------------

    def _expired(self, now: float) -> bool:
        return self._keyset is None or now - self._fetched_at >= self._cache_ttl

    def _servable(self) -> _KeySet | None:
        if self._keyset is None or self._clock() - self._fetched_at > self._stale_max_age:
            return None
        return self._keyset

    def _servable_or_raise(self) -> _KeySet:
        keyset = self._servable()
        if keyset is None:
            raise self._unavailable()
        return keyset

    def _unavailable(self) -> KeysUnavailable:
        parts = [self._last_error] if self._last_error else []
        if self._keyset is not None and self._servable() is None:
            parts.append(f"the last good keys are older than {self._stale_max_age:.0f} s")
        why = "; ".join(parts) or "no keys fetched yet"
        return KeysUnavailable(
            "signing keys unavailable", self._retry_after(), detail=f"JWKS: {why}"
        )

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._bucket_at)  # a clock going back refills nothing
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._bucket_at = now

    def _take_token(self) -> bool:
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _retry_after(self) -> int:
        """Seconds until the bucket allows another attempt (at least 1)."""
        self._refill()
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))

    # -- fetching -----------------------------------------------------------------

    def _refresh_due(self, busy: Callable[[], bool]) -> Generator[_Step, bool | None, bool]:
        """Refresh keys that are missing or past their TTL; True if fresh keys arrived.

        After a success the refresh is free; after a failure it takes a token. The
        caller waits unless stale keys can serve meanwhile after a failure.
        """
        if not busy() and self._last_failed and not self._take_token():
            return False
        if self._last_failed and self._servable() is not None:
            yield "background"
            return False
        return bool((yield "wait"))

    def _refresh_soon(self) -> None:
        """Start a refresh unless one is in flight; never waits for it.

        On an event loop (``verify``) a task, elsewhere (``verify_sync``) a daemon
        thread: the driver of the caller, as for any other fetch.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            with self._lock:
                if not self._may_start(self._thread_flight is not None):
                    return
                flight, leader = self._join_thread_flight()
            self._run_thread_flight(flight, leader, wait=False)
            return
        with self._lock:
            if not self._may_start(self._inflight is not None):
                return
        self._start()

    def _may_start(self, busy: bool) -> bool:
        """A background refresh starts unless one runs; after a failure it takes a token."""
        return not busy and (not self._last_failed or self._take_token())

    def _skipped(self, kid: str, keyset: _KeySet) -> InvalidToken:
        return InvalidToken(Reason.UNKNOWN_KEY, f"key {kid[:64]} skipped: {keyset.skipped[kid]}")

    def _start(self) -> asyncio.Task[bool]:
        if self._inflight is None:
            self._inflight = asyncio.get_running_loop().create_task(self._fetch())
        return self._inflight

    async def _flight(self) -> bool:
        """Join the fetch in flight or start one (single flight); True on success."""
        # shield: a caller cancelled mid-wait must not cancel the fetch others share.
        return await asyncio.shield(self._start())

    async def _fetch(self) -> bool:
        """One fetch on the event loop; records its outcome, never raises (but cancel)."""
        flow = self._fetch_flow()
        try:
            url = next(flow)
            while True:
                url = flow.send(await self._get(url))
        except StopIteration as done:
            return self._fetched(done.value)
        except Exception as exc:
            return self._fetch_failed(exc)
        finally:
            if self._inflight is asyncio.current_task():
                self._inflight = None

    def _fetch_sync(self) -> bool:
        """One fetch on this thread; records its outcome and never raises."""
        flow = self._fetch_flow()
        try:
            url = next(flow)
            while True:
                url = flow.send(self._get_sync(url))
        except StopIteration as done:
            return self._fetched(done.value)
        except Exception as exc:
            return self._fetch_failed(exc)

    def _fetch_flow(self) -> Generator[str, bytes, ParsedJWKS]:
        """Discovery (once) then the JWKS, without I/O: yields URLs, receives bodies."""
        if self._jwks_uri is None:
            assert self.issuer is not None
            assert self._discovery_url is not None
            content = yield self._discovery_url
            try:
                metadata = parse_provider_metadata(
                    self.issuer, content, allow_http=self._allow_http
                )
            except RecursionError:
                raise DiscoveryError("the discovery document is not JSON") from None
            if metadata.jwks_uri is None:
                raise DiscoveryError("the discovery document has no jwks_uri")
            self._jwks_uri = metadata.jwks_uri
        return parse_jwks(
            (yield self._jwks_uri), max_keys=self._max_keys, algorithms=self._algorithms
        )

    def _fetched(self, parsed: ParsedJWKS) -> bool:
        with self._lock:
            self._store(parsed)
        return True

    def _fetch_failed(self, exc: Exception) -> bool:
        if isinstance(exc, FetchFailed | JWKSError | DiscoveryError):
            why = str(exc)
        else:  # a bug here must still be a 503, never a 500
            logger.error("unexpected error while fetching the JWKS", exc_info=exc)
            why = f"unexpected {type(exc).__name__}"
        with self._lock:
            self._record_failure(why)
        return False

    def _join_thread_flight(self) -> tuple[_ThreadFlight, bool]:
        """The threads' fetch in flight, or a new one; True when the caller leads it."""
        flight = self._thread_flight
        if flight is not None:
            return flight, False
        flight = self._thread_flight = _ThreadFlight()
        return flight, True

    def _run_thread_flight(self, flight: _ThreadFlight, leader: bool, *, wait: bool) -> bool:
        """Lead (here, or on a daemon thread when not waiting) or await ``flight``."""
        if leader:
            if wait:
                self._lead(flight)
            else:
                name = "genauth-guard-jwks-refresh"
                threading.Thread(target=self._lead, args=(flight,), name=name, daemon=True).start()
        if not wait:
            return False
        # Bounded even if the leader were stuck: discovery and JWKS, each time-bounded.
        return flight.done.wait(2 * self._timeout + 1.0) and flight.ok

    def _lead(self, flight: _ThreadFlight) -> None:
        try:
            flight.ok = self._fetch_sync()
        finally:
            with self._lock:
                if self._thread_flight is flight:
                    self._thread_flight = None
            flight.done.set()

    async def _get(self, url: str) -> bytes:
        """GET ``url``: status 200 only, no redirects, bounded in time and size."""
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=self._timeout, follow_redirects=False)
        _, body = await bounded_request(
            self._client,
            "GET",
            url,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            headers=_FETCH_HEADERS,
        )
        return body

    def _get_sync(self, url: str) -> bytes:
        """:meth:`_get` on this thread, with the same bounds."""
        with self._lock:
            if self._sync_client is None:
                self._sync_client = httpx2.Client(timeout=self._timeout, follow_redirects=False)
            client = self._sync_client
        _, body = bounded_request_sync(
            client,
            "GET",
            url,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            headers=_FETCH_HEADERS,
        )
        return body

    def _store(self, parsed: ParsedJWKS) -> None:
        for skipped in parsed.skipped:
            self._log_skip(skipped)
        if parsed.beyond_max_keys and parsed.beyond_max_keys != self._logged_beyond:
            logger.warning(
                "JWKS %s: %d entries beyond max_keys=%d ignored",
                self._jwks_uri,
                parsed.beyond_max_keys,
                self._max_keys,
            )
        self._logged_beyond = parsed.beyond_max_keys
        keyset = _KeySet.of(parsed.keys, self._keyset, parsed.skipped)
        if self._keyset is None or keyset.fingerprint != self._keyset.fingerprint:
            self._generation += 1
        self._keyset = keyset
        self._fetched_at = self._clock()
        if self._last_failed:
            logger.info("JWKS %s fetched again after a failure", self._jwks_uri)
        self._last_failed = False
        self._last_error = None

    def _record_failure(self, why: str) -> None:
        self._last_failed = True
        self._last_error = why
        keyset = self._servable()
        if keyset is not None:
            logger.warning(
                "JWKS refresh failed (%s); serving the keys fetched %.0f s ago "
                "until they are %.0f s old",
                why,
                self._clock() - self._fetched_at,
                self._stale_max_age,
            )
        else:
            logger.warning("JWKS fetch failed (%s); no usable keys to serve", why)

    def _log_skip(self, skipped: SkippedKey) -> None:
        """Warn once per (kid, reason); the key material is never logged."""
        marker = (skipped.kid, skipped.reason)
        if marker in self._logged_skips:
            return
        if len(self._logged_skips) >= _SKIP_LOG_MEMORY:
            self._logged_skips.clear()
        self._logged_skips.add(marker)
        name = repr(skipped.kid[:64]) if skipped.kid is not None else f"#{skipped.index}"
        logger.warning("JWKS key %s skipped: %s", name, skipped.reason)
