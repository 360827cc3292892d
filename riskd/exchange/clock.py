"""Binance's clock as seen from here: local time plus an offset synced from /fapi/v1/time."""

from __future__ import annotations

from riskd.core.clock import Clock, wall_ms


class ServerClock:
    """Server time in ms. ``local_ms`` is injectable; the offset is measured, never guessed."""

    def __init__(self, local_ms: Clock = wall_ms) -> None:
        self._local_ms = local_ms
        self.offset_ms = 0
        self.synced = False

    def now_ms(self) -> int:
        return self._local_ms() + self.offset_ms

    def local_ms(self) -> int:
        return self._local_ms()

    def update(self, server_ms: int, sent_local_ms: int, received_local_ms: int) -> int:
        """Set the offset from one /time round trip (server stamped it mid-flight)."""
        self.offset_ms = server_ms - (sent_local_ms + received_local_ms) // 2
        self.synced = True
        return self.offset_ms
