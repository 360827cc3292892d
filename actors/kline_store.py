"""KlineStore actor: writes the feed's closed klines to SQL and serves history beyond the
gateway's cache (queries: riskd.market.kline_store)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from actors.context import ConfigSource
from riskd.core.clock import wall_ms
from riskd.market.kline_store import KlineStore
from riskd.market.records import Kline
from riskd.store import SqlRunner, init_schema, make_engine


class KlineStoreActor:
    """Closed klines arrive from every reader and the stream, many of them more than once;
    the newest stored open time per symbol and interval filters repeats before SQL does."""

    def __init__(self, source: ConfigSource) -> None:
        config = source.load(secrets={"database"})
        self.engine = make_engine(config.database.resolved_url.reveal())
        self.store = KlineStore(SqlRunner(self.engine))
        self.stored = 0
        self._newest: dict[tuple[str, str], int] = {}
        self._schema = asyncio.get_running_loop().create_task(
            asyncio.to_thread(init_schema, self.engine, wall_ms())
        )

    async def store_klines(self, klines: Sequence[Kline]) -> int:
        """Store the closed klines not stored yet; how many rows were new."""
        await self._schema
        fresh = [
            kline
            for kline in klines
            if kline.closed and kline.open_ms > self._newest.get((kline.symbol, kline.interval), -1)
        ]
        if not fresh:
            return 0
        new = await self.store.insert(fresh)
        for kline in fresh:
            key = (kline.symbol, kline.interval)
            self._newest[key] = max(self._newest.get(key, -1), kline.open_ms)
        self.stored += new
        return new

    async def history(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[tuple]:
        """Stored klines as Binance's rows (``KlineStore.history``)."""
        await self._schema
        return await self.store.history(
            symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit
        )

    async def health(self) -> dict:
        return {"stored": self.stored, "symbols": len({s for s, _ in self._newest})}
