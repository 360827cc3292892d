"""The Ledger's SQL units of work: sync functions of a Connection, for ``SqlRunner.run``.

Rows are booked with insert-ignore under their unique keys, so a page or a fill booked twice
is stored once. Newly inserted rows are counted by counting the batch's keys before and after
the insert in the same transaction: MySQL's affected-row count for ON DUPLICATE KEY UPDATE
depends on client flags, SQLite's does not, and neither is what a caller means.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import groupby
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Table, bindparam, func, select, tuple_, update

from riskd.core.clock import HOUR_MS, MINUTE_MS
from riskd.exchange.filters import SymbolFilters
from riskd.exchange.parse_income import IncomeRecord
from riskd.exchange.parse_orders import OrderUpdate
from riskd.positions import BalanceRecord, PositionRecord
from riskd.risk.attribution import Attribution, FilledQuantity, position_holders
from riskd.risk.ledger import (
    STOP_ORDER_TYPES,
    Fill,
    LedgerEntry,
    entries_from_fills,
    entries_from_income,
    reconcile_keys,
    stop_out,
)
from riskd.risk.rules import EquityPoint, RulesConfig, StopOut
from riskd.store.dml import from_row, insert_ignore
from riskd.store.schema import (
    balance_snapshots,
    fills,
    income,
    ledger_cursors,
    orders,
    position_snapshots,
    symbols,
)

# Income for a trade is stamped with the trade's time; this much earlier is searched as well.
RECONCILE_SLACK_MS: Final = HOUR_MS
_CHUNK_ROWS: Final = 200  # rows per INSERT: well under SQLite's bound-parameter limit


def book_fills(conn: Connection, account: str, batch: Sequence[Fill], now_ms: int) -> int:
    """Store *batch* once per (account, symbol, trade_id); return how many rows are new."""
    rows = [
        {
            "account": account,
            "symbol": fill.symbol,
            "trade_id": fill.trade_id,
            "order_id": fill.order_id,
            "client_order_id": fill.client_order_id,
            "side": fill.side,
            "position_side": fill.position_side,
            "order_type": fill.order_type,
            "price": fill.price,
            "qty": fill.qty,
            "realized_pnl": fill.realized_pnl,
            "commission": fill.commission,
            "commission_asset": fill.commission_asset,
            "maker": fill.maker,
            "time_ms": fill.time_ms,
            "booked_at_ms": now_ms,
        }
        for fill in batch
    ]
    return _insert_counted(conn, fills, rows, ("account", "symbol", "trade_id"))


def book_income_page(
    conn: Connection,
    account: str,
    records: Sequence[IncomeRecord],
    next_cursor_ms: int,
    now_ms: int,
) -> int:
    """Store a page once per (account, tran_id, income_type) and advance the income cursor.

    One transaction does both, so a crash leaves either the page and its cursor or neither.
    The cursor never moves backwards (a late or repeated page leaves it as it is). Returns how
    many rows are new.
    """
    rows = [
        {
            "account": account,
            "tran_id": record.tran_id,
            "income_type": record.income_type,
            "symbol": record.symbol,
            "asset": record.asset,
            "amount": record.amount,
            "time_ms": record.time_ms,
            "trade_id": record.trade_id,
            "info": record.info,
            "booked_at_ms": now_ms,
        }
        for record in records
    ]
    inserted = _insert_counted(conn, income, rows, ("account", "tran_id", "income_type"))
    cursor = {"account": account, "income_next_start_ms": next_cursor_ms, "updated_at_ms": now_ms}
    conn.execute(insert_ignore(ledger_cursors, [cursor], conn.dialect.name))
    conn.execute(
        update(ledger_cursors)
        .where(
            ledger_cursors.c.account == account,
            ledger_cursors.c.income_next_start_ms < next_cursor_ms,
        )
        .values(income_next_start_ms=next_cursor_ms, updated_at_ms=now_ms)
    )
    return inserted


def income_cursor(conn: Connection, account: str) -> int | None:
    """Where the account's next income page starts; None before its first page."""
    return conn.scalar(
        select(ledger_cursors.c.income_next_start_ms).where(ledger_cursors.c.account == account)
    )


def ledger_entries(conn: Connection, account: str, since_ms: int) -> list[LedgerEntry]:
    """The account's entries from *since_ms* (inclusive) on, ordered by time.

    Within one ms: income rows by (tran_id, income_type), then fills by (symbol, trade_id).

    Every income row counts, and so does each fill flow that no income row books yet.
    """
    booked = [
        from_row(IncomeRecord, row)
        for row in conn.execute(
            select(income)
            .where(income.c.account == account, income.c.time_ms >= since_ms - RECONCILE_SLACK_MS)
            .order_by(income.c.time_ms, income.c.tran_id, income.c.income_type)
        ).mappings()
    ]
    stored_fills = [
        from_row(Fill, row)
        for row in conn.execute(
            select(fills)
            .where(fills.c.account == account, fills.c.time_ms >= since_ms - RECONCILE_SLACK_MS)
            .order_by(fills.c.time_ms, fills.c.symbol, fills.c.trade_id)
        ).mappings()
    ]
    client_ids = {(fill.symbol, str(fill.trade_id)): fill.client_order_id for fill in stored_fills}
    entries = entries_from_income((r for r in booked if r.time_ms >= since_ms), client_ids)
    entries += entries_from_fills(
        (fill for fill in stored_fills if fill.time_ms >= since_ms), reconcile_keys(booked)
    )
    return sorted(entries, key=lambda entry: entry.time_ms)


