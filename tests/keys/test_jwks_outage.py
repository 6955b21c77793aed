"""The key source when the issuer misbehaves: outages, garbage, bounds, bad keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from genauth_guard._errors import InvalidToken, KeysUnavailable, Reason
from genauth_guard._jwks import JWKSKeySource
from genauth_guard.testing import LocalIssuer, ManualClock
from genauth_guard.testing._keys import SigningKey

Maker = Callable[..., JWKSKeySource]


async def settle(source: JWKSKeySource) -> None:
    """Wait for a background refresh of ``source`` to finish, if one runs."""
    task = source._inflight
    if task is not None:
        await asyncio.shield(task)


# -- outages -----------------------------------------------------------------------


async def test_stale_keys_serve_during_an_outage_up_to_the_bound(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker, caplog: pytest.LogCaptureFixture
) -> None:
    kid = issuer.signing_key.kid
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock)
    key = await source.get_key(kid)
    issuer.fail("jwks")
    clock.advance(601)
    with caplog.at_level(logging.WARNING, logger="genauth_guard"):
        assert await source.get_key(kid) is key
    assert "serving the keys fetched 601 s ago" in caplog.text
    assert issuer.counts["jwks"] == 2
    assert source.keys == (key,)  # a failed refresh never wipes good keys
    assert source.has_key(kid)

    # Retries after a failure take bucket tokens: 5 at most with the clock frozen.
    for _ in range(20):
        assert await source.get_key(kid) is key
        await settle(source)
    assert issuer.counts["jwks"] == 7

    clock.advance(86400 - 601)  # exactly at the bound: still served
    assert await source.get_key(kid) is key
    await settle(source)
    clock.advance(1)
    with pytest.raises(KeysUnavailable, match="older than 86400 s") as caught:
        await source.get_key(kid)
    assert caught.value.retry_after >= 1
    assert not source.has_key(kid)

    issuer.heal()
    clock.advance(12)
    assert (await source.get_key(kid)).kid == kid
    assert source.has_key(kid)
    assert source.generation == 1


async def test_stale_bound_is_configurable(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock, stale_max_age=3600)
    await source.get_key(kid)
    issuer.fail("jwks")
    clock.advance(3600)
    await source.get_key(kid)
    await settle(source)
    clock.advance(1)
    with pytest.raises(KeysUnavailable):
        await source.get_key(kid)


async def test_issuer_down_at_start_then_recovers(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    issuer.fail("jwks")
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock)
    with pytest.raises(KeysUnavailable, match="HTTP 503"):
        await source.get_key(kid)
    for _ in range(5):  # the bucket's five tokens
        with pytest.raises(KeysUnavailable):
            await source.get_key(kid)
    assert issuer.counts["jwks"] == 6
    with pytest.raises(KeysUnavailable) as caught:
        await source.get_key(kid)
    assert caught.value.retry_after == 12
    assert issuer.counts["jwks"] == 6  # not hammered
    issuer.heal()
    clock.advance(12)
    assert (await source.get_key(kid)).kid == kid
    assert issuer.counts["jwks"] == 7


async def test_unknown_kid_during_an_outage_is_unavailable_not_invalid(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker
) -> None:
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock)
    await source.get_key(issuer.signing_key.kid)
    issuer.fail("jwks")
    # The issuer could not be asked, so the kid may well exist: 503, not 401.
    with pytest.raises(KeysUnavailable):
        await source.get_key("rotated-in-during-outage")


async def test_garbage_jwks_is_an_outage(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    issuer.fail("jwks", "garbage", times=1)
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock)
    with pytest.raises(KeysUnavailable, match="not JSON"):
        await source.get_key(kid)
    key = await source.get_key(kid)
    issuer.fail("jwks", "garbage")
    clock.advance(601)
    assert await source.get_key(kid) is key
    assert issuer.counts["jwks"] == 3


async def test_hanging_jwks_times_out(
    issuer: LocalIssuer, clock: ManualClock, make_source: Maker
) -> None:
    kid = issuer.signing_key.kid
    issuer.hang_seconds = 2.0
    issuer.fail("jwks", "hang", times=1)
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock, timeout=0.3)
    with pytest.raises(KeysUnavailable, match="timed out"):
        await source.get_key(kid)
    key = await source.get_key(kid)
    issuer.fail("jwks", "hang")
    clock.advance(601)
    assert await source.get_key(kid) is key  # waited 0.3 s, then stale keys


async def test_discovery_hanging_times_out(issuer: LocalIssuer, make_source: Maker) -> None:
    issuer.hang_seconds = 2.0
    issuer.fail("discovery", "hang")
    source = make_source(issuer=issuer.issuer, timeout=0.3)
    with pytest.raises(KeysUnavailable, match="timed out"):
        await source.get_key(issuer.signing_key.kid)


async def test_non_200_is_a_failed_fetch(issuer: LocalIssuer, make_source: Maker) -> None:
    source = make_source(jwks_uri=issuer.issuer + "/no-such-jwks")
    with pytest.raises(KeysUnavailable, match="HTTP 404"):
        await source.get_key(issuer.signing_key.kid)


async def test_redirects_are_not_followed(issuer: LocalIssuer, make_source: Maker) -> None:
    # Starlette redirects the trailing-slash path to the real JWKS: we must not follow.
    source = make_source(jwks_uri=issuer.jwks_uri + "/")
    with pytest.raises(KeysUnavailable, match=r"HTTP 30\d: redirects are not followed"):
        await source.get_key(issuer.signing_key.kid)
    assert issuer.counts["jwks"] == 0


# -- bounds ------------------------------------------------------------------------


async def test_response_over_max_bytes_is_refused(issuer: LocalIssuer, make_source: Maker) -> None:
    source = make_source(jwks_uri=issuer.jwks_uri, max_bytes=300)
    with pytest.raises(KeysUnavailable, match="larger than 300 bytes"):
        await source.get_key(issuer.signing_key.kid)


@pytest.fixture
async def endless_jwks() -> AsyncIterator[str]:
    """A loopback server streaming a chunked JSON body that never ends."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        chunk = b" " * 4096
        try:
            writer.write(b'5\r\n{"a":\r\n')
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/jwks.json"
    server.close()


