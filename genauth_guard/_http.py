"""One bounded HTTP exchange for the verification side's fetches (JWKS, introspection).

Bounded in time (the whole exchange, not per phase), in size (read while streaming) and
in where it goes (redirects are never followed). Any failure is a :class:`FetchFailed`
whose text says why without echoing a body or a credential.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx2

from ._bounded import BodyTooLarge, BoundedBody, UnreadableBody

__all__ = ["FetchFailed", "bounded_request", "bounded_request_sync"]


class FetchFailed(Exception):
    """A request failed; the text says why."""


async def bounded_request(
    client: httpx2.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,  # noqa: ASYNC109 (the whole exchange, enforced below with asyncio.timeout)
    max_bytes: int,
    headers: Mapping[str, str],
    data: Mapping[str, str] | None = None,
    ok: tuple[int, ...] = (200,),
) -> tuple[int, bytes]:
    """Status and body of ``method url``; FetchFailed unless the status is in ``ok``."""
    with _failures(url, timeout, max_bytes):
        async with asyncio.timeout(timeout):  # httpx's timeout is per phase
            async with client.stream(**_stream(method, url, headers, data, timeout)) as response:
                _check(response, url, ok, max_bytes)
                # Raw bytes, decoded here under the bound: a server may compress
                # although asked not to, and httpx decodes a whole chunk at once.
                body = BoundedBody(max_bytes, response.headers.get("content-encoding"))
                async for chunk in response.aiter_raw():
                    body.feed(chunk)
                return response.status_code, body.finish()


def bounded_request_sync(
    client: httpx2.Client,
    method: str,
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    headers: Mapping[str, str],
    data: Mapping[str, str] | None = None,
    ok: tuple[int, ...] = (200,),
) -> tuple[int, bytes]:
    """:func:`bounded_request` on the calling thread, with the same bounds."""
    deadline = time.monotonic() + timeout  # httpx's timeout is per phase
    with (
        _failures(url, timeout, max_bytes),
        client.stream(**_stream(method, url, headers, data, timeout)) as response,
    ):
        _check(response, url, ok, max_bytes)
        body = BoundedBody(max_bytes, response.headers.get("content-encoding"))
        for chunk in response.iter_raw():
            body.feed(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError
        return response.status_code, body.finish()


def _stream(
    method: str,
    url: str,
    headers: Mapping[str, str],
    data: Mapping[str, str] | None,
    timeout: float,
) -> dict[str, Any]:
    """The arguments of ``client.stream`` for both drivers: no redirects followed."""
    return {
        "method": method,
        "url": url,
        "headers": {"accept-encoding": "identity", **headers},
        "data": data,
        "timeout": timeout,
        "follow_redirects": False,
    }


def _check(response: httpx2.Response, url: str, ok: tuple[int, ...], max_bytes: int) -> None:
    """No redirects, an expected status, a declared length within the bound."""
    if response.is_redirect:
        raise FetchFailed(f"{url} answered HTTP {response.status_code}: redirects are not followed")
    if response.status_code not in ok:
        raise FetchFailed(f"{url} answered HTTP {response.status_code}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed(f"{url} is larger than {max_bytes} bytes")


@contextmanager
def _failures(url: str, timeout: float, max_bytes: int) -> Iterator[None]:
    """Transport failures as :class:`FetchFailed`, for both drivers."""
    try:
        yield
    except BodyTooLarge:
        raise FetchFailed(f"{url} is larger than {max_bytes} bytes") from None
    except UnreadableBody as exc:
        raise FetchFailed(f"{url}: {exc}") from None
    except (TimeoutError, httpx2.TimeoutException):
        raise FetchFailed(f"{url} timed out after {timeout} s") from None
    except (httpx2.HTTPError, httpx2.InvalidURL, OSError) as exc:
        raise FetchFailed(f"{url} failed: {type(exc).__name__}") from None
