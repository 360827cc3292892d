"""The kline store on SQLite and MySQL/MariaDB: closed klines once each, served back exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from riskd.core.clock import MINUTE_MS
from riskd.market.kline_store import KlineStore
from riskd.market.records import Kline
from riskd.store.engine import SqlRunner
from riskd.store.schema import init_schema, klines
from tests.kit.clock import FrozenClock

T0_MS = 1_700_000_040_000  # a whole minute
# Binance's answer for one BTCUSDT 1m kline, field by field as sent (trailing zeros kept).
BINANCE_ROW = (
    T0_MS,
    "60000.10",
    "60010.00",
    "59990.50",
    "60005.20",
    "12.345",
    T0_MS + MINUTE_MS - 1,
    "740812.34560",
    4321,
    "6.000",
    "360030.00000",
    "0",
)


def _kline(
    open_ms: int, *, symbol: str = "BTCUSDT", interval: str = "1m", closed: bool = True
) -> Kline:
    row = (open_ms, *BINANCE_ROW[1:6], open_ms + MINUTE_MS - 1, *BINANCE_ROW[7:])
    return Kline(symbol, interval, row, closed, update_ms=open_ms + MINUTE_MS)


def _minutes(*indexes: int) -> list[Kline]:
    return [_kline(T0_MS + i * MINUTE_MS) for i in indexes]


def _opens(rows: list[tuple]) -> list[int]:
    return [(row[0] - T0_MS) // MINUTE_MS for row in rows]


@pytest.fixture
def runner(sql_engine: Engine) -> Iterator[SqlRunner]:
    init_schema(sql_engine, 0)
    runner = SqlRunner(sql_engine)
    yield runner
    runner.close()


@pytest.fixture
def store(runner: SqlRunner) -> KlineStore:
    return KlineStore(runner, clock=FrozenClock(T0_MS + 10 * MINUTE_MS))


async def test_a_binance_row_comes_back_identical(store: KlineStore) -> None:
    assert await store.insert([Kline("BTCUSDT", "1m", BINANCE_ROW, True, T0_MS)]) == 1

    rows = await store.history("BTCUSDT", "1m", start_ms=None, end_ms=None, limit=10)

    assert rows == [BINANCE_ROW]
    assert [type(field) for field in rows[0]] == [type(field) for field in BINANCE_ROW]


async def test_each_kline_is_stored_once_and_counted_new_once(store: KlineStore) -> None:
    assert await store.insert(_minutes(0, 1, 2)) == 3
    assert await store.insert(_minutes(1, 2, 3, 3)) == 1

    rows = await store.history("BTCUSDT", "1m", start_ms=None, end_ms=None, limit=10)
    assert _opens(rows) == [0, 1, 2, 3]


async def test_open_klines_are_not_stored(store: KlineStore) -> None:
    batch = [_kline(T0_MS), _kline(T0_MS + MINUTE_MS, closed=False)]

    assert await store.insert(batch) == 1
    assert await store.insert([_kline(T0_MS, closed=False)]) == 0
    assert await store.latest_open_ms("BTCUSDT", "1m") == T0_MS


async def test_a_batch_larger_than_one_statement_is_stored_whole(store: KlineStore) -> None:
    assert await store.insert(_minutes(*range(1_234))) == 1_234
    assert await store.insert(_minutes(*range(1_000, 1_500))) == 266

    last_ms = T0_MS + 2_000 * MINUTE_MS
    assert await store.count("BTCUSDT", "1m", start_ms=T0_MS, end_ms=last_ms) == 1_500


async def test_stored_ms_is_the_stores_clock(store: KlineStore, sql_engine: Engine) -> None:
    await store.insert(_minutes(0))

    with sql_engine.connect() as conn:
        assert conn.scalar(select(klines.c.stored_ms)) == T0_MS + 10 * MINUTE_MS


@pytest.mark.parametrize(
    ("start", "end", "limit", "expected"),
    [
        (None, None, 3, [7, 8, 9]),  # the last limit
        (None, 4, 3, [2, 3, 4]),  # the last limit up to end (inclusive)
        (None, 4, 10, [0, 1, 2, 3, 4]),
        (2, None, 3, [2, 3, 4]),  # the first limit from start (inclusive)
        (2, 8, 10, [2, 3, 4, 5, 6, 7, 8]),
        (2, 8, 2, [2, 3]),
        (5, 5, 1, [5]),
        (10, None, 5, []),
        (None, -1, 5, []),
    ],
)
async def test_history_selects_like_binances_klines_endpoint(
    store: KlineStore, start: int | None, end: int | None, limit: int, expected: list[int]
) -> None:
    await store.insert(_minutes(*range(10)))

    def at(index: int | None) -> int | None:
        return None if index is None else T0_MS + index * MINUTE_MS

    rows = await store.history("BTCUSDT", "1m", start_ms=at(start), end_ms=at(end), limit=limit)

    assert _opens(rows) == expected


async def test_symbols_and_intervals_are_kept_apart(store: KlineStore) -> None:
    symbols = [f"COIN{n}USDT" for n in range(20)]
    await store.insert([_kline(T0_MS + n * MINUTE_MS, symbol=s) for n, s in enumerate(symbols)])
    await store.insert([_kline(T0_MS + 5 * MINUTE_MS, symbol="COIN3USDT", interval="5m")])

    for n, symbol in enumerate(symbols):
        rows = await store.history(symbol, "1m", start_ms=None, end_ms=None, limit=10)
        assert _opens(rows) == [n]
        assert await store.latest_open_ms(symbol, "1m") == T0_MS + n * MINUTE_MS
    assert await store.latest_open_ms("COIN3USDT", "5m") == T0_MS + 5 * MINUTE_MS
    assert await store.count("COIN3USDT", "1m", start_ms=0, end_ms=2 * T0_MS) == 1
    assert await store.latest_open_ms("ETHUSDT", "1m") is None
    assert await store.history("ETHUSDT", "1m", start_ms=None, end_ms=None, limit=1) == []


async def test_count_is_inclusive_at_both_ends(store: KlineStore) -> None:
    await store.insert(_minutes(*range(10)))

    def count(first: int, last: int):
        return store.count(
            "BTCUSDT", "1m", start_ms=T0_MS + first * MINUTE_MS, end_ms=T0_MS + last * MINUTE_MS
        )

    assert [await count(2, 4), await count(9, 20), await count(-5, -1)] == [3, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "limit must be between 1 and 1500, not 0"),
        ({"limit": 1501}, "limit must be between 1 and 1500, not 1501"),
        ({"start_ms": 2, "end_ms": 1}, "start_ms 2 is after end_ms 1"),
    ],
)
async def test_history_refuses_bad_arguments_by_name(
    store: KlineStore, kwargs: dict, message: str
) -> None:
    arguments = {"start_ms": None, "end_ms": None, "limit": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        await store.history("BTCUSDT", "1m", **arguments)
