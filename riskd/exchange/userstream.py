"""The user-data stream: its messages as typed events, and its listenKey and connection timing."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Final, TypeAlias

from pydantic import Field, model_validator

from riskd.core.frozen import FrozenModel
from riskd.exchange.parse import PayloadError, _Object, _show, parse_account_update
from riskd.exchange.parse_orders import (
    AlgoUpdate,
    OrderUpdate,
    parse_algo_update,
    parse_order_update,
)
from riskd.positions import SourceSnapshot

USER_STREAM: Final = "user stream"


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
    """The user-data events riskd acts on, by their ``e``."""

    ACCOUNT_UPDATE = "ACCOUNT_UPDATE"
    ORDER_TRADE_UPDATE = "ORDER_TRADE_UPDATE"
    ALGO_UPDATE = "ALGO_UPDATE"
    LISTEN_KEY_EXPIRED = "listenKeyExpired"


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    """A listenKeyExpired event: the connection delivers nothing more; a new key and connection
    must follow. It carries nothing riskd reads, so no field of it can be wrong."""


UserEvent: TypeAlias = SourceSnapshot | OrderUpdate | AlgoUpdate | ListenKeyExpired
"""A user-stream event riskd acts on. An ACCOUNT_UPDATE is the PositionBook's incomplete
"stream" SourceSnapshot (``parse_account_update``)."""


def parse_user_event(text: str) -> UserEvent | None:
    """One user-stream message as its typed event; None for kinds riskd ignores (MARGIN_CALL,
    TRADE_LITE, ACCOUNT_CONFIG_UPDATE, …).

    JSON numbers with a fraction are decoded as Decimals, so no decimal loses its text.
    PayloadError names the event and the field path (``ALGO_UPDATE: o.aid: …``), or
    ``user stream: message`` / ``user stream: e`` for a message that is no event at all.
    """
    try:
        event = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise PayloadError(USER_STREAM, "message", f"not JSON ({len(text)} characters)") from None
    if not isinstance(event, dict):
        raise PayloadError(USER_STREAM, "message", f"{_show(event)} is not an object")
    name = _Object(USER_STREAM, "", event).text("e")
    try:
        kind = StreamEvent(name)
    except ValueError:
        return None
    if kind is StreamEvent.ACCOUNT_UPDATE:
        return parse_account_update(event)
    if kind is StreamEvent.ORDER_TRADE_UPDATE:
        return parse_order_update(event)
    if kind is StreamEvent.ALGO_UPDATE:
        return parse_algo_update(event)
    return ListenKeyExpired()
