"""Helpers for the WSGI adapter tests: test-client responses as httpx2 responses."""

from __future__ import annotations

from typing import Any

import httpx2


def as_httpx(status: int, headers: Any, content: bytes) -> httpx2.Response:
    """A framework test client's response in the shape ``check_contract`` reads."""
    return httpx2.Response(status, headers=list(headers), content=content)
