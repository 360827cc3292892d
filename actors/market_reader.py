"""MarketReader: one REST reader of a market-feed group, in its time slot or at its interval.

Per-symbol groups (``klines``, ``hot_klines``) take their next symbol from the MarketHub's
shared counter, so N readers share the list; whole-list groups (``book``, ``mark``,
``ticker``) read every symbol in one call, and N readers in time slots refresh it N times per
period. What is read goes to the gateway's cache; closed klines go to the kline store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from actors.base import Job
from actors.context import GATEWAY_NAME, KLINE_STORE_NAME, MARKET_HUB_NAME, ConfigSource
from riskd.market import parse
from riskd.market.config import ReaderTiming
from riskd.market.reads import KlineReads
from riskd.market.records import Kline, Record, Ticker24h
from riskd.market.slots import SlotSchedule
from riskd.plan import JobSpec

PER_SYMBOL_GROUPS = frozenset({"klines", "hot_klines"})


class MarketReader(Job):
    """Reads its group's data once per pass and publishes it."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        assert self.config.market is not None and spec.reader is not None
        self.market = self.config.market
        self.slot = spec.reader
        group = self.market.readers[self.slot.group]
        self.schedule = (
            SlotSchedule(self.slot.index, self.slot.readers, group.period_ms)
            if group.timing is ReaderTiming.SLOTS
            else None
        )
        self.kline_reads = KlineReads(self.market.kline_window, self.market.calibrate_every_ms)
        self.gateway = self.peer(GATEWAY_NAME)
        self.hub = self.peer(MARKET_HUB_NAME)
        self.kline_store = self.peer(KLINE_STORE_NAME) if self.market.store_klines else None
        self.published = 0
        self._last_read_ms: int | None = None
        self._read: Callable[[], Awaitable[list[Record]]] = {
            "book": self._book,
            "mark": self._mark,
            "ticker": self._ticker,
        }.get(self.slot.group, self._klines)

    async def step(self) -> None:
        self._last_read_ms = self.clock.now_ms()
        records = await self._read()
        if self.market.symbols != "all":
            wanted = set(self.market.symbols)
            records = [record for record in records if record.symbol in wanted]
        if records:
            self.gateway.notify("publish_market", records)
            self.published += len(records)
        closed = [r for r in records if isinstance(r, Kline) and r.closed]
        if closed and self.kline_store is not None:
            self.kline_store.notify("store_klines", closed)
        self.health.extra = {"published": self.published}

    async def pause(self, delay_ms: float) -> None:
        """In time slots: sleep until this reader's next slot (the base loop's delay is the
        fallback after a failure, when it is longer)."""
        if self.schedule is None:
            return await super().pause(delay_ms)
        now_ms = self.clock.now_ms()
        until_slot_ms = self.schedule.next_read_ms(now_ms, self._last_read_ms) - now_ms
        backoff_ms = delay_ms if self.health.last_error is not None else 0
        await asyncio.sleep(max(until_slot_ms, backoff_ms, 0) / 1000)

    async def _klines(self) -> list[Record]:
        symbols = await self.hub.call("take", self.slot.group, 1)
        records: list[Record] = []
        for symbol in symbols:
            for interval in self.market.intervals:
                records += await self._read_klines(symbol, interval)
        return records

    async def _read_klines(self, symbol: str, interval: str) -> Sequence[Kline]:
        limit = self.kline_reads.limit(symbol, interval, self.clock.now_ms())
        sent_ms = self.clock.now_ms()
        rows = await self.access.read(
            "GET",
            "/fapi/v1/klines",
            lambda: self.access.client.futures_klines(
                symbol=symbol, interval=interval, limit=limit
            ),
            {"symbol": symbol, "limit": str(limit)},
        )
        klines = parse.klines(symbol, interval, rows, sent_ms)
        self.kline_reads.done(symbol, interval, limit, self.clock.now_ms())
        return klines

    async def _book(self) -> list[Record]:
        body = await self.access.read(
            "GET", "/fapi/v1/ticker/bookTicker", self.access.client.futures_orderbook_ticker
        )
        return list(parse.book_tickers(body))

    async def _mark(self) -> list[Record]:
        body = await self.access.read(
            "GET", "/fapi/v1/premiumIndex", self.access.client.futures_mark_price
        )
        return list(parse.mark_prices(body))

    async def _ticker(self) -> list[Record]:
        body = await self.access.read(
            "GET", "/fapi/v1/ticker/24hr", self.access.client.futures_ticker
        )
        tickers: list[Ticker24h] = parse.tickers_24h(body)
        self.hub.notify("on_tickers", tickers)
        return list(tickers)
