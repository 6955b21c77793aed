"""The verifier: token string -> :class:`AccessToken`, or a :class:`GuardError`.

Order of checks (RFC 8725 section 3, RFC 7519 section 7.2): size and shape, header
(``alg`` allow-list, ``crit``, ``typ``; its JSON work bounded), issuer chosen by the
unverified ``iss`` found without parsing the payload, key by ``kid`` from that
issuer's JWKS only, signature, and only then the payload's JSON and the claims. Junk
therefore costs at most about one signature check. The signature is checked with
``cryptography`` directly: the parse and the claim rules stay a small fraction of the
RSA verify itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

import httpx2

from ._claims import claim_includes_values, claim_value_equals
from ._config import ClaimCheck, GuardConfig
from ._dpop import NonceSource, ProofChecker, ProofResult, ReplayCache
from ._errors import GuardError, InvalidToken, KeysUnavailable, Reason
from ._jwa import HMAC_ALGORITHMS, PublicKey, SignatureCheck, signature_check, verify_hmac
from ._jwks import JWKSKeySource, VerificationKey
from ._jws import issuer_hint, named_issuer, parse_claims, split_compact
from ._scopes import parse_scopes
from ._token import AccessToken, make_access_token
from ._token_cache import KeyPresence, VerifiedTokenCache

__all__ = ["Verifier"]

logger = logging.getLogger("genauth_guard.verifier")

_MISSING: Any = object()
# NumericDate bounds (RFC 7519 section 2): beyond them a value is nonsense, and the
# bound keeps int + float arithmetic from overflowing on absurd integers.
_MAX_DATE = 1e13
_NEG_INF = float("-inf")
_HEADER_VERDICTS = 64
_STRING_CLAIMS = ("sub", "client_id", "azp", "jti")
# A kid longer than this cannot be one of ours; rejecting it early keeps such strings
# from reaching the key source at all (RFC 8725 section 3.10: kid is untrusted input).
_MAX_KID = 256
# typ values accepted by default: GenAuth's "JWT" and RFC 9068's "at+jwt" (media types
# are case-insensitive, RFC 7515 section 4.1.9). Other explicit types (logout, DPoP,
# SET...) are other kinds of JWT and are refused (RFC 8725 section 3.11).
_DEFAULT_TYPES = frozenset({"jwt", "application/jwt", "at+jwt", "application/at+jwt"})
_RFC9068_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Claims only an ID token carries (OIDC Core sections 2 and 3.3.2.11); auth_time is
# also an access token claim (RFC 9068 section 2.2.1), so it is not among them.
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")

# A checked header, its alg, signature check, kid and read-only view (_check_header).
_Verdict = tuple[dict[str, Any], str, SignatureCheck, str | None, Mapping[str, Any]]
# What the steps around the key lookup share: candidate issuers, kid, verdict, payload,
# signing input, signature, bound. A plain tuple: the cheapest to build and unpack.
_Pending = tuple[tuple[str, ...], str | None, _Verdict, bytes, bytes, bytes, bool]
# The key search: yields the source to fetch a key from, receives the key or the error;
# returns the issuer, its source and the key.
_Search = Generator[
    JWKSKeySource, VerificationKey | Exception, tuple[str, JWKSKeySource, VerificationKey]
]


def _raise_warm_up_failure(result: object) -> None:
    """Raise what a warm-up of one key source ended with, if it failed."""
    if isinstance(result, GuardError):
        raise result
    if isinstance(result, BaseException):
        if not isinstance(result, Exception):
            raise result
        logger.error("key source failed during warm-up", exc_info=result)
        raise KeysUnavailable() from result


@contextmanager
def _dpop_scheme() -> Iterator[None]:
    """Errors of a DPoP request are answered in the ``DPoP`` challenge (RFC 9449 7.1)."""
    try:
        yield
    except GuardError as error:
        error.scheme = "DPoP"
        raise


def _numeric_date(claims: Mapping[str, Any], name: str) -> int | float | None:
    """A NumericDate claim (RFC 7519 section 2), None when absent; bool is not a number."""
    value = claims.get(name, _MISSING)
    if value is _MISSING:
        return None
    kind = type(value)
    if (kind is int or kind is float) and -_MAX_DATE <= value <= _MAX_DATE:
        return value  # type: ignore[no-any-return]
    raise InvalidToken(Reason.CLAIM, f"claim {name} must be a NumericDate")


def _equals(expected: Any) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return claim_value_equals(value, expected)  # JSON equality: true is not 1

    return check


def _includes(expected: tuple[Any, ...]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return claim_includes_values(value, expected)

    return check


def _compile_check(check: ClaimCheck) -> Callable[[Any], bool]:
    if callable(check):
        return check
    if isinstance(check, tuple):
        return _includes(check)
    return _equals(check)


def _run_check(name: str, check: Callable[[Any], bool], value: Any) -> None:
    try:
        ok = bool(check(value))
    except Exception:
        logger.warning("claim check for %r raised; token rejected", name, exc_info=True)
        ok = False
    if not ok:
        raise InvalidToken(Reason.CLAIM, f"claim {name} not accepted")


def binding_refused(bound: bool) -> InvalidToken:
    if bound:
        return InvalidToken(
            Reason.SENDER_CONSTRAINED, "the access token is not DPoP-bound (no cnf)"
        )
    # RFC 9449 section 7.1 (and RFC 8705 section 3): a token bound to a key must not be
    # usable without proof of possession of that key.
    return InvalidToken(
        Reason.SENDER_CONSTRAINED, "sender-constrained token (cnf) sent as a bearer token"
    )


def _key_description(key: VerificationKey) -> str:
    """e.g. ``EC P-256 key for ES256``: what the key serves, for the refusal log."""
    kind = f"{key.kty} {key.crv}" if key.crv else key.kty
    return f"{kind} key for {'/'.join(sorted(key.algorithms))}"


def _hmac_only(key: PublicKey, signing_input: bytes, signature: bytes) -> bool:
    """The scheme entry of HS* algs: never true with a key (the secret path is apart)."""
    return False


class _SecretPresence:
    """The cache's key test for HS* tokens: the configured secret never leaves."""

    def has_key(self, kid: str | None) -> bool:
        return True

    def serves(self, kid: str | None, key: object) -> bool:
        return True


