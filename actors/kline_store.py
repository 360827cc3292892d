"""KlineStore actor: writes the feed's closed klines to SQL and serves history beyond the
gateway's cache (queries: riskd.market.kline_store)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from actors.context import ConfigSource
from riskd.core.clock import wall_ms
from riskd.market.kline_store import KlineStore
from riskd.market.records import Kline
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.schema import init_schema
from riskd.store.write_queue import WriteQueue

RETRY_S = 1.0  # klines a failed write kept are tried again this often


class KlineStoreActor:
    """Closed klines arrive from every reader and the stream, many of them more than once;
    the newest stored open time per symbol and interval filters repeats before SQL does."""

    def __init__(self, source: ConfigSource) -> None:
        config = source.load(secrets={"database"})
        self.engine = make_engine(config.database.resolved_url.reveal())
        self.store = KlineStore(SqlRunner(self.engine))
        self.stored = 0
        self._newest: dict[tuple[str, str], int] = {}
        self.klines = WriteQueue("kline_store", self._store, retry_s=RETRY_S)
        self._schema = asyncio.get_running_loop().create_task(
            asyncio.to_thread(init_schema, self.engine, wall_ms())
        )

    async def store_klines(self, klines: Sequence[Kline]) -> None:
        """Store the closed klines not stored yet. Klines that arrive while a write runs are
        stored together in the next (``WriteQueue``)."""
        await self.klines.put(klines)

    async def _store(self, batches: list[Sequence[Kline]]) -> None:
        await self._schema
        fresh: dict[tuple[str, str, int], Kline] = {}
        for kline in itertools.chain.from_iterable(batches):
            newest = self._newest.get((kline.symbol, kline.interval), -1)
            if kline.closed and kline.open_ms > newest:
                fresh[kline.symbol, kline.interval, kline.open_ms] = kline
        if not fresh:
            return
        self.stored += await self.store.insert(list(fresh.values()))
        for symbol, interval, open_ms in fresh:
            key = (symbol, interval)
            self._newest[key] = max(self._newest.get(key, -1), open_ms)

    async def history(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[tuple]:
        """Stored klines as Binance's rows (``KlineStore.history``)."""
        await self._schema
        return await self.store.history(
            symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit
        )

    async def health(self) -> dict:
        return {
            "stored": self.stored,
            "symbols": len({s for s, _ in self._newest}),
            "batches_waiting": self.klines.waiting,
        }
