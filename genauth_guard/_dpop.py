"""DPoP, sender-constrained access tokens (RFC 9449): the proof rules, without I/O.

A DPoP request carries ``Authorization: DPoP <token>`` and one ``DPoP`` header holding
a proof: a JWT signed by a key the caller holds, naming the request (``htm``,
``htu``), its time (``iat``), a unique ``jti``, the token's hash (``ath``) and,
when the server asks, a nonce. The token's ``cnf.jkt`` names the key (RFC 7638
thumbprint). Everything here is framework-free and synchronous:

* :class:`ProofChecker` applies RFC 9449 section 4.3 to one proof and binds it to a
  verified token (section 7);
* :class:`InMemoryReplayCache` remembers ``jti`` values for the proof window, bounded
  (section 11.1); :class:`ReplayCache` is the interface for a cache shared by replicas;
* :class:`NonceSource` makes and checks rotating, stateless server nonces (section 9);
* :func:`normalize_htu` and :func:`request_url` give the URL to compare ``htu`` with,
  forwarded headers honoured only from trusted proxies;
* :func:`dpop_credentials` reads the DPoP scheme and proof headers of an ASGI scope.

No function logs, and no error message contains a token or a proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, urlsplit

from . import _jwa
from ._errors import (
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    Reason,
    UseDPoPNonce,
)
from ._jwk import VerificationKey, parse_public_jwk
from ._jws import parse_compact

if TYPE_CHECKING:
    from ._config import GuardConfig
    from ._token import AccessToken

__all__ = [
    "DPoPCredentials",
    "InMemoryReplayCache",
    "NonceSource",
    "ProofChecker",
    "ProofResult",
    "ReplayCache",
    "access_token_hash",
    "dpop_credentials",
    "normalize_htu",
    "request_url",
]

Mode = Literal["off", "allowed", "required"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A proof is a header with a public key and a handful of short claims: an RSA-4096
# key makes it about 1.5 KB; 8 KiB leaves room and bounds the work on junk.
MAX_PROOF_BYTES = 8 * 1024
_MAX_JTI = 256
_MAX_HTU = 4096
_PROOF_TYPES = frozenset({"dpop+jwt", "application/dpop+jwt"})
_KEY_MEMO = 256
_MEMO = 512
_MISSING: Any = object()
# RFC 7235 token68, the syntax of the DPoP scheme's credentials (RFC 9449 section 7.1).
_TOKEN68 = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Websocket handshakes are HTTP GETs; ws/wss URLs are compared as http/https.
_WS_SCHEMES = {"ws": "http", "wss": "https"}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{1,5})?")
_PROTO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")

Scope = MutableMapping[str, Any]


# -- URLs --------------------------------------------------------------------------------


def _normalize_percent(match: re.Match[str]) -> str:
    """RFC 3986 6.2.2.1-2: upper-case hex digits, decode unreserved characters."""
    octet = int(match.group(1), 16)
    return chr(octet) if octet in _UNRESERVED else f"%{octet:02X}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 (applied by 6.2.2.3)."""
    output: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def normalize_htu(url: str) -> str | None:
    """``url`` without query and fragment, normalised for comparison; None if unusable.

    RFC 9449 section 4.3 step 9 with RFC 3986 6.2.2 (case, percent-encoding, dot
    segments) and 6.2.3 (default port, empty path is ``/``); ws/wss count as
    http/https. Only absolute http(s) URLs with a host qualify.
    """
    if len(url) > _MAX_HTU:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    scheme = _WS_SCHEMES.get(scheme, scheme)
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _PERCENT.sub(_normalize_percent, parts.path)
    return f"{scheme}://{netloc}{_remove_dot_segments(path) if path else '/'}"


