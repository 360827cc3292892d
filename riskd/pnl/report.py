"""Profit and loss per robot or per symbol of a shared account, from the ledger. Pure.

- Realized PnL and commission belong to the robot of their trade's order (its client id's
  prefix, ``riskd.risk.attribution``); :data:`UNATTRIBUTED` when riskd holds no fill of the
  trade or the client id matches no robot's prefix. An order riskd's OrderReaper sent in
  place of a robot's stale one (client id ``rp-<orderId>``) counts as the order it replaced:
  *originals* names that order's client id (the SQL layer finds it in ``orders``).
- A funding fee of a symbol is shared among whoever held the symbol at the funding time, in
  proportion to each one's signed position as the fills up to then built it (position sides
  summed): :func:`split_funding`.
- Other income (transfers, insurance clearance …) is not trading PnL and is left out.

Rows are per asset: a commission paid in BNB makes a BNB row beside the USDT one, as amounts
of different assets are never added. Amounts are signed as the ledger signs them: a cost
(commission, funding paid) is negative.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Final, NamedTuple

from riskd.risk.attribution import UNATTRIBUTED, Attribution, FilledQuantity
from riskd.risk.ledger import EntryKind, LedgerEntry

MAX_HOURS: Final = 24 * 365
"""The longest window a report covers."""
FUNDING_QUANTUM: Final = Decimal("1e-8")
"""Funding shares are rounded to Binance's 8 decimals (the largest holder takes the rest)."""
_COUNTED: Final[tuple[EntryKind, ...]] = ("realized_pnl", "commission", "funding_fee")

Originals = Mapping[tuple[str, str], str]
"""(symbol, a replacement's client id) → the client id of the order it replaced."""


class PnlGrouping(StrEnum):
    """What a report's rows are per."""

    ROBOT = "robot"
    SYMBOL = "symbol"


@dataclass(frozen=True, slots=True)
class PnlRow:
    """One robot's or symbol's PnL in one asset over the window."""

    key: str  # the robot, or the symbol
    asset: str
    realized_pnl: Decimal
    commission: Decimal
    funding: Decimal

    @property
    def total(self) -> Decimal:
        """Realized PnL, commission and funding together."""
        return self.realized_pnl + self.commission + self.funding

    def to_dict(self) -> dict[str, str]:
        """As JSON shows it: amounts as decimal strings without trailing zeros (the same from
        SQLite and MySQL, whose DECIMAL column pads them)."""
        amounts = {
            "realized_pnl": self.realized_pnl,
            "commission": self.commission,
            "funding": self.funding,
            "total": self.total,
        }
        return {"key": self.key, "asset": self.asset} | {
            name: decimal_text(amount) for name, amount in amounts.items()
        }


@dataclass(frozen=True, slots=True)
class PnlReport:
    """An account's PnL from *start_ms* to *end_ms* (both inclusive), per robot or symbol,
    of one robot only when *robot* is set; rows sorted by key, then asset."""

    account: str
    by: PnlGrouping
    robot: str | None
    start_ms: int
    end_ms: int
    rows: tuple[PnlRow, ...]

    def to_dict(self) -> dict[str, object]:
        """As ``GET /v1/pnl`` answers it (JSON-ready)."""
        return {
            "account": self.account,
            "by": self.by.value,
            "robot": self.robot,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "rows": [row.to_dict() for row in self.rows],
        }


def decimal_text(amount: Decimal) -> str:
    """*amount* as JSON shows it: a decimal string without exponent or trailing zeros."""
    return f"{amount.normalize():f}"


class Share(NamedTuple):
    """A robot's part of one entry, at the entry's time."""

    time_ms: int
    robot: str
    symbol: str
    asset: str
    kind: EntryKind
    amount: Decimal


