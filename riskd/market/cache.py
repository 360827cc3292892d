"""The merged view of every source: the newest record of each kind per symbol, and a window of
klines per symbol and interval. A record replaces what is held only if it is newer by its own
update time, so a slow source never takes a value back."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from riskd.market.records import BookTicker, Kline, MarketKind, MarkPrice, Record, Ticker24h


def newer(record: Record, held: Record | None) -> bool:
    """The merge rule: *record* replaces *held* if it is newer by update time. A closed kline
    is final: an unclosed one never replaces it, and it replaces an unclosed one whatever
    their update times (a stream's last update of a kline may carry a later time than the
    REST read that already saw it closed)."""
    if held is None:
        return True
    if isinstance(held, Kline) and isinstance(record, Kline) and held.closed != record.closed:
        return record.closed
    return record.update_ms > held.update_ms


@dataclass(slots=True)
class _Window:
    """The latest klines of one symbol and interval, by open time."""

    size: int
    by_open: dict[int, Kline] = field(default_factory=dict)
    opens: list[int] = field(default_factory=list)  # sorted

    def apply(self, kline: Kline) -> bool:
        held = self.by_open.get(kline.open_ms)
        if held is None:
            if len(self.opens) >= self.size and kline.open_ms < self.opens[0]:
                return False  # older than everything kept
            bisect.insort(self.opens, kline.open_ms)
            if len(self.opens) > self.size:
                del self.by_open[self.opens.pop(0)]
        elif not newer(kline, held):
            return False
        self.by_open[kline.open_ms] = kline
        return True

    def klines(self) -> list[Kline]:
        return [self.by_open[open_ms] for open_ms in self.opens]


class MarketCache:
    """Everything the feed has brought in, merged; the gateway answers from it."""

    def __init__(self, kline_window: int) -> None:
        if kline_window < 1:
            raise ValueError(f"kline_window must be at least 1, not {kline_window}")
        self.kline_window = kline_window
        self.symbols: frozenset[str] = frozenset()
        """The symbols the feed carries (the gateway's 404 for any other)."""
        self._latest: dict[tuple[MarketKind, str], Record] = {}
        self._windows: dict[str, dict[str, _Window]] = {}  # symbol → interval → window

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """The feed's symbol list (from exchangeInfo and the config)."""
        self.symbols = frozenset(symbols)

    def apply(self, records: Iterable[Record]) -> list[Record]:
        """Merge *records*; returns the ones that were newer than what was held."""
        accepted = []
        for record in records:
            if isinstance(record, Kline):
                windows = self._windows.setdefault(record.symbol, {})
                window = windows.get(record.interval)
                if window is None:
                    window = windows[record.interval] = _Window(self.kline_window)
                if window.apply(record):
                    accepted.append(record)
            elif newer(record, self._latest.get(key := (record.kind, record.symbol))):
                self._latest[key] = record
                accepted.append(record)
        return accepted

    def book(self, symbol: str) -> BookTicker | None:
        return self._latest.get((MarketKind.BOOK, symbol))  # type: ignore[return-value]

    def mark(self, symbol: str) -> MarkPrice | None:
        return self._latest.get((MarketKind.MARK, symbol))  # type: ignore[return-value]

    def ticker(self, symbol: str) -> Ticker24h | None:
        return self._latest.get((MarketKind.TICKER, symbol))  # type: ignore[return-value]

    def klines(self, symbol: str, interval: str) -> list[Kline]:
        """The window of *symbol*'s *interval* klines, oldest first."""
        window = self._windows.get(symbol, {}).get(interval)
        return window.klines() if window else []

    def updated_ms(self, symbol: str) -> dict[MarketKind, int]:
        """When each kind of *symbol*'s data last changed (its record's update time); for
        klines the newest update of any interval."""
        updated = {
            kind: record.update_ms
            for kind in (MarketKind.BOOK, MarketKind.MARK, MarketKind.TICKER)
            if (record := self._latest.get((kind, symbol))) is not None
        }
        kline_updates = [
            window.by_open[window.opens[-1]].update_ms
            for window in self._windows.get(symbol, {}).values()
            if window.opens
        ]
        if kline_updates:
            updated[MarketKind.KLINE] = max(kline_updates)
        return updated