def trusted_networks(proxies: Iterable[str]) -> tuple[Network, ...]:
    """Parsed ``trusted_proxies`` (addresses or networks)."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted(scope: Scope, networks: Sequence[Network]) -> bool:
    if not networks:
        return False
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in networks)


def _header(scope: Scope, name: bytes) -> str | None:
    """The last value of header ``name`` (the one the nearest proxy set), or None."""
    found = None
    for key, value in scope.get("headers", ()):
        if key == name:
            found = value
    return found.decode("latin-1") if found is not None else None


def _forwarded(value: str) -> dict[str, str]:
    """The last element of an RFC 7239 ``Forwarded`` header: the nearest proxy's."""
    element = value.split(",")[-1]
    params: dict[str, str] = {}
    for pair in element.split(";"):
        name, sep, raw = pair.partition("=")
        if sep:
            params[name.strip().lower()] = raw.strip().strip('"')
    return params


def request_url(scope: Scope, trusted: Sequence[Network] = ()) -> str:
    """The URL the caller used for this ASGI request, without the query.

    From the scope and the ``Host`` header; ``Forwarded`` (RFC 7239) or
    ``X-Forwarded-Proto/Host/Prefix`` only when the direct peer is in ``trusted``
    (otherwise any client could name the URL its proof was made for).
    """
    scheme = scope.get("scheme") or "http"
    host = _header(scope, b"host")
    if host is None:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    raw_path = scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path:
        # The request target as sent: percent-encoding intact (ASGI spec).
        path = raw_path.split(b"?", 1)[0].decode("latin-1")
        root = scope.get("root_path", "")
        if root and not path.startswith(root):
            path = quote(root) + path
    else:
        path = quote(scope.get("root_path", "") + scope.get("path", "/"))
    if _is_trusted(scope, trusted):
        proto: str | None
        forwarded = _header(scope, b"forwarded")
        prefix = _header(scope, b"x-forwarded-prefix")
        if forwarded is not None:
            params = _forwarded(forwarded)
            proto, fhost = params.get("proto"), params.get("host")
        else:
            proto = _header(scope, b"x-forwarded-proto")
            fhost = _header(scope, b"x-forwarded-host")
            proto = proto.split(",")[-1].strip() if proto else None
            fhost = fhost.split(",")[-1].strip() if fhost else None
        if proto and _PROTO.fullmatch(proto):
            scheme = proto.lower()
        if fhost and _HOST.fullmatch(fhost):
            host = fhost
        if prefix:
            prefix = prefix.split(",")[-1].strip().rstrip("/")
            if prefix.startswith("/"):
                path = quote(prefix, safe="/%") + path
    if scope.get("type") == "websocket":
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{host}{path}"


# -- credentials -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DPoPCredentials:
    """``Authorization: DPoP <token>`` and the ``DPoP`` header values, as sent."""

    token: str
    proofs: tuple[str, ...]


def dpop_credentials(headers: Iterable[tuple[bytes, bytes]]) -> DPoPCredentials | None:
    """The DPoP scheme's token and the proof headers, or None for another scheme.

    Several ``Authorization`` headers or a ``DPoP`` scheme without a token68 are a
    malformed request (RFC 9449 section 7.1, RFC 7235 section 2.1).
    """
    auth: bytes | None = None
    proofs: list[str] = []
    for name, value in headers:
        if name == b"authorization":
            if auth is not None:
                raise InvalidRequest("several Authorization headers")
            auth = value
        elif name == b"dpop":
            proofs.append(value.decode("latin-1"))
    if auth is None or auth[:4].lower() != b"dpop" or (len(auth) > 4 and auth[4] not in b" \t"):
        return None
    token = auth[5:].strip(b" \t")
    if not _TOKEN68.fullmatch(token):
        error = InvalidRequest("the DPoP scheme requires a token (RFC 9449 section 7.1)")
        error.scheme = "DPoP"
        raise error
    return DPoPCredentials(token.decode("ascii"), tuple(proofs))


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII (RFC 9449 section 4.2)."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# -- replay cache ------------------------------------------------------------------------


class ReplayCache(Protocol):
    """Remembers proof identifiers until they expire (RFC 9449 section 11.1).

    ``remember`` returns True when ``key`` was new (and stores it until
    ``expires_at``), False when it was seen before: atomically, since two copies of a
    proof may arrive at once. Several replicas of an API need one shared store
    (e.g. Redis ``SET key 1 NX EXAT expires_at``), or a proof refused by one replica
    is accepted by the next.
    """

    def remember(self, key: bytes, expires_at: float, now: float) -> bool: ...


