"""Server-side lines explaining refusals, rate-limited, with attacker text escaped.

The client gets a short generic ``error_description``; the operator gets the reason
and, for mismatches, the token's unverified value beside the expected one (never the
token or its signature). A flood of bad tokens must not fill the disk, so each
distinct (reason, value) is logged at most once per ``interval``, and only
``max_keys`` distinct ones per interval; the next line counts what was held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["RefusalLog", "printable"]

_MAX_TEXT = 120
_MAX_ITEMS = 5


def printable(value: Any, limit: int = _MAX_TEXT) -> str:
    """``value`` as one escaped, bounded line: safe to log however it was crafted.

    ``repr`` escapes control, line-break and bidi characters, so a claim cannot forge
    log lines or terminal sequences; the text is cut before escaping to bound the cost.
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        return text if len(value) <= limit else text + "..."
    if isinstance(value, list | tuple | frozenset | set):
        items = list(value)
        shown = ", ".join(printable(item, limit) for item in items[:_MAX_ITEMS])
        more = f", ... {len(items) - _MAX_ITEMS} more" if len(items) > _MAX_ITEMS else ""
        return f"[{shown}{more}]"
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    return f"<{type(value).__name__}>"


class RefusalLog:
    """Decides which refusals are logged: once per distinct key per ``interval``.

    A key logged again in a later interval reports how many times it was held back
    in the one before; keys beyond ``max_keys`` in one interval are dropped, counted.
    """

    def __init__(
        self,
        interval: float = 60.0,
        max_keys: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._window_start = -float("inf")
        self._seen: dict[tuple[str, str], int] = {}
        self._previous: dict[tuple[str, str], int] = {}
        self.dropped = 0  # refusals of keys beyond max_keys, never logged

    def admit(self, key: tuple[str, str]) -> int | None:
        """None to stay silent; else how often ``key`` was held back the interval before."""
        now = self._clock()
        if now - self._window_start >= self.interval:
            self._window_start = now
            self._previous = {k: n for k, n in self._seen.items() if n}
            self._seen = {}
        seen = self._seen
        if key in seen:
            seen[key] += 1
            return None
        if len(seen) >= self.max_keys:
            self.dropped += 1
            return None
        seen[key] = 0
        return self._previous.pop(key, 0)

    def clear(self) -> None:
        self._window_start = -float("inf")
        self._seen = {}
        self._previous = {}
        self.dropped = 0
