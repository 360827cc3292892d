"""Closed klines in SQL (the ``klines`` table), kept and served back exactly as Binance sent
them. Each method runs one unit of work on the :class:`SqlRunner`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Connection, func, select, tuple_

from riskd.core.clock import Clock, wall_ms
from riskd.market.records import MAX_KLINES, Kline, KlineRow
from riskd.store.dml import insert_ignore
from riskd.store.engine import SqlRunner
from riskd.store.schema import klines as table

_CHUNK_ROWS: Final = 500  # rows per INSERT: 7,500 bound parameters, within SQLite's limit

# The table's columns in the order of Binance's 12 fields.
_ROW_COLUMNS: Final = (
    table.c.open_ms,
    table.c.open,
    table.c.high,
    table.c.low,
    table.c.close,
    table.c.volume,
    table.c.close_ms,
    table.c.quote_volume,
    table.c.trades,
    table.c.taker_buy_volume,
    table.c.taker_buy_quote_volume,
    table.c.unused,
)


class KlineStore:
    """The ``klines`` table: closed klines stored once per (symbol, interval, open time)."""

    def __init__(self, runner: SqlRunner, clock: Clock = wall_ms) -> None:
        self._runner = runner
        self._clock = clock

    async def insert(self, klines: Sequence[Kline]) -> int:
        """Store the closed ones of *klines* that are not stored yet; return how many.

        Open klines are left out: only a closed kline is final.
        """
        stored_ms = self._clock()
        rows = [_to_row(kline, stored_ms) for kline in klines if kline.closed]
        return await self._runner.run(_insert_new, rows) if rows else 0

    async def history(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[KlineRow]:
        """Binance's 12-field rows, oldest first, as GET /fapi/v1/klines selects them: open
        times from *start_ms* and up to *end_ms* (both inclusive); the first *limit* of them
        when *start_ms* is given, else the last *limit*.

        Raises ValueError unless 1 ≤ *limit* ≤ MAX_KLINES and *start_ms* ≤ *end_ms*.
        """
        if not 1 <= limit <= MAX_KLINES:
            raise ValueError(f"limit must be between 1 and {MAX_KLINES}, not {limit}")
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise ValueError(f"start_ms {start_ms} is after end_ms {end_ms}")
        return await self._runner.run(_history, symbol, interval, start_ms, end_ms, limit)

    async def count(self, symbol: str, interval: str, *, start_ms: int, end_ms: int) -> int:
        """How many klines are stored with open times from *start_ms* to *end_ms* (inclusive)."""
        return await self._runner.run(_count, symbol, interval, start_ms, end_ms)

    async def latest_open_ms(self, symbol: str, interval: str) -> int | None:
        """The open time of the newest stored kline; None when none is stored."""
        return await self._runner.run(_latest_open_ms, symbol, interval)


def _to_row(kline: Kline, stored_ms: int) -> dict[str, Any]:
    row = {column.name: value for column, value in zip(_ROW_COLUMNS, kline.row, strict=True)}
    return row | {"symbol": kline.symbol, "interval": kline.interval, "stored_ms": stored_ms}


def _insert_new(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    key_columns = (table.c.symbol, table.c.interval, table.c.open_ms)
    inserted = 0
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        keys = {_key(row) for row in chunk}
        stored = {
            tuple(row)
            for row in conn.execute(select(*key_columns).where(tuple_(*key_columns).in_(keys)))
        }
        new = list({_key(row): row for row in chunk if _key(row) not in stored}.values())
        if new:
            # Still insert-ignore: the live feed may store some of them in between (on MySQL,
            # whose transactions do not lock the keys read; those few then count as new).
            conn.execute(insert_ignore(table, new, conn.dialect.name))
        inserted += len(new)
    return inserted


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    return row["symbol"], row["interval"], row["open_ms"]


def _history(
    conn: Connection,
    symbol: str,
    interval: str,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> list[KlineRow]:
    query = select(*_ROW_COLUMNS).where(table.c.symbol == symbol, table.c.interval == interval)
    if end_ms is not None:
        query = query.where(table.c.open_ms <= end_ms)
    if start_ms is not None:
        oldest = query.where(table.c.open_ms >= start_ms).order_by(table.c.open_ms).limit(limit)
        return [tuple(row) for row in conn.execute(oldest)]
    newest = conn.execute(query.order_by(table.c.open_ms.desc()).limit(limit))
    return [tuple(row) for row in reversed(newest.all())]


def _count(conn: Connection, symbol: str, interval: str, start_ms: int, end_ms: int) -> int:
    query = select(func.count()).where(
        table.c.symbol == symbol,
        table.c.interval == interval,
        table.c.open_ms.between(start_ms, end_ms),
    )
    return conn.scalar(query) or 0


def _latest_open_ms(conn: Connection, symbol: str, interval: str) -> int | None:
    query = select(func.max(table.c.open_ms)).where(
        table.c.symbol == symbol, table.c.interval == interval
    )
    return conn.scalar(query)
