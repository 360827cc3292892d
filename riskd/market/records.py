"""Market records as the feed carries them: one type per kind of data, each with its own
update time (Binance's clock), which decides what is newer when sources are merged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Final

from riskd.core.clock import DAY_MS, HOUR_MS, MINUTE_MS

WEEK_MS: Final = 7 * DAY_MS

INTERVAL_MS: Final[dict[str, int]] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
}
"""Binance's kline intervals with fixed lengths ("1M", a calendar month, is not served)."""

MAX_KLINES: Final = 1500
"""Binance's (and the gateway's) largest ``limit`` for klines."""

SYMBOL_PATTERN: Final = re.compile(r"[A-Z0-9]{1,20}")


class MarketKind(StrEnum):
    """The kinds of market data the feed carries."""

    KLINE = "kline"
    BOOK = "book"  # best bid/ask (bookTicker)
    MARK = "mark"  # mark price and funding (premiumIndex, markPriceUpdate)
    TICKER = "ticker"  # 24 h statistics (ticker/24hr, 24hrTicker)


KlineRow = tuple
"""Binance's 12-field kline array, as Binance sends it: open time (int), open, high, low,
close, volume (str), close time (int), quote volume (str), trades (int), taker buy base
volume, taker buy quote volume, ignore (str)."""


@dataclass(frozen=True, slots=True)
class Kline:
    """One kline of one symbol and interval; ``closed`` once its interval has ended."""

    symbol: str
    interval: str
    row: KlineRow
    closed: bool
    update_ms: int

    kind: ClassVar[MarketKind] = MarketKind.KLINE

    @property
    def open_ms(self) -> int:
        return int(self.row[0])

    @property
    def close_ms(self) -> int:
        return int(self.row[6])


@dataclass(frozen=True, slots=True)
class BookTicker:
    """Best bid and ask of a symbol (``update_ms``: Binance's transaction time)."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    update_ms: int

    kind: ClassVar[MarketKind] = MarketKind.BOOK


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """Mark and index price of a symbol, its funding rate and next funding time."""

    symbol: str
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    next_funding_ms: int
    update_ms: int

    kind: ClassVar[MarketKind] = MarketKind.MARK


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """A symbol's last price and rolling 24 h statistics."""

    symbol: str
    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    quote_volume: Decimal
    update_ms: int

    kind: ClassVar[MarketKind] = MarketKind.TICKER


Record = Kline | BookTicker | MarkPrice | Ticker24h
"""Anything the feed publishes to the cache."""