class InMemoryReplayCache:
    """A bounded per-process :class:`ReplayCache`.

    At most ``max_entries`` keys (16-byte digests) with their expiry, about 150 bytes
    each (``make bench`` measures it): 100 000 entries stay near 15 MB. Expired
    entries go first; when every slot holds a live entry the new proof is refused
    (fail closed): evicting a live one would let its proof be replayed.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, key: bytes, expires_at: float, now: float) -> bool:
        entries = self._entries
        with self._lock:
            expiry = entries.get(key)
            if expiry is not None and expiry > now:
                return False
            if len(entries) >= self.max_entries:
                self._purge(now)
                if len(entries) >= self.max_entries:
                    return False
            entries[key] = expires_at
            return True

    def _purge(self, now: float) -> None:
        # Entries arrive in roughly expiry order (the same window for every proof),
        # so the expired ones sit at the front; a full scan only when that fails.
        entries = self._entries
        while entries:
            key, expiry = next(iter(entries.items()))
            if expiry > now:
                break
            del entries[key]
        if len(entries) >= self.max_entries:
            for key in [k for k, e in entries.items() if e <= now]:
                del entries[key]


# -- nonces ------------------------------------------------------------------------------


class NonceSource:
    """Rotating server nonces without server state (RFC 9449 section 9).

    A nonce is the rotation period's number and an HMAC of it; the current and the
    previous period's nonces are accepted, so a nonce lives ``lifetime`` to
    ``2 * lifetime`` seconds. Replicas sharing ``secret`` accept each other's nonces.
    """

    def __init__(
        self,
        lifetime: float = 300.0,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime <= 0:
            raise ValueError("lifetime must be > 0")
        self.lifetime = lifetime
        self._secret = secret or secrets.token_bytes(32)
        self._clock = clock
        self._memo: tuple[int, str] | None = None

    def _nonce(self, period: int) -> str:
        packed = struct.pack(">Q", period & 0xFFFFFFFFFFFFFFFF)
        mac = hmac.new(self._secret, packed, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(packed + mac).rstrip(b"=").decode("ascii")

    def _period(self) -> int:
        return int(self._clock() // self.lifetime)

    def current(self) -> str:
        """The nonce to hand out now (``DPoP-Nonce`` header)."""
        period = self._period()
        memo = self._memo
        if memo is None or memo[0] != period:
            memo = self._memo = (period, self._nonce(period))
        return memo[1]

    def is_valid(self, nonce: object) -> bool:
        """True for this period's or the previous period's nonce."""
        if type(nonce) is not str or len(nonce) != 32:
            return False
        period = self._period()
        return any(hmac.compare_digest(nonce, self._nonce(p)) for p in (period, period - 1))


# -- proofs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProofResult:
    """A proof that passed every check of RFC 9449 section 4.3 but the replay check.

    ``replay_key`` and ``expires_at`` go to the replay cache once the request is
    otherwise accepted (:meth:`ProofChecker.accept`).
    """

    thumbprint: str
    jwk: Mapping[str, Any]
    replay_key: bytes
    expires_at: float


def _invalid(description: str) -> InvalidDPoPProof:
    return InvalidDPoPProof(description)


class ProofChecker:
    """DPoP proof verification with one configuration (RFC 9449 sections 4.3, 7, 9, 11.1).

    ``mode`` and ``trusted`` only inform the adapters (which schemes to accept, which
    proxies to believe); :meth:`check` and :meth:`bind` are the rules.
    """

    def __init__(
        self,
        *,
        algorithms: Sequence[str] = ("ES256", "ES384", "RS256", "PS256", "EdDSA"),
        window: float = 60.0,
        leeway: float = 30.0,
        mode: Mode = "allowed",
        nonces: NonceSource | None = None,
        replay_cache: ReplayCache | None = None,
        trusted_proxies: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        for alg in algorithms:
            if _jwa.signature_check(alg) is None:
                raise ValueError(f"{alg!r} is not an asymmetric JWS algorithm")
        self.algorithms = tuple(algorithms)
        self._algs = frozenset(algorithms)
        self.window = window
        self.leeway = leeway
        self.mode: Mode = mode
        self.bearer_allowed = mode != "required"
        self.nonces = nonces
        self.replay_cache: ReplayCache = replay_cache or InMemoryReplayCache()
        self.trusted = trusted_networks(trusted_proxies)
        self._clock = clock
        # Decoded proof header (parse_compact hands back the same dict for the same
        # header bytes) -> its verdict: a caller reuses its key for every proof, so the
        # JWK import and the thumbprint are paid once per key, not per request.
        self._header_memo: dict[bytes, dict[str, Any]] = {}
        self._keys: dict[int, tuple[dict[str, Any], VerificationKey, _jwa.SignatureCheck]] = {}
        self._htu_memo: dict[str, str | None] = {}
        self._ath_memo: dict[str, str] = {}

    @classmethod
    def from_config(
        cls,
        config: GuardConfig,
        *,
        clock: Callable[[], float] = time.time,
        replay_cache: ReplayCache | None = None,
        nonces: NonceSource | None = None,
    ) -> ProofChecker:
        """The checker a :class:`GuardConfig` describes (``dpop_*`` options)."""
        if nonces is None and config.dpop_nonce:
            nonces = NonceSource(config.dpop_nonce_lifetime, clock=clock)
        return cls(
            algorithms=config.dpop_algorithms,
            window=config.dpop_proof_window,
            leeway=config.leeway,
            mode=config.dpop,  # type: ignore[arg-type]
            nonces=nonces,
            replay_cache=replay_cache or InMemoryReplayCache(config.dpop_replay_cache_size),
            trusted_proxies=config.trusted_proxies,
            clock=clock,
        )

    @property
    def challenge(self) -> tuple[tuple[str, ...], bool]:
        """``(dpop_algs, bearer)`` for :func:`genauth_guard._errors.render`."""
        return self.algorithms, self.bearer_allowed

    def _key(self, header: dict[str, Any]) -> tuple[VerificationKey, _jwa.SignatureCheck]:
        """The proof header's ``typ``, ``alg`` and ``jwk`` checks (steps 4, 5, 7)."""
        memo = self._keys.get(id(header))
        if memo is not None and memo[0] is header:
            return memo[1], memo[2]
        typ = header.get("typ")
        if type(typ) is not str or typ.lower() not in _PROOF_TYPES:
            raise _invalid("proof typ must be dpop+jwt")
        alg = header.get("alg")
        if type(alg) is not str or alg not in self._algs:
            raise _invalid("proof algorithm not allowed")
        jwk = header.get("jwk")
        if type(jwk) is not dict:
            raise _invalid("proof header has no jwk")
        key, reason = parse_public_jwk(jwk)
        if key is None:
            raise _invalid(f"proof jwk not usable: {reason}")
        if alg not in key.algorithms:
            raise _invalid("proof algorithm does not match its jwk")
        keys = self._keys
        if len(keys) >= _KEY_MEMO:
            keys.clear()  # bounded like parse_compact's memo
        check = _jwa.signature_check(alg)
        assert check is not None  # alg is in the allow-list, checked at construction
        # The key-family rule (alg in key.algorithms) is settled above, once per key.
        keys[id(header)] = (header, key, check)
        return key, check

    def check(
        self,
        proof: str | Sequence[str] | None,
        method: str,
        url: str,
        access_token: str | None = None,
    ) -> ProofResult:
        """Every check of RFC 9449 section 4.3 but replay, or :class:`InvalidDPoPProof`.

        ``proof`` is the ``DPoP`` header value (or every value sent: more than one is
        refused, step 1); ``url`` the request URL as the server knows it; with an
        ``access_token`` the ``ath`` claim must be its hash (step 12). A missing or stale
        nonce, when nonces are on, is :class:`UseDPoPNonce`.
        """
        if proof is not None and not isinstance(proof, str):
            if len(proof) > 1:
                raise _invalid("more than one DPoP header")
            proof = proof[0] if proof else None
        if not proof:
            raise _invalid("DPoP proof missing")
        if len(proof) > MAX_PROOF_BYTES:
            raise _invalid("DPoP proof too large")
        try:
            header, claims, signing_input, signature = parse_compact(
                proof, MAX_PROOF_BYTES, self._header_memo
            )
        except InvalidToken as error:
            raise _invalid(f"DPoP proof malformed: {error.description}") from None
        key, verify = self._key(header)
        if not verify(key.key, signing_input, signature):
            raise _invalid("DPoP proof signature invalid")

        jti = claims.get("jti")
        if type(jti) is not str or not jti or len(jti) > _MAX_JTI:
            raise _invalid("proof jti missing or malformed")
        htm = claims.get("htm")
        if type(htm) is not str or htm != method:
            raise _invalid("proof htm does not match the request method")
        htu = claims.get("htu")
        expected = self._normal(url)
        if (
            type(htu) is not str
            or expected is None
            or (htu != url and self._normal(htu) != expected)
        ):
            raise _invalid("proof htu does not match the request URL")
        iat: Any = claims.get("iat")
        now = self._clock()
        if type(iat) not in (int, float) or not -1e13 < iat < 1e13:
            raise _invalid("proof iat missing or malformed")
        if iat > now + self.leeway:
            raise _invalid("proof issued in the future (iat)")
        if iat < now - self.window - self.leeway:
            raise _invalid("proof too old (iat)")
        if access_token is not None:
            ath = claims.get("ath")
            # compare_digest takes ASCII str only; a non-ASCII ath can never match.
            if (
                type(ath) is not str
                or not ath.isascii()
                or not hmac.compare_digest(ath, self._ath(access_token))
            ):
                raise _invalid("proof ath does not match the access token")
        nonces = self.nonces
        if nonces is not None:
            nonce = claims.get("nonce")
            if not nonces.is_valid(nonce):
                description = "DPoP nonce required" if nonce is None else "DPoP nonce stale"
                raise UseDPoPNonce(nonces.current(), description)
        replay_key = hashlib.sha256(f"{key.thumbprint}.{jti}".encode()).digest()[:16]
        return ProofResult(
            key.thumbprint, header["jwk"], replay_key, iat + self.window + self.leeway
        )

    def _normal(self, url: str) -> str | None:
        """:func:`normalize_htu`, memoised: an API has few URLs, a caller reuses its own."""
        memo = self._htu_memo
        normal = memo.get(url, _MISSING)
        if normal is _MISSING:
            normal = normalize_htu(url)
            if len(memo) >= _MEMO:
                memo.clear()  # bounded: junk URLs cannot grow it
            memo[url] = normal
        return normal  # type: ignore[no-any-return]

    def _ath(self, token: str) -> str:
        """:func:`access_token_hash`, memoised: a token serves many requests."""
        memo = self._ath_memo
        ath = memo.get(token)
        if ath is None:
            ath = access_token_hash(token)
            if len(memo) >= _MEMO:
                memo.clear()
            memo[token] = ath
        return ath

    def accept(self, result: ProofResult) -> None:
        """Record the proof's ``jti``; :class:`InvalidDPoPProof` if seen (section 11.1)."""
        if not self.replay_cache.remember(result.replay_key, result.expires_at, self._clock()):
            raise _invalid("DPoP proof replayed")

    def bind(self, token: AccessToken, result: ProofResult) -> None:
        """The token's ``cnf.jkt`` must name the proof's key (RFC 9449 sections 6.1, 7)."""
        jkt = token.thumbprint
        if jkt is None:
            raise InvalidToken(Reason.CLAIM, "the access token is not DPoP-bound (no cnf.jkt)")
        if not hmac.compare_digest(jkt, result.thumbprint):
            raise InvalidToken(
                Reason.CLAIM, "the DPoP proof key does not match the token's cnf.jkt"
            )
