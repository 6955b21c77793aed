"""Response bodies read under a bound on the bytes actually held.

HTTP libraries decode ``Content-Encoding`` a whole network chunk at a time, so a small
gzip body can expand to gigabytes before any size check runs. Callers here read the
raw bytes and feed them to :class:`BoundedBody`, which decodes gzip and deflate
(RFC 9110 section 8.4.1) incrementally and never holds more than ``limit`` decoded
bytes; other codings are refused. Shared by the key source (async) and the client
(sync and async): only the reading loop differs.
"""

from __future__ import annotations

import zlib

__all__ = ["BodyTooLarge", "BoundedBody", "UnreadableBody"]


class UnreadableBody(Exception):
    """A body in a coding this library does not decode, or corrupt compressed data."""


class BodyTooLarge(UnreadableBody):
    """The body, decoded, is larger than the bound."""


# The gzip and zlib wrappers both, told apart by their headers (zlib's 32 + MAX_WBITS).
_AUTO_WBITS = 32 + zlib.MAX_WBITS


class BoundedBody:
    """Accumulates a body from raw chunks, decoding ``content_encoding`` within ``limit``."""

    __slots__ = ("_body", "_decoder", "_limit", "_raw")

    def __init__(self, limit: int, content_encoding: str | None = None) -> None:
        self._limit = limit
        self._body = bytearray()
        self._raw = 0
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._decoder: zlib._Decompress | None = None
        if not codings:
            return
        if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
            raise UnreadableBody(f"content-encoding {codings[0][:32]!r} is not supported")
        self._decoder = zlib.decompressobj(_AUTO_WBITS)

    def feed(self, raw: bytes) -> None:
        """Add one raw chunk; raises :class:`BodyTooLarge` past the bound."""
        self._raw += len(raw)
        if self._raw > self._limit:
            raise BodyTooLarge(f"larger than {self._limit} bytes")
        decoder = self._decoder
        if decoder is None:
            self._body += raw
        else:
            room = self._limit - len(self._body)
            try:
                # At most one byte past the bound is ever produced: enough to know.
                self._body += decoder.decompress(raw, room + 1)
            except zlib.error:
                raise UnreadableBody("corrupt compressed body") from None
        if len(self._body) > self._limit:
            raise BodyTooLarge(f"larger than {self._limit} bytes")

    def finish(self) -> bytes:
        """The whole decoded body; raises if compressed data was cut short."""
        decoder = self._decoder
        if decoder is not None and (decoder.unconsumed_tail or not decoder.eof):
            raise UnreadableBody("truncated compressed body")
        return bytes(self._body)
