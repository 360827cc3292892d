"""The daily report: figures per UTC day from ledger entries, fills and trades (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from riskd.core.clock import DAY_MS, HOUR_MS
from riskd.pnl.daily import DailyReport, DayFigures, Trade, build_daily, day_of
from riskd.pnl.report import PnlGrouping, build_report
from riskd.risk.attribution import UNATTRIBUTED, Attribution, FilledQuantity
from riskd.risk.ledger import EntryKind, LedgerEntry

ACCOUNT = "main"
TODAY_MS = int(datetime(2026, 12, 3, tzinfo=UTC).timestamp() * 1000)  # midnight, UTC
NOW_MS = TODAY_MS + 10 * HOUR_MS
ATTRIBUTION = Attribution([("rb-alpha-", "alpha"), ("bx.", "beta")])


def entry(
    kind: EntryKind,
    amount: str,
    time_ms: int,
    client_order_id: str = "",
    *,
    trade_id: str = "",
    symbol: str = "BTCUSDT",
    asset: str = "USDT",
) -> LedgerEntry:
    return LedgerEntry(time_ms, symbol, kind, Decimal(amount), asset, trade_id, client_order_id)


def closing(trade_id: int, pnl: str, fee: str, time_ms: int, client: str = "", **kw) -> list:
    """A trade's realized PnL and commission entries (as income books them)."""
    flows = [entry("realized_pnl", pnl, time_ms, client, trade_id=str(trade_id), **kw)]
    return [*flows, entry("commission", fee, time_ms, client, trade_id=str(trade_id), **kw)]


def daily(
    entries: Sequence[LedgerEntry],
    fills: Sequence[FilledQuantity] = (),
    trades: Sequence[Trade] = (),
    *,
    by: PnlGrouping | None = None,
    days: int = 3,
) -> DailyReport:
    return build_daily(
        ACCOUNT, entries, fills, trades, ATTRIBUTION, by=by, days=days, now_ms=NOW_MS
    )


def figures(rows: Sequence[DayFigures]) -> list[tuple]:
    return [(r.day, r.key, r.asset, r.to_dict()["net"], r.trades, r.wins, r.losses) for r in rows]


def test_every_utc_day_of_the_window_today_included_with_zeros_between() -> None:
    entries = [
        entry("realized_pnl", "100", TODAY_MS - 3 * DAY_MS - 1, trade_id="1"),  # before
        entry("realized_pnl", "5", TODAY_MS - 2 * DAY_MS, trade_id="2"),  # first ms of day 1
        entry("realized_pnl", "7", TODAY_MS - 1, trade_id="3"),  # last ms of day 2
        entry("realized_pnl", "-1", TODAY_MS, trade_id="4"),  # first ms of today
        entry("realized_pnl", "1000", NOW_MS + 1, trade_id="5"),  # after now
    ]
    report = daily(entries, days=4)
    assert (report.start_ms, report.end_ms, report.days) == (TODAY_MS - 3 * DAY_MS, NOW_MS, 4)
    assert figures(report.rows) == [
        ("2026-11-30", "", "USDT", "0", 0, 0, 0),
        ("2026-12-01", "", "USDT", "5", 1, 1, 0),
        ("2026-12-02", "", "USDT", "7", 1, 1, 0),
        ("2026-12-03", "", "USDT", "-1", 1, 0, 1),
    ]
    assert (day_of(TODAY_MS - 1), day_of(TODAY_MS)) == ("2026-12-02", "2026-12-03")


def test_an_empty_window_is_zero_usdt_days_without_a_worst_symbol() -> None:
    (today,) = daily([], days=1).rows
    assert today == DayFigures("2026-12-03", "", "USDT", *(Decimal(0),) * 3, 0, 0, 0)
    assert (today.win_rate, today.worst_symbol, today.net) == (None, None, 0)


@pytest.mark.parametrize("days", [0, 367, -1])
def test_days_out_of_range_are_refused_naming_them(days: int) -> None:
    with pytest.raises(ValueError, match="days: must be an integer from 1 to 366"):
        daily([], days=days)


def test_win_rate_counts_closing_trades_only() -> None:
    entries = [
        *closing(1, "5", "-0.1", NOW_MS - 3),
        *closing(2, "-2", "-0.1", NOW_MS - 2),
        *closing(3, "0.5", "-0.1", NOW_MS - 1),
        entry("commission", "-0.1", NOW_MS, trade_id="4"),  # an opening trade: no PnL
    ]
    (today,) = daily(entries, days=1).rows
    assert (today.trades, today.wins, today.losses) == (4, 2, 1)
    assert today.win_rate == Decimal("0.6667")
    assert (today.realized_pnl, today.commission, today.net) == (
        Decimal("3.5"),
        Decimal("-0.4"),
        Decimal("3.1"),
    )
    opening_only = daily([entry("commission", "-0.1", NOW_MS, trade_id="4")], days=1)
    assert opening_only.rows[0].win_rate is None


def test_trades_are_counted_once_from_fills_and_income() -> None:
    trades = [
        Trade("BTCUSDT", "1", "rb-alpha-1", NOW_MS - 5),  # and income below
        Trade("BTCUSDT", "2", "rb-alpha-2", NOW_MS - 4),  # no flow: a zero-fee opening fill
        Trade("ETHUSDT", "1", "bx.1", NOW_MS - 3),  # another symbol's trade id 1
        Trade("ETHUSDT", "9", "bx.9", TODAY_MS - 1),  # yesterday: outside a 1-day window
    ]
    entries = [
        *closing(1, "2", "-0.1", NOW_MS - 5, "rb-alpha-1"),
        *closing(7, "-1", "-0.1", NOW_MS - 2),  # a trade income alone books (a backfill)
    ]
    (today,) = daily(entries, trades=trades, days=1).rows
    assert (today.trades, today.wins, today.losses) == (4, 1, 1)


