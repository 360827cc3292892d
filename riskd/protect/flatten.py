"""The emergency flatten's decisions: what it stops, cancels and closes, the slices it sends,
how far it got, and its report. Pure: the Trader (``actors/trader.py`` ``flatten``) reads the
exchange, calls the Ledger and sends what these functions decide, and passes the time in.

A flatten's scope is an account, one symbol of it, or one robot (on one symbol or on all):

1. **Stop new risk.** An account's flatten halts it (the operator's HALTED); a symbol's locks
   that symbol, both sides, for every robot; a robot's locks that robot only (on its symbol,
   or ALL), leaving the other robots trading.
2. **Cancel** the open orders in scope (a robot's by its client-id prefixes,
   ``riskd.risk.attribution``), regular and conditional, but never the StopLadder's rungs
   (``RUNG_PREFIX``): the ladder keeps covering each position until it is flat.
3. **Close** the positions in scope with MARKET orders that can only reduce (one-way mode:
   ``reduceOnly``; hedge mode: the position's ``positionSide``, which Binance requires
   without ``reduceOnly``), each at most the symbol's MARKET_LOT_SIZE maximum, on its step,
   none below its minimum (:func:`market_slices`). A robot's flatten closes what the robot's
   own fills built (``robot_positions``), never more than the account holds on that side.
4. **Confirm** flat from the exchange's positions; what is still open is sliced and sent
   again, at most ``confirm_attempts`` times in all.
5. **Report** every step, every cancel and slice with the exchange's code and message, and
   exactly what is left and why (:class:`FlattenReport`).

Quantities are Decimal; client ids are deterministic per flatten (its start time and a
sequence), so a placement whose outcome is unknown is looked up, never sent twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import Field

from riskd.core.bodies import json_object, shown, text
from riskd.core.frozen import FrozenModel
from riskd.exchange.filters import SymbolFilters
from riskd.orders import OpenAlgoOrder, OpenOrder
from riskd.positions import PositionKey
from riskd.protect.ladder import RUNG_PREFIX
from riskd.risk.attribution import Attribution, RobotPositionKey
from riskd.risk.locks import ALL, OPERATOR_CHARS, REASON_CHARS, lock_symbol
from riskd.trade.config import ROBOT_NAME

FLATTEN_PREFIX: Final = "fl-"
"""Where the client ids of an account's or a symbol's flatten slices begin (a robot's
flatten uses the robot's own prefix, so its closing fills are the robot's)."""
ROBOT_SLICE_TAG: Final = "f"
"""After a robot's prefix, what marks a flatten's slice (the gate's ids have none)."""
MAX_SEQUENCE: Final = 36**4 - 1
ZERO: Final = Decimal(0)
_BASE36: Final = "0123456789abcdefghijklmnopqrstuvwxyz"
T = TypeVar("T")


class FlattenConfig(FrozenModel):
    """How hard a flatten tries (``[accounts.flatten]``).

    ``confirm_attempts``: rounds of sending what is still open, each followed by a read of the
    exchange's positions; ``confirm_interval_ms``: the wait before a read when a round's
    answers do not all say filled, and before a retry; ``timeout_ms``: the whole flatten's
    limit, past which it stops and reports what is left; ``max_in_flight``: placements and
    cancels sent at once (the account's order budget paces them either way).
    """

    confirm_attempts: int = Field(3, ge=1, le=10)
    confirm_interval_ms: int = Field(250, ge=0, le=60_000)
    timeout_ms: int = Field(30_000, ge=1_000, le=600_000)
    max_in_flight: int = Field(5, ge=1, le=50)


class FlattenBusy(Exception):
    """A flatten of the account is already running."""


class UnknownSymbol(LookupError):
    """The exchange does not list the symbol a flatten names."""


# ------------------------------------------------------------------------ the request


@dataclass(frozen=True, slots=True)
class FlattenScope:
    """What a flatten covers: *symbol* ("" every symbol) of *robot* ("" every robot's, and
    orders and positions no robot owns)."""

    symbol: str = ""
    robot: str = ""

    def covers(self, symbol: str) -> bool:
        return not self.symbol or symbol == self.symbol

    @property
    def lock_symbol(self) -> str:
        """The symbol of the lock a symbol's or a robot's flatten takes: its symbol, or ALL."""
        return self.symbol or ALL

    def __str__(self) -> str:
        if self.robot:
            return f"robot {self.robot}" + (f" on {self.symbol}" if self.symbol else "")
        return f"symbol {self.symbol}" if self.symbol else "account"


@dataclass(frozen=True, slots=True)
class FlattenRequest:
    """An operator's flatten: its scope, who asks and why."""

    scope: FlattenScope
    operator: str
    reason: str


def flatten_request(body: object) -> FlattenRequest:
    """A flatten from a JSON body: ``{"operator", "reason", "symbol"?, "robot"?,
    "account"?}`` (the account is the caller's to resolve). ValueError names the field that
    is wrong; whether the exchange lists the symbol, and the robot trades on the account, is
    the caller's to check."""
    fields = json_object(body, {"account", "symbol", "robot", "operator", "reason"})
    symbol = fields.get("symbol")
    if symbol is not None:
        symbol = lock_symbol(symbol)
        if symbol == ALL:
            raise ValueError("symbol: leave it out to flatten every symbol (ALL is not a symbol)")
    robot = fields.get("robot")
    if robot is not None and not (isinstance(robot, str) and re.fullmatch(ROBOT_NAME, robot)):
        raise ValueError(
            f"robot: {shown(robot)} is not a robot's name (1 to 16 letters, digits, - or _)"
        )
    return FlattenRequest(
        FlattenScope(symbol or "", robot or ""),
        text("operator", fields.get("operator"), OPERATOR_CHARS),
        text("reason", fields.get("reason"), REASON_CHARS),
    )


# ------------------------------------------------------------------------ what to cancel


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """The open orders a flatten cancels, and how many ladder rungs in scope it keeps."""

    orders: tuple[OpenOrder, ...]
    algo_orders: tuple[OpenAlgoOrder, ...]
    kept_rungs: int


def orders_to_cancel(
    scope: FlattenScope,
    orders: Iterable[OpenOrder],
    algo_orders: Iterable[OpenAlgoOrder],
    attribution: Attribution,
) -> CancelPlan:
    """The open orders in *scope* (a robot's: those *attribution* gives it), regular and
    conditional, but not the StopLadder's rungs (client ids starting with RUNG_PREFIX)."""

    def in_scope(symbol: str, client_id: str) -> bool:
        return scope.covers(symbol) and (
            not scope.robot or attribution.robot_of(client_id) == scope.robot
        )

    def split(items: Sequence[T], keys: Sequence[tuple[str, str]]) -> tuple[tuple[T, ...], int]:
        """(the items in scope to cancel, how many ladder rungs in scope stay); *keys*: each
        item's (symbol, client id)."""
        cancel, kept = [], 0
        for item, (symbol, client_id) in zip(items, keys, strict=True):
            if client_id.startswith(RUNG_PREFIX):
                kept += scope.covers(symbol)
            elif in_scope(symbol, client_id):
                cancel.append(item)
        return tuple(cancel), kept

    regulars, algos = tuple(orders), tuple(algo_orders)
    regular, kept_regular = split(regulars, [(o.symbol, o.client_order_id) for o in regulars])
    conditional, kept_algo = split(algos, [(a.symbol, a.client_algo_id) for a in algos])
    return CancelPlan(regular, conditional, kept_regular + kept_algo)


# ------------------------------------------------------------------------ what to close


class LeftReason(StrEnum):
    """Why a position in scope is still open when the flatten ends."""

    DUST = "dust"  # below the symbol's MARKET_LOT_SIZE minimum (or its step): no order closes it
    REJECTED = "rejected"  # the exchange refused its last slice (its code and message)
    EXCHANGE_ERROR = "exchange_error"  # its last slice failed (banned, rate-limited, unknown …)
    NOT_CONFIRMED = "not_confirmed"  # still open after every attempt
    TIMED_OUT = "timed_out"  # the flatten ran out of time
    NO_FILTERS = "no_filters"  # the symbol's filters are unknown: riskd cannot size an order
    NOT_HELD = "not_held"  # a robot's fills hold more than the account does on that side
    STOPPED = "stopped"  # the flatten stopped early (why: its detail)


@dataclass(frozen=True, slots=True)
class Target:
    """A position the flatten reduces: the account's signed amount when it started, and the
    amount to reach (0, or what the other robots hold in a robot's flatten)."""

    symbol: str
    position_side: str  # BOTH (one-way), LONG or SHORT (hedge mode)
    start: Decimal
    goal: Decimal

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.symbol, self.position_side)

    @property
    def quantity(self) -> Decimal:
        """How much the flatten closes."""
        return abs(self.start - self.goal)

    @property
    def side(self) -> str:
        """The side of the orders that close it."""
        return "SELL" if self.start > 0 else "BUY"

    def remaining(self, amount: Decimal) -> Decimal:
        """How much is still to close when the account holds *amount* on this key (nothing
        once it is flat, or on the other side)."""
        if amount == 0 or (amount > 0) != (self.start > 0):
            return ZERO
        return max(ZERO, abs(amount) - abs(self.goal))


