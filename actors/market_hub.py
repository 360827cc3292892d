"""MarketHub: the feed's symbol list (exchangeInfo and the config), its hot set, and the shared
counters its kline readers take symbols from (decides: riskd.market.hotset, .counter)."""

from __future__ import annotations

from collections.abc import Sequence

from actors.base import Job
from actors.context import (
    GATEWAY_NAME,
    ConfigSource,
    NamedActor,
    PeerUnavailable,
    position_book_name,
)
from riskd.core.clock import MINUTE_MS
from riskd.market.counter import SymbolCounter
from riskd.market.hotset import hot_symbols
from riskd.market.parse import trading_symbols
from riskd.market.records import Ticker24h
from riskd.plan import JobKind, JobSpec

EXCHANGE_INFO_EVERY_MS = MINUTE_MS
"""New listings and delistings are picked up this fast (exchangeInfo weighs 1)."""
HOT_GROUP = "hot_klines"


class MarketHub(Job):
    """Each pass refreshes the symbol list when due, recomputes the hot set from every
    account's positions and open orders and the 24 h tickers, and tells the gateway which
    symbols the feed carries. Readers call ``take`` for the next symbols of their group."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        assert self.config.market is not None
        self.market = self.config.market
        self.universe: tuple[str, ...] = ()
        self.hot: tuple[str, ...] = ()
        self.counters = {group: SymbolCounter() for group in self.market.readers}
        self.tickers: dict[str, Ticker24h] = {}
        self.gateway = self.peer(GATEWAY_NAME)
        self.books = [
            NamedActor(position_book_name(a.name), self.deployment) for a in self.config.accounts
        ]
        self.reapers = [
            NamedActor(
                JobSpec(JobKind.ORDER_REAPER, a.name, a.jobs.order_reaper).name, self.deployment
            )
            for a in self.config.accounts
            if a.jobs.order_reaper.enabled
        ]
        self._info_read_ms: int | None = None

    async def step(self) -> None:
        now_ms = self.clock.now_ms()
        if self._info_read_ms is None or now_ms - self._info_read_ms >= EXCHANGE_INFO_EVERY_MS:
            await self._read_symbols()
            self._info_read_ms = now_ms
        positions, orders = await self._held_symbols()
        tickers = self.tickers.values()
        self.hot = hot_symbols(self.market.hot, set(self.universe), positions, orders, tickers)
        for group, counter in self.counters.items():
            counter.set_symbols(self.hot if group == HOT_GROUP else self.universe)
        self.gateway.notify("set_market_symbols", self.universe)
        self.health.extra["hot"] = list(self.hot)

    async def _read_symbols(self) -> None:
        """The TRADING perpetuals of exchangeInfo: all of them, or the configured ones."""
        info = await self.access.read(
            "GET", "/fapi/v1/exchangeInfo", self.access.client.futures_exchange_info
        )
        trading = trading_symbols(info)
        wanted = trading if self.market.symbols == "all" else self.market.symbols
        listed = set(trading)
        self.universe = tuple(symbol for symbol in wanted if symbol in listed)
        self.health.extra["symbols"] = len(self.universe)
        self.health.extra["not_trading"] = sorted(set(wanted) - listed)

    async def _held_symbols(self) -> tuple[list[str], list[str]]:
        """Symbols with a position, and with an open order, on any account (what cannot be
        asked now is left out until the next pass)."""
        positions: list[str] = []
        for book in self.books:
            try:
                view = await book.call("current")
            except PeerUnavailable:
                continue
            positions += [record.symbol for record in view.positions]
        orders: list[str] = []
        for reaper in self.reapers:
            try:
                orders += await reaper.call("open_order_symbols")
            except PeerUnavailable:
                continue
        return positions, orders

    async def take(self, group: str, count: int) -> list[str]:
        """The next *count* symbols of *group*'s list (its readers share it)."""
        return self.counters[group].take(count)

    async def symbols(self) -> tuple[str, ...]:
        """Every symbol the feed carries (empty until exchangeInfo was read)."""
        return self.universe

    async def on_tickers(self, tickers: Sequence[Ticker24h]) -> None:
        """The 24 h tickers a reader brought in (they rank the hot set)."""
        self.tickers.update((ticker.symbol, ticker) for ticker in tickers)
