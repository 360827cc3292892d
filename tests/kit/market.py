"""Sample market records for tests: klines with Binance-shaped rows, book, mark and ticker."""

from __future__ import annotations

from decimal import Decimal

from riskd.market.records import INTERVAL_MS, BookTicker, Kline, MarkPrice, Ticker24h

NOW_MS = 1_712_738_580_000
"""A minute boundary (2024-04-10 08:43Z), near the recorded klines' times."""


def kline_row(open_ms: int, interval: str = "1m", close: str = "70459.40") -> tuple:
    """A 12-field row as Binance sends it: ints for times and trades, strings for amounts."""
    close_ms = open_ms + INTERVAL_MS[interval] - 1
    return (
        open_ms,
        "71470.70",
        "71470.90",
        "70459.40",
        close,
        "1.542",
        close_ms,
        "108661.55840",
        8,
        "0.013",
        "929.12130",
        "0",
    )


def kline(
    open_ms: int = NOW_MS,
    *,
    update_ms: int | None = None,
    closed: bool = False,
    symbol: str = "BTCUSDT",
    interval: str = "1m",
    close: str = "70459.40",
) -> Kline:
    """A kline opened at *open_ms*, updated at *update_ms* (default: its open time)."""
    return Kline(
        symbol,
        interval,
        kline_row(open_ms, interval, close),
        closed=closed,
        update_ms=open_ms if update_ms is None else update_ms,
    )


def book(update_ms: int = NOW_MS, *, symbol: str = "BTCUSDT", bid: str = "70459.4") -> BookTicker:
    return BookTicker(
        symbol,
        bid=Decimal(bid),
        bid_qty=Decimal("1.5"),
        ask=Decimal(bid) + Decimal("0.1"),
        ask_qty=Decimal("2"),
        update_ms=update_ms,
    )


def mark(update_ms: int = NOW_MS, *, symbol: str = "BTCUSDT", price: str = "70460") -> MarkPrice:
    return MarkPrice(
        symbol,
        mark=Decimal(price),
        index=Decimal(price) - 1,
        funding_rate=Decimal("0.0001"),
        next_funding_ms=NOW_MS + 3_600_000,
        update_ms=update_ms,
    )


def ticker(
    symbol: str = "BTCUSDT", quote_volume: str = "1000000", update_ms: int = NOW_MS
) -> Ticker24h:
    return Ticker24h(
        symbol,
        last=Decimal("70459.4"),
        open=Decimal("71000"),
        high=Decimal("71500"),
        low=Decimal("70000"),
        volume=Decimal("14.2"),
        quote_volume=Decimal(quote_volume),
        update_ms=update_ms,
    )
