"""The Ledger's SQL units of work, on SQLite and MySQL/MariaDB."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, select

from riskd.core.clock import HOUR_MS
from riskd.exchange.filters import SymbolFilters
from riskd.exchange.parse_income import IncomeRecord
from riskd.exchange.parse_orders import OrderUpdate
from riskd.positions import BalanceRecord, PositionRecord
from riskd.risk.attribution import Attribution
from riskd.risk.ledger import (
    Fill,
    IncomePagerConfig,
    advance_income_cursor,
    next_income_request,
)
from riskd.risk.ledger_store import (
    book_fills,
    book_income_page,
    equity_points,
    income_cursor,
    ledger_entries,
    record_book_snapshot,
    rule_history,
    stop_fills,
    upsert_orders,
    upsert_symbols,
)
from riskd.risk.rules import EquityPoint, RulesConfig, StopOut, evaluate
from riskd.store.schema import income, init_schema, orders, position_snapshots, symbols
from tests.kit.samples import BTC as BTC_FILTERS
from tests.kit.samples import income_record, make_fill, order_update

T = TypeVar("T")
ACCOUNT = "main"
NOW_MS = 1_800_000_000_000
BIG_TRAN_ID = 8082457372019390060  # beyond a double's 2**53


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, NOW_MS)
    return sql_engine


def _run(engine: Engine, fn: Callable[..., T], *args: Any) -> T:
    with engine.begin() as conn:
        return fn(conn, *args)


def _stored_tran_ids(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(income.c.tran_id, income.c.income_type).order_by(
                income.c.tran_id, income.c.income_type
            )
        )
        return [tuple(row) for row in rows]


# --- fills -------------------------------------------------------------------------------------


def test_fills_are_booked_once_and_counted(engine: Engine) -> None:
    assert _run(engine, book_fills, ACCOUNT, [make_fill(1), make_fill(2)], NOW_MS) == 2
    assert _run(engine, book_fills, ACCOUNT, [make_fill(2), make_fill(3)], NOW_MS) == 1
    assert _run(engine, book_fills, ACCOUNT, [make_fill(3)], NOW_MS) == 0


def test_same_fill_twice_in_one_batch_is_one_row(engine: Engine) -> None:
    assert _run(engine, book_fills, ACCOUNT, [make_fill(1), make_fill(1)], NOW_MS) == 1


def test_fills_of_other_accounts_are_apart(engine: Engine) -> None:
    _run(engine, book_fills, ACCOUNT, [make_fill(1)], NOW_MS)
    assert _run(engine, book_fills, "other", [make_fill(1)], NOW_MS) == 1


def test_empty_batches_book_nothing(engine: Engine) -> None:
    assert _run(engine, book_fills, ACCOUNT, [], NOW_MS) == 0


# --- income pages and the cursor ---------------------------------------------------------------


def test_page_is_booked_with_its_cursor_and_int64_ids_kept(engine: Engine) -> None:
    page = [income_record(BIG_TRAN_ID, "FUNDING_FEE", "-0.04618913")]
    assert _run(engine, income_cursor, ACCOUNT) is None
    assert _run(engine, book_income_page, ACCOUNT, page, 2000, NOW_MS) == 1
    assert _run(engine, income_cursor, ACCOUNT) == 2000
    assert _stored_tran_ids(engine) == [(BIG_TRAN_ID, "FUNDING_FEE")]
    (entry,) = _run(engine, ledger_entries, ACCOUNT, 0)
    assert entry.amount == Decimal("-0.04618913")


def test_same_tran_id_with_two_income_types_is_two_rows(engine: Engine) -> None:
    page = [
        income_record(5, "REALIZED_PNL", "-10", trade_id="9"),
        income_record(5, "COMMISSION", trade_id="9"),
    ]
    assert _run(engine, book_income_page, ACCOUNT, page, 1000, NOW_MS) == 2


def test_duplicate_page_books_nothing_new(engine: Engine) -> None:
    page = [income_record(1), income_record(2), income_record(3, time_ms=1500)]
    assert _run(engine, book_income_page, ACCOUNT, page, 1500, NOW_MS) == 3
    assert _run(engine, book_income_page, ACCOUNT, page, 1500, NOW_MS) == 0
    assert _stored_tran_ids(engine) == [(1, "COMMISSION"), (2, "COMMISSION"), (3, "COMMISSION")]


def test_out_of_order_pages_book_every_row_and_never_move_the_cursor_back(
    engine: Engine,
) -> None:
    later = [income_record(3, time_ms=3000), income_record(4, time_ms=4000)]
    earlier = [income_record(1, time_ms=1000), income_record(2, time_ms=2000)]
    assert _run(engine, book_income_page, ACCOUNT, later, 4001, NOW_MS) == 2
    assert _run(engine, book_income_page, ACCOUNT, earlier, 2001, NOW_MS) == 2
    assert _run(engine, income_cursor, ACCOUNT) == 4001
    assert [row[0] for row in _stored_tran_ids(engine)] == [1, 2, 3, 4]


def test_empty_page_still_advances_the_cursor(engine: Engine) -> None:
    _run(engine, book_income_page, ACCOUNT, [], 1000, NOW_MS)
    _run(engine, book_income_page, ACCOUNT, [], 5000, NOW_MS)
    assert _run(engine, income_cursor, ACCOUNT) == 5000


def test_crash_while_booking_a_page_leaves_neither_rows_nor_cursor(engine: Engine) -> None:
    page = [income_record(1), income_record(2)]
    with pytest.raises(RuntimeError, match="crash"), engine.begin() as conn:
        book_income_page(conn, ACCOUNT, page, 9000, NOW_MS)
        raise RuntimeError("crash")
    assert _stored_tran_ids(engine) == []
    assert _run(engine, income_cursor, ACCOUNT) is None


def test_restart_in_the_middle_of_a_page_books_no_duplicates_and_no_gaps(engine: Engine) -> None:
    """Half a page stored before a crash, then the whole page read again from the cursor."""
    config = IncomePagerConfig(page_limit=4, settle_ms=0)
    exchange = [income_record(i, time_ms=1000 + 100 * (i // 3)) for i in range(10)]
    now_ms = 5000

    def page(cursor_ms: int) -> tuple[list[IncomeRecord], int]:
        request = next_income_request(cursor_ms, now_ms, config)
        rows = [r for r in exchange if request.start_time_ms <= r.time_ms <= request.end_time_ms]
        rows = rows[: request.limit]
        return rows, advance_income_cursor(request, rows, now_ms, config).next_cursor_ms

    first, cursor = page(0)
    _run(engine, book_income_page, ACCOUNT, first, cursor, now_ms)
    second, _ = page(cursor)
    # The crash: half the second page is stored, its cursor is not.
    _run(engine, book_income_page, ACCOUNT, second[:2], cursor, now_ms)
    assert _run(engine, income_cursor, ACCOUNT) == cursor
    booked = 0
    cursor = _run(engine, income_cursor, ACCOUNT)
    while cursor < now_ms:
        rows, next_cursor = page(cursor)
        booked += _run(engine, book_income_page, ACCOUNT, rows, next_cursor, now_ms)
        cursor = next_cursor
    assert [row[0] for row in _stored_tran_ids(engine)] == list(range(10))
    assert booked == 10 - len({r.tran_id for r in first + second[:2]})
    assert _run(engine, income_cursor, ACCOUNT) == now_ms


# --- entries -----------------------------------------------------------------------------------


def test_fills_then_income_count_each_trade_once(engine: Engine) -> None:
    _run(
        engine,
        book_fills,
        ACCOUNT,
        [make_fill(11, time_ms=1000), make_fill(12, time_ms=2000)],
        NOW_MS,
    )
    before = _run(engine, ledger_entries, ACCOUNT, 0)
    assert sum(e.amount for e in before) == Decimal("-21")
    page = [
        income_record(100, "REALIZED_PNL", "-10", time_ms=1000, trade_id="11"),
        income_record(100, "COMMISSION", "-0.5", time_ms=1000, trade_id="11"),
        income_record(101, "FUNDING_FEE", "-0.25", time_ms=1500),
    ]
    _run(engine, book_income_page, ACCOUNT, page, 1501, NOW_MS)
    after = _run(engine, ledger_entries, ACCOUNT, 0)
    assert [(e.time_ms, e.kind, e.amount, e.trade_id) for e in after] == [
        (1000, "commission", Decimal("-0.5"), "11"),
        (1000, "realized_pnl", Decimal("-10"), "11"),
        (1500, "funding_fee", Decimal("-0.25"), ""),
        (2000, "realized_pnl", Decimal("-10"), "12"),
        (2000, "commission", Decimal("-0.5"), "12"),
    ]


def test_entries_start_at_since_inclusive(engine: Engine) -> None:
    _run(
        engine, book_fills, ACCOUNT, [make_fill(1, time_ms=999), make_fill(2, time_ms=1000)], NOW_MS
    )
    page = [income_record(1, time_ms=999), income_record(2, time_ms=1000)]
    _run(engine, book_income_page, ACCOUNT, page, 1001, NOW_MS)
    entries = _run(engine, ledger_entries, ACCOUNT, 1000)
    assert {e.time_ms for e in entries} == {1000}
    assert len(entries) == 3


def test_entries_of_other_accounts_are_not_listed(engine: Engine) -> None:
    _run(engine, book_fills, "other", [make_fill(1)], NOW_MS)
    assert _run(engine, ledger_entries, ACCOUNT, 0) == []


# --- symbols, orders, position snapshots -------------------------------------------------------


def _filters(status: str = "TRADING", tick: str = "0.10") -> SymbolFilters:
    return dataclasses.replace(BTC_FILTERS, status=status, tick_size=Decimal(tick))


def _symbols(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(symbols).order_by(symbols.c.symbol))]


def test_symbols_are_inserted_then_replaced(engine: Engine) -> None:
    eth = dataclasses.replace(_filters(), symbol="ETHUSDT")
    _run(engine, upsert_symbols, {"BTCUSDT": _filters(), "ETHUSDT": eth}, 1000)
    _run(engine, upsert_symbols, {"BTCUSDT": _filters("SETTLING", "0.5")}, 2000)
    btc, stored_eth = _symbols(engine)
    assert btc == (
        "BTCUSDT",
        "SETTLING",
        Decimal("0.5"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("100"),
        2000,
    )
    assert stored_eth[:2] == ("ETHUSDT", "TRADING") and stored_eth[-1] == 1000


def _order(status: str, time_ms: int, filled: str) -> OrderUpdate:
    return order_update(time_ms=time_ms, status=status, filled=filled)


def _stored_order(engine: Engine) -> tuple[str, Decimal, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(orders.c.status, orders.c.executed_qty, orders.c.update_time_ms)
        ).one()
        return row.status, row.executed_qty, row.update_time_ms


def test_order_keeps_the_newest_update(engine: Engine) -> None:
    _run(engine, upsert_orders, ACCOUNT, [_order("NEW", 1000, "0")])
    _run(engine, upsert_orders, ACCOUNT, [_order("FILLED", 3000, "0.010")])
    _run(engine, upsert_orders, ACCOUNT, [_order("PARTIALLY_FILLED", 2000, "0.004")])
    assert _stored_order(engine) == ("FILLED", Decimal("0.010"), 3000)


def test_order_update_at_the_same_time_replaces_the_stored_one(engine: Engine) -> None:
    _run(engine, upsert_orders, ACCOUNT, [_order("PARTIALLY_FILLED", 2000, "0.004")])
    _run(engine, upsert_orders, ACCOUNT, [_order("FILLED", 2000, "0.010")])
    assert _stored_order(engine)[0] == "FILLED"


def test_order_updates_stored_together_keep_the_newest_and_the_later_of_a_tie(
    engine: Engine,
) -> None:
    batch = [
        _order("NEW", 1000, "0"),
        _order("PARTIALLY_FILLED", 2000, "0.004"),
        _order("FILLED", 2000, "0.010"),
        _order("PARTIALLY_FILLED", 1500, "0.002"),
    ]
    _run(engine, upsert_orders, ACCOUNT, batch)
    assert _stored_order(engine) == ("FILLED", Decimal("0.010"), 2000)


def _position(amount: str, mark: str | None = "61000") -> PositionRecord:
    return PositionRecord(
        symbol="BTCUSDT",
        position_side="BOTH",
        amount=Decimal(amount),
        entry_price=Decimal("60000"),
        update_time_ms=1,
        mark_price=None if mark is None else Decimal(mark),
        unrealized_pnl=None if mark is None else Decimal(amount) * 1000,
    )


def _balance(asset: str, wallet: str, upnl: str | None) -> BalanceRecord:
    return BalanceRecord(
        asset=asset,
        wallet_balance=Decimal(wallet),
        update_time_ms=1,
        unrealized_pnl=None if upnl is None else Decimal(upnl),
    )


def test_book_snapshot_is_kept_once_per_minute(engine: Engine) -> None:
    minute_ms = 60_000 * 1000
    first = ([_position("0.5")], [_balance("USDT", "1000", "500")])
    assert _run(engine, record_book_snapshot, ACCOUNT, minute_ms, *first) == 2
    again = ([_position("0.7")], [_balance("USDT", "900", "0")])
    assert _run(engine, record_book_snapshot, ACCOUNT, minute_ms, *again) == 0
    later = ([_position("0.7", None)], [])
    assert _run(engine, record_book_snapshot, ACCOUNT, minute_ms + 60_000, *later) == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                position_snapshots.c.minute_ms,
                position_snapshots.c.amount,
                position_snapshots.c.mark_price,
            ).order_by(position_snapshots.c.minute_ms)
        ).all()
    assert [tuple(r) for r in rows] == [
        (minute_ms, Decimal("0.5"), Decimal("61000")),
        (minute_ms + 60_000, Decimal("0.7"), None),
    ]
    assert _run(engine, equity_points, ACCOUNT, 0, ["USDT"]) == [
        EquityPoint(minute_ms, Decimal("1500"))
    ]


def test_book_snapshot_needs_a_whole_minute(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not a whole minute"):
        _run(engine, record_book_snapshot, ACCOUNT, 60_001, [_position("1")], [])


def test_equity_sums_the_assets_and_skips_minutes_without_unrealized_pnl(engine: Engine) -> None:
    snapshots = {
        60_000: [
            _balance("USDT", "1000", "-10"),
            _balance("USDC", "500", "5"),
            _balance("BNB", "9", "0"),
        ],
        120_000: [_balance("USDT", "1000", None), _balance("USDC", "500", "5")],
        180_000: [_balance("USDT", "990", "0")],
        240_000: [_balance("USDT", "980", "1")],
    }
    for minute_ms, balances in snapshots.items():
        _run(engine, record_book_snapshot, ACCOUNT, minute_ms, [], balances)
    _run(engine, record_book_snapshot, "other", 60_000, [], [_balance("USDT", "1", "1")])

    assert _run(engine, equity_points, ACCOUNT, 60_000, ["USDT", "USDC"]) == [
        EquityPoint(60_000, Decimal("1495")),
        EquityPoint(180_000, Decimal("990")),
        EquityPoint(240_000, Decimal("981")),
    ]
    assert _run(engine, equity_points, ACCOUNT, 180_001, ["USDT"]) == [
        EquityPoint(240_000, Decimal("981"))
    ]


def test_stop_fills_are_the_stop_orders_fills_in_time_order(engine: Engine) -> None:
    stop = dataclasses.replace(make_fill(3, time_ms=3000), order_type="STOP_MARKET")
    early_stop = dataclasses.replace(make_fill(1, time_ms=1000), order_type="STOP")
    booked = [stop, make_fill(2, time_ms=2000), early_stop]
    _run(engine, book_fills, ACCOUNT, booked, NOW_MS)
    _run(engine, book_fills, "other", [stop], NOW_MS)

    assert _run(engine, stop_fills, ACCOUNT, 0) == [early_stop, stop]
    assert _run(engine, stop_fills, ACCOUNT, 1001) == [stop]


def test_many_rows_in_one_page_are_booked_in_chunks(engine: Engine) -> None:
    page = [income_record(i, time_ms=1000 + i) for i in range(1000)]
    assert _run(engine, book_income_page, ACCOUNT, page, 2000, NOW_MS) == 1000
    assert _run(engine, book_income_page, ACCOUNT, page[500:], 2000, NOW_MS) == 0


def test_rule_history_rebuilds_stop_outs_and_equity_from_sql_alone(engine: Engine) -> None:
    rules = RulesConfig().model_copy(
        update={
            "rules": tuple(
                rule.model_copy(update={"enabled": rule.id in {"cooldown", "drawdown_24h"}})
                for rule in RulesConfig().rules
            )
        }
    )
    now_ms = 100 * HOUR_MS
    stop = dataclasses.replace(
        make_fill(1, time_ms=now_ms - 60_000), order_type="STOP_MARKET", position_side="LONG"
    )
    old_stop = dataclasses.replace(stop, trade_id=2, time_ms=now_ms - 2 * HOUR_MS)
    _run(engine, book_fills, ACCOUNT, [stop, old_stop, make_fill(3, time_ms=now_ms)], NOW_MS)
    for minute_ms, wallet in ((now_ms - 3 * HOUR_MS, "12000"), (now_ms - HOUR_MS, "8000")):
        _run(engine, record_book_snapshot, ACCOUNT, minute_ms, [], [_balance("USDT", wallet, "0")])

    history = _run(engine, rule_history, ACCOUNT, rules, now_ms)  # a new transaction: a restart

    assert history.stop_outs == [StopOut(now_ms - 60_000, "BTCUSDT", "long")]  # 15 min window
    assert history.equity == [
        EquityPoint(now_ms - 3 * HOUR_MS, Decimal(12000)),
        EquityPoint(now_ms - HOUR_MS, Decimal(8000)),
    ]
    locks = evaluate(rules, history.entries, history.stop_outs, history.equity, now_ms).locks
    assert sorted(lock.source for lock in locks) == ["rule:cooldown", "rule:drawdown_24h"]


def test_a_history_with_a_new_fill_equals_reading_it_again(engine: Engine) -> None:
    rules = RulesConfig().model_copy(
        update={
            "rules": tuple(
                rule.model_copy(update={"enabled": True}) for rule in RulesConfig().rules
            )
        }
    )
    now_ms = 100 * HOUR_MS
    _run(engine, book_fills, ACCOUNT, [make_fill(1, time_ms=now_ms - 5_000)], NOW_MS)
    before = _run(engine, rule_history, ACCOUNT, rules, now_ms)
    stop = dataclasses.replace(
        make_fill(2, time_ms=now_ms - 1_000), order_type="STOP_MARKET", position_side="LONG"
    )

    _run(engine, book_fills, ACCOUNT, [stop], NOW_MS)
    again = _run(engine, rule_history, ACCOUNT, rules, now_ms)

    updated = before.with_fill(stop)
    assert sorted(updated.entries, key=repr) == sorted(again.entries, key=repr)
    assert updated.stop_outs == again.stop_outs == [StopOut(now_ms - 1_000, "BTCUSDT", "long")]


def test_rule_history_names_the_robots_that_held_the_side_a_stop_closed(engine: Engine) -> None:
    rule = {"id": "s", "kind": "cooldown", "window_ms": HOUR_MS, "scope": "robot"}
    rules = RulesConfig.model_validate({"rules": [rule]})
    now_ms = 100 * HOUR_MS

    def fill(trade_id: int, client: str, side: str, at_ms: int, **changes: Any) -> Fill:
        opened = make_fill(trade_id, pnl="0", time_ms=at_ms)
        return dataclasses.replace(opened, client_order_id=client, side=side, **changes)

    fills = [
        fill(1, "rb-a-1", "BUY", now_ms - 30 * 60_000),
        fill(2, "rb-b-1", "BUY", now_ms - 20 * 60_000),
        fill(3, "rb-b-2", "SELL", now_ms - 15 * 60_000),
        fill(
            4, "rl1.", "SELL", now_ms - 60_000, realized_pnl=Decimal(-5), order_type="STOP_MARKET"
        ),
    ]
    _run(engine, book_fills, ACCOUNT, fills, NOW_MS)
    robots = Attribution([("rb-a-", "a"), ("rb-b-", "b")])

    history = _run(engine, rule_history, ACCOUNT, rules, now_ms, robots)

    assert history.stop_outs == [StopOut(now_ms - 60_000, "BTCUSDT", "long", ("a",))]
    (lock,) = evaluate(rules, [], history.stop_outs, [], now_ms).locks
    assert (lock.robot, lock.symbol) == ("a", "BTCUSDT")
