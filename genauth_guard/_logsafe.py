"""Text a server sent, made safe to show (CWE-117, terminal and log injection).

A token endpoint's ``error_description`` is whatever a server wrote: before it reaches
an exception message or a terminal, :func:`strip_controls` removes what could rewrite
a line. (Log lines escape attacker text with ``_refusal_log.printable``.)
"""

from __future__ import annotations

import re

__all__ = ["strip_controls"]

# C0 and C1 controls, DEL, line and paragraph separators and the bidi overrides that
# can make a log line or a terminal show something other than what it holds.
_UNSAFE_RUN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def strip_controls(text: str) -> str:
    """Server text for exceptions and terminal output: each control run becomes a space."""
    return _UNSAFE_RUN.sub(" ", text)
