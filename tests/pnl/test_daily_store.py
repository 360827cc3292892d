"""Daily reports read from SQL, on SQLite and MySQL/MariaDB: booked rows, and a day scripted on
the simulator whose income the report must equal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from binance import AsyncClient
from sqlalchemy import Engine

from riskd.core.clock import DAY_MS, HOUR_MS, MINUTE_MS
from riskd.exchange.parse_income import parse_income
from riskd.pnl.daily import DailyReport, day_of
from riskd.pnl.report import PnlGrouping
from riskd.pnl.store import daily_report
from riskd.risk.attribution import Attribution
from riskd.risk.ledger import Fill
from riskd.risk.ledger_store import book_fills, book_income_page
from riskd.sim import SimServer
from riskd.store.schema import init_schema
from tests.kit.samples import income_record, make_fill

ACCOUNT = "main"
NOW_MS = 1_800_000_000_000  # 2027-01-15 08:00 UTC
ATTRIBUTION = Attribution([("rb-alpha-", "alpha"), ("bx.", "beta")])
Control = Callable[..., Awaitable[dict]]


def _report(engine: Engine, by: PnlGrouping | None, days: int, now_ms: int) -> DailyReport:
    with engine.connect() as conn:
        return daily_report(conn, ACCOUNT, ATTRIBUTION, by, days, now_ms)


def test_days_from_booked_fills_and_income(sql_engine: Engine) -> None:
    init_schema(sql_engine, NOW_MS)
    today_ms = NOW_MS - NOW_MS % DAY_MS
    fills = [
        replace(make_fill(1, pnl="0", fee="0.1", time_ms=today_ms - 1), client_order_id="bx.1"),
        replace(make_fill(2, pnl="3", fee="0.2", time_ms=today_ms), client_order_id="rb-alpha-2"),
        replace(make_fill(3, pnl="0", fee="0", time_ms=today_ms + 1), client_order_id="bx.3"),
    ]
    income = [  # trade 2's own, then a trade riskd holds no fill of (booked by a backfill)
        income_record(11, "REALIZED_PNL", "3", today_ms, trade_id="2"),
        income_record(12, "COMMISSION", "-0.2", today_ms, trade_id="2"),
        income_record(13, "REALIZED_PNL", "-1", today_ms + 2, trade_id="9"),
        income_record(14, "TRANSFER", "1000", today_ms + 3),
    ]
    with sql_engine.begin() as conn:
        book_fills(conn, ACCOUNT, fills, NOW_MS)
        book_income_page(conn, ACCOUNT, income, NOW_MS, NOW_MS)
    report = _report(sql_engine, PnlGrouping.ROBOT, 2, NOW_MS)
    assert report.start_ms == today_ms - DAY_MS
    assert [
        (row["day"], row["key"], row["net"], row["trades"], row["win_rate"], row["worst_symbol"])
        for row in report.to_dict()["rows"]
    ] == [
        (day_of(today_ms - 1), "", "-0.1", 1, None, "BTCUSDT"),
        (day_of(today_ms - 1), "beta", "-0.1", 1, None, None),
        (day_of(today_ms), "", "1.8", 3, "0.5", "BTCUSDT"),
        (day_of(today_ms), "alpha", "2.8", 1, "1", None),
        (day_of(today_ms), "beta", "0", 1, None, None),
        (day_of(today_ms), "unattributed", "-1", 1, "0", None),
    ]
    with sql_engine.connect() as conn, pytest.raises(ValueError, match="days: must be"):
        daily_report(conn, ACCOUNT, ATTRIBUTION, None, 367, NOW_MS)


# ---------------------------------------------------------------- a day on the simulator


async def _advance_to(sim: SimServer, client: AsyncClient, control: Control, at_ms: int) -> None:
    """Move the simulator's clock on to *at_ms* (it settles funding due on the way)."""
    await control("POST", "/_sim/clock", {"advance_ms": max(at_ms - sim.clock.now_ms(), 0)})
    client.timestamp_offset = sim.clock.offset_ms


class _Trader:
    """Market orders at a price set just before, each order's client id kept by order id."""

    def __init__(self, client: AsyncClient, control: Control) -> None:
        self.client, self.control = client, control
        self.client_ids: dict[int, str] = {}

    async def trade(self, symbol: str, side: str, qty: str, price: str, client_id: str) -> None:
        await self.control("POST", "/_sim/mark", {"symbol": symbol, "price": price})
        order = await self.client.futures_create_order(
            symbol=symbol, side=side, type="MARKET", quantity=qty, newClientOrderId=client_id
        )
        self.client_ids[order["orderId"]] = order["clientOrderId"]


