"""PnL and daily reports read from SQL: sync functions of a Connection, for ``SqlRunner.run``."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Final

from sqlalchemy import Connection, select, tuple_

from riskd.core.bodies import INT64_MAX, integer
from riskd.core.clock import HOUR_MS
from riskd.pnl.daily import DailyReport, Trade, build_daily, first_day_ms
from riskd.pnl.report import MAX_HOURS, Originals, PnlGrouping, PnlReport, build_report
from riskd.protect.reaper import REPLACEMENT_PREFIX
from riskd.risk.attribution import Attribution, FilledQuantity
from riskd.risk.ledger import LedgerEntry
from riskd.risk.ledger_store import filled_quantities, ledger_entries
from riskd.store.schema import fills as fills_table
from riskd.store.schema import orders

_CHUNK_KEYS: Final = 200  # orders looked up per SELECT: well under SQLite's parameter limit
_REPLACEMENT: Final = re.compile(re.escape(REPLACEMENT_PREFIX) + "([0-9]{1,19})")


def pnl_report(
    conn: Connection,
    account: str,
    attribution: Attribution,
    by: PnlGrouping,
    hours: int,
    now_ms: int,
    robot: str | None = None,
) -> PnlReport:
    """*account*'s PnL over the *hours* up to *now_ms*, per robot or symbol (of *robot* only,
    when given). ValueError when *hours* is not 1 to MAX_HOURS; LookupError for an unknown
    *robot*."""
    start_ms = now_ms - integer("hours", hours, 1, MAX_HOURS) * HOUR_MS
    entries, fills, originals = _ledger(conn, account, start_ms)
    return build_report(
        account,
        entries,
        fills,
        attribution,
        by=by,
        start_ms=start_ms,
        end_ms=now_ms,
        robot=robot,
        originals=originals,
    )


def daily_report(
    conn: Connection,
    account: str,
    attribution: Attribution,
    by: PnlGrouping | None,
    days: int,
    now_ms: int,
) -> DailyReport:
    """*account*'s figures per UTC day over the last *days* days up to *now_ms* (today
    included), with rows per robot or symbol when *by* is set. ValueError when *days* is not
    1 to MAX_DAYS."""
    start_ms = first_day_ms(days, now_ms)
    entries, fills, originals = _ledger(conn, account, start_ms)
    columns = ("symbol", "trade_id", "client_order_id", "time_ms")
    rows = conn.execute(
        select(*(fills_table.c[name] for name in columns)).where(
            fills_table.c.account == account, fills_table.c.time_ms.between(start_ms, now_ms)
        )
    )
    return build_daily(
        account,
        entries,
        fills,
        [Trade(row.symbol, str(row.trade_id), row.client_order_id, row.time_ms) for row in rows],
        attribution,
        by=by,
        days=days,
        now_ms=now_ms,
        originals=originals,
    )


def _ledger(
    conn: Connection, account: str, start_ms: int
) -> tuple[list[LedgerEntry], list[FilledQuantity], Originals]:
    """The account's entries from *start_ms* on, every fill of it, and the orders its
    replacements among them replaced (what a report reads)."""
    entries = ledger_entries(conn, account, start_ms)
    fills = filled_quantities(conn, account)
    client_ids = {(entry.symbol, entry.client_order_id) for entry in entries}
    client_ids |= {(fill.symbol, fill.client_order_id) for fill in fills}
    return entries, fills, replaced_orders(conn, account, client_ids)


def replaced_orders(
    conn: Connection, account: str, client_ids: Collection[tuple[str, str]]
) -> Originals:
    """Of *client_ids* ((symbol, client id) pairs), the OrderReaper's replacements
    (``rp-<orderId>``) whose replaced order the ``orders`` table holds, each with that order's
    client id."""
    replacements = {
        (symbol, order_id): client_id
        for symbol, client_id in client_ids
        if (order_id := _replaced_order_id(client_id)) is not None
    }
    keys = sorted(replacements)
    originals: dict[tuple[str, str], str] = {}
    for start in range(0, len(keys), _CHUNK_KEYS):
        rows = conn.execute(
            select(orders.c.symbol, orders.c.order_id, orders.c.client_order_id).where(
                orders.c.account == account,
                tuple_(orders.c.symbol, orders.c.order_id).in_(keys[start : start + _CHUNK_KEYS]),
            )
        )
        for symbol, order_id, client_id in rows:
            originals[(symbol, replacements[(symbol, order_id)])] = client_id
    return originals


def _replaced_order_id(client_id: str) -> int | None:
    """The id of the order a replacement's *client_id* names; None if it is no replacement's."""
    match = _REPLACEMENT.fullmatch(client_id)
    order_id = int(match.group(1)) if match else None
    return order_id if order_id is not None and order_id <= INT64_MAX else None
