"""How much of a kline series each read asks for (seed 003): the latest two often, the whole
window now and then, so a missed or corrected kline is repaired within one calibration."""

from __future__ import annotations

from typing import Final

LATEST: Final = 2
"""The open kline and the one just closed."""


class KlineReads:
    """Per (symbol, interval): the whole *window* when it was never read in full or its last
    full read is *calibrate_every_ms* old, else the latest two."""

    def __init__(self, window: int, calibrate_every_ms: int) -> None:
        if window < LATEST:
            raise ValueError(f"window must be at least {LATEST}, not {window}")
        if calibrate_every_ms <= 0:
            raise ValueError(f"calibrate_every_ms must be positive, not {calibrate_every_ms}")
        self.window = window
        self.calibrate_every_ms = calibrate_every_ms
        self._full_read_ms: dict[tuple[str, str], int] = {}

    def limit(self, symbol: str, interval: str, now_ms: int) -> int:
        """The ``limit`` of the next read of *symbol*'s *interval* klines."""
        full_ms = self._full_read_ms.get((symbol, interval))
        if full_ms is None or now_ms - full_ms >= self.calibrate_every_ms:
            return self.window
        return LATEST

    def done(self, symbol: str, interval: str, limit: int, now_ms: int) -> None:
        """A read of *limit* klines completed at *now_ms* (a read that failed is not done)."""
        if limit >= self.window:
            self._full_read_ms[(symbol, interval)] = now_ms
