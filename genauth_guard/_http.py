"""One bounded HTTP exchange for the verification side's fetches (JWKS, introspection).

Bounded in time (the whole exchange, not per phase), in size (read while streaming) and
in where it goes (redirects are never followed). Any failure is a :class:`FetchFailed`
whose text says why without echoing a body or a credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx2

from ._bounded import BodyTooLarge, BoundedBody, UnreadableBody

__all__ = ["FetchFailed", "bounded_request"]


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
    try:
        async with asyncio.timeout(timeout):  # httpx's timeout is per phase
            async with client.stream(
                method,
                url,
                headers={"accept-encoding": "identity", **headers},
                data=data,
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                if response.is_redirect:
                    raise FetchFailed(
                        f"{url} answered HTTP {response.status_code}: redirects are not followed"
                    )
                if response.status_code not in ok:
                    raise FetchFailed(f"{url} answered HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
                # Raw bytes, decoded here under the bound: a server may compress
                # although asked not to, and httpx decodes a whole chunk at once.
                body = BoundedBody(max_bytes, response.headers.get("content-encoding"))
                async for chunk in response.aiter_raw():
                    body.feed(chunk)
                return response.status_code, body.finish()
    except BodyTooLarge:
        raise FetchFailed(f"{url} is larger than {max_bytes} bytes") from None
    except UnreadableBody as exc:
        raise FetchFailed(f"{url}: {exc}") from None
    except TimeoutError:
        raise FetchFailed(f"{url} timed out after {timeout} s") from None
    except (httpx2.HTTPError, httpx2.InvalidURL, OSError) as exc:
        raise FetchFailed(f"{url} failed: {type(exc).__name__}") from None