def upsert_symbols(conn: Connection, filters: Mapping[str, SymbolFilters], now_ms: int) -> None:
    """Store each symbol's status and filters, replacing what was stored for it."""
    rows = [
        {
            "symbol": symbol,
            "status": f.status,
            "tick_size": f.tick_size,
            "step_size": f.step_size,
            "min_qty": f.min_qty,
            "min_notional": f.min_notional,
            "updated_at_ms": now_ms,
        }
        for symbol, f in filters.items()
    ]
    if not rows:
        return
    for chunk in _chunks(rows):
        conn.execute(insert_ignore(symbols, chunk, conn.dialect.name))
    values = {name: bindparam(f"new_{name}") for name in rows[0] if name != "symbol"}
    conn.execute(
        update(symbols).where(symbols.c.symbol == bindparam("new_symbol")).values(values),
        [{f"new_{name}": value for name, value in row.items()} for row in rows],
    )


class Listing(NamedTuple):
    """Whether the symbols table lists a symbol, and whether it lists any symbol at all."""

    listed: bool
    any_listed: bool


def symbol_listing(conn: Connection, symbol: str) -> Listing:
    """How the symbols table (exchangeInfo, as last stored) knows *symbol*."""
    if conn.scalar(select(symbols.c.symbol).where(symbols.c.symbol == symbol)) is not None:
        return Listing(listed=True, any_listed=True)
    return Listing(
        listed=False, any_listed=conn.scalar(select(symbols.c.symbol).limit(1)) is not None
    )


def upsert_orders(conn: Connection, account: str, order_updates: Sequence[OrderUpdate]) -> None:
    """Store each order's state unless a state with a later update time is stored already.

    Of two updates with the same time, the later one wins: the stream's order is kept.
    """
    for order_update in order_updates:
        _upsert_order(conn, account, order_update)


def _upsert_order(conn: Connection, account: str, order_update: OrderUpdate) -> None:
    row = {
        "account": account,
        "symbol": order_update.symbol,
        "order_id": order_update.order_id,
        "client_order_id": order_update.client_order_id,
        "side": order_update.side,
        "position_side": order_update.position_side,
        "order_type": order_update.order_type,
        "status": order_update.status,
        "price": order_update.price,
        "orig_qty": order_update.orig_qty,
        "executed_qty": order_update.cumulative_filled_qty,
        "update_time_ms": order_update.transaction_time_ms,
    }
    conn.execute(insert_ignore(orders, [row], conn.dialect.name))
    conn.execute(
        update(orders)
        .where(
            orders.c.account == account,
            orders.c.symbol == order_update.symbol,
            orders.c.order_id == order_update.order_id,
            orders.c.update_time_ms <= order_update.transaction_time_ms,
        )
        .values(row)
    )


def record_book_snapshot(
    conn: Connection,
    account: str,
    minute_ms: int,
    positions: Iterable[PositionRecord],
    balances: Iterable[BalanceRecord],
) -> int:
    """Store the account's positions and balances for the minute starting at *minute_ms*;
    return how many rows are new. The first snapshot of a minute is kept: recording the minute
    again changes nothing."""
    if minute_ms % MINUTE_MS:
        raise ValueError(f"minute_ms {minute_ms} is not a whole minute")
    position_rows = [
        {
            "account": account,
            "minute_ms": minute_ms,
            "symbol": position.symbol,
            "position_side": position.position_side,
            "amount": position.amount,
            "entry_price": position.entry_price,
            "mark_price": position.mark_price,
            "unrealized_pnl": position.unrealized_pnl,
        }
        for position in positions
    ]
    balance_rows = [
        {
            "account": account,
            "minute_ms": minute_ms,
            "asset": balance.asset,
            "wallet_balance": balance.wallet_balance,
            "unrealized_pnl": balance.unrealized_pnl,
        }
        for balance in balances
    ]
    return _insert_counted(
        conn, position_snapshots, position_rows, ("account", "minute_ms", "symbol", "position_side")
    ) + _insert_counted(conn, balance_snapshots, balance_rows, ("account", "minute_ms", "asset"))


