"""Backfilling income from the simulator into SQL, paged, resumable and within its limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal

import pytest
from binance import AsyncClient
from sqlalchemy import Engine, select

from riskd.core.secrets import Secret
from riskd.exchange.access import BinanceAccess
from riskd.exchange.budget import WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.guard import IpGuardConfig, IpGuards
from riskd.risk.backfill import backfill
from riskd.risk.ledger import IncomePagerConfig
from riskd.risk.ledger_store import income_cursor
from riskd.sim import SimServer
from riskd.store.engine import SqlRunner
from riskd.store.schema import income, init_schema

ACCOUNT = "sim"
Control = Callable[..., Awaitable[dict]]


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """The SQLite database (tests/conftest.py) with riskd's schema."""
    init_schema(sqlite_engine, 0)
    return sqlite_engine


@pytest.fixture
def runner(engine: Engine) -> Iterator[SqlRunner]:
    runner = SqlRunner(engine)
    yield runner
    runner.close()


@pytest.fixture
async def access(sim: SimServer) -> AsyncIterator[BinanceAccess]:
    config = ExchangeConfig(network="sim", base_url=sim.url, request_timeout_ms=2000)
    client = make_client(config, Secret("sim-key"), Secret("sim-secret"))
    yield BinanceAccess(
        client,
        job="ledger",
        guard=IpGuards(IpGuardConfig()).for_ip("127.0.0.1"),
        budget=WeightBudget(1200),
        clock=ServerClock(),
    )
    await client.close_connection()


async def _round_trips(client: AsyncClient, control: Control, exits: list[str]) -> None:
    for exit_price in exits:
        await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60000"})
        await client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
        )
        await asyncio.sleep(0.003)  # trades in different ms: no page fills up within one ms
        await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": exit_price})
        await client.futures_create_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
        )
        await asyncio.sleep(0.003)


def _stored(engine: Engine) -> list[tuple[int, str, str, Decimal, int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                income.c.tran_id,
                income.c.income_type,
                income.c.symbol,
                income.c.amount,
                income.c.time_ms,
                income.c.trade_id,
            ).order_by(income.c.time_ms, income.c.tran_id, income.c.income_type)
        )
        return [tuple(row) for row in rows]


async def _sim_income(control: Control) -> list[tuple[int, str, str, Decimal, int, str]]:
    state = await control("GET", "/_sim/state")
    rows = [
        (r["tranId"], r["incomeType"], r["symbol"], Decimal(r["income"]), r["time"], r["tradeId"])
        for r in state["accounts"][ACCOUNT]["income"]
    ]
    return sorted(rows, key=lambda row: (row[4], row[0], row[1]))


async def test_backfill_books_exactly_the_exchange_income_over_several_pages(
    sim: SimServer, client: AsyncClient, control: Control, access: BinanceAccess, runner, engine
) -> None:
    await _round_trips(client, control, ["59000", "61000", "59500"])
    progress: list[tuple[int, int]] = []
    now_ms = sim.clock.now_ms()
    result = await backfill(
        access,
        runner,
        ACCOUNT,
        3,
        now_ms,
        IncomePagerConfig(page_limit=3),
        lambda done, total: progress.append((done, total)),
    )
    expected = await _sim_income(control)
    assert len(expected) == 9  # per round trip: two commissions and one realized PnL
    assert _stored(engine) == expected
    assert result.rows_booked == 9 and result.skipped_ms == ()
    assert result.pages > 3
    assert progress[-1] == (3 * 86_400_000, 3 * 86_400_000)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    # The trades are younger than the settle lag: the cursor waits at the last row's time.
    assert await runner.run(income_cursor, ACCOUNT) == max(expected[-1][4], now_ms - 60_000)


async def test_second_backfill_reads_the_range_again_and_books_only_new_rows(
    sim: SimServer, client: AsyncClient, control: Control, access: BinanceAccess, runner, engine
) -> None:
    await _round_trips(client, control, ["59000"])
    config = IncomePagerConfig()
    first = await backfill(access, runner, ACCOUNT, 90, sim.clock.now_ms(), config, _ignore)
    await _round_trips(client, control, ["61000"])
    now_ms = sim.clock.now_ms()
    second = await backfill(access, runner, ACCOUNT, 90, now_ms, config, _ignore)
    assert (first.rows_booked, second.rows_booked) == (3, 3)
    assert (second.start_ms, second.rows_read) == (now_ms - 90 * 86_400_000, 6)
    assert _stored(engine) == await _sim_income(control)


async def test_backfill_of_older_history_spans_several_windows_and_settles_behind_now(
    sim: SimServer, client: AsyncClient, control: Control, access: BinanceAccess, runner, engine
) -> None:
    await _round_trips(client, control, ["59000"])
    ten_days_ms = 10 * 86_400_000
    sim.clock.advance(ten_days_ms)
    access.client.timestamp_offset = ten_days_ms
    now_ms = sim.clock.now_ms()
    result = await backfill(access, runner, ACCOUNT, 12, now_ms, IncomePagerConfig(), _ignore)
    assert _stored(engine) == await _sim_income(control)
    assert result.pages == 2  # 12 days in windows of 7
    assert await runner.run(income_cursor, ACCOUNT) == now_ms - 60_000


@pytest.mark.parametrize("days", [0, 91, -1])
async def test_days_outside_1_to_90_are_refused(
    sim: SimServer, access: BinanceAccess, runner, days: int
) -> None:
    with pytest.raises(ValueError, match="between 1 and 90"):
        await backfill(access, runner, ACCOUNT, days, 0, IncomePagerConfig(), _ignore)


def _ignore(done_ms: int, total_ms: int) -> None:
    del done_ms, total_ms
