"""User-data stream timing: listenKey keepalive, connection lifetime, event routing."""

from __future__ import annotations

import random
from enum import Enum

from pydantic import Field, model_validator

from riskd.core.frozen import FrozenModel


class UserStreamConfig(FrozenModel):
    """How the UserStream job keeps its listenKey and connection alive.

    Binance: a listenKey lives 60 min unless extended (PUT); a connection lasts at most 24 h.
    """

    keepalive_min_ms: int = Field(30 * 60_000, gt=0)
    keepalive_max_ms: int = Field(50 * 60_000, gt=0)
    # Reconnect on our own terms before Binance cuts the connection at 24 h.
    max_connection_ms: int = Field(23 * 3_600_000 + 50 * 60_000, gt=0)
    # WebSocket ping interval; a connection whose pongs stop is closed and reopened.
    heartbeat_s: float = Field(20.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> UserStreamConfig:
        if self.keepalive_min_ms > self.keepalive_max_ms:
            raise ValueError("keepalive_min_ms must not exceed keepalive_max_ms")
        return self

    def next_keepalive_ms(self, rng: random.Random) -> int:
        """Spread keepalives over the window so many accounts do not all PUT at once."""
        return rng.randint(self.keepalive_min_ms, self.keepalive_max_ms)


class StreamEvent(Enum):
    """The user-data events riskd acts on."""

    ACCOUNT_UPDATE = "ACCOUNT_UPDATE"
    ORDER_TRADE_UPDATE = "ORDER_TRADE_UPDATE"
    ALGO_UPDATE = "ALGO_UPDATE"
    LISTEN_KEY_EXPIRED = "listenKeyExpired"

    @classmethod
    def of(cls, event: object) -> StreamEvent | None:
        """The kind of a decoded event, None for kinds riskd ignores (MARGIN_CALL, …)."""
        name = event.get("e") if isinstance(event, dict) else None
        try:
            return cls(name)
        except ValueError:
            return None
