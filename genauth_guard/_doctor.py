"""``genauth-guard doctor``: why would this API refuse tokens, or this token?

Each check is one line: ``ok``, ``problem`` (an API configured like this would refuse
the token, or every token) or ``note`` (worth knowing, refuses nothing), with how to
fix it. The checks talk to the issuer over HTTP like the API would (OIDC Discovery 1.0
section 4, RFC 7517), then read the token's unverified header and claims against the
configuration, and finally verify it with the real :class:`Verifier`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

from ._config import GuardConfig
from ._discovery import discovery_url
from ._errors import GuardError, InvalidToken
from ._introspection import (
    IntrospectingVerifier,
    _Unusable,
    api_credentials,
    introspection_request,
    parse_introspection_response,
)
from ._jwa import HMAC_ALGORITHMS
from ._jwks import JWKSError, parse_jwks
from ._jws import parse_compact
from ._refusal_log import printable
from ._verifier import _DEFAULT_TYPES, _RFC9068_TYPES, Verifier

__all__ = ["Check", "Report", "diagnose", "unverified_parts"]

Status = Literal["ok", "problem", "note"]

# GenAuth's issuer shape, quoted in fixes.
_GENAUTH_ISSUER = "https://{app-domain}/oidc"
# OIDC Core 1.0 sections 2 and 3.3.2.11: claims only ID tokens carry.
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")
_MAX_DOCUMENT = 512 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report."""

    status: Status
    name: str
    message: str
    fix: str | None = None

    def line(self) -> str:
        fix = f" -> {self.fix}" if self.fix else ""
        return f"{self.status:<8} {self.name:<10} {self.message}{fix}"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def add(self, status: Status, name: str, message: str, fix: str | None = None) -> Check:
        check = Check(status, name, message, fix)
        self.checks.append(check)
        return check

    @property
    def ok(self) -> bool:
        """True when nothing would make the API refuse (the token, when one was given)."""
        return all(check.status != "problem" for check in self.checks)

    def lines(self) -> list[str]:
        return [check.line() for check in self.checks]


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, NOT verified; raises InvalidToken.

    The same strict parser as the verifier, so "malformed" means the same thing.
    """
    header, claims, _, _ = parse_compact(token, 1 << 20, {})
    return header, claims


def strip_bearer(value: str) -> str:
    """A token pasted with its scheme (``Bearer eyJ...``, RFC 6750 2.1) or spaces."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else value


@dataclass
class _Fetched:
    status: int
    body: bytes
    document: Any  # parsed JSON, or None
    date: float | None  # the Date header, as a timestamp


def _fetch(http: httpx2.Client, url: str) -> _Fetched | str:
    """GET a JSON document; an error message instead of raising."""
    try:
        with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_DOCUMENT:
                    return f"{url} answered more than {_MAX_DOCUMENT} bytes"
            status, date_header = response.status_code, response.headers.get("date")
    except httpx2.TimeoutException:
        return f"{url} did not answer in time"
    except httpx2.HTTPError as exc:
        return f"{url} is unreachable ({type(exc).__name__})"
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    date: float | None = None
    if date_header:
        try:
            date = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError):
            date = None
    return _Fetched(status, body, document, date)


def _issuer_difference(configured: str, advertised: str) -> str:
    """What separates the configured issuer from the discovered one, in words."""
    if configured.rstrip("/") == advertised.rstrip("/"):
        if configured.endswith("/"):
            return "the configured issuer has a trailing slash the issuer's own does not"
        return "the issuer's own value has a trailing slash the configured one does not"
    if advertised.rstrip("/") == configured.rstrip("/") + "/oidc":
        return "the configured issuer is missing the /oidc path"
    if configured.rstrip("/") == advertised.rstrip("/") + "/oidc":
        return "the configured issuer has an /oidc path the issuer's own does not"
    return "they differ"