_SECRET_PRESENT = _SecretPresence()


class _DPoPVerifier(Protocol):
    """What a DPoP request check needs of a verifier (Verifier, IntrospectingVerifier)."""

    @property
    def dpop(self) -> ProofChecker | None: ...

    async def verify_bound(self, token: str) -> AccessToken: ...


class _SyncDPoPVerifier(Protocol):
    """What the sync DPoP request check needs of a verifier."""

    @property
    def dpop(self) -> ProofChecker | None: ...

    def verify_bound_sync(self, token: str) -> AccessToken: ...


async def verify_dpop_request(
    verifier: _DPoPVerifier,
    token: str,
    proof: str | Sequence[str] | None,
    method: str,
    url: str,
) -> AccessToken:
    """The proof (RFC 9449 section 4.3), then the token by ``verifier``'s own rules,
    bound to the proof's key (section 7, ``cnf.jkt``); errors in the DPoP challenge."""
    with _dpop_scheme():
        dpop, result = _dpop_proof(verifier.dpop, token, proof, method, url)
        # The bound path of the whole verification: cnf required, not refused.
        access = await verifier.verify_bound(token)
        dpop.bind(access, result)
        dpop.accept(result)
    return access


def verify_dpop_request_sync(
    verifier: _SyncDPoPVerifier,
    token: str,
    proof: str | Sequence[str] | None,
    method: str,
    url: str,
) -> AccessToken:
    """:func:`verify_dpop_request` for synchronous code (the same steps)."""
    with _dpop_scheme():
        dpop, result = _dpop_proof(verifier.dpop, token, proof, method, url)
        access = verifier.verify_bound_sync(token)
        dpop.bind(access, result)
        dpop.accept(result)
    return access


def _dpop_proof(
    dpop: ProofChecker | None, token: str, proof: str | Sequence[str] | None, method: str, url: str
) -> tuple[ProofChecker, ProofResult]:
    if dpop is None:
        raise InvalidToken(Reason.TYPE, "DPoP-bound tokens are not accepted here")
    return dpop, dpop.check(proof, method, url, token)