@dataclass(frozen=True, slots=True)
class LeftPosition:
    """What is still open of the scope when the flatten ends (signed), and why."""

    symbol: str
    position_side: str
    amount: Decimal
    reason: LeftReason
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "position_side": self.position_side,
            "amount": f"{self.amount:f}",
            "reason": self.reason.value,
            "detail": self.detail,
        }


def _signed(quantity: Decimal, like: Decimal) -> Decimal:
    return quantity if like > 0 else -quantity


def scope_targets(
    scope: FlattenScope,
    positions: Mapping[PositionKey, Decimal],
    held: Mapping[RobotPositionKey, Decimal] | None = None,
) -> tuple[tuple[Target, ...], tuple[LeftPosition, ...]]:
    """What a flatten of *scope* closes, given the account's *positions* (signed, by key), and
    for a robot's flatten what each robot's fills hold (*held*, ``robot_positions``): every
    position in scope in full, or the robot's own, at most what the account holds on that
    side (the rest of the robot's is left, NOT_HELD)."""
    if not scope.robot:
        targets = tuple(
            Target(key.symbol, key.position_side, amount, ZERO)
            for key, amount in sorted(positions.items())
            if amount and scope.covers(key.symbol)
        )
        return targets, ()
    closing: list[Target] = []
    left: list[LeftPosition] = []
    for (robot, symbol, position_side), mine in sorted((held or {}).items()):
        if robot != scope.robot or not mine or not scope.covers(symbol):
            continue
        account = positions.get(PositionKey(symbol, position_side), ZERO)
        same_side = account != 0 and (account > 0) == (mine > 0)
        close = min(abs(mine), abs(account)) if same_side else ZERO
        if close:
            goal = account - _signed(close, account)
            closing.append(Target(symbol, position_side, account, goal))
        if abs(mine) > close:
            left.append(
                LeftPosition(
                    symbol,
                    position_side,
                    mine - _signed(close, mine),
                    LeftReason.NOT_HELD,
                    f"robot {robot}'s fills hold {mine:f}, the account {account:f} on this "
                    "side: riskd closes no more than the account holds",
                )
            )
    return tuple(closing), tuple(left)