def _check_discovery(
    report: Report, http: httpx2.Client, issuer: str, leeway: float, clock: Callable[[], float]
) -> dict[str, Any] | None:
    url = discovery_url(issuer)
    fetched = _fetch(http, url)
    if isinstance(fetched, str) or fetched.status != 200 or not isinstance(fetched.document, dict):
        what = (
            fetched
            if isinstance(fetched, str)
            else f"{url} answered HTTP {fetched.status}"
            if fetched.status != 200
            else f"{url} did not answer a JSON object"
        )
        fix = f"the issuer is the URL before /.well-known; GenAuth's is {_GENAUTH_ISSUER}"
        if not issuer.rstrip("/").endswith("/oidc"):
            guess = issuer.rstrip("/") + "/oidc"
            probe = _fetch(http, discovery_url(guess))
            if isinstance(probe, _Fetched) and probe.status == 200:
                fix = f"the issuer is missing /oidc: use {guess}"
        report.add("problem", "discovery", what, fix)
        return None
    report.add("ok", "discovery", f"{url} answered")
    document = fetched.document
    advertised = document.get("issuer")
    if advertised == issuer:
        report.add("ok", "issuer", f"the issuer names itself {printable(issuer)}")
    else:
        shown = printable(advertised)
        fix = (
            f"configure exactly {shown} (compared character by character, RFC 7519 4.1.1)"
            if isinstance(advertised, str)
            else "the discovery document must name its issuer (OIDC Discovery 1.0 section 3)"
        )
        report.add(
            "problem",
            "issuer",
            f"discovery names {shown}, configured {printable(issuer)}: "
            + (_issuer_difference(issuer, advertised) if isinstance(advertised, str) else ""),
            fix,
        )
    if fetched.date is not None:
        offset = clock() - fetched.date
        if abs(offset) > leeway + 1:  # the Date header counts whole seconds
            direction = "ahead of" if offset > 0 else "behind"
            report.add(
                "problem",
                "clock",
                f"this machine's clock is {abs(offset):.0f} s {direction} the issuer's, "
                f"beyond the {leeway:g} s leeway",
                "synchronise the clock (NTP), or raise leeway (GENAUTH_LEEWAY)",
            )
        else:
            report.add("ok", "clock", f"within {abs(offset):.0f} s of the issuer's Date header")
    if isinstance(document.get("token_endpoint"), str):
        report.add("ok", "endpoint", f"token endpoint {printable(document['token_endpoint'])}")
    else:
        report.add(
            "note",
            "endpoint",
            "no token_endpoint advertised: callers cannot discover where to get tokens",
            "give callers the token URL (ClientCredentialsAuth(token_url=...))",
        )
    return document


# Not a token anyone was issued: the probe asks only whether the API may ask.
_PROBE_TOKEN = "genauth-guard-doctor-probe"


def _check_introspection(
    report: Report, http: httpx2.Client, config: GuardConfig, document: Any
) -> None:
    """The introspection endpoint answers the API's credentials (RFC 7662 2.1, 2.2)."""
    advertised = document.get("introspection_endpoint") if isinstance(document, dict) else None
    endpoint = config.introspection_endpoint or advertised
    if not isinstance(endpoint, str):
        report.add(
            "problem",
            "introspect",
            "no introspection endpoint: the discovery document has none and none is configured",
            "set GENAUTH_INTROSPECTION_ENDPOINT (GenAuth: "
            "https://{app-domain}/oidc/token/introspection)",
        )
        return
    headers, form = introspection_request(_PROBE_TOKEN, *api_credentials(config))
    try:
        response = http.post(endpoint, headers=headers, data=form)
    except httpx2.HTTPError as exc:
        report.add("problem", "introspect", f"{endpoint} is unreachable ({type(exc).__name__})")
        return
    if response.status_code in (400, 401, 403):
        report.add(
            "problem",
            "introspect",
            f"{endpoint} refused the API's credentials (HTTP {response.status_code})",
            "check GENAUTH_INTROSPECTION_CLIENT_ID, GENAUTH_INTROSPECTION_CLIENT_SECRET and "
            "the client authentication method (post or basic)",
        )
        return
    try:
        answer = parse_introspection_response(response.content[:_MAX_DOCUMENT])
    except _Unusable as exc:
        report.add("problem", "introspect", f"{endpoint}: HTTP {response.status_code}, {exc}")
        return
    if response.status_code != 200 or answer is not None:
        report.add(
            "problem",
            "introspect",
            f"{endpoint} answered HTTP {response.status_code}"
            + (", and called a made-up token active" if answer is not None else ""),
        )
        return
    report.add("ok", "introspect", f"{endpoint} answers the API's credentials")


