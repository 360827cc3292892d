"""Clocks for tests that move only when told: in seconds (ManualClock) and in ms (FrozenClock)."""

from __future__ import annotations

from dataclasses import dataclass


class ManualClock:
    """A clock that moves only when told: ``clock()`` → seconds, ``clock.advance(s)``."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class FrozenClock:
    """Milliseconds that move only when told."""

    now_ms: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now_ms