def market_slices(quantity: Decimal, filters: SymbolFilters) -> tuple[tuple[Decimal, ...], Decimal]:
    """*quantity* as MARKET order quantities within the symbol's MARKET_LOT_SIZE (each on its
    step, at most its maximum, none below its minimum), and what no slice can carry: the part
    below one step, or all of it when below the minimum. A remainder below the minimum after
    full slices borrows from the last full slice, so the whole quantity goes out."""
    low = filters.market_min_qty
    high = filters.floor_quantity(filters.market_max_qty, market=True)
    total = filters.floor_quantity(quantity, market=True) if quantity > 0 else ZERO
    if total <= 0 or total < low or high < low or high <= 0:
        return (), quantity
    full, rest = divmod(total, high)
    slices = [high] * int(full)
    if rest:
        if rest >= low:
            slices.append(rest)
        elif slices and high - (low - rest) >= low:
            slices[-1] = high - (low - rest)
            slices.append(low)
        else:  # cannot be split within the filter: leave the remainder
            return tuple(slices), quantity - sum(slices, ZERO)
    return tuple(slices), quantity - total


@dataclass(frozen=True, slots=True)
class Slice:
    """One closing MARKET order of a flatten."""

    symbol: str
    position_side: str
    side: str
    quantity: Decimal
    client_order_id: str
    attempt: int

    @property
    def key(self) -> PositionKey:
        return PositionKey(self.symbol, self.position_side)

    def params(self, filters: SymbolFilters) -> dict[str, str]:
        """POST /fapi/v1/order's parameters: reduce-only in one-way mode; in hedge mode the
        position's side, and no ``reduceOnly`` (Binance refuses it there). The answer is the
        order's result (``newOrderRespType=RESULT``): its status and what it filled."""
        params = {
            "symbol": self.symbol,
            "side": self.side,
            "type": "MARKET",
            "quantity": filters.format_quantity(self.quantity, market=True),
            "newClientOrderId": self.client_order_id,
            "newOrderRespType": "RESULT",
        }
        if self.position_side == "BOTH":
            params["reduceOnly"] = "true"
        else:
            params["positionSide"] = self.position_side
        return params