def _check_jwks(
    report: Report, http: httpx2.Client, jwks_uri: str | None
) -> set[str | None] | None:
    """The kids of the usable keys, or None when the JWKS cannot be had."""
    if jwks_uri is None:
        report.add(
            "problem",
            "jwks",
            "no jwks_uri: the discovery document has none and none is configured",
            "set GENAUTH_JWKS_URI (GenAuth: https://{app-domain}/oidc/.well-known/jwks.json)",
        )
        return None
    fetched = _fetch(http, jwks_uri)
    if isinstance(fetched, str) or fetched.status != 200:
        what = fetched if isinstance(fetched, str) else f"{jwks_uri} answered {fetched.status}"
        report.add("problem", "jwks", what, "check GENAUTH_JWKS_URI or the issuer")
        return None
    try:
        parsed = parse_jwks(fetched.body)
    except JWKSError as exc:
        report.add("problem", "jwks", f"{jwks_uri}: {exc}")
        return None
    skipped = "; ".join(
        f"key {printable(s.kid) if s.kid else f'#{s.index}'} skipped: {s.reason}"
        for s in parsed.skipped
    )
    summary = f"{len(parsed.keys)} usable key{'s' * (len(parsed.keys) != 1)}" + (
        f" ({skipped})" if skipped else ""
    )
    if not parsed.keys:
        report.add(
            "problem",
            "jwks",
            f"{jwks_uri}: no usable key; {summary}",
            "the issuer must publish signing keys the guard can use: RSA of 2048 bits or "
            "more, EC P-256/P-384/P-521 or Ed25519 (GenAuth: access_token signing "
            "algorithm RS256)",
        )
        return None
    report.add("ok", "jwks", f"{jwks_uri}: {summary}")
    return {key.kid for key in parsed.keys}


