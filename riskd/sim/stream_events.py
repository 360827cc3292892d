"""Market stream names and the events they carry, in Binance's USDⓈ-M shapes.

Since Binance split its WebSocket hosts (2026-04-23) a stream belongs to one route:
``/market`` carries klines, mark price and tickers; ``/public`` carries the book (bookTicker,
partial depth). Each stream has a cadence: how often Binance pushes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from riskd.sim.ids import IdSource
from riskd.sim.market import Market, SymbolSpec, fixed
from riskd.sim.market_data import MarketData, interval_ms

MARKET_ROUTE: Final = "market"
PUBLIC_ROUTE: Final = "public"
# Binance's intervals of a fixed length (1M, a calendar month, is not served).
KLINE_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"
)  # fmt: skip
_DEPTH = re.compile(r"depth(5|10|20)(?:@(100|250|500)ms)?")
# Binance's documented update speeds.
KLINE_CADENCE_MS = 250
TICKER_CADENCE_MS = 2000
MARK_PRICE_CADENCE_MS = 3000
MARK_PRICE_FAST_CADENCE_MS = 1000
DEPTH_CADENCE_MS = 250


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A market stream: ``name`` as clients subscribe it (symbol in lower case)."""

    name: str
    symbol: str
    kind: str  # kline, markPrice, ticker, bookTicker, depth
    route: str
    cadence_ms: int  # 0: pushed when the price changes
    interval: str = ""
    interval_ms: int = 0
    levels: int = 0


def parse_stream(name: str) -> StreamSpec | None:
    """The stream a name denotes, or None for a name the simulator does not serve."""
    symbol_part, sep, rest = name.partition("@")
    if not sep or not symbol_part.isalnum():
        return None
    symbol = symbol_part.upper()
    canonical = f"{symbol_part.lower()}@{rest}"
    if rest.startswith("kline_"):
        interval = rest.removeprefix("kline_")
        if interval not in KLINE_INTERVALS:
            return None
        length = interval_ms(interval)
        assert length is not None
        return StreamSpec(
            canonical, symbol, "kline", MARKET_ROUTE, KLINE_CADENCE_MS, interval, length
        )
    if rest in ("markPrice", "markPrice@1s"):
        cadence = MARK_PRICE_FAST_CADENCE_MS if rest.endswith("@1s") else MARK_PRICE_CADENCE_MS
        return StreamSpec(canonical, symbol, "markPrice", MARKET_ROUTE, cadence)
    if rest == "ticker":
        return StreamSpec(canonical, symbol, "ticker", MARKET_ROUTE, TICKER_CADENCE_MS)
    if rest == "bookTicker":
        return StreamSpec(canonical, symbol, "bookTicker", PUBLIC_ROUTE, 0)
    depth = _DEPTH.fullmatch(rest)
    if depth:
        cadence = int(depth.group(2) or DEPTH_CADENCE_MS)
        return StreamSpec(
            canonical, symbol, "depth", PUBLIC_ROUTE, cadence, levels=int(depth.group(1))
        )
    return None


class StreamEvents:
    """Renders one stream's event from the market (the exchange calls it under its lock)."""

    def __init__(
        self, market: Market, market_data: MarketData, ids: IdSource, spread_ticks: int
    ) -> None:
        self._market = market
        self._market_data = market_data
        self._ids = ids
        self._spread_ticks = spread_ticks
        self._update_ids: dict[str, int] = {}
        self._last_depth_id: dict[str, int] = {}

    def render(self, stream: StreamSpec, at_ms: int, now_ms: int) -> dict | None:
        """The event of *stream* (a kline: the one containing *at_ms*); None if the symbol
        is not listed."""
        spec = self._market.specs.get(stream.symbol)
        if spec is None:
            return None
        if stream.kind == "kline":
            return self._kline(spec, stream, at_ms, now_ms)
        if stream.kind == "markPrice":
            return self._mark_price(spec, now_ms)
        if stream.kind == "ticker":
            return self._ticker(spec, now_ms)
        if stream.kind == "bookTicker":
            return self._book_ticker(spec, now_ms)
        return self._depth(spec, stream, now_ms)

    def _update_id(self, symbol: str, now_ms: int) -> int:
        """The book's update id: grows with every change, like Binance's."""
        update_id = max(self._update_ids.get(symbol, 0) + 1, now_ms * 10)
        self._update_ids[symbol] = update_id
        return update_id

    def _kline(self, spec: SymbolSpec, stream: StreamSpec, at_ms: int, now_ms: int) -> dict:
        row = self._market.klines(spec.symbol, stream.interval_ms, 1, at_ms)[0]
        last_trade = self._ids.last_trade_id
        return {
            "e": "kline",
            "E": now_ms,
            "s": spec.symbol,
            "k": {
                "t": row[0],
                "T": row[6],
                "s": spec.symbol,
                "i": stream.interval,
                "f": last_trade - row[8] + 1,
                "L": last_trade,
                "o": row[1],
                "c": row[4],
                "h": row[2],
                "l": row[3],
                "v": row[5],
                "n": row[8],
                "x": row[6] < now_ms,
                "q": row[7],
                "V": row[9],
                "Q": row[10],
                "B": "0",
            },
        }

    def _mark_price(self, spec: SymbolSpec, now_ms: int) -> dict:
        quote = self._market.quotes[spec.symbol]
        mark = fixed(quote.mark, 8)
        return {
            "e": "markPriceUpdate",
            "E": now_ms,
            "s": spec.symbol,
            "p": mark,
            "ap": mark,
            "P": mark,
            "i": mark,
            "r": fixed(quote.funding_rate, 8),
            "T": self._market_data.next_funding_ms,
        }

    def _ticker(self, spec: SymbolSpec, now_ms: int) -> dict:
        row = self._market_data.ticker_row(spec)
        return {
            "e": "24hrTicker",
            "E": now_ms,
            "s": spec.symbol,
            "p": row["priceChange"],
            "P": row["priceChangePercent"],
            "w": row["weightedAvgPrice"],
            "c": row["lastPrice"],
            "Q": row["lastQty"],
            "o": row["openPrice"],
            "h": row["highPrice"],
            "l": row["lowPrice"],
            "v": row["volume"],
            "q": row["quoteVolume"],
            "O": row["openTime"],
            "C": row["closeTime"],
            "F": row["firstId"],
            "L": row["lastId"],
            "n": row["count"],
        }

    def _book_ticker(self, spec: SymbolSpec, now_ms: int) -> dict:
        bid, ask = self._market.book(spec.symbol, self._spread_ticks)
        qty = fixed(spec.min_qty * 100, spec.quantity_precision)
        return {
            "e": "bookTicker",
            "u": self._update_id(spec.symbol, now_ms),
            "E": now_ms,
            "T": now_ms,
            "s": spec.symbol,
            "b": fixed(bid, spec.price_precision),
            "B": qty,
            "a": fixed(ask, spec.price_precision),
            "A": qty,
        }

    def _depth(self, spec: SymbolSpec, stream: StreamSpec, now_ms: int) -> dict:
        bids, asks = self._market.depth(spec.symbol, stream.levels, self._spread_ticks)
        update_id = self._update_id(spec.symbol, now_ms)
        previous = self._last_depth_id.get(stream.name, update_id - 1)
        self._last_depth_id[stream.name] = update_id
        return {
            "e": "depthUpdate",
            "E": now_ms,
            "T": now_ms,
            "s": spec.symbol,
            "U": previous + 1,
            "u": update_id,
            "pu": previous,
            "b": bids,
            "a": asks,
        }
