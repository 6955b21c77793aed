"""Cache of verified tokens, so a token seen again skips the RSA verify.

Keyed by the exact token string. An entry holds the time interval in which the
verifier's own time rules (``exp``, ``nbf``, ``iat``, max age, each with the leeway)
accept the token, and is served only inside it. It also holds the very key object
that verified the signature, and is dropped as soon as the key source no longer maps
the token's ``kid`` to that object: the key left the issuer's JWKS, or another key
was published under the same ``kid`` (or in place of the one kid-less key).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from ._token import AccessToken

__all__ = ["KeyPresence", "VerifiedTokenCache"]


class KeyPresence(Protocol):
    """The part of a key source the cache needs: a cheap, synchronous identity test."""

    def serves(self, kid: str | None, key: Any) -> bool: ...


# (token, verified, not_before, not_after, key source, kid, key): a plain tuple, the
# cheapest to build and to unpack. not_before is the first instant verify() would
# accept the token, not_after the first instant it would reject it again.
_Entry = tuple[str, AccessToken, float, float, KeyPresence, str | None, Any]

# Entries are found by the token's last characters (its signature's tail) and then
# compared whole. Each request brings a new string object, so Python hashes it anew:
# hashing 48 characters instead of ~700 saves about 0.4 us on every lookup. The full
# comparison keeps the cache exact: a forged token that reuses a signature never hits.
_KEY_CHARS = 48


class VerifiedTokenCache:
    """A bounded LRU of verified tokens; ``maxsize=0`` makes every call a no-op.

    Two tokens can share a tail only by copying a signature: then the newer verified one
    replaces the older (a forged one never verifies, so it never evicts a real one).

    An ``OrderedDict`` rather than ``cachetools.LRUCache``: measured on the target
    machine, LRUCache costs about 2.5 us per insert and 0.45 us per hit against 0.6 and
    0.1 here, and every first-seen token pays the insert inside a budget of about 12 us
    of overhead on top of the RSA verify.
    """

    __slots__ = ("_entries", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, _Entry] | None = OrderedDict() if maxsize > 0 else None

    def get(self, token: str, now: float) -> AccessToken | None:
        """The cached token if ``now`` lies in its accepted interval and its key remains.

        ``token`` must be a str (the verifier checks type and size first).

        The hit path is one lookup, two comparisons and one ``serves`` call.
        """
        entries = self._entries
        if entries is None:
            return None
        tail = token[-_KEY_CHARS:]
        entry = entries.get(tail)
        if entry is None:
            return None
        cached, verified, not_before, not_after, source, kid, key = entry
        if cached != token:
            return None  # same tail, other token: verify() decides, the entry stays
        if not_before <= now < not_after and source.serves(kid, key):
            entries.move_to_end(tail)  # least recently used goes first
            return verified
        # Expired, not yet valid under a clock that moved back, or its key was removed
        # or replaced: forget it; verify() decides afresh.
        del entries[tail]
        return None

    def put(
        self,
        token: str,
        verified: AccessToken,
        not_before: float,
        not_after: float,
        source: KeyPresence,
        kid: str | None,
        key: Any,
    ) -> None:
        """Remember ``verified`` for ``token`` while ``not_before <= now < not_after``
        and while ``source`` still serves ``key`` for ``kid``."""
        entries = self._entries
        if entries is not None and not_before < not_after:
            entry = (token, verified, not_before, not_after, source, kid, key)
            entries[token[-_KEY_CHARS:]] = entry
            if len(entries) > self.maxsize:
                entries.popitem(last=False)

    def clear(self) -> None:
        if self._entries is not None:
            self._entries.clear()

    def __len__(self) -> int:
        return 0 if self._entries is None else len(self._entries)
