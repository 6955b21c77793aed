"""The order book of the Flask and DRF versions of the order API (no database)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

__all__ = ["OrderStore", "new_order"]


def new_order(body: Any) -> dict[str, Any] | None:
    """``{"item": str, "quantity": int}`` from a JSON body, or None when invalid.

    The same bounds as the FastAPI version: an item of 1 to 200 characters, a
    quantity from 1 to 10 000 (default 1).
    """
    if not isinstance(body, dict):
        return None
    item, quantity = body.get("item"), body.get("quantity", 1)
    if not isinstance(item, str) or not 1 <= len(item) <= 200:
        return None
    if type(quantity) is not int or not 1 <= quantity <= 10_000:
        return None
    return {"item": item, "quantity": quantity}


class OrderStore:
    """Orders in memory, safe under a threaded WSGI server."""

    def __init__(self) -> None:
        self._orders: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, order: dict[str, Any], subject: str | None) -> dict[str, Any]:
        with self._lock:
            created = {**order, "id": next(self._ids), "created_by": subject}
            self._orders.append(created)
            return created

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._orders)

    def remove(self, order_id: int) -> bool:
        with self._lock:
            kept = [o for o in self._orders if o["id"] != order_id]
            removed = len(kept) != len(self._orders)
            self._orders = kept
            return removed
