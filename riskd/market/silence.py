"""Silence on a stream: Binance's legacy URLs accept a connection and push nothing, so a feed
is dead when it has said nothing for a while, not only when its connection drops."""

from __future__ import annotations

from riskd.core.clock import Clock


class SilenceWatch:
    """How long a connection has said nothing, since its last message or its (re)connect."""

    def __init__(self, silence_ms: int, clock: Clock) -> None:
        if silence_ms <= 0:
            raise ValueError(f"silence_ms must be positive, not {silence_ms}")
        self.silence_ms = silence_ms
        self._clock = clock
        self._since_ms = clock()

    def heard(self) -> None:
        """A message arrived."""
        self._since_ms = self._clock()

    def reset(self) -> None:
        """A new connection: its silence counts from now."""
        self._since_ms = self._clock()

    def silent_ms(self) -> int:
        return max(0, self._clock() - self._since_ms)

    def is_silent(self) -> bool:
        return self.silent_ms() >= self.silence_ms
