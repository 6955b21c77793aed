"""Attacker-controlled text made safe to log or to show (CWE-117, log injection).

A request path arrives percent-decoded (``/x%0d%0aFORGED`` becomes a CR LF), claim
values and header values are whatever a caller sent, and a token endpoint's
``error_description`` is whatever a server wrote. :func:`log_safe` escapes such text
for log lines; :func:`strip_controls` cleans server text shown to a user.
"""

from __future__ import annotations

import re

__all__ = ["log_safe", "strip_controls"]

# C0 and C1 controls, DEL, line and paragraph separators and the bidi overrides that
# can make a log line or a terminal show something other than what it holds.
_CLASS = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
_UNSAFE = re.compile(_CLASS)
_UNSAFE_RUN = re.compile(_CLASS + "+")
_DEFAULT_LIMIT = 256


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def log_safe(value: object, limit: int = _DEFAULT_LIMIT) -> str:
    """``value`` as one log-safe line: controls escaped (``\\x0d``), at most ``limit`` chars.

    Backslashes are doubled first, so an escaped control can never be confused with
    text that was sent as a literal backslash sequence.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return _UNSAFE.sub(_escape, text.replace("\\", "\\\\"))


def strip_controls(text: str) -> str:
    """Server text for exceptions and terminal output: each control run becomes a space."""
    return _UNSAFE_RUN.sub(" ", text)
