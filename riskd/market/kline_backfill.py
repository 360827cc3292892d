"""``riskd klines backfill``: page a symbol's closed klines of the last N days into SQL.

The range is cut into windows of at most MAX_KLINES open times, read oldest first. A window
whose klines are all stored already (by an earlier backfill, or by the live feed) is not read
again, so a backfill that is stopped and run again reads only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from riskd.core.clock import DAY_MS
from riskd.exchange.errors import Rejected
from riskd.market import parse
from riskd.market.kline_store import KlineStore
from riskd.market.records import INTERVAL_MS, MAX_KLINES

if TYPE_CHECKING:
    from riskd.exchange.access import BinanceAccess

MAX_KLINE_BACKFILL_DAYS: Final = 3650
KLINES_PATH: Final = "/fapi/v1/klines"
INVALID_SYMBOL: Final = -1121


class UnknownSymbol(ValueError):
    """Binance does not know the symbol (error -1121)."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown symbol {symbol}")
        self.symbol = symbol


@dataclass(frozen=True, slots=True)
class KlineBackfillResult:
    """What one kline backfill read and stored."""

    pages: int  # windows read (windows already stored are not)
    rows_read: int
    rows_new: int  # closed klines new to SQL


async def backfill_klines(
    access: BinanceAccess,
    store: KlineStore,
    symbol: str,
    interval: str,
    days: int,
    now_ms: int,
    progress: Callable[[int, int], None],
) -> KlineBackfillResult:
    """Store *symbol*'s closed *interval* klines from the one open at now − days up to now.

    *progress* is called after each window with (ms covered so far, ms to cover). Raises
    ValueError for an interval Binance does not serve or *days* outside 1..3650, and
    UnknownSymbol (a ValueError) for a symbol Binance does not know.
    """
    if interval not in INTERVAL_MS:
        raise ValueError(f"interval must be one of {', '.join(INTERVAL_MS)}, not {interval!r}")
    if not 1 <= days <= MAX_KLINE_BACKFILL_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_KLINE_BACKFILL_DAYS}, not {days}")
    interval_ms = INTERVAL_MS[interval]
    end_ms = now_ms - now_ms % interval_ms  # no kline opening at or after this has closed
    start_ms = end_ms - days * DAY_MS
    start_ms -= start_ms % interval_ms
    total_ms = end_ms - start_ms
    pages = rows_read = rows_new = 0
    cursor_ms = start_ms
    while cursor_ms < end_ms:
        # A window of n intervals holds exactly n open times, whatever their phase.
        count = min(MAX_KLINES, (end_ms - cursor_ms) // interval_ms)
        last_ms = cursor_ms + count * interval_ms - 1
        stored = await store.count(symbol, interval, start_ms=cursor_ms, end_ms=last_ms)
        if stored < count:
            params = {
                "symbol": symbol,
                "interval": interval,
                "startTime": cursor_ms,
                "endTime": last_ms,
                "limit": count,
            }
            klines = parse.klines(symbol, interval, await _read_page(access, params), now_ms)
            rows_new += await store.insert(klines)
            rows_read += len(klines)
            pages += 1
        cursor_ms = last_ms + 1
        progress(cursor_ms - start_ms, total_ms)
    return KlineBackfillResult(pages, rows_read, rows_new)


async def _read_page(access: BinanceAccess, params: dict[str, Any]) -> Any:
    try:
        return await access.read(
            "GET", KLINES_PATH, lambda: access.client.futures_klines(**params), params
        )
    except Rejected as exc:
        if exc.code == INVALID_SYMBOL:
            raise UnknownSymbol(params["symbol"]) from None
        raise
