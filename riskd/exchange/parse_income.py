"""GET /fapi/v1/income bodies → IncomeRecord.

Numbers are read as in ``riskd.exchange.parse``: ``income`` as a JSON string, integer or
Decimal, never a float; ``time`` as a JSON integer or a string of digits. ``tranId`` is an int64
sent as a JSON integer (or, in ccxt's recordings, a string of digits); a float has already lost
digits and is refused. Every problem raises PayloadError naming the field path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from riskd.exchange.parse import PayloadError, _Object, _show
from riskd.exchange.parse_orders import _optional_text

INCOME: Final = "GET /fapi/v1/income"
INT64_MAX: Final = 2**63 - 1


@dataclass(frozen=True, slots=True)
class IncomeRecord:
    """One income row: a cash flow of the account, unique per (tran_id, income_type)."""

    tran_id: int
    income_type: str  # REALIZED_PNL | COMMISSION | FUNDING_FEE | TRANSFER | …
    symbol: str  # "" for account-wide flows
    asset: str
    amount: Decimal  # signed: negative is paid
    time_ms: int
    trade_id: str  # "" when not from a trade
    info: str


def parse_income(body: Sequence[Any]) -> tuple[IncomeRecord, ...]:
    """A GET /fapi/v1/income body (a list of rows, ascending by time)."""
    if isinstance(body, str | bytes) or not isinstance(body, Sequence):
        raise PayloadError(INCOME, "body", f"{_show(body)} is not a list")
    return tuple(_record(_Object.at(INCOME, f"[{index}]", item)) for index, item in enumerate(body))


def _record(item: _Object) -> IncomeRecord:
    return IncomeRecord(
        tran_id=_tran_id(item),
        income_type=item.text("incomeType"),
        symbol=_optional_text(item, "symbol"),
        asset=item.text("asset"),
        amount=item.decimal("income"),
        time_ms=item.time_ms("time"),
        trade_id=_optional_text(item, "tradeId"),
        info=_optional_text(item, "info"),
    )


def _tran_id(item: _Object) -> int:
    value = item._get("tranId")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    raise item.error("tranId", f"{_show(value)} is not an int64 id")
