"""The Ledger's pure logic: fills and income as signed entries, and income paging by time.

Every cash flow counts exactly once. A fill from the user stream counts at once; when the
income endpoint later books the same flow (same symbol, trade id and kind), the income row
counts instead of the fill's, never both.

Income is paged by time, as Binance requires (``startTime``/``endTime`` inclusive, ``limit`` ≤
1000, rows ascending by time, no ``page`` parameter). Rows are stored under a unique key, so
re-reading a millisecond is harmless: a full page resumes at its last row's time (that
millisecond is read again), and a short page means the window is complete. Incomes can appear
a little late, so the cursor never passes ``now − settle_ms``: the last settle window is read
again on the next poll.

A full page whose rows all share the request's start millisecond cannot be paged further by
time (a narrower window is the same millisecond). The cursor then moves on by 1 ms and the
outcome names the skipped millisecond, so that the caller alerts: rows of that millisecond
beyond the page may be missing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from riskd.core.clock import DAY_MS, HOUR_MS
from riskd.core.frozen import FrozenModel
from riskd.core.secrets import matching
from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_income import INCOME, IncomeRecord
from riskd.exchange.parse_orders import OrderUpdate
from riskd.risk.locks import PositionSide
from riskd.risk.rules import StopOut

MAX_INCOME_LIMIT: Final = 1000

EntryKind = Literal["realized_pnl", "commission", "funding_fee", "other"]
_KIND_BY_INCOME_TYPE: Final[dict[str, EntryKind]] = {
    "REALIZED_PNL": "realized_pnl",
    "COMMISSION": "commission",
    "FUNDING_FEE": "funding_fee",
}


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade of the account from an ORDER_TRADE_UPDATE event (a row of ``fills``)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: str
    position_side: str
    order_type: str  # the original type: STOP_MARKET stays STOP_MARKET once triggered
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal  # as the stream sends it: positive is paid
    commission_asset: str
    maker: bool
    time_ms: int  # the transaction time T


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One signed cash flow, as the loss rules consume it: losses and fees are negative."""

    time_ms: int
    symbol: str  # "" for account-wide flows
    kind: EntryKind
    amount: Decimal
    asset: str
    trade_id: str  # "" when not from a trade
    client_order_id: str = ""  # its trade's order's, when riskd holds the fill


STOP_ORDER_TYPES: Final = frozenset({"STOP_MARKET", "STOP"})
_SETTLEMENT_ASSETS: Final = ("USDT", "USDC", "FDUSD", "BUSD")
ReconcileKey = tuple[str, str, EntryKind]  # (symbol, trade_id, kind)


def fill_from_order_update(update: OrderUpdate) -> Fill | None:
    """The fill an ORDER_TRADE_UPDATE reports; None unless its execution type is TRADE."""
    if update.execution_type != "TRADE":
        return None
    return Fill(
        symbol=update.symbol,
        trade_id=update.trade_id,
        order_id=update.order_id,
        client_order_id=update.client_order_id,
        side=update.side,
        position_side=update.position_side,
        order_type=update.orig_type,
        price=update.last_filled_price,
        qty=update.last_filled_qty,
        realized_pnl=update.realized_pnl,
        commission=update.commission,
        commission_asset=update.commission_asset,
        maker=update.maker,
        time_ms=update.transaction_time_ms,
    )


def stop_out(fill: Fill) -> StopOut | None:
    """The stop-out a fill is: a stop order's fill that reduced a position; else None.

    In hedge mode the position side says which position the fill reduced (a LONG position is
    reduced by selling). In one-way mode (BOTH) a fill that realized no PnL opened a position.
    """
    if fill.order_type not in STOP_ORDER_TYPES:
        return None
    position: PositionSide = "long" if fill.side == "SELL" else "short"
    reduced = (
        fill.realized_pnl != 0
        if fill.position_side == "BOTH"
        else fill.position_side == position.upper()
    )
    return StopOut(fill.time_ms, fill.symbol, position) if reduced else None


def entry_kind(income_type: str) -> EntryKind:
    """The entry kind of an income type; types the rules do not single out are "other"."""
    return _KIND_BY_INCOME_TYPE.get(income_type, "other")


def entries_from_income(
    records: Iterable[IncomeRecord], client_ids: Mapping[tuple[str, str], str] | None = None
) -> list[LedgerEntry]:
    """Every income row as an entry (its amount is already signed); *client_ids* maps a trade's
    (symbol, trade id) to its order's client id, where a fill is known."""
    client_ids = client_ids or {}
    return [
        LedgerEntry(
            time_ms=record.time_ms,
            symbol=record.symbol,
            kind=entry_kind(record.income_type),
            amount=record.amount,
            asset=record.asset,
            trade_id=record.trade_id,
            client_order_id=client_ids.get((record.symbol, record.trade_id), ""),
        )
        for record in records
    ]


def reconcile_keys(records: Iterable[IncomeRecord]) -> set[ReconcileKey]:
    """The (symbol, trade_id, kind) flows that booked income rows already account for."""
    return {
        (record.symbol, record.trade_id, entry_kind(record.income_type))
        for record in records
        if record.trade_id
    }


def settlement_asset(symbol: str) -> str:
    """The asset a USDⓈ-M symbol settles PnL in, from its quote ("BTCUSDC" → USDC); USDT else."""
    pair = symbol.partition("_")[0]  # BTCUSDT_260327 is a quarterly contract
    return next((asset for asset in _SETTLEMENT_ASSETS if pair.endswith(asset)), "USDT")


