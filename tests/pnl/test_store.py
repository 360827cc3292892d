"""PnL reports read from SQL, on SQLite and MySQL/MariaDB."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from riskd.core.clock import HOUR_MS
from riskd.pnl.report import PnlGrouping, PnlReport
from riskd.pnl.store import pnl_report, replaced_orders
from riskd.risk.attribution import Attribution
from riskd.risk.ledger import Fill
from riskd.risk.ledger_store import book_fills, book_income_page, upsert_orders
from riskd.store.schema import init_schema
from tests.kit.samples import income_record, make_fill, order_update

ACCOUNT = "main"
NOW_MS = 1_800_000_000_000
ATTRIBUTION = Attribution([("rb-alpha-", "alpha"), ("rb-beta-", "beta"), ("bx.", "beta")])


def _fill(trade_id: int, client_order_id: str, side: str, qty: str, hours_ago: int, **kw) -> Fill:
    """A BTCUSDT fill of *qty* (no PnL, no fee unless *kw* say), *hours_ago* before now."""
    made = make_fill(trade_id, pnl="0", fee="0", time_ms=NOW_MS - hours_ago * HOUR_MS)
    return replace(made, client_order_id=client_order_id, side=side, qty=Decimal(qty), **kw)


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    """alpha's order 501, which the OrderReaper replaced as rp-501; fills of alpha, beta and
    the replacement; income for alpha's closing trade, a trade riskd holds no fill of,
    funding, and a loss before the window."""
    init_schema(sql_engine, NOW_MS)
    fills = [
        _fill(1, "rb-alpha-18c1", "BUY", "0.010", 30, commission=Decimal("0.1")),  # before
        _fill(2, "bx.1", "SELL", "0.004", 3, commission=Decimal("0.04")),
        _fill(3, "rp-501", "BUY", "0.002", 3, commission=Decimal("0.05"), order_id=502),
        _fill(4, "rb-alpha-18c2", "SELL", "0.005", 2, realized_pnl=Decimal("5")),
    ]
    income = [
        # before the window:
        income_record(10, "REALIZED_PNL", "-1000", NOW_MS - 25 * HOUR_MS, trade_id="0"),
        income_record(11, "REALIZED_PNL", "5", NOW_MS - 2 * HOUR_MS, trade_id="4"),
        income_record(12, "COMMISSION", "-0.2", NOW_MS - 2 * HOUR_MS, trade_id="4"),
        income_record(13, "REALIZED_PNL", "-3", NOW_MS - 2 * HOUR_MS, trade_id="99"),
        income_record(14, "FUNDING_FEE", "-0.9", NOW_MS - 1 * HOUR_MS),
        income_record(15, "TRANSFER", "1000", NOW_MS - 1 * HOUR_MS),
    ]
    original = order_update(
        time_ms=NOW_MS - 4 * HOUR_MS, filled="0", order_id=501, client_order_id="rb-alpha-18c0"
    )
    with sql_engine.begin() as conn:
        book_fills(conn, ACCOUNT, fills, NOW_MS)
        book_income_page(conn, ACCOUNT, income, NOW_MS, NOW_MS)
        upsert_orders(conn, ACCOUNT, [original])
    return sql_engine


def _report(engine: Engine, by: PnlGrouping, robot: str | None = None) -> PnlReport:
    with engine.connect() as conn:
        return pnl_report(conn, ACCOUNT, ATTRIBUTION, by, 24, NOW_MS, robot)


def test_pnl_per_robot(engine: Engine) -> None:
    # At the funding alpha held 0.010 + 0.002 (its replacement) − 0.005, beta −0.004: the
    # account was long 0.003 and paid 0.9 on it.
    assert _report(engine, PnlGrouping.ROBOT).to_dict() == {
        "account": ACCOUNT,
        "by": "robot",
        "robot": None,
        "start_ms": NOW_MS - 24 * HOUR_MS,
        "end_ms": NOW_MS,
        "rows": [
            {
                "key": "alpha",
                "asset": "USDT",
                "realized_pnl": "5",
                "commission": "-0.25",
                "funding": "-2.1",
                "total": "2.65",
            },
            {
                "key": "beta",
                "asset": "USDT",
                "realized_pnl": "0",
                "commission": "-0.04",
                "funding": "1.2",
                "total": "1.16",
            },
            {
                "key": "unattributed",
                "asset": "USDT",
                "realized_pnl": "-3",
                "commission": "0",
                "funding": "0",
                "total": "-3",
            },
        ],
    }


def test_pnl_per_symbol_of_one_robot(engine: Engine) -> None:
    rows = _report(engine, PnlGrouping.SYMBOL, robot="alpha").to_dict()["rows"]
    assert [(row["key"], row["total"]) for row in rows] == [("BTCUSDT", "2.65")]
    everyone = _report(engine, PnlGrouping.SYMBOL).to_dict()["rows"]
    assert [(row["key"], row["total"]) for row in everyone] == [("BTCUSDT", "0.81")]


def test_replacements_are_found_by_the_order_they_replaced(engine: Engine) -> None:
    asked = {("BTCUSDT", "rp-501"), ("ETHUSDT", "rp-501"), ("BTCUSDT", "rp-9"), ("BTCUSDT", "c")}
    asked |= {("BTCUSDT", "rp-99999999999999999999"), ("BTCUSDT", "rp-٣")}
    with engine.connect() as conn:
        assert replaced_orders(conn, ACCOUNT, asked) == {("BTCUSDT", "rp-501"): "rb-alpha-18c0"}
        assert replaced_orders(conn, "other", asked) == {}


@pytest.mark.parametrize("hours", [0, 8761])
def test_hours_out_of_range_are_refused_naming_them(engine: Engine, hours: int) -> None:
    with engine.connect() as conn, pytest.raises(ValueError, match="hours: must be an integer"):
        pnl_report(conn, ACCOUNT, ATTRIBUTION, PnlGrouping.ROBOT, hours, NOW_MS)