def _fill(trade: dict, client_ids: dict[int, str]) -> Fill:
    """A trade of GET /fapi/v1/userTrades as the Ledger books its fill."""
    return Fill(
        symbol=trade["symbol"],
        trade_id=trade["id"],
        order_id=trade["orderId"],
        client_order_id=client_ids[trade["orderId"]],
        side=trade["side"],
        position_side=trade["positionSide"],
        order_type="MARKET",
        price=Decimal(trade["price"]),
        qty=Decimal(trade["qty"]),
        realized_pnl=Decimal(trade["realizedPnl"]),
        commission=Decimal(trade["commission"]),
        commission_asset=trade["commissionAsset"],
        maker=trade["maker"],
        time_ms=trade["time"],
    )


# symbol, client id prefix, quantity, entry price, exit price
ROUND_TRIPS = [
    ("BTCUSDT", "rb-alpha-", "0.010", "60000", "60600"),  # wins 6
    ("BTCUSDT", "bx.", "0.010", "60000", "59000"),  # loses 10
    ("ETHUSDT", "rb-alpha-", "0.100", "3000", "2900"),  # loses 10
    ("ETHUSDT", "bx.", "0.100", "3000", "3100"),  # wins 10
]


async def test_a_scripted_days_figures_are_the_simulators_income(
    sim: SimServer, client: AsyncClient, control: Control, sql_engine: Engine
) -> None:
    init_schema(sql_engine, 0)
    day_ms = (sim.clock.now_ms() // DAY_MS + 1) * DAY_MS  # the next UTC midnight
    await _advance_to(sim, client, control, day_ms + HOUR_MS)
    trader = _Trader(client, control)
    for number, (symbol, prefix, qty, entry, exit) in enumerate(ROUND_TRIPS):
        await trader.trade(symbol, "BUY", qty, entry, f"{prefix}{number}o")
        await trader.trade(symbol, "SELL", qty, exit, f"{prefix}{number}c")
    # alpha holds BTCUSDT over the 08:00 funding, then closes it at a profit a minute later
    await trader.trade("BTCUSDT", "BUY", "0.050", "60000", "rb-alpha-ho")
    await _advance_to(sim, client, control, day_ms + 8 * HOUR_MS)
    await _advance_to(sim, client, control, day_ms + 8 * HOUR_MS + MINUTE_MS)  # not in its ms
    await trader.trade("BTCUSDT", "SELL", "0.050", "60100", "rb-alpha-hc")
    now_ms = sim.clock.now_ms()
    income = await client.futures_income_history(startTime=day_ms, endTime=now_ms, limit=1000)
    trades = [
        trade
        for symbol in ("BTCUSDT", "ETHUSDT")
        for trade in await client.futures_account_trades(symbol=symbol, startTime=day_ms)
    ]
    with sql_engine.begin() as conn:
        book_fills(conn, ACCOUNT, [_fill(trade, trader.client_ids) for trade in trades], now_ms)
        book_income_page(conn, ACCOUNT, parse_income(income), now_ms, now_ms)

    report = _report(sql_engine, PnlGrouping.ROBOT, 2, now_ms)

    sums: dict[str, Decimal] = defaultdict(Decimal)
    nets: dict[str, Decimal] = defaultdict(Decimal)
    for row in income:
        sums[row["incomeType"]] += Decimal(row["income"])
        nets[row["symbol"]] += Decimal(row["income"])
    assert sums["FUNDING_FEE"] < 0 < sums["REALIZED_PNL"] and sums["COMMISSION"] < 0
    pnls = [Decimal(trade["realizedPnl"]) for trade in trades]
    (total,) = report.totals(day_of(day_ms))
    assert (total.realized_pnl, total.commission, total.funding, total.net) == (
        sums["REALIZED_PNL"],
        sums["COMMISSION"],
        sums["FUNDING_FEE"],
        sum(sums.values(), Decimal(0)),
    )
    assert (total.trades, total.wins, total.losses) == (
        len(trades),
        sum(pnl > 0 for pnl in pnls),
        sum(pnl < 0 for pnl in pnls),
    )
    assert (total.trades, total.wins, total.losses, total.win_rate) == (10, 3, 2, Decimal("0.6"))
    assert total.worst_symbol == min(sorted(nets), key=nets.__getitem__) == "BTCUSDT"
    (yesterday,) = report.totals(day_of(day_ms - 1))
    assert (yesterday.net, yesterday.trades, yesterday.worst_symbol) == (0, 0, None)
    robots = [row for row in report.rows if row.day == total.day and row.key]
    assert [row.key for row in robots] == ["alpha", "beta"]
    assert sum(row.net for row in robots) == total.net
    assert sum(row.trades for row in robots) == total.trades
