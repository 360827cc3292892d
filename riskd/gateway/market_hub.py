"""The gateway's market data: the merged cache, its answers rendered once per change, the
streams' subscriptions and what each robot asked for."""

from __future__ import annotations

import asyncio
import bisect
import json
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from riskd.market.cache import MarketCache
from riskd.market.config import MarketConfig
from riskd.market.records import Kline, MarketKind, Record

MAX_ROBOTS: Final = 1_000
"""Robots counted by name; requests of any further ones count under OTHER_ROBOTS."""
OTHER_ROBOTS: Final = "*others*"  # not a robot's name: ``*`` is not allowed in one
ANONYMOUS: Final = "anonymous"


class Channel(StrEnum):
    """What a stream message shows (its ``type``)."""

    TICKER = "ticker"
    MARK = "mark"
    KLINE = "kline"


def age_ms(update_ms: int, now_ms: int) -> int:
    """How old data updated at *update_ms* is at *now_ms*: never below 0, as Binance's
    clock, which stamps the data, may run a little ahead of ours."""
    return max(0, now_ms - update_ms)


def decimal_text(value: Decimal) -> str:
    """*value* as Binance writes amounts: positional, never ``1E-8``."""
    return format(value, "f")


def row_json(row: Sequence[object]) -> str:
    """A 12-field kline row as its JSON array."""
    return json.dumps(row, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A ticker or mark answer as JSON but for its age, which each answer splices in."""

    kind: MarketKind
    """Whose maximum age applies."""
    update_ms: int
    """What the age counts from."""
    head: str
    tail: str

    def json(self, now_ms: int, opening: str = "{") -> str:
        """The answer at *now_ms*; *opening* starts the object (and may add fields)."""
        return f"{opening}{self.head}{age_ms(self.update_ms, now_ms)}{self.tail}"

    @classmethod
    def of(cls, kind: MarketKind, update_ms: int, symbol: str, fields: dict) -> Rendered:
        """``{"symbol": symbol, "age_ms": …, **fields}`` rendered."""
        head = f'"symbol":{json.dumps(symbol)},"age_ms":'
        tail = json.dumps(fields, separators=(",", ":"))
        return cls(kind, update_ms, head, f",{tail[1:]}")


@dataclass(frozen=True, slots=True)
class KlineWindow:
    """A symbol's cached klines of one interval, oldest first, each row also as JSON."""

    opens: list[int]
    klines: list[Kline]
    rows: list[str]

    @classmethod
    def of(cls, klines: list[Kline], previous: KlineWindow | None) -> KlineWindow:
        """The window of *klines*, reusing *previous*'s JSON of the klines it still holds."""
        # By identity: a kline still held is the same object (and *previous* keeps it alive).
        held = (
            {}
            if previous is None
            else dict(zip(map(id, previous.klines), previous.rows, strict=True))
        )
        rows = [held.get(id(kline)) or row_json(kline.row) for kline in klines]
        return cls([kline.open_ms for kline in klines], klines, rows)

    @property
    def update_ms(self) -> int:
        """The newest kline's update time."""
        return self.klines[-1].update_ms

    def span(self, start_ms: int | None, end_ms: int | None) -> tuple[int, int]:
        """The indexes ``[lo, hi)`` of the klines opened from *start_ms* to *end_ms*."""
        lo = 0 if start_ms is None else bisect.bisect_left(self.opens, start_ms)
        hi = len(self.opens) if end_ms is None else bisect.bisect_right(self.opens, end_ms)
        return lo, max(lo, hi)


@dataclass(frozen=True, slots=True)
class Change:
    """What changed for a stream: a symbol's ticker or mark (shown as held when sent), or
    one kline."""

    channel: Channel
    symbol: str
    kline: Kline | None = None

    @property
    def key(self) -> tuple[Channel, str, str]:
        return self.channel, self.symbol, self.kline.interval if self.kline else ""


class Subscription:
    """A stream's mailbox: at most one change per (channel, symbol[, interval]), the newest,
    so a reader that falls behind skips to the newest values and holds up no one."""

    def __init__(self) -> None:
        self._pending: dict[tuple[Channel, str, str], Change] = {}
        self._ready = asyncio.Event()

    def offer(self, change: Change) -> None:
        held = self._pending.get(change.key)
        if held and held.kline and change.kline and change.kline.open_ms < held.kline.open_ms:
            return  # a late update of an older kline; the newer one is what to show
        self._pending[change.key] = change
        self._ready.set()

    async def take(self) -> list[Change]:
        """Every pending change, in the order first offered, once there is one."""
        await self._ready.wait()
        self._ready.clear()
        changes, self._pending = list(self._pending.values()), {}
        return changes


class MarketHub:
    """The market data the gateway serves, on one event loop (not thread-safe).

    ``publish`` merges by each record's update time, drops the answers rendered from what
    changed and hands each stream subscribed to the symbol the change; it never blocks.
    """

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.cache = MarketCache(config.kline_window)
        self._tickers: dict[str, Rendered] = {}
        self._marks: dict[str, Rendered] = {}
        self._windows: dict[tuple[str, str], KlineWindow] = {}
        self._changed_windows: set[tuple[str, str]] = set()
        # The newest kline of the first interval: its close is the last price when it is
        # newer than the 24 h ticker (a window read brings old klines with a new update time).
        self._last_kline: dict[str, Kline] = {}
        self._subscribers: dict[str, set[Subscription]] = {}
        self._requests: Counter[str] = Counter()

    @property
    def symbols(self) -> frozenset[str]:
        return self.cache.symbols

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """The symbols the feed carries; any other is unknown to the routes."""
        self.cache.set_symbols(symbols)

    def publish(self, records: Iterable[Record]) -> int:
        """Merge *records*; return how many were newer than what was held."""
        accepted = self.cache.apply(records)
        for record in accepted:
            for change in self._changed(record):
                for subscription in self._subscribers.get(record.symbol, ()):
                    subscription.offer(change)
        return len(accepted)

    def _changed(self, record: Record) -> list[Change]:
        """Forget what *record* changes; what its streams are told."""
        symbol = record.symbol
        if record.kind is MarketKind.MARK:
            self._marks.pop(symbol, None)
            return [Change(Channel.MARK, symbol)]
        if not isinstance(record, Kline):
            last = self._last_kline.get(symbol)
            if record.kind is MarketKind.TICKER and last and last.update_ms > record.update_ms:
                return []  # the ticker shows the newer kline's close, not this last price
            self._tickers.pop(symbol, None)
            return [Change(Channel.TICKER, symbol)]
        self._changed_windows.add((symbol, record.interval))
        changes = [Change(Channel.KLINE, symbol, record)]
        last = self._last_kline.get(symbol)
        if record.interval == self.config.intervals[0] and (
            last is None or (record.open_ms, record.update_ms) > (last.open_ms, last.update_ms)
        ):
            self._last_kline[symbol] = record
            ticker = self.cache.ticker(symbol)
            if ticker is None or record.update_ms > ticker.update_ms:  # the ticker's last
                self._tickers.pop(symbol, None)
                changes.append(Change(Channel.TICKER, symbol))
        return changes

    def ticker(self, symbol: str) -> Rendered | None:
        """The symbol's best bid and ask, and its last price; None without a book."""
        rendered = self._tickers.get(symbol)
        if rendered is None:
            book = self.cache.book(symbol)
            if book is None:
                return None
            fields = {
                "bid": decimal_text(book.bid),
                "bid_qty": decimal_text(book.bid_qty),
                "ask": decimal_text(book.ask),
                "ask_qty": decimal_text(book.ask_qty),
                "last": self._last_price(symbol),
                "time": book.update_ms,
            }
            rendered = Rendered.of(MarketKind.BOOK, book.update_ms, symbol, fields)
            self._tickers[symbol] = rendered
        return rendered

    def _last_price(self, symbol: str) -> str | None:
        """The 24 h ticker's last price, or the newest kline's close when that is newer."""
        ticker = self.cache.ticker(symbol)
        kline = self._last_kline.get(symbol)
        if kline is not None and (ticker is None or kline.update_ms > ticker.update_ms):
            return str(kline.row[4])
        return None if ticker is None else decimal_text(ticker.last)

    def mark(self, symbol: str) -> Rendered | None:
        """The symbol's mark and index price and funding; None before any."""
        rendered = self._marks.get(symbol)
        if rendered is None:
            mark = self.cache.mark(symbol)
            if mark is None:
                return None
            fields = {
                "mark": decimal_text(mark.mark),
                "index": decimal_text(mark.index),
                "funding_rate": decimal_text(mark.funding_rate),
                "next_funding_ms": mark.next_funding_ms,
            }
            rendered = self._marks[symbol] = Rendered.of(
                MarketKind.MARK, mark.update_ms, symbol, fields
            )
        return rendered

    def klines(self, symbol: str, interval: str) -> KlineWindow | None:
        """The symbol's cached klines of *interval*; None before any."""
        key = (symbol, interval)
        window = self._windows.get(key)
        if window is None or key in self._changed_windows:
            self._changed_windows.discard(key)
            klines = self.cache.klines(symbol, interval)
            if not klines:
                return None
            window = self._windows[key] = KlineWindow.of(klines, window)
        return window

    async def subscribe(self, symbols: Collection[str]) -> AsyncIterator[list[Change]]:
        """The current values of *symbols* (ticker, mark, the newest kline of each interval,
        as held), then their changes, in batches; close it with ``aclose()``."""
        subscription = Subscription()
        for symbol in symbols:
            self._subscribers.setdefault(symbol, set()).add(subscription)
            if self.ticker(symbol) is not None:
                subscription.offer(Change(Channel.TICKER, symbol))
            if self.mark(symbol) is not None:
                subscription.offer(Change(Channel.MARK, symbol))
            for interval in self.config.intervals:
                window = self.klines(symbol, interval)
                if window is not None:
                    subscription.offer(Change(Channel.KLINE, symbol, window.klines[-1]))
        try:
            while True:
                yield await subscription.take()
        finally:
            for symbol in symbols:
                subscribers = self._subscribers[symbol]
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[symbol]

    def message(self, change: Change, now_ms: int) -> str | None:
        """*change* as a stream's JSON text; None when there is nothing to show (a ticker
        before any book)."""
        if change.kline is not None:
            kline = change.kline
            return (
                f'{{"type":"kline","symbol":{json.dumps(kline.symbol)},'
                f'"interval":{json.dumps(kline.interval)},"kline":{row_json(kline.row)},'
                f'"closed":{json.dumps(kline.closed)}}}'
            )
        view = self.ticker if change.channel is Channel.TICKER else self.mark
        rendered = view(change.symbol)
        return None if rendered is None else rendered.json(now_ms, f'{{"type":"{change.channel}",')

    def count(self, robot: str) -> None:
        """One answered request of *robot*."""
        if robot in self._requests or len(self._requests) < MAX_ROBOTS:
            self._requests[robot] += 1
        else:
            self._requests[OTHER_ROBOTS] += 1

    def stats(self, now_ms: int) -> dict:
        """Requests per robot, and per symbol the age of each kind of data held and the
        oldest of them (None when nothing is held)."""
        symbols = {}
        for symbol in sorted(self.cache.symbols):
            kinds = {
                kind.value: age_ms(updated_ms, now_ms)
                for kind, updated_ms in self.cache.updated_ms(symbol).items()
            }
            symbols[symbol] = {"age_ms": max(kinds.values(), default=None), "kinds": kinds}
        return {"robots": dict(self._requests), "symbols": symbols}
