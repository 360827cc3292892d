"""The daily report: an account's PnL per UTC day, from the ledger. Pure.

Each day of the last N (today, so far, included) has, per asset, its realized PnL, commission
and funding (attributed and shared exactly as ``riskd.pnl.report`` does, so a day's rows per
robot are what ``GET /v1/pnl`` gives for that day), its trades and wins and losses, and the
day's worst symbol. Every day appears, with zeros when nothing happened, so that charts have
a continuous axis: one total row (key "") per asset the window saw (USDT when it saw none),
then, grouped by robot or symbol, one row per key and asset that had something that day.

- A *trade* is one execution of the account (a Binance trade id of a symbol): a row of
  ``fills``, or a trade the income rows name (REALIZED_PNL, COMMISSION), so that trades booked
  by a backfill alone count too. It is counted on its day, in its symbol's settlement asset.
- A trade *wins* when its realized PnL is positive and *loses* when negative; an opening
  trade realizes none and is neither. The win rate is wins / (wins + losses).
- The *worst symbol* of a day and asset is the one with the lowest net (ties: the first by
  name) among the symbols with a flow in that asset that day; None when none had any.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Final, NamedTuple

from riskd.core.bodies import integer
from riskd.core.clock import DAY_MS
from riskd.pnl.report import (
    Originals,
    PnlGrouping,
    PnlRow,
    Share,
    decimal_text,
    entry_shares,
    order_robots,
    pnl_rows,
)
from riskd.risk.attribution import Attribution, FilledQuantity
from riskd.risk.ledger import LedgerEntry, settlement_asset

MAX_DAYS: Final = 366
"""The most days a daily report covers."""
DEFAULT_DAYS: Final = 30
TOTAL: Final = ""
"""The key of a day's total rows."""
WIN_RATE_QUANTUM: Final = Decimal("0.0001")
"""Win rates are rounded to 4 decimals (half to even)."""
_DEFAULT_ASSET: Final = "USDT"
_EPOCH: Final = date(1970, 1, 1)
_TRADE_KINDS: Final = frozenset({"realized_pnl", "commission"})
_ZEROS: Final = (Decimal(0), Decimal(0), Decimal(0))
_Tally = tuple[int, int, int]  # trades, wins, losses


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One day's figures in one asset: the day's total (*key* "") or one robot's or symbol's."""

    day: str  # ISO date, UTC: "2026-12-03"
    key: str  # TOTAL (""), or the robot, or the symbol
    asset: str
    realized_pnl: Decimal
    commission: Decimal  # negative: paid
    funding: Decimal
    trades: int
    wins: int
    losses: int
    worst_symbol: str | None = None  # on total rows

    @property
    def net(self) -> Decimal:
        """Realized PnL, commission and funding together."""
        return self.realized_pnl + self.commission + self.funding

    @property
    def win_rate(self) -> Decimal | None:
        """wins / (wins + losses), rounded to WIN_RATE_QUANTUM; None without either."""
        closed = self.wins + self.losses
        return (Decimal(self.wins) / closed).quantize(WIN_RATE_QUANTUM) if closed else None

    def to_dict(self) -> dict[str, object]:
        """As JSON shows it: amounts and the win rate as decimal strings without trailing
        zeros (as ``PnlRow.to_dict``)."""
        rate = self.win_rate
        return {
            "day": self.day,
            "key": self.key,
            "asset": self.asset,
            "realized_pnl": decimal_text(self.realized_pnl),
            "commission": decimal_text(self.commission),
            "funding": decimal_text(self.funding),
            "net": decimal_text(self.net),
            "trades": self.trades,
            "wins": self.wins,
            "losses": self.losses,
            "win_rate": None if rate is None else decimal_text(rate),
            "worst_symbol": self.worst_symbol,
        }


@dataclass(frozen=True, slots=True)
class DailyReport:
    """An account's figures per UTC day from *start_ms* (the first day's midnight) to *end_ms*
    (now), both inclusive: per day its total rows by asset, then (when *by* is set) its rows
    per key, sorted by key and asset."""

    account: str
    by: PnlGrouping | None
    days: int
    start_ms: int
    end_ms: int
    rows: tuple[DayFigures, ...]

    def totals(self, day: str) -> tuple[DayFigures, ...]:
        """The total rows of *day* (ISO date), one per asset; () for a day not covered."""
        return tuple(row for row in self.rows if row.day == day and row.key == TOTAL)

    def to_dict(self) -> dict[str, object]:
        """As ``GET /v1/report/daily`` answers it (JSON-ready)."""
        return {
            "account": self.account,
            "by": None if self.by is None else self.by.value,
            "days": self.days,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "rows": [row.to_dict() for row in self.rows],
        }


class Trade(NamedTuple):
    """One execution of the account, as ``fills`` holds it."""

    symbol: str
    trade_id: str
    client_order_id: str
    time_ms: int


def day_of(time_ms: int) -> str:
    """The UTC day of *time_ms*, as an ISO date."""
    return (_EPOCH + timedelta(days=time_ms // DAY_MS)).isoformat()


def first_day_ms(days: int, now_ms: int) -> int:
    """The UTC midnight that starts the last *days* days up to *now_ms* (today included).
    ValueError unless *days* is 1 to MAX_DAYS."""
    return (now_ms // DAY_MS - integer("days", days, 1, MAX_DAYS) + 1) * DAY_MS


def build_daily(
    account: str,
    entries: Iterable[LedgerEntry],
    fills: Iterable[FilledQuantity],
    trades: Iterable[Trade],
    attribution: Attribution,
    *,
    by: PnlGrouping | None,
    days: int,
    now_ms: int,
    originals: Originals | None = None,
) -> DailyReport:
    """The daily report of the last *days* days up to *now_ms*: *entries* and *trades* are
    those of the window (others are left out), *fills* every fill of the account (the
    positions funding is shared by), *originals* as ``build_report`` takes them. ValueError
    unless *days* is 1 to MAX_DAYS."""
    start_ms = first_day_ms(days, now_ms)
    robot_of = order_robots(attribution, originals)
    windowed = [entry for entry in entries if start_ms <= entry.time_ms <= now_ms]
    parts = defaultdict[str, list[Share]](list)
    for share in entry_shares(windowed, fills, robot_of):
        parts[day_of(share.time_ms)].append(share)
    outcomes = _outcomes(windowed, trades, robot_of, start_ms, now_ms)
    key_of = None if by is None else attrgetter(by.value)  # a Share's or an _Outcome's field
    tallies = _tallies(outcomes, key_of)
    seen = {share.asset for day in parts.values() for share in day}
    assets = sorted(seen | {outcome.asset for outcome in outcomes}) or [_DEFAULT_ASSET]
    rows: list[DayFigures] = []
    for day in (day_of(start_ms + number * DAY_MS) for number in range(days)):
        totals = {row.asset: row for row in pnl_rows(parts[day], lambda _: TOTAL)}
        per_symbol = pnl_rows(parts[day], attrgetter("symbol"))
        for asset in assets:
            total = totals.get(asset) or PnlRow(TOTAL, asset, *_ZEROS)
            rows.append(_figures(day, total, tallies, _worst(per_symbol, asset)))
        if key_of is not None:
            keyed = {(row.key, row.asset): row for row in pnl_rows(parts[day], key_of)}
            traded = {(key, asset) for (on, key, asset) in tallies if on == day and key != TOTAL}
            for key, asset in sorted(keyed.keys() | traded):
                row = keyed.get((key, asset)) or PnlRow(key, asset, *_ZEROS)
                rows.append(_figures(day, row, tallies))
    return DailyReport(account, by, days, start_ms, now_ms, tuple(rows))


class _Outcome(NamedTuple):
    """A trade of the window: its day, robot, symbol, settlement asset and realized PnL."""

    day: str
    robot: str
    symbol: str
    asset: str
    realized_pnl: Decimal


def _outcomes(
    entries: Sequence[LedgerEntry],
    trades: Iterable[Trade],
    robot_of: Callable[[str, str], str],
    start_ms: int,
    end_ms: int,
) -> list[_Outcome]:
    """Every trade of the window, from *trades* (the fills) and the trades *entries* name."""
    known: dict[tuple[str, str], tuple[int, str]] = {}  # (symbol, trade id) → time, robot
    for trade in trades:
        if start_ms <= trade.time_ms <= end_ms:
            robot = robot_of(trade.symbol, trade.client_order_id)
            known.setdefault((trade.symbol, trade.trade_id), (trade.time_ms, robot))
    realized: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if entry.trade_id and entry.kind in _TRADE_KINDS:
            key = (entry.symbol, entry.trade_id)
            known.setdefault(key, (entry.time_ms, robot_of(entry.symbol, entry.client_order_id)))
            if entry.kind == "realized_pnl":
                realized[key] += entry.amount
    return [
        _Outcome(day_of(time_ms), robot, symbol, settlement_asset(symbol), realized[symbol, tid])
        for (symbol, tid), (time_ms, robot) in known.items()
    ]


def _tallies(
    outcomes: Iterable[_Outcome], key_of: Callable[[_Outcome], str] | None
) -> dict[tuple[str, str, str], _Tally]:
    """Trades, wins and losses per (day, key, asset): the day's total's (key TOTAL) and, with
    *key_of*, each key's."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for outcome in outcomes:
        for key in (TOTAL,) if key_of is None else (TOTAL, key_of(outcome)):
            tally = counts[outcome.day, key, outcome.asset]
            tally[0] += 1
            tally[1] += outcome.realized_pnl > 0
            tally[2] += outcome.realized_pnl < 0
    return {key: (trades, wins, losses) for key, (trades, wins, losses) in counts.items()}


def _figures(
    day: str,
    row: PnlRow,
    tallies: dict[tuple[str, str, str], _Tally],
    worst_symbol: str | None = None,
) -> DayFigures:
    trades, wins, losses = tallies.get((day, row.key, row.asset), (0, 0, 0))
    return DayFigures(
        day,
        row.key,
        row.asset,
        row.realized_pnl,
        row.commission,
        row.funding,
        trades,
        wins,
        losses,
        worst_symbol,
    )


def _worst(per_symbol: Iterable[PnlRow], asset: str) -> str | None:
    """The symbol of the lowest total in *asset* among *per_symbol* (sorted by symbol)."""
    rows = [row for row in per_symbol if row.asset == asset]
    return min(rows, key=attrgetter("total")).key if rows else None
