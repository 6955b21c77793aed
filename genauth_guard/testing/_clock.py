"""A clock that moves only when a test says so."""

from __future__ import annotations

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that moves only when :meth:`advance` is called.

    Pass it as ``clock=`` to Verifier (wall time), JWKSKeySource or ClientCredentialsAuth
    (monotonic time) to test TTLs, expiry and refresh without sleeping.

    >>> clock = ManualClock(start=time.time())  # wall time, like the tokens minted now
    >>> verifier = Verifier(config, clock=clock)
    >>> clock.advance(3600)  # an hour later: one-hour tokens are expired for this verifier
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock by ``seconds`` (negative: a clock corrected backwards)."""
        self.now += seconds

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now!r})"
