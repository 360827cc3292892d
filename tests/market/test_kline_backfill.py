"""Backfilling klines from the simulator into SQL: paged, exact, resumable, within budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from binance import AsyncClient
from sqlalchemy import Engine

from riskd.core.clock import DAY_MS, MINUTE_MS
from riskd.exchange.access import BinanceAccess
from riskd.exchange.budget import WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.guard import IpGuardConfig, IpGuards
from riskd.market.kline_backfill import UnknownSymbol, backfill_klines
from riskd.market.kline_store import KlineStore
from riskd.market.records import Kline
from riskd.sim import SimServer
from riskd.store.engine import SqlRunner
from riskd.store.schema import init_schema

MakeAccess = Callable[[int], Awaitable[BinanceAccess]]
TWO_DAYS_OF_MINUTES = 2 * 1440


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """The SQLite database (tests/conftest.py) with riskd's schema."""
    init_schema(sqlite_engine, 0)
    return sqlite_engine


@pytest.fixture
def store(engine: Engine) -> Iterator[KlineStore]:
    runner = SqlRunner(engine)
    yield KlineStore(runner)
    runner.close()


@pytest.fixture
async def make_access(sim: SimServer) -> AsyncIterator[MakeAccess]:
    """Factory: an access without API keys (klines are public) and with this weight budget."""
    clients: list[AsyncClient] = []

    async def make(weight_per_minute: int) -> BinanceAccess:
        config = ExchangeConfig(network="sim", base_url=sim.url, request_timeout_ms=2000)
        clients.append(make_client(config))
        return BinanceAccess(
            clients[-1],
            job="klines_backfill",
            guard=IpGuards(IpGuardConfig()).for_ip("127.0.0.1"),
            budget=WeightBudget(weight_per_minute),
            clock=ServerClock(),
        )

    yield make
    for client in clients:
        await client.close_connection()


def _weight_charged(sim: SimServer) -> int:
    return sim.limiter.state()["ips"]["127.0.0.1"]["total_weight"]


async def _sim_rows(client: AsyncClient, last_open_ms: int, count: int) -> list[tuple]:
    """The simulator's 1m BTCUSDT klines: *count* of them up to the one opening at *last*."""
    rows: list[tuple] = []
    while count:
        limit = min(count, 1500)
        end_ms = last_open_ms - (count - limit) * MINUTE_MS
        page = await client.futures_klines(
            symbol="BTCUSDT", interval="1m", endTime=end_ms, limit=limit
        )
        rows += [tuple(row) for row in page]
        count -= limit
    return rows


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout_s: float = 10) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.01)


def _ignore(done_ms: int, total_ms: int) -> None:
    del done_ms, total_ms


async def test_backfill_stores_every_closed_kline_exactly_as_the_exchange_serves_it(
    sim: SimServer, client: AsyncClient, make_access: MakeAccess, store: KlineStore
) -> None:
    access = await make_access(2400)
    now_ms = sim.clock.now_ms()
    progress: list[tuple[int, int]] = []

    result = await backfill_klines(
        access, store, "BTCUSDT", "1m", 2, now_ms, lambda *p: progress.append(p)
    )

    assert (result.pages, result.rows_read, result.rows_new) == (2, 2880, 2880)
    assert _weight_charged(sim) == access.budget.spent_total == 20  # limit ≥ 1000: weight 10
    last_closed_ms = now_ms - now_ms % MINUTE_MS - MINUTE_MS
    stored = await store.history("BTCUSDT", "1m", end_ms=last_closed_ms, limit=1500)
    older = await store.history("BTCUSDT", "1m", end_ms=stored[0][0] - 1, limit=1500)
    assert older + stored == await _sim_rows(client, last_closed_ms, TWO_DAYS_OF_MINUTES)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert progress[-1] == (2 * DAY_MS, 2 * DAY_MS)


async def test_an_interrupted_backfill_resumes_where_it_stopped_within_its_budget(
    sim: SimServer, make_access: MakeAccess, store: KlineStore
) -> None:
    # Room for one page of 1500 (weight 10) per minute: the second page must wait.
    tight = await make_access(10)
    now_ms = sim.clock.now_ms()
    first = asyncio.create_task(backfill_klines(tight, store, "BTCUSDT", "1m", 2, now_ms, _ignore))

    async def first_page_stored_and_second_held() -> bool:
        stored = await store.count("BTCUSDT", "1m", start_ms=0, end_ms=now_ms)
        return stored == 1500 and tight.budget.wait_ms(10, tight.clock.now_ms()) > 0

    await _wait_for(first_page_stored_and_second_held)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert _weight_charged(sim) == 10

    resumed = await backfill_klines(
        await make_access(2400), store, "BTCUSDT", "1m", 2, now_ms, _ignore
    )

    assert (resumed.pages, resumed.rows_read, resumed.rows_new) == (1, 1380, 1380)
    assert await store.count("BTCUSDT", "1m", start_ms=0, end_ms=now_ms) == TWO_DAYS_OF_MINUTES
    assert _weight_charged(sim) == 10 + 10


async def test_a_rerun_reads_only_the_windows_with_klines_missing(
    sim: SimServer, make_access: MakeAccess, store: KlineStore
) -> None:
    now_ms = sim.clock.now_ms()
    current_open_ms = now_ms - now_ms % MINUTE_MS
    # The live feed stored the last ten minutes; the day before them is missing.
    recent = [
        Kline(
            "BTCUSDT",
            "1m",
            (o, "1", "1", "1", "1", "0", o + MINUTE_MS - 1, "0", 0, "0", "0", "0"),
            True,
            o + MINUTE_MS,
        )
        for o in range(current_open_ms - 10 * MINUTE_MS, current_open_ms, MINUTE_MS)
    ]
    await store.insert(recent)
    access = await make_access(2400)

    first = await backfill_klines(access, store, "BTCUSDT", "1m", 1, now_ms, _ignore)
    again = await backfill_klines(access, store, "BTCUSDT", "1m", 1, now_ms, _ignore)

    assert (first.pages, first.rows_read, first.rows_new) == (1, 1440, 1430)
    assert (again.pages, again.rows_read, again.rows_new) == (0, 0, 0)
    assert await store.count("BTCUSDT", "1m", start_ms=0, end_ms=now_ms) == 1440


async def test_an_unknown_symbol_is_named(
    sim: SimServer, make_access: MakeAccess, store: KlineStore
) -> None:
    access = await make_access(2400)
    with pytest.raises(UnknownSymbol) as raised:
        await backfill_klines(access, store, "NOPEUSDT", "1h", 1, sim.clock.now_ms(), _ignore)
    assert (str(raised.value), raised.value.symbol) == ("unknown symbol NOPEUSDT", "NOPEUSDT")


@pytest.mark.parametrize(
    ("interval", "days", "message"),
    [
        ("1M", 1, "interval must be one of 1m, 3m, 5m, .*, 1w, not '1M'"),
        ("1m", 0, "days must be between 1 and 3650, not 0"),
        ("1d", 3651, "days must be between 1 and 3650, not 3651"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    sim: SimServer,
    make_access: MakeAccess,
    store: KlineStore,
    interval: str,
    days: int,
    message: str,
) -> None:
    access = await make_access(2400)
    with pytest.raises(ValueError, match=message):
        await backfill_klines(access, store, "BTCUSDT", interval, days, 0, _ignore)
    assert access.stats.calls == 0
