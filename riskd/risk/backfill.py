"""``riskd backfill``: page the income history of the last N days into SQL, resumably.

A backfill reads the whole range again each time, whatever the live Ledger's cursor says:
history older than the cursor is what it is for. Rows already stored are skipped by their
unique key, and the cursor only ever moves forward, so a backfill that is stopped and run
again, or that runs beside the live Ledger, books every row once and never rewinds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from riskd.core.clock import DAY_MS
from riskd.exchange.parse_income import parse_income
from riskd.risk.ledger import IncomePagerConfig, advance_income_cursor, next_income_request
from riskd.risk.ledger_store import book_income_page
from riskd.store.engine import SqlRunner

if TYPE_CHECKING:
    from riskd.exchange.access import BinanceAccess

MAX_BACKFILL_DAYS: Final = 90  # Binance keeps income for 3 months
INCOME_PATH: Final = "/fapi/v1/income"


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """What one backfill read and booked."""

    start_ms: int  # the first page started here
    cursor_ms: int  # the income cursor it left
    pages: int
    rows_read: int
    rows_booked: int  # rows new to SQL
    skipped_ms: tuple[int, ...]  # full pages all in one ms: rows of these ms may be missing


async def backfill(
    access: BinanceAccess,
    runner: SqlRunner,
    account: str,
    days: int,
    now_ms: int,
    config: IncomePagerConfig,
    progress: Callable[[int, int], None],
) -> BackfillResult:
    """Book the account's income from now − days up to now.

    *progress* is called after each page with (ms covered so far, ms to cover). Raises
    ValueError unless 1 ≤ *days* ≤ 90.
    """
    if not 1 <= days <= MAX_BACKFILL_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_BACKFILL_DAYS}, not {days}")
    start_ms = now_ms - days * DAY_MS
    total_ms = max(now_ms - start_ms, 0)
    cursor_ms = start_ms
    pages = rows_read = rows_booked = 0
    skipped: list[int] = []
    while True:
        request = next_income_request(cursor_ms, now_ms, config)
        body = await _read_page(access, request.params())
        records = parse_income(body)
        outcome = advance_income_cursor(request, records, now_ms, config)
        rows_booked += await runner.run(
            book_income_page, account, records, outcome.next_cursor_ms, now_ms
        )
        pages += 1
        rows_read += len(records)
        cursor_ms = outcome.next_cursor_ms
        if outcome.skipped_ms is not None:
            skipped.append(outcome.skipped_ms)
        progress(total_ms if outcome.caught_up else min(cursor_ms - start_ms, total_ms), total_ms)
        if outcome.caught_up:
            break
    return BackfillResult(start_ms, cursor_ms, pages, rows_read, rows_booked, tuple(skipped))


async def _read_page(access: BinanceAccess, params: dict[str, int]) -> Any:
    return await access.read(
        "GET", INCOME_PATH, lambda: access.client.futures_income_history(**params), params
    )