def test_worst_symbol_is_the_lowest_net_of_the_day_per_asset() -> None:
    entries = [
        *closing(1, "-3", "-0.5", NOW_MS, symbol="ETHUSDT"),  # net −3.5
        *closing(2, "-2", "-1.5", NOW_MS, symbol="SOLUSDT"),  # net −3.5: a tie, then by name
        *closing(3, "-1", "-0.1", NOW_MS),
        entry("funding_fee", "-9", TODAY_MS - 1, symbol="XRPUSDT"),  # yesterday's worst
        entry("commission", "-0.001", NOW_MS, symbol="BNBUSDT", asset="BNB"),
    ]
    report = daily(entries, days=2)
    yesterday, today = report.totals("2026-12-02"), report.totals("2026-12-03")
    assert [(row.asset, row.worst_symbol) for row in yesterday] == [
        ("BNB", None),
        ("USDT", "XRPUSDT"),
    ]
    assert [(row.asset, row.worst_symbol) for row in today] == [
        ("BNB", "BNBUSDT"),
        ("USDT", "ETHUSDT"),
    ]
    assert today[1].trades == 3 and today[0].trades == 0  # a trade counts in its settlement asset
    assert report.totals("2026-01-01") == ()


def test_rows_per_robot_are_the_pnl_reports_of_each_day() -> None:
    fills = [
        FilledQuantity("rb-alpha-1", "BTCUSDT", "BOTH", "BUY", Decimal("3"), TODAY_MS - DAY_MS),
        FilledQuantity("bx.1", "BTCUSDT", "BOTH", "SELL", Decimal("1"), TODAY_MS - DAY_MS),
    ]
    trades = [Trade("BTCUSDT", "1", "rb-alpha-1", TODAY_MS - DAY_MS)]
    trades.append(Trade("BTCUSDT", "2", "bx.1", TODAY_MS - DAY_MS))
    entries = [
        entry("commission", "-0.3", TODAY_MS - DAY_MS, "rb-alpha-1", trade_id="1"),
        entry("commission", "-0.1", TODAY_MS - DAY_MS, "bx.1", trade_id="2"),
        entry("funding_fee", "-2", TODAY_MS),  # alpha long 3, beta short 1: −3 and +1
        *closing(3, "4", "-0.2", NOW_MS, "manual-1"),
    ]
    report = daily(entries, fills, trades, by=PnlGrouping.ROBOT, days=2)
    assert figures(report.rows) == [
        ("2026-12-02", "", "USDT", "-0.4", 2, 0, 0),
        ("2026-12-02", "alpha", "USDT", "-0.3", 1, 0, 0),
        ("2026-12-02", "beta", "USDT", "-0.1", 1, 0, 0),
        ("2026-12-03", "", "USDT", "1.8", 1, 1, 0),
        ("2026-12-03", "alpha", "USDT", "-3", 0, 0, 0),
        ("2026-12-03", "beta", "USDT", "1", 0, 0, 0),
        ("2026-12-03", UNATTRIBUTED, "USDT", "3.8", 1, 1, 0),
    ]
    for day_ms in (TODAY_MS - DAY_MS, TODAY_MS):
        day = [row for row in report.rows if row.day == day_of(day_ms) and row.key]
        pnl = build_report(
            ACCOUNT,
            entries,
            fills,
            ATTRIBUTION,
            by=PnlGrouping.ROBOT,
            start_ms=day_ms,
            end_ms=day_ms + DAY_MS - 1,
        )
        assert [(r.key, r.asset, r.realized_pnl, r.commission, r.funding) for r in day] == [
            (r.key, r.asset, r.realized_pnl, r.commission, r.funding) for r in pnl.rows
        ]


def test_rows_per_symbol_under_each_days_total() -> None:
    entries = [
        *closing(1, "2", "-0.1", NOW_MS, symbol="ETHUSDT"),
        *closing(2, "-1", "-0.1", NOW_MS),
        entry("commission", "-0.001", NOW_MS, symbol="ETHUSDT", asset="BNB", trade_id="3"),
    ]
    report = daily(entries, by=PnlGrouping.SYMBOL, days=1)
    assert figures(report.rows) == [
        ("2026-12-03", "", "BNB", "-0.001", 0, 0, 0),
        ("2026-12-03", "", "USDT", "0.8", 3, 1, 1),
        ("2026-12-03", "BTCUSDT", "USDT", "-1.1", 1, 0, 1),
        ("2026-12-03", "ETHUSDT", "BNB", "-0.001", 0, 0, 0),
        ("2026-12-03", "ETHUSDT", "USDT", "1.9", 2, 1, 0),
    ]


def test_the_report_as_json() -> None:
    entries = [*closing(1, "12.500000000000000000", "-0.00000001", NOW_MS, "rb-alpha-1")]
    report = daily(entries, by=PnlGrouping.ROBOT, days=1)
    assert report.to_dict() == {
        "account": ACCOUNT,
        "by": "robot",
        "days": 1,
        "start_ms": TODAY_MS,
        "end_ms": NOW_MS,
        "rows": [
            {
                "day": "2026-12-03",
                "key": key,
                "asset": "USDT",
                "realized_pnl": "12.5",
                "commission": "-0.00000001",
                "funding": "0",
                "net": "12.49999999",
                "trades": 1,
                "wins": 1,
                "losses": 0,
                "win_rate": "1",
                "worst_symbol": worst,
            }
            for key, worst in (("", "BTCUSDT"), ("alpha", None))
        ],
    }
    assert daily([], days=1).to_dict()["by"] is None