def entries_from_fills(
    fills: Iterable[Fill], reconciled: Collection[ReconcileKey]
) -> list[LedgerEntry]:
    """The realized PnL and commission of *fills* not yet booked as income.

    A flow is reconciled per kind, so that an income page that books a trade's commission
    but not yet its PnL (a page may end between the two) leaves the fill's PnL counting.
    Zero amounts (the PnL of an opening fill) make no entry; commission becomes negative.
    """
    entries: list[LedgerEntry] = []
    for fill in fills:
        trade_id = str(fill.trade_id)
        flows: tuple[tuple[EntryKind, Decimal, str], ...] = (
            ("realized_pnl", fill.realized_pnl, settlement_asset(fill.symbol)),
            ("commission", -fill.commission, fill.commission_asset),
        )
        for kind, amount, asset in flows:
            if amount != 0 and (fill.symbol, trade_id, kind) not in reconciled:
                entries.append(
                    LedgerEntry(
                        fill.time_ms,
                        fill.symbol,
                        kind,
                        amount,
                        asset,
                        trade_id,
                        fill.client_order_id,
                    )
                )
    return entries


# --- income paging -----------------------------------------------------------------------------


class IncomePagerConfig(FrozenModel):
    """How the income endpoint is paged."""

    page_limit: int = Field(default=MAX_INCOME_LIMIT, ge=1, le=MAX_INCOME_LIMIT)
    max_window_ms: int = Field(default=7 * DAY_MS, gt=0)  # one request's endTime − startTime + 1
    history_ms: int = Field(default=90 * DAY_MS, gt=0)  # Binance keeps 3 months
    settle_ms: int = Field(default=60_000, ge=0)  # incomes may appear this late

    @model_validator(mode="after")
    def _window_outlasts_settle(self) -> IncomePagerConfig:
        # Otherwise a window inside the settle lag could neither end at now nor move on.
        if self.max_window_ms <= self.settle_ms:
            raise ValueError("max_window_ms must be longer than settle_ms")
        return self


@dataclass(frozen=True, slots=True)
class IncomeRequest:
    """One GET /fapi/v1/income request; both ends inclusive."""

    start_time_ms: int
    end_time_ms: int
    limit: int

    def params(self) -> dict[str, int]:
        """The query parameters, named as Binance names them."""
        return {"startTime": self.start_time_ms, "endTime": self.end_time_ms, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """Where the next page starts, after one page was read."""

    next_cursor_ms: int
    caught_up: bool  # the page completed the window up to now: stop paging until the next poll
    skipped_ms: int | None = None  # a full page all in this ms: later rows of it may be lost


def next_income_request(cursor_ms: int, now_ms: int, config: IncomePagerConfig) -> IncomeRequest:
    """The request for the page at *cursor_ms*, no older than the history Binance keeps."""
    start_ms = min(max(cursor_ms, now_ms - config.history_ms), now_ms)
    end_ms = min(start_ms + config.max_window_ms - 1, now_ms)
    return IncomeRequest(start_ms, end_ms, config.page_limit)


def advance_income_cursor(
    request: IncomeRequest,
    records: Sequence[IncomeRecord],
    now_ms: int,
    config: IncomePagerConfig,
) -> PageOutcome:
    """The cursor after reading *records* for *request* at *now_ms*.

    Raises PayloadError if a row lies outside the requested window. A full page resumes at
    its last row's time; a short page moves the cursor to ``endTime + 1``, but not past
    ``now − settle_ms`` and never before the request's start.
    """
    for index, record in enumerate(records):
        if not request.start_time_ms <= record.time_ms <= request.end_time_ms:
            raise PayloadError(
                INCOME,
                f"[{index}].time",
                f"{record.time_ms} is outside the requested "
                f"[{request.start_time_ms}, {request.end_time_ms}]",
            )
    if len(records) >= request.limit:
        last_ms = max(record.time_ms for record in records)
        if last_ms > request.start_time_ms:
            return PageOutcome(last_ms, caught_up=False)
        return PageOutcome(last_ms + 1, caught_up=False, skipped_ms=last_ms)
    settled_ms = now_ms - config.settle_ms
    next_ms = max(request.start_time_ms, min(request.end_time_ms + 1, settled_ms))
    return PageOutcome(next_ms, caught_up=request.end_time_ms >= now_ms)


SummaryTime = Annotated[
    str, matching(r"(([01][0-9]|2[0-3]):[0-5][0-9])?", 'a UTC time "HH:MM", or "" for none')
]


class LedgerConfig(FrozenModel):
    """An account's Ledger (``[accounts.ledger]``): how its income history is paged, how long
    each ban-list version is vouched for while the income source and the PositionBook are
    fresh (a stale account's list then expires on its own and clients fail closed), how
    often the symbols table is refreshed from exchangeInfo, and when the daily summary goes."""

    income: IncomePagerConfig = IncomePagerConfig()
    banlist_valid_ms: int = Field(30_000, gt=0)
    symbols_refresh_ms: int = Field(HOUR_MS, gt=0)
    daily_summary_utc: SummaryTime = "00:05"
    """When (UTC, ``HH:MM``) the previous UTC day's summary card goes to the alert receivers,
    or "" for none. On by default: a desk wants the day's figures without asking, and 00:05
    leaves the income pager (``settle_ms``, 1 min) time to book the day's last flows."""

    @property
    def daily_summary_minute(self) -> int | None:
        """``daily_summary_utc`` as minutes after midnight UTC; None when it is off."""
        if not self.daily_summary_utc:
            return None
        hours, minutes = self.daily_summary_utc.split(":")
        return int(hours) * 60 + int(minutes)