def slice_client_id(robot_prefix: str, started_ms: int, sequence: int) -> str:
    """A slice's client id: the robot's prefix (a robot's flatten; its fills are then the
    robot's) and ``f``, or ``fl-``; the flatten's start in hex; the sequence in base 36."""
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"slice sequence {sequence} is outside 0..{MAX_SEQUENCE}")
    digits = "".join(_BASE36[sequence // 36**power % 36] for power in (3, 2, 1, 0))
    if robot_prefix:
        return f"{robot_prefix}{ROBOT_SLICE_TAG}{started_ms:x}{digits}"
    return f"{FLATTEN_PREFIX}{started_ms:x}-{digits}"


# ------------------------------------------------------------------------ the report


class FlattenStep(StrEnum):
    STOP = "stop"  # stop new risk: HALTED, or a lock
    CANCEL = "cancel"  # the open orders in scope
    CLOSE = "close"  # the first round of slices
    CONFIRM = "confirm"  # flat, as the exchange's positions say; retries of what is left


class StepStatus(StrEnum):
    PENDING = "pending"  # not reached (the flatten stopped before)
    DONE = "done"
    PARTIAL = "partial"  # some of it failed
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to do


class SliceStatus(StrEnum):
    SENDING = "sending"  # sent, no answer yet
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    PLACED = "placed"  # accepted; its answer did not say it filled
    REJECTED = "rejected"  # refused by the exchange (code and message)
    FAILED = "failed"  # not sent, or no answer (banned, rate-limited, transport)
    UNKNOWN = "unknown"  # the flatten timed out while it was in flight


class FlattenOutcome(StrEnum):
    RUNNING = "running"  # in SQL while it runs (or if the Trader died)
    FLAT = "flat"  # new risk stopped, orders cancelled, confirmed flat: nothing left
    INCOMPLETE = "incomplete"  # something is left, or a step failed (the report says what)


FILLED_STATUSES: Final = frozenset({SliceStatus.FILLED, SliceStatus.PARTIALLY_FILLED})
_GOOD_SLICES: Final = frozenset({SliceStatus.FILLED, SliceStatus.PLACED})


@dataclass(frozen=True, slots=True)
class StepReport:
    step: FlattenStep
    status: StepStatus
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step.value, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class CancelReport:
    """One order the flatten cancelled, or tried to (``error``: why not)."""

    symbol: str
    client_id: str
    order_id: int  # the algo id of a conditional order
    algo: bool
    cancelled: bool
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "client_id": self.client_id,
            "order_id": self.order_id,
            "algo": self.algo,
            "cancelled": self.cancelled,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class SliceReport:
    """A slice and what became of it: what it filled, or the exchange's code and message."""

    slice: Slice
    status: SliceStatus
    filled_qty: Decimal | None = None  # None: the answer did not say
    code: int | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        s = self.slice
        return {
            "symbol": s.symbol,
            "position_side": s.position_side,
            "side": s.side,
            "quantity": f"{s.quantity:f}",
            "client_order_id": s.client_order_id,
            "attempt": s.attempt,
            "status": self.status.value,
            "filled_qty": None if self.filled_qty is None else f"{self.filled_qty:f}",
            "code": self.code,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class FlattenReport:
    """What a flatten did and what it left: returned, stored (``flattens.report``), alerted."""

    account: str
    scope: str
    operator: str
    reason: str
    started_ms: int
    ended_ms: int
    outcome: FlattenOutcome
    steps: tuple[StepReport, ...]
    cancelled: tuple[CancelReport, ...]
    kept_rungs: int
    slices: tuple[SliceReport, ...]
    left: tuple[LeftPosition, ...]
    closed: int  # positions in scope the flatten had to close
    id: int | None = None  # the flattens row

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "scope": self.scope,
            "operator": self.operator,
            "reason": self.reason,
            "started_ms": self.started_ms,
            "ended_ms": self.ended_ms,
            "outcome": self.outcome.value,
            "steps": [step.to_dict() for step in self.steps],
            "cancelled": [cancel.to_dict() for cancel in self.cancelled],
            "kept_rungs": self.kept_rungs,
            "slices": [report.to_dict() for report in self.slices],
            "left": [position.to_dict() for position in self.left],
            "closed": self.closed,
        }


# ------------------------------------------------------------------------ progress


@dataclass(slots=True)
class _Failure:
    reason: LeftReason
    detail: str


@dataclass(slots=True)
class FlattenProgress:
    """One flatten as it goes: what the Trader did and read, and what to send next.

    The Trader tells it each step's outcome, the positions it reads, each slice's answer;
    it plans the next round's slices from the latest read, never more than is still to close
    by the answers (so a read that lags a fill does not close twice), and builds the report.
    """

    account: str
    request: FlattenRequest
    started_ms: int
    robot_prefix: str = ""  # the robot's client-id prefix, for a robot's flatten
    steps: dict[FlattenStep, StepReport] = field(default_factory=dict)
    cancels: list[CancelReport] = field(default_factory=list)
    kept_rungs: int = 0
    targets: tuple[Target, ...] | None = None  # None until the positions were read
    not_held: tuple[LeftPosition, ...] = ()
    amounts: dict[PositionKey, Decimal] = field(default_factory=dict)  # the latest read
    reports: list[SliceReport] = field(default_factory=list)
    stopped: _Failure | None = None  # why the flatten stopped early
    unsized: dict[PositionKey, str] = field(default_factory=dict)  # no filters: why
    filters: Mapping[str, SymbolFilters] = field(default_factory=dict)  # the latest used
    read_since_sent: bool = False  # a read of the positions after the latest slice's answer
    attempts: int = 0  # the rounds of slices sent
    _sequence: int = 0

    def __post_init__(self) -> None:
        for step in FlattenStep:
            self.steps.setdefault(step, StepReport(step, StepStatus.PENDING))

    @property
    def scope(self) -> FlattenScope:
        return self.request.scope

    def step(self, step: FlattenStep, status: StepStatus, detail: str = "") -> None:
        self.steps[step] = StepReport(step, status, detail)

    def stop(self, reason: LeftReason, detail: str) -> None:
        """The flatten stops early (timed out, banned, positions unreadable): *detail* says why."""
        if self.stopped is None:
            self.stopped = _Failure(reason, detail)

    # -------------------------------------------------------------- cancels

    def cancel_planned(self, plan: CancelPlan) -> None:
        self.kept_rungs = plan.kept_rungs

    def cancelled(
        self, symbol: str, client_id: str, order_id: int, *, algo: bool, error: str = ""
    ) -> None:
        """An order cancelled (or already gone), or not (*error*: the exchange's words)."""
        self.cancels.append(CancelReport(symbol, client_id, order_id, algo, not error, error))

    def cancels_finished(self) -> None:
        failed = [c for c in self.cancels if not c.cancelled]
        kept = f"; {self.kept_rungs} ladder rung(s) kept" if self.kept_rungs else ""
        if not self.cancels:
            self.step(FlattenStep.CANCEL, StepStatus.SKIPPED, f"no open order in scope{kept}")
        elif not failed:
            self.step(FlattenStep.CANCEL, StepStatus.DONE, f"{len(self.cancels)} cancelled{kept}")
        else:
            status = StepStatus.FAILED if len(failed) == len(self.cancels) else StepStatus.PARTIAL
            detail = f"{len(self.cancels) - len(failed)} cancelled, {len(failed)} not{kept}"
            self.step(FlattenStep.CANCEL, status, f"{detail}: {failed[0].error}")

    # -------------------------------------------------------------- positions and slices

    def positions_read(
        self,
        positions: Mapping[PositionKey, Decimal],
        held: Mapping[RobotPositionKey, Decimal] | None = None,
    ) -> None:
        """The account's positions as the exchange reports them now (the first read sets the
        targets; *held*: what each robot's fills hold, for a robot's flatten)."""
        self.amounts = {key: amount for key, amount in positions.items() if amount}
        if self.targets is None:
            self.targets, self.not_held = scope_targets(self.scope, self.amounts, held)
        self.read_since_sent = True

    def filled(self, key: PositionKey) -> Decimal:
        """What this flatten's slices of *key* filled, by their answers."""
        return sum(
            (r.filled_qty for r in self.reports if r.slice.key == key and r.filled_qty),
            ZERO,
        )

    def remaining(self) -> dict[PositionKey, Decimal]:
        """What the latest read of the exchange shows still open of each target."""
        remaining = {}
        for target in self.targets or ():
            left = target.remaining(self.amounts.get(target.key, ZERO))
            if left > 0:
                remaining[target.key] = left
        return remaining

    def to_send(self) -> dict[PositionKey, Decimal]:
        """What to send now: what the exchange shows open, but never more than the slices'
        answers leave to close (a read that lags a fill must not close twice)."""
        to_send = {}
        for key, left in self.remaining().items():
            target = next(t for t in self.targets or () if t.key == key)
            quantity = min(left, target.quantity - self.filled(key))
            if quantity > 0:
                to_send[key] = quantity
        return to_send

    @property
    def flat(self) -> bool:
        """Whether a read after the last slice shows nothing of the scope open."""
        return self.targets is not None and self.read_since_sent and not self.remaining()

    def next_slices(self, filters: Mapping[str, SymbolFilters], attempt: int) -> list[Slice]:
        """The slices that close what is still open, for round *attempt*."""
        self.filters = filters
        by_key = {target.key: target for target in self.targets or ()}
        slices: list[Slice] = []
        for key, quantity in sorted(self.to_send().items()):
            symbol_filters = filters.get(key.symbol)
            if symbol_filters is None:
                self.unsized[key] = f"riskd has no filters of {key.symbol} from exchangeInfo"
                continue
            self.unsized.pop(key, None)
            quantities, _dust = market_slices(quantity, symbol_filters)
            for amount in quantities:
                client_id = slice_client_id(self.robot_prefix, self.started_ms, self._sequence)
                self._sequence += 1
                side = by_key[key].side
                slices.append(
                    Slice(key.symbol, key.position_side, side, amount, client_id, attempt)
                )
        return slices

    def sending(self, sent: Slice) -> None:
        self.reports.append(SliceReport(sent, SliceStatus.SENDING))
        self.read_since_sent = False

    def answered(
        self,
        sent: Slice,
        status: SliceStatus,
        filled_qty: Decimal | None = None,
        code: int | None = None,
        message: str = "",
    ) -> None:
        """What became of slice *sent*."""
        for index, report in enumerate(self.reports):
            if report.slice == sent:
                self.reports[index] = SliceReport(sent, status, filled_qty, code, message)
                return
        self.reports.append(SliceReport(sent, status, filled_qty, code, message))

    def closed(self) -> None:
        """After the first round: the close step's status, from its slices' answers."""
        first = [r for r in self.reports if r.slice.attempt == 1]
        if not self.targets:
            self.step(FlattenStep.CLOSE, StepStatus.SKIPPED, "no position open in scope")
            return
        good = [r for r in first if r.status in _GOOD_SLICES or r.status in FILLED_STATUSES]
        detail = f"{len(self.targets)} position(s), {len(first)} slice(s), {len(good)} placed"
        if first and len(good) == len(first):
            self.step(FlattenStep.CLOSE, StepStatus.DONE, detail)
        elif good:
            self.step(FlattenStep.CLOSE, StepStatus.PARTIAL, f"{detail}: {_why(first)}")
        else:
            why = _why(first) or "no slice could be sized (see left)"
            self.step(FlattenStep.CLOSE, StepStatus.FAILED, f"{detail}: {why}")

    # -------------------------------------------------------------- the end

    def report(self, ended_ms: int) -> FlattenReport:
        """The report, once the flatten ends."""
        attempts = self.attempts
        reports = tuple(
            SliceReport(r.slice, SliceStatus.UNKNOWN, message="in flight when the flatten stopped")
            if r.status is SliceStatus.SENDING
            else r
            for r in self.reports
        )
        self.reports = list(reports)
        left = (*self._left(attempts), *self.not_held)
        confirm = self.steps[FlattenStep.CONFIRM]
        if self.targets is not None and confirm.status is StepStatus.PENDING:
            if self.flat:
                self.step(FlattenStep.CONFIRM, StepStatus.DONE, "the exchange reports flat")
            elif self.stopped is not None:
                self.step(FlattenStep.CONFIRM, StepStatus.FAILED, self.stopped.detail)
            else:
                open_now = len(self.remaining())
                self.step(
                    FlattenStep.CONFIRM,
                    StepStatus.FAILED,
                    f"{open_now} position(s) still open after {attempts} attempt(s)",
                )
        for step in FlattenStep:  # not reached: the flatten stopped before
            if self.steps[step].status is StepStatus.PENDING:
                why = self.stopped.detail if self.stopped is not None else "not reached"
                self.step(step, StepStatus.FAILED, why)
        steps = tuple(self.steps[step] for step in FlattenStep)
        # The first round may fail and a retry close it all: flat is new risk stopped, the
        # orders cancelled, and the exchange showing nothing of the scope open.
        done = all(
            s.status in (StepStatus.DONE, StepStatus.SKIPPED)
            for s in steps
            if s.step is not FlattenStep.CLOSE
        )
        outcome = FlattenOutcome.FLAT if done and not left else FlattenOutcome.INCOMPLETE
        return FlattenReport(
            account=self.account,
            scope=str(self.scope),
            operator=self.request.operator,
            reason=self.request.reason,
            started_ms=self.started_ms,
            ended_ms=ended_ms,
            outcome=outcome,
            steps=steps,
            cancelled=tuple(self.cancels),
            kept_rungs=self.kept_rungs,
            slices=reports,
            left=tuple(left),
            closed=len(self.targets or ()),
        )

    def _left(self, attempts: int) -> list[LeftPosition]:
        left: list[LeftPosition] = []
        last: dict[PositionKey, SliceReport] = {}
        for report in self.reports:
            last[report.slice.key] = report
        remaining = self.remaining()
        for target in self.targets or ():
            quantity = remaining.get(target.key)
            if quantity is None:
                continue
            amount = _signed(quantity, target.start)
            reason, detail = self._why_left(target, quantity, last.get(target.key), attempts)
            left.append(LeftPosition(target.symbol, target.position_side, amount, reason, detail))
        return left

    def _why_left(
        self, target: Target, quantity: Decimal, last: SliceReport | None, attempts: int
    ) -> tuple[LeftReason, str]:
        if target.key in self.unsized:
            return LeftReason.NO_FILTERS, self.unsized[target.key]
        if last is not None and last.status is SliceStatus.REJECTED:
            return LeftReason.REJECTED, f"code {last.code}: {last.message}"
        if last is not None and last.status in (SliceStatus.FAILED, SliceStatus.UNKNOWN):
            return LeftReason.EXCHANGE_ERROR, last.message
        if last is not None and last.filled_qty and self.filled(target.key) >= target.quantity:
            return LeftReason.NOT_CONFIRMED, (
                f"the orders' answers say {self.filled(target.key):f} filled, yet the exchange "
                f"still shows {quantity:f} open after {attempts} attempt(s)"
            )
        filters = self.filters.get(target.symbol)
        if filters is not None and not market_slices(quantity, filters)[0]:
            return LeftReason.DUST, (
                f"{quantity:f} is below what one MARKET order of {target.symbol} may carry "
                f"(MARKET_LOT_SIZE minimum {filters.market_min_qty:f}, step "
                f"{filters.market_step_size:f}): close it by hand"
            )
        if self.stopped is not None:
            return self.stopped.reason, self.stopped.detail
        return LeftReason.NOT_CONFIRMED, f"still open after {attempts} attempt(s)"


def _why(reports: Sequence[SliceReport]) -> str:
    """The first failure among *reports*, as the exchange said it."""
    for report in reports:
        if report.status is SliceStatus.REJECTED:
            return f"rejected, code {report.code}: {report.message}"
        if report.status in (SliceStatus.FAILED, SliceStatus.UNKNOWN):
            return report.message
    return ""