def _check_token(
    report: Report,
    config: GuardConfig,
    token: str,
    kids: set[str | None] | None,
    now: float,
) -> None:
    try:
        header, claims = unverified_parts(token)
    except InvalidToken as exc:
        report.add(
            "problem",
            "token",
            f"not a signed JWT: {exc.description}",
            "send the access_token field of the token response, without quotes",
        )
        return
    alg = header.get("alg")
    if alg in config.algorithms:
        report.add("ok", "alg", f"{printable(alg)} is allowed")
    elif isinstance(alg, str) and alg.upper().startswith("HS"):
        report.add(
            "problem",
            "alg",
            f"{printable(alg)}: signed with the application secret, not a public key",
            "in the GenAuth console set the application's access_token (and id_token) "
            "signing algorithm to RS256 (Application > Protocol configuration > OIDC), or "
            "give the API the app secret with GENAUTH_SHARED_SECRET (then anyone holding "
            "it can mint tokens: see docs/token-checks.md)",
        )
    else:
        report.add(
            "problem",
            "alg",
            f"{printable(alg)} is not in the allowed {list(config.algorithms)}",
            "allow it with GENAUTH_ALGORITHMS if the issuer signs with it",
        )
    typ = header.get("typ")
    # The verifier's own sets: the rule is written once.
    types = _RFC9068_TYPES if config.strict_rfc9068 else _DEFAULT_TYPES
    if typ is None and config.strict_rfc9068:
        report.add("problem", "typ", "missing: strict RFC 9068 needs at+jwt")
    elif typ is not None and (not isinstance(typ, str) or typ.lower() not in types):
        report.add("problem", "typ", f"{printable(typ)} is not an accepted type {sorted(types)}")
    else:
        report.add("ok", "typ", f"{printable(typ)}")
    kid = header.get("kid")
    if kids is not None and alg not in HMAC_ALGORITHMS:  # HS*: the secret, not the JWKS
        if kid in kids or (kid is None and len(kids) == 1):
            report.add("ok", "kid", f"{printable(kid)} is in the issuer's JWKS")
        else:
            report.add(
                "problem",
                "kid",
                f"{printable(kid)} is not among the JWKS keys {printable(sorted(map(str, kids)))}",
                "the token comes from another issuer or tenant, or from a key since removed",
            )
    iss = claims.get("iss")
    if iss in config.issuers:
        report.add("ok", "iss", f"{printable(iss)} is configured")
    else:
        near = next(
            (i for i in config.issuers if isinstance(iss, str) and _issuer_difference(i, iss)),
            config.issuers[0],
        )
        difference = _issuer_difference(near, iss) if isinstance(iss, str) else "no iss"
        report.add(
            "problem",
            "iss",
            f"{printable(iss)}, configured {printable(list(config.issuers))}: {difference}",
            f"the issuer must equal the token's iss exactly ({_GENAUTH_ISSUER} for GenAuth)",
        )
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if set(auds) & set(config.audiences):
        report.add("ok", "aud", f"{printable(aud)} includes a configured audience")
    else:
        fix = (
            "the token is for another app: ask for a token for this API "
            f"(audience {printable(config.audiences[0])}), or configure its aud if this "
            "API is that app"
        )
        if any("." in a or "/" in a for a in config.audiences):
            fix = "the audience is the application's App ID, not its domain or URL"
        report.add(
            "problem",
            "aud",
            f"{printable(aud)}, configured {printable(list(config.audiences))}",
            fix,
        )
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        report.add("problem", "exp", f"{printable(exp)}: exp must be a number")
    elif now >= exp + config.leeway:
        report.add(
            "problem",
            "exp",
            f"expired {now - exp:.0f} s ago (leeway {config.leeway:g} s)",
            "get a new token",
        )
    else:
        report.add("ok", "exp", f"valid for {exp - now:.0f} s more")
    present = [name for name in _ID_TOKEN_CLAIMS if name in claims]
    if present:
        report.add(
            "problem",
            "kind",
            f"an ID token (it carries {', '.join(present)}): it says who signed in, "
            "it does not grant API access",
            "send the access_token from the token response, not the id_token",
        )


def diagnose(
    config: GuardConfig,
    token: str | None = None,
    *,
    http: httpx2.Client | None = None,
    clock: Callable[[], float] = time.time,
) -> Report:
    """Run every check; the last one verifies ``token`` with the real verifier."""
    report = Report()
    client = http or httpx2.Client(timeout=config.http_timeout)
    try:
        kids: set[str | None] | None = None
        for issuer in config.issuers:
            document = _check_discovery(report, client, issuer, config.leeway, clock)
            jwks_uri = config.jwks_uri or (
                document.get("jwks_uri") if isinstance(document, Mapping) else None
            )
            if config.jwks_uri is None and document is None:
                continue
            found = _check_jwks(report, client, jwks_uri if isinstance(jwks_uri, str) else None)
            if found is not None:
                kids = (kids or set()) | found
            if config.token_check != "jwt":
                _check_introspection(report, client, config, document)
        if token is not None:
            # An opaque token has no header or claims to read: only the verdict says.
            if config.token_check == "jwt" or token.count(".") == 2:
                _check_token(report, config, token, kids, clock())
            _verify(report, config, token, clock)
    finally:
        if http is None:
            client.close()
    return report


def _verify(report: Report, config: GuardConfig, token: str, clock: Callable[[], float]) -> None:
    """The verdict of the real verifier, which decides the exit status."""

    async def run() -> None:
        verifier = (
            Verifier(config, clock=clock)
            if config.token_check == "jwt"
            else IntrospectingVerifier(config, clock=clock)
        )
        async with verifier:
            await verifier.verify(token)

    try:
        asyncio.run(run())
    except GuardError as exc:
        report.add("problem", "verdict", f"refused: {exc.code or 'error'}: {exc.description}")
    else:
        report.add("ok", "verdict", "an API configured like this accepts the token")