def equity_points(
    conn: Connection, account: str, since_ms: int, assets: Collection[str]
) -> list[EquityPoint]:
    """The account's equity (wallet + unrealized PnL of *assets*, summed) per recorded minute
    from *since_ms* (inclusive) on, in time order. A minute in which one of them lacks its
    unrealized PnL is left out: its equity is not known."""
    rows = conn.execute(
        select(
            balance_snapshots.c.minute_ms,
            balance_snapshots.c.wallet_balance,
            balance_snapshots.c.unrealized_pnl,
        )
        .where(
            balance_snapshots.c.account == account,
            balance_snapshots.c.minute_ms >= since_ms,
            balance_snapshots.c.asset.in_(sorted(assets)),
        )
        .order_by(balance_snapshots.c.minute_ms)
    )
    points: list[EquityPoint] = []
    for minute_ms, minute_rows in groupby(rows, key=lambda row: row.minute_ms):
        values = [(row.wallet_balance, row.unrealized_pnl) for row in minute_rows]
        if all(upnl is not None for _, upnl in values):
            points.append(EquityPoint(minute_ms, sum((w + u for w, u in values), Decimal(0))))
    return points


def stop_fills(conn: Connection, account: str, since_ms: int) -> list[Fill]:
    """The account's fills of stop orders from *since_ms* (inclusive) on, in time order."""
    return [
        from_row(Fill, row)
        for row in conn.execute(
            select(fills)
            .where(
                fills.c.account == account,
                fills.c.time_ms >= since_ms,
                fills.c.order_type.in_(sorted(STOP_ORDER_TYPES)),
            )
            .order_by(fills.c.time_ms, fills.c.symbol, fills.c.trade_id)
        ).mappings()
    ]


def filled_quantities(conn: Connection, account: str) -> list[FilledQuantity]:
    """Every fill's order, position and quantity, in time order (for positions per robot:
    ``riskd.risk.attribution.robot_positions``; summed in Python, exactly)."""
    columns = (fills.c.client_order_id, fills.c.symbol, fills.c.position_side, fills.c.side)
    rows = conn.execute(
        select(*columns, fills.c.qty, fills.c.time_ms)
        .where(fills.c.account == account)
        .order_by(fills.c.time_ms, fills.c.symbol, fills.c.trade_id)
    ).mappings()
    return [from_row(FilledQuantity, row) for row in rows]


class RuleHistory(NamedTuple):
    """What the loss rules read from SQL: ledger entries, stop-outs and the equity per minute,
    each over the longest window of the enabled rules that read it."""

    entries: list[LedgerEntry]
    stop_outs: list[StopOut]
    equity: list[EquityPoint]

    def with_fill(self, fill: Fill) -> RuleHistory:
        """This history and a fill just booked (no income books it yet): what reading it all
        again from SQL would give, without reading it."""
        stop = stop_out(fill)
        return RuleHistory(
            [*self.entries, *entries_from_fills([fill], ())],
            [*self.stop_outs, stop] if stop is not None else self.stop_outs,
            self.equity,
        )


def rule_history(
    conn: Connection,
    account: str,
    rules: RulesConfig,
    now_ms: int,
    attribution: Attribution | None = None,
) -> RuleHistory:
    """Everything *rules* read at *now_ms*, from SQL alone: a restarted Ledger decides alike.
    With *attribution* and a robot-scoped stop rule, each stop-out names the robots that held
    the side stopped (from every fill of the account)."""
    entries = ledger_entries(conn, account, now_ms - rules.lookback_ms())
    stops_ms = rules.lookback_ms("stop_streak", "cooldown")
    fills = stop_fills(conn, account, now_ms - stops_ms) if stops_ms else []
    drawdown_ms = rules.lookback_ms("drawdown")
    equity = equity_points(conn, account, now_ms - drawdown_ms, rules.assets) if drawdown_ms else []
    stop_outs = [stop for stop in map(stop_out, fills) if stop is not None]
    robot_stops = any(
        rule.enabled and rule.scope == "robot" and rule.kind in ("stop_streak", "cooldown")
        for rule in rules.rules
    )
    if stop_outs and attribution is not None and robot_stops:
        sides = [(stop.time_ms, stop.symbol, stop.position) for stop in stop_outs]
        held = position_holders(filled_quantities(conn, account), attribution, sides)
        stop_outs = [
            stop._replace(robots=robots) for stop, robots in zip(stop_outs, held, strict=True)
        ]
    return RuleHistory(entries, stop_outs, equity)


def _insert_counted(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> int:
    """Insert-ignore *rows*; return how many of their keys were not stored before."""
    inserted = 0
    for chunk in _chunks(rows):
        before = _count_keys(conn, table, chunk, key)
        conn.execute(insert_ignore(table, chunk, conn.dialect.name))
        inserted += _count_keys(conn, table, chunk, key) - before
    return inserted


def _count_keys(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> int:
    columns = [table.c[name] for name in key]
    keys = {tuple(row[name] for name in key) for row in rows}
    matches = tuple_(*columns).in_(keys)
    return conn.scalar(select(func.count()).select_from(table).where(matches)) or 0


def _chunks(rows: Sequence[Mapping[str, Any]]) -> Iterable[Sequence[Mapping[str, Any]]]:
    return (rows[start : start + _CHUNK_ROWS] for start in range(0, len(rows), _CHUNK_ROWS))