class Verifier:
    """Verifies bearer access tokens against one or several issuers.

    ``verify`` raises only :class:`InvalidToken` or :class:`KeysUnavailable`. Key
    sources are built from ``config`` (one per issuer, sharing ``http_client`` when
    given) unless ``key_sources`` maps every configured issuer to one.

    ``verify`` (async) and ``verify_sync`` (threads) share every rule, the caches and
    the keys; they differ only in how a key that is not fresh is fetched. One verifier
    can serve both at once (an ASGI Django app with sync and async views).
    """

    def __init__(
        self,
        config: GuardConfig,
        *,
        http_client: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        key_sources: Mapping[str, JWKSKeySource] | None = None,
        dpop_replay_cache: ReplayCache | None = None,
        dpop_nonces: NonceSource | None = None,
        sync_http_client: httpx2.Client | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        if key_sources is not None:
            missing = set(config.issuers) - set(key_sources)
            extra = set(key_sources) - set(config.issuers)
            if missing or extra:
                raise ValueError("key_sources must map exactly the configured issuers")
            self._sources: dict[str, JWKSKeySource] = dict(key_sources)
            self._owned: tuple[JWKSKeySource, ...] = ()
        else:
            self._sources = {
                issuer: JWKSKeySource(
                    jwks_uri=config.jwks_uri,
                    issuer=issuer,
                    http_client=http_client,
                    cache_ttl=config.cache_ttl,
                    refetch_per_minute=config.refetch_per_minute,
                    stale_max_age=config.stale_max_age,
                    timeout=config.http_timeout,
                    allow_http=config.allow_http,
                    algorithms=config.algorithms,
                    sync_http_client=sync_http_client,
                )
                for issuer in config.issuers
            }
            self._owned = tuple(self._sources.values())
        self._schemes: dict[str, SignatureCheck] = {}
        for alg in config.algorithms:
            check = signature_check(alg)
            if check is not None:
                self._schemes[alg] = check
        # HS* only with the configured secret (GuardConfig refuses HS* without one): the
        # secret is its own "key", and no JWKS key is ever consulted for such a token.
        secret = config.shared_secret
        self._secret: bytes | None = secret if isinstance(secret, bytes) else None
        self._hmac_algs = frozenset(a for a in config.algorithms if a in HMAC_ALGORITHMS)
        for alg in self._hmac_algs:
            self._schemes[alg] = _hmac_only
        self._audiences = frozenset(config.audiences)
        self._types = _RFC9068_TYPES if config.strict_rfc9068 else _DEFAULT_TYPES
        self._required = config.effective_required_claims
        self._checks = tuple(
            (name, _compile_check(check)) for name, check in config.claim_checks.items()
        )
        # Predicates may depend on more than the token (a deny list of jti values), so
        # they run again on every cache hit; values and lists are cached with the rest.
        self._live_checks = tuple(
            (name, check) for name, check in config.claim_checks.items() if callable(check)
        )
        self._reject_id_tokens = config.reject_id_tokens
        # One issuer: its keys are known before the payload is read.
        self._single = next(iter(self._sources.items())) if len(self._sources) == 1 else None
        self._max_bytes = config.max_token_bytes
        self._strict = config.strict_rfc9068
        self._leeway = config.leeway
        self._max_age = config.max_token_age
        self._scope_claims = tuple(config.scope_claims)
        self._header_memo: dict[bytes, dict[str, Any]] = {}
        self._header_verdicts: dict[int, _Verdict] = {}
        self._cache = (
            VerifiedTokenCache(config.token_cache_size) if config.token_cache_size > 0 else None
        )
        #: DPoP proof rules (RFC 9449), None when ``config.dpop`` is ``off``; the
        #: adapters read its mode and challenge from here.
        self.dpop: ProofChecker | None = (
            ProofChecker.from_config(
                config, clock=clock, replay_cache=dpop_replay_cache, nonces=dpop_nonces
            )
            if config.dpop != "off"
            else None
        )

    def cached(self, token: str) -> AccessToken | None:
        """The token from the cache of verified tokens, or None: synchronous, no I/O.

        Lets an adapter skip creating and awaiting a coroutine for a reused token; a
        None means nothing (call :meth:`verify`), never "rejected". A cached token that
        is now refused (a predicate claim check fails, a ``cnf``-bound token sent as a
        bearer token) raises :class:`InvalidToken`, as :meth:`verify` would.
        """
        return self._hit(token, False)

    def _hit(self, token: Any, bound: bool) -> AccessToken | None:
        cache = self._cache
        # The size check comes before the lookup: hashing a huge string for it would
        # already cost more than rejecting it.
        if cache is None or type(token) is not str or len(token) > self._max_bytes:
            return None
        hit = cache.get(token, self._clock())
        if hit is not None:
            if ("cnf" in hit.claims) is not bound:
                raise binding_refused(bound)
            for name, check in self._live_checks:
                _run_check(name, check, hit.claims[name])
        return hit

    async def verify(self, token: str) -> AccessToken:
        """Verify ``token`` and return its :class:`AccessToken` (RFC 7519 section 7.2).

        The bearer entry point: a token bound to a key (``cnf``) is refused here.
        """
        hit = self._hit(token, False)
        if hit is not None:
            return hit
        return await self._verify_signed(token, False)

    async def _verify(self, token: str, *, bound: bool) -> AccessToken:
        """The whole verification; ``bound=True`` requires ``cnf`` instead of refusing it.

        For a proof-of-possession path (RFC 9449), which then checks the proof against
        the token's ``cnf``. The cache is shared: each path refuses the other's tokens.
        """
        return self._hit(token, bound) or await self._verify_signed(token, bound)

    def verify_sync(self, token: str) -> AccessToken:
        """:meth:`verify` for synchronous code (WSGI, workers): same rules and caches.

        Only the key lookup differs: a fetch runs on the calling thread, shared by
        every thread that needs it (see :meth:`JWKSKeySource.get_key_sync`).
        """
        hit = self._hit(token, False)
        if hit is not None:
            return hit
        return self._verify_signed_sync(token, False)

    async def _verify_signed(self, token: str, bound: bool) -> AccessToken:
        """Verify a token not in the cache; the key lookup awaited (asyncio driver)."""
        pending = self._before_key(token, bound)
        if isinstance(pending, AccessToken):
            return pending
        search = self._search(pending)
        try:
            source = next(search)
            while True:
                try:
                    outcome: VerificationKey | Exception = await source.get_key(pending[1])
                except Exception as exc:
                    outcome = exc
                source = search.send(outcome)
        except StopIteration as done:
            found: tuple[str, JWKSKeySource, VerificationKey] = done.value
        return self._after_key(token, pending, found)

    def _verify_signed_sync(self, token: str, bound: bool) -> AccessToken:
        """:meth:`_verify_signed` with the key lookup on this thread (thread driver)."""
        pending = self._before_key(token, bound)
        if isinstance(pending, AccessToken):
            return pending
        search = self._search(pending)
        try:
            source = next(search)
            while True:
                try:
                    outcome: VerificationKey | Exception = source.get_key_sync(pending[1])
                except Exception as exc:
                    outcome = exc
                source = search.send(outcome)
        except StopIteration as done:
            found: tuple[str, JWKSKeySource, VerificationKey] = done.value
        return self._after_key(token, pending, found)

    def _before_key(self, token: str, bound: bool) -> AccessToken | _Pending:
        """Everything before the key lookup, no I/O: header, candidate issuers; an HS*
        token (the configured secret is its key) is verified whole here."""
        header, payload, signing_input, signature = split_compact(
            token, self._max_bytes, self._header_memo
        )

        # An issuer's tokens share a few headers, and split_compact hands back the same
        # dict for the same header bytes: its verdict is remembered by identity (the
        # entry holds the dict, so its id cannot be reused while the entry lives).
        verdict = self._header_verdicts.get(id(header))
        if verdict is None or verdict[0] is not header:
            verdict = self._check_header(header)
        _, alg, _, kid, header_view = verdict

        # The unverified iss only selects whose keys to try; the signature then proves
        # it (RFC 8725 section 3.8). It is found without parsing the payload: the JSON
        # is read only once the signature shows who wrote it. With one issuer there is
        # nothing to select, and the raw text is read only when something fails.
        sources = self._sources
        if self._single is None:
            named = issuer_hint(payload, sources)
            if not named:
                if named is None:
                    raise InvalidToken(Reason.MISSING_CLAIM, "missing claim: iss")
                raise self._foreign(payload)
            if len(named) > 1:
                # Several accepted issuers named (a nested act claim, RFC 8693): those
                # whose keys hold the kid first; the others are tried on an unknown kid.
                named = tuple(sorted(named, key=lambda i: not sources[i].has_key(kid)))
            candidates = named
        else:
            candidates = (self._single[0],)
        if alg in self._hmac_algs:
            # The shared secret is the key: nothing to select; the parsed iss decides.
            return self._verify_hmac(
                token, alg, payload, signing_input, signature, header_view, candidates, bound
            )
        return candidates, kid, verdict, payload, signing_input, signature, bound

    def _search(self, pending: _Pending) -> _Search:
        """The key among the candidate issuers, no I/O: yields a source whose keys must
        be fetched (the driver sends back its key or error); the next candidate is
        tried on an unknown kid."""
        candidates, kid, _, payload, _, _, _ = pending
        for position, iss in enumerate(candidates, 1):
            source = self._sources[iss]
            try:
                # Synchronous when the keys are fresh: no fetch to ask the driver for.
                found = source.fresh_key(kid)
                if found is None:
                    self._refuse_foreign(payload)  # before any fetch it could trigger
                    outcome = yield source
                    if isinstance(outcome, Exception):
                        raise outcome
                    found = outcome
                return iss, source, found
            except InvalidToken as error:
                if error.reason is not Reason.UNKNOWN_KEY or position == len(candidates):
                    raise
            except GuardError:
                raise
            except Exception:
                logger.exception("key source failed unexpectedly")
                raise KeysUnavailable() from None
        raise AssertionError("unreachable: there is always a candidate")

    def _after_key(
        self, token: str, pending: _Pending, found: tuple[str, JWKSKeySource, VerificationKey]
    ) -> AccessToken:
        """Everything after the key lookup, no I/O: signature, claims, the cache."""
        _, kid, verdict, payload, signing_input, signature, bound = pending
        _, alg, scheme, _, header_view = verdict
        iss, source, key = found
        # RFC 8725 3.1 and RFC 7517 4.4: the key's type, curve and declared alg fix
        # the algs it serves (_jwa.algorithms_for_key); the token's alg must be one.
        if alg not in key.algorithms:
            raise InvalidToken(
                Reason.ALGORITHM,
                "algorithm does not match the signing key",
                actual=alg,
                expected=_key_description(key),
            )
        if not signature:
            raise InvalidToken(Reason.SIGNATURE, "signature missing")
        if not scheme(key.key, signing_input, signature):
            self._refuse_foreign(payload)
            raise InvalidToken(Reason.SIGNATURE, "signature invalid")
        claims = self._signed_claims(payload, iss)
        return self._accept(token, claims, header_view, iss, source, kid, key, bound)

    def _signed_claims(self, payload: bytes, iss: str) -> dict[str, Any]:
        """The payload's claims once its signature holds; ``iss`` must be the selected one."""
        claims = parse_claims(payload)
        claimed = claims.get("iss", _MISSING)
        if claimed is _MISSING:
            raise InvalidToken(Reason.MISSING_CLAIM, "missing claim: iss")
        if claimed != iss or type(claimed) is not str:
            raise InvalidToken(
                Reason.ISSUER, "issuer not accepted", actual=claimed, expected=self.config.issuers
            )
        return claims

    def _accept(
        self,
        token: str,
        claims: dict[str, Any],
        header_view: Mapping[str, Any],
        iss: str,
        presence: KeyPresence,
        kid: str | None,
        key: object,
        bound: bool,
    ) -> AccessToken:
        """Claim rules after a good signature; the AccessToken, remembered in the cache
        with the very key that verified it."""
        access, not_before, not_after = self.accept_claims(claims, header_view, iss, bound=bound)
        if self._cache is not None and type(token) is str:  # bytes-likes: not cached
            self._cache.put(token, access, not_before, not_after, presence, kid, key)
        return access

    def accept_claims(
        self,
        claims: dict[str, Any],
        header_view: Mapping[str, Any],
        iss: str,
        *,
        bound: bool = False,
    ) -> tuple[AccessToken, float, float]:
        """The claim rules (RFC 7519 7.2 step 10 on) for claims whose origin is proven.

        Returns the token and the interval ``[not_before, not_after)`` in which the
        rules accept it. Also applied to introspection responses (RFC 7662 section 2.2).
        ``bound``: the caller proved possession of the ``cnf`` key (else ``cnf`` refuses).
        """
        not_before, not_after = self._check_claims(claims, self._clock(), bound)
        access = make_access_token(
            MappingProxyType(claims),
            header_view,
            parse_scopes(claims, self._scope_claims),
            claims.get("sub"),
            claims.get("client_id") or claims.get("azp"),
            iss,
            int(claims["exp"]),
        )
        return access, not_before, not_after

    def _verify_hmac(
        self,
        token: str,
        alg: str,
        payload: bytes,
        signing_input: bytes,
        signature: bytes,
        header_view: Mapping[str, Any],
        candidates: tuple[str, ...],
        bound: bool,
    ) -> AccessToken:
        """HS* with the configured shared secret only (RFC 7518 3.2, RFC 8725 2.1)."""
        assert self._secret is not None  # GuardConfig enables HS* only with a secret
        if not signature:
            raise InvalidToken(Reason.SIGNATURE, "signature missing")
        if not verify_hmac(alg, self._secret, signing_input, signature):
            self._refuse_foreign(payload)
            raise InvalidToken(Reason.SIGNATURE, "signature invalid")
        claims = parse_claims(payload)
        iss = claims.get("iss", _MISSING)
        if iss is _MISSING:
            raise InvalidToken(Reason.MISSING_CLAIM, "missing claim: iss")
        if type(iss) is not str or iss not in candidates:
            raise InvalidToken(
                Reason.ISSUER, "issuer not accepted", actual=iss, expected=self.config.issuers
            )
        return self._accept(token, claims, header_view, iss, _SECRET_PRESENT, None, None, bound)

    async def verify_dpop(
        self, token: str, proof: str | Sequence[str] | None, method: str, url: str
    ) -> AccessToken:
        """Verify a DPoP request: the proof (RFC 9449 section 4.3), then the token bound
        to its key (section 7): all the rules of :meth:`verify`, plus ``cnf.jkt``.

        ``proof`` is the ``DPoP`` header (all values sent); ``url`` the request URL the
        caller used. Errors are answered in the ``DPoP`` challenge.
        """
        return await verify_dpop_request(self, token, proof, method, url)

    async def verify_bound(self, token: str) -> AccessToken:
        """The proof-of-possession path of the whole verification: ``cnf`` required
        instead of refused (the caller checks possession of that key)."""
        return self._hit(token, True) or await self._verify_signed(token, True)

    def verify_dpop_sync(
        self, token: str, proof: str | Sequence[str] | None, method: str, url: str
    ) -> AccessToken:
        """:meth:`verify_dpop` for synchronous code: same proof rules and replay cache."""
        return verify_dpop_request_sync(self, token, proof, method, url)

    def verify_bound_sync(self, token: str) -> AccessToken:
        """:meth:`verify_bound` for synchronous code."""
        return self._hit(token, True) or self._verify_signed_sync(token, True)

    def _refuse_foreign(self, payload: bytes) -> None:
        """One issuer: a token whose raw text names only other issuers is refused as such.

        Called when the key is not at hand or the signature fails, so valid tokens
        never pay for reading the raw text, and a foreign token triggers no key fetch.
        """
        if self._single is not None and issuer_hint(payload, self._sources) == ():
            raise self._foreign(payload)

    def _foreign(self, payload: bytes) -> InvalidToken:
        return InvalidToken(
            Reason.ISSUER,
            "issuer not accepted",
            actual=named_issuer(payload),
            expected=self.config.issuers,
        )

    def _check_header(self, header: dict[str, Any]) -> _Verdict:
        """``alg`` from the allow-list (RFC 8725 3.1), ``kid`` (RFC 7515 4.1.4), ``typ``."""
        alg = header.get("alg")
        scheme = self._schemes.get(alg) if type(alg) is str else None
        if scheme is None:
            raise InvalidToken(
                Reason.ALGORITHM,
                "algorithm not allowed",
                actual=alg,
                expected=self.config.algorithms,
            )
        assert isinstance(alg, str)  # it named an allowed scheme
        kid = header.get("kid")
        if kid is not None:
            if type(kid) is not str:
                raise InvalidToken(Reason.MALFORMED, "kid must be a string")
            if len(kid) > _MAX_KID:
                raise InvalidToken(Reason.UNKNOWN_KEY, "unknown signing key")
        typ = header.get("typ", _MISSING)
        if typ is _MISSING:
            if self._strict:
                raise InvalidToken(Reason.TYPE, "token type must be at+jwt")
        elif type(typ) is not str or typ.lower() not in self._types:
            raise InvalidToken(
                Reason.TYPE, "token type not accepted", actual=typ, expected=sorted(self._types)
            )
        verdict: _Verdict = (header, alg, scheme, kid, MappingProxyType(header))
        verdicts = self._header_verdicts
        if len(verdicts) >= _HEADER_VERDICTS:
            verdicts.clear()  # bounded like parse_compact's memo; real headers come back
        verdicts[id(header)] = verdict
        return verdict

    def _check_claims(
        self, claims: Mapping[str, Any], now: float, bound: bool = False
    ) -> tuple[float, float]:
        """Claim rules after the signature; returns the interval the token stays valid."""
        leeway = self._leeway
        for name in self._required:
            if name not in claims:
                raise InvalidToken(Reason.MISSING_CLAIM, f"missing claim: {name}")
        if ("cnf" in claims) is not bound:
            raise binding_refused(bound)
        if self._reject_id_tokens:
            for name in _ID_TOKEN_CLAIMS:
                if name in claims:
                    # OIDC Core 2: an ID token is for the client, not for an API; in
                    # GenAuth its aud is the app id, often the API's audience too.
                    raise InvalidToken(Reason.ID_TOKEN, "an ID token is not an access token")

        # RFC 7519 4.1.4: reject at or after exp (plus leeway). "exp" is always among
        # the required claims, so it is present here.
        exp = claims["exp"]
        kind = type(exp)
        if (kind is not int and kind is not float) or not -_MAX_DATE <= exp <= _MAX_DATE:
            raise InvalidToken(Reason.CLAIM, "claim exp must be a NumericDate")
        not_after = exp + leeway
        if now >= not_after:
            raise InvalidToken(Reason.EXPIRED, "token expired")
        not_before = _NEG_INF
        nbf = _numeric_date(claims, "nbf") if "nbf" in claims else None  # RFC 7519 4.1.5
        if nbf is not None:
            not_before = nbf - leeway
            if now < not_before:
                raise InvalidToken(Reason.NOT_YET_VALID, "token not yet valid (nbf)")
        iat = _numeric_date(claims, "iat") if "iat" in claims else None  # RFC 7519 4.1.6
        if iat is not None:
            issued = iat - leeway
            if issued > not_before:
                not_before = issued
            if now < issued:
                raise InvalidToken(Reason.ISSUED_IN_FUTURE, "token issued in the future (iat)")
        max_age = self._max_age
        if max_age is not None:
            if iat is None:
                raise InvalidToken(Reason.MISSING_CLAIM, "missing claim: iat")
            not_after = min(not_after, iat + max_age + leeway)
            if now >= not_after:
                raise InvalidToken(Reason.TOO_OLD, "token too old (max_token_age)")

        # RFC 7519 4.1.3: aud is one string or an array of strings.
        aud = claims["aud"]
        if type(aud) is str:
            accepted = aud in self._audiences
        elif type(aud) is list and all(type(item) is str for item in aud):
            accepted = not self._audiences.isdisjoint(aud)
        else:
            raise InvalidToken(Reason.AUDIENCE, "claim aud must be a string or list of strings")
        if not accepted:
            raise InvalidToken(
                Reason.AUDIENCE, "audience not accepted", actual=aud, expected=self.config.audiences
            )

        # StringOrURI / string claims (RFC 7519 4.1.2, 4.1.7; RFC 9068 2.2; OIDC azp).
        for name in _STRING_CLAIMS:
            if name in claims:
                value = claims[name]
                if value is not None and type(value) is not str:
                    raise InvalidToken(Reason.CLAIM, f"claim {name} must be a string")

        for name, check in self._checks:
            value = claims.get(name, _MISSING)
            if value is _MISSING:
                raise InvalidToken(Reason.MISSING_CLAIM, f"missing claim: {name}")
            _run_check(name, check, value)
        return not_before, not_after

    async def warm_up(self) -> None:
        """Fetch the keys of every issuer now; raises :class:`KeysUnavailable`."""
        results = await asyncio.gather(
            *(source.refresh() for source in self._sources.values()), return_exceptions=True
        )
        for result in results:
            _raise_warm_up_failure(result)

    def warm_up_sync(self) -> None:
        """:meth:`warm_up` for synchronous code (one issuer after the other)."""
        for source in self._sources.values():
            try:
                source.refresh_sync()
            except Exception as exc:
                _raise_warm_up_failure(exc)

    async def aclose(self) -> None:
        """Close the key sources this verifier created (and their HTTP clients)."""
        if self._cache is not None:
            self._cache.clear()
        for source in self._owned:
            await source.aclose()
            source.close()

    def close(self) -> None:
        """:meth:`aclose` for synchronous code: closes the sync HTTP clients.

        Async clients belong to their event loop and are closed by :meth:`aclose`.
        """
        if self._cache is not None:
            self._cache.clear()
        for source in self._owned:
            source.close()

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Verifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