async def test_size_bound_is_enforced_while_streaming(
    endless_jwks: str, make_source: Maker
) -> None:
    source = make_source(jwks_uri=endless_jwks, max_bytes=64 * 1024, timeout=10)
    with pytest.raises(KeysUnavailable, match="larger than 65536 bytes"):
        await source.get_key("any")


async def test_keys_beyond_max_keys_are_ignored(
    issuer: LocalIssuer, make_source: Maker, caplog: pytest.LogCaptureFixture
) -> None:
    base = issuer.signing_key.public_jwk()
    issuer.extra_jwks.extend({**base, "kid": f"copy{i}"} for i in range(5))
    source = make_source(jwks_uri=issuer.jwks_uri, max_keys=3)
    with caplog.at_level(logging.WARNING, logger="genauth_guard"):
        assert (await source.get_key("copy1")).kid == "copy1"
    assert "3 entries beyond max_keys=3" in caplog.text
    with pytest.raises(InvalidToken):
        await source.get_key("copy2")
    assert [k.kid for k in source.keys] == [issuer.signing_key.kid, "copy0", "copy1"]


# -- key hygiene over HTTP ----------------------------------------------------------

_SMALL = SigningKey.generate(1024, kid="small")


def _bad_jwks(good: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """kid -> a JWK that must be skipped, one per rule."""
    return {
        "ec": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "use": "sig"},
        "small": _SMALL.public_jwk(),
        "enc": {**good, "use": "enc"},
        "ops": {**good, "key_ops": ["encrypt", "wrapKey"]},
        "hs": {**good, "alg": "HS256"},
        "es": {**good, "alg": "ES256"},
        "b64": {**good, "n": good["n"][:-3] + "*=="},
        "no-e": {k: v for k, v in good.items() if k != "e"},
        "num-n": {**good, "n": 12345},
        "private": {**good, "d": "AQAB"},
    }


@pytest.mark.parametrize("bad_kid", list(_bad_jwks({"n": "AQAB"})))
async def test_each_bad_key_is_skipped_and_the_good_key_still_works(
    issuer: LocalIssuer,
    clock: ManualClock,
    make_source: Maker,
    caplog: pytest.LogCaptureFixture,
    bad_kid: str,
) -> None:
    good = issuer.signing_key.public_jwk()
    bad = _bad_jwks(good)[bad_kid]
    issuer.extra_jwks.append({**bad, "kid": bad_kid})
    source = make_source(jwks_uri=issuer.jwks_uri, clock=clock, cache_ttl=1)
    with caplog.at_level(logging.WARNING, logger="genauth_guard"):
        assert (await source.get_key(issuer.signing_key.kid)).kid == issuer.signing_key.kid
        with pytest.raises(InvalidToken) as caught:
            await source.get_key(bad_kid)  # a kid the issuer publishes: no refetch
        clock.advance(2)
        await source.get_key(issuer.signing_key.kid)
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert f"key {bad_kid} skipped: " in caught.value.description  # says why, not "no key"
    assert issuer.counts["jwks"] == 2
    assert not source.has_key(bad_kid)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [warnings[0]]  # logged once over two fetches
    assert repr(bad_kid) in warnings[0]
    assert good["n"][:40] not in caplog.text  # the key material is never logged


async def test_duplicate_kid_keeps_the_first_key(issuer: LocalIssuer, make_source: Maker) -> None:
    impostor = SigningKey.generate(2048, kid=issuer.signing_key.kid)
    issuer.extra_jwks.append(impostor.public_jwk())
    source = make_source(jwks_uri=issuer.jwks_uri)
    key = await source.get_key(issuer.signing_key.kid)
    assert key.key.public_numbers() == issuer.signing_key.public_key.public_numbers()
    assert len(source.keys) == 1


async def test_failed_explicit_refresh_keeps_the_keys(
    issuer: LocalIssuer, make_source: Maker
) -> None:
    source = make_source(jwks_uri=issuer.jwks_uri)
    await source.refresh()
    key = await source.get_key(issuer.signing_key.kid)
    issuer.fail("jwks")
    with pytest.raises(KeysUnavailable) as caught:
        await source.refresh()
    assert caught.value.description == "signing keys unavailable"  # no internal URL
    assert caught.value.detail == f"JWKS: {issuer.jwks_uri} answered HTTP 503"  # for logs
    assert await source.get_key(issuer.signing_key.kid) is key
    assert source.generation == 1


async def test_a_non_string_kid_is_unknown(issuer: LocalIssuer, make_source: Maker) -> None:
    source = make_source(jwks_uri=issuer.jwks_uri)
    with pytest.raises(InvalidToken) as caught:
        await source.get_key(7)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.UNKNOWN_KEY
    assert issuer.counts["jwks"] == 0