def build_report(
    account: str,
    entries: Iterable[LedgerEntry],
    fills: Iterable[FilledQuantity],
    attribution: Attribution,
    *,
    by: PnlGrouping,
    start_ms: int,
    end_ms: int,
    robot: str | None = None,
    originals: Originals | None = None,
) -> PnlReport:
    """The report of *entries* from *start_ms* to *end_ms*; *fills* are every fill of the
    account (the positions funding is shared by). LookupError when *robot* is none of
    *attribution*'s robots (nor :data:`UNATTRIBUTED`)."""
    if robot is not None and robot not in (*attribution.robots, UNATTRIBUTED):
        raise LookupError(f"robot: no robot {robot!r} on account {account!r}")
    windowed = (entry for entry in entries if start_ms <= entry.time_ms <= end_ms)
    parts = entry_shares(windowed, fills, order_robots(attribution, originals))
    kept = (share for share in parts if robot is None or share.robot == robot)
    # A grouping's value names the Share field it groups by.
    return PnlReport(account, by, robot, start_ms, end_ms, pnl_rows(kept, attrgetter(by.value)))


def order_robots(
    attribution: Attribution, originals: Originals | None = None
) -> Callable[[str, str], str]:
    """The robot of an order by (symbol, client id): a replacement's is the robot of the order
    it replaced (*originals*)."""
    known = originals or {}

    def robot_of(symbol: str, client_order_id: str) -> str:
        return attribution.robot_of(known.get((symbol, client_order_id), client_order_id))

    return robot_of


def pnl_rows(parts: Iterable[Share], key_of: Callable[[Share], str]) -> tuple[PnlRow, ...]:
    """*parts* summed per key (*key_of* a share: its robot, its symbol …) and asset, sorted."""
    sums: dict[tuple[str, str], dict[EntryKind, Decimal]] = {}
    for share in parts:
        kinds = sums.setdefault((key_of(share), share.asset), dict.fromkeys(_COUNTED, Decimal(0)))
        kinds[share.kind] += share.amount
    return tuple(
        PnlRow(key, asset, kinds["realized_pnl"], kinds["commission"], kinds["funding_fee"])
        for (key, asset), kinds in sorted(sums.items())
    )


def split_funding(amount: Decimal, positions: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """*amount*, a funding fee of one symbol, shared among the holders of *positions* (each
    robot's signed position in it) in proportion to their positions: the fee was paid on the
    net position, so with A long 3 and B short 1 A bears 3/2 of it and B −1/2. Shares are
    rounded to FUNDING_QUANTUM, the largest position taking what rounding leaves, so they add
    up to *amount*. When the positions net to zero (nobody held any, or they cancel out), it
    all goes to :data:`UNATTRIBUTED`."""
    held = {robot: qty for robot, qty in sorted(positions.items()) if qty}
    net = sum(held.values(), Decimal(0))
    if net == 0:
        return {UNATTRIBUTED: amount}
    shares = {robot: (amount * qty / net).quantize(FUNDING_QUANTUM) for robot, qty in held.items()}
    largest = max(held, key=lambda robot: abs(held[robot]))
    shares[largest] += amount - sum(shares.values(), Decimal(0))
    return {robot: share for robot, share in shares.items() if share}


def entry_shares(
    entries: Iterable[LedgerEntry],
    fills: Iterable[FilledQuantity],
    robot_of: Callable[[str, str], str],
) -> Iterator[Share]:
    """Each counted entry's parts per robot, in time order. Funding is shared by the positions
    of the fills up to (and at) its time, which are replayed as the entries' time passes."""
    pending = sorted(fills, key=attrgetter("time_ms"))
    replayed = 0
    held: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entry in sorted(entries, key=attrgetter("time_ms")):
        if entry.kind == "funding_fee":
            while replayed < len(pending) and pending[replayed].time_ms <= entry.time_ms:
                fill = pending[replayed]
                held[fill.symbol][robot_of(fill.symbol, fill.client_order_id)] += fill.signed_qty
                replayed += 1
            for robot, amount in split_funding(entry.amount, held[entry.symbol]).items():
                yield Share(entry.time_ms, robot, entry.symbol, entry.asset, entry.kind, amount)
        elif entry.kind in _COUNTED:
            robot = robot_of(entry.symbol, entry.client_order_id)
            yield Share(entry.time_ms, robot, entry.symbol, entry.asset, entry.kind, entry.amount)
