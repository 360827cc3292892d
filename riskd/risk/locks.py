"""Locks and trading state: what a lock is, how wanted locks meet active ones, who is banned.

A lock bans opening a side (long, short or both) of a symbol, or of every symbol (``ALL``),
until ``until_ms`` (``None``: until an operator unlocks it). Locks only extend: ``reconcile``
lengthens a lock a rule still wants, never shortens one, and ends a lock only when its time is
up; ending one early is an operator's audited act (``riskd.risk.lock_store.unlock``). Pure:
the caller passes in the time in epoch milliseconds.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final, Literal, Protocol, cast, get_args

from riskd.core.bodies import (
    INT64_MAX,
    MAX_EPOCH_MS,
    choice,
    integer,
    json_object,
    shown,
    text,
)

PositionSide = Literal["long", "short"]
LockSide = Literal["long", "short", "both"]
LOCK_SIDES: Final = get_args(LockSide)  # a tuple: `in` takes unhashable values too
ALL: Final = "ALL"
"""The ``symbol`` of a lock that covers every symbol of the account."""
LockKey = tuple[str, str, str, str]  # (source, symbol, side, robot): which locks are "the same"
RULE_PREFIX: Final = "rule:"
OPERATOR_PREFIX: Final = "operator:"


def rule_source(rule_id: str) -> str:
    """Who a rule is, as a lock's source: ``rule:<id>``."""
    return f"{RULE_PREFIX}{rule_id}"


def operator_source(name: str) -> str:
    """Who an operator is, as a lock's source or an act's actor: ``operator:<name>``."""
    return f"{OPERATOR_PREFIX}{name}"


class TradingState(StrEnum):
    """What strategies may do on the account: everything the locks allow, only reduce, nothing."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


SEVERITY: Final = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def next_trading_state(
    current: TradingState,
    set_by_operator: bool,
    set_at_ms: int,
    wanted: TradingState | None,
    evidence_ms: int | None,
) -> TradingState | None:
    """The trading state to set now, or None to leave *current* as it is.

    A state the rules set follows what they want (*wanted*; None: ACTIVE, no rule sets one).
    An operator's state holds until an operator changes it, except that rules wanting a more
    severe state on evidence newer than the operator's act (at *set_at_ms*) escalate it.
    """
    target = wanted or TradingState.ACTIVE
    if target == current:
        return None
    if not set_by_operator:
        return target
    newer = evidence_ms is not None and evidence_ms > set_at_ms
    return target if newer and SEVERITY[target] > SEVERITY[current] else None


@dataclass(frozen=True, slots=True)
class LockRequest:
    """A lock someone wants: a rule (source ``rule:<id>``) or an operator (``operator:<name>``)."""

    symbol: str  # a symbol, or ALL
    side: LockSide
    reason_code: str
    reason_text: str
    source: str
    until_ms: int | None  # None: until an operator unlocks it
    # A rule's latest loss (or stop-out, or new equity low) behind the request: an operator's
    # unlock of the rule's lock holds until a newer one. None for an operator's request.
    evidence_ms: int | None = None
    # The loss behind a loss rule's request (the window's PnL, or equity's drop from its
    # peak), for alert cards; not stored with the lock.
    pnl_usdt: Decimal | None = None
    robot: str = ""  # the one robot banned; "": every robot of the account

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("a lock needs a symbol (or ALL)")
        if self.side not in LOCK_SIDES:
            raise ValueError(f"lock side must be long, short or both, not {shown(self.side)}")
        if not self.source:
            raise ValueError("a lock needs a source (rule:<id> or operator:<name>)")

    @property
    def key(self) -> LockKey:
        """(source, symbol, side, robot): the lock this request would create or extend."""
        return (self.source, self.symbol, self.side, self.robot)


@dataclass(frozen=True, slots=True)
class Lock:
    """A persisted lock; ``active`` is False once it expired or was unlocked."""

    id: int
    account: str
    symbol: str
    side: LockSide
    reason_code: str
    reason_text: str
    source: str
    until_ms: int | None
    created_ms: int
    active: bool
    robot: str = ""  # the one robot banned; "": every robot of the account

    @property
    def key(self) -> LockKey:
        """(source, symbol, side, robot): the lock a request with the same key would extend."""
        return (self.source, self.symbol, self.side, self.robot)


@dataclass(frozen=True, slots=True)
class LockChanges:
    """What ``reconcile`` decided: locks to create, to extend (to a new until) and to expire."""

    create: tuple[LockRequest, ...] = ()
    extend: tuple[tuple[Lock, int | None], ...] = ()
    expire: tuple[Lock, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.create or self.extend or self.expire)


def _later(until_ms: int | None, than_ms: int | None) -> bool:
    """Whether *until_ms* ends after *than_ms*; None is forever."""
    if than_ms is None:
        return False
    return until_ms is None or until_ms > than_ms


def reconcile(active: Sequence[Lock], wanted: Sequence[LockRequest], now_ms: int) -> LockChanges:
    """Turn the locks wanted now into changes to the *active* ones.

    A request matches the active lock with the same (source, symbol, side). A matching lock
    is extended when the request ends later (None is forever), and otherwise left alone. An
    active lock whose ``until_ms`` is at or before *now_ms* expires (a lock without an end
    never does); a request matching an expired lock creates a new one. Requests that end at
    or before *now_ms* are ignored. Active locks no longer wanted stay until their end.
    Several requests with the same key count as the one ending last.
    """
    live: dict[LockKey, Lock] = {}
    expire: list[Lock] = []
    for lock in active:
        if not lock.active:
            continue
        if lock.until_ms is not None and lock.until_ms <= now_ms:
            expire.append(lock)
        else:
            live[lock.key] = lock
    latest: dict[LockKey, LockRequest] = {}
    for request in wanted:
        if request.until_ms is not None and request.until_ms <= now_ms:
            continue
        seen = latest.get(request.key)
        if seen is None or _later(request.until_ms, seen.until_ms):
            latest[request.key] = request
    create: list[LockRequest] = []
    extend: list[tuple[Lock, int | None]] = []
    for key, request in latest.items():
        lock = live.get(key)
        if lock is None:
            create.append(request)
        elif _later(request.until_ms, lock.until_ms):
            extend.append((lock, request.until_ms))
    return LockChanges(create=tuple(create), extend=tuple(extend), expire=tuple(expire))


def not_overruled(
    wanted: Iterable[LockRequest], unlocked_ms: Mapping[LockKey, int]
) -> tuple[LockRequest, ...]:
    """The requests an operator's unlock does not overrule.

    *unlocked_ms* maps (source, symbol, side, robot) to when an operator last unlocked such a lock.
    A request with that key stands only on evidence newer than the unlock: a rule whose window
    still breaches on the same losses does not lock again, but a new loss does.
    """
    return tuple(
        request
        for request in wanted
        if request.key not in unlocked_ms
        or (request.evidence_ms is not None and request.evidence_ms > unlocked_ms[request.key])
    )


class BanningLock(Protocol):
    """What ``is_banned`` reads of a lock (a :class:`Lock`, a request, or a published one)."""

    @property
    def symbol(self) -> str: ...

    @property
    def side(self) -> str: ...

    @property
    def until_ms(self) -> int | None: ...

    @property
    def robot(self) -> str: ...


def is_banned(
    locks: Iterable[BanningLock],
    symbol: str,
    side: LockSide,
    now_ms: int,
    robot: str | None = None,
) -> bool:
    """Whether *locks* ban opening *side* of *symbol* at *now_ms* (for *robot*, if given): the
    one ban predicate.

    A lock applies to its symbol, or to every symbol when it is ``ALL``; a ``both`` lock bans
    both sides, and asking about ``both`` means either side (banned when either is). A lock
    bans while ``until_ms`` is None or after *now_ms*; an inactive :class:`Lock` bans nothing.
    A lock with a robot bans that robot only: it applies when *robot* is that robot.
    """
    for lock in locks:
        if isinstance(lock, Lock) and not lock.active:
            continue
        if lock.until_ms is not None and lock.until_ms <= now_ms:
            continue
        if lock.symbol not in (ALL, symbol):
            continue
        if lock.robot and lock.robot != robot:
            continue
        if "both" in (lock.side, side) or lock.side == side:
            return True
    return False


OPERATOR_REASON_CODE: Final = "operator"
SYMBOL_CHARS: Final = 32  # locks.symbol
# The name goes into a lock's source and an act's actor as "operator:<name>" (96 wide).
OPERATOR_CHARS: Final = 64
ROBOT_CHARS: Final = 16  # locks.robot
REASON_CHARS: Final = 512  # locks.reason_text, trading_states.reason, lock_events.detail
_STATES: Final = tuple(TradingState)
_SYMBOL_ASCII: Final = frozenset(string.ascii_uppercase + string.digits + "_")


class SymbolListUnavailable(Exception):
    """The exchange's list of symbols is not known, so a lock's symbol cannot be checked."""


@dataclass(frozen=True, slots=True)
class StateRequest:
    """An operator's trading state for an account, with who and why."""

    state: TradingState
    operator: str
    reason: str

    @property
    def actor(self) -> str:
        """Who the audit names: ``operator:<name>``."""
        return operator_source(self.operator)


@dataclass(frozen=True, slots=True)
class UnlockRequest:
    """An operator's unlock of one lock, with who and why."""

    lock_id: int
    operator: str
    reason: str

    @property
    def actor(self) -> str:
        """Who the audit names: ``operator:<name>``."""
        return operator_source(self.operator)


def operator_state_request(body: object) -> StateRequest:
    """An operator's trading state from a JSON body: ``{"state", "reason", "operator"}``,
    the state exactly as it is named (``HALTED``). ValueError names the field that is wrong."""
    fields = json_object(body, {"account", "state", "reason", "operator"})
    return StateRequest(
        TradingState(choice("state", fields.get("state"), _STATES)),
        text("operator", fields.get("operator"), OPERATOR_CHARS),
        text("reason", fields.get("reason"), REASON_CHARS),
    )


def operator_lock_request(body: object) -> LockRequest:
    """An operator's lock from a JSON body: ``{"symbol", "side"?, "reason", "operator",
    "until_ms"?, "robot"?}`` (side defaults to both; no until_ms: until unlocked; no robot:
    every robot). ValueError names the field that is wrong; whether the exchange lists the
    symbol, and whether the robot trades on the account, is the caller's to check."""
    keys = {"account", "symbol", "side", "reason", "operator", "until_ms", "robot"}
    body = json_object(body, keys)
    until_ms = body.get("until_ms")
    robot = body.get("robot", "")
    return LockRequest(
        symbol=lock_symbol(body.get("symbol")),
        side=cast(LockSide, choice("side", body.get("side", "both"), LOCK_SIDES)),
        reason_code=OPERATOR_REASON_CODE,
        reason_text=text("reason", body.get("reason"), REASON_CHARS),
        source=operator_source(text("operator", body.get("operator"), OPERATOR_CHARS)),
        until_ms=None if until_ms is None else integer("until_ms", until_ms, 1, MAX_EPOCH_MS),
        robot=text("robot", robot, ROBOT_CHARS) if robot != "" else "",
    )


def operator_unlock_request(lock_id: object, operator: object, reason: object) -> UnlockRequest:
    """An operator's unlock of lock *lock_id*. ValueError names the field that is wrong."""
    return UnlockRequest(
        integer("lock id", lock_id, 1, INT64_MAX),
        text("operator", operator, OPERATOR_CHARS),
        text("reason", reason, REASON_CHARS),
    )


def lock_symbol(value: object) -> str:
    """*value* as a lock's symbol: ALL, or a symbol spelled as exchangeInfo spells it (upper-case
    ASCII letters, digits and ``_``, as in ``BTCUSDT_250926``; Binance also lists symbols in
    other scripts, so letters and digits beyond ASCII pass too). Only the format is checked."""
    symbol = text("symbol", value, SYMBOL_CHARS)
    if not all(ch in _SYMBOL_ASCII if ch.isascii() else ch.isalnum() for ch in symbol):
        raise ValueError(
            f"symbol: {shown(symbol)} is not a symbol: upper-case letters, digits and _ "
            "as the exchange lists it (BTCUSDT), or ALL"
        )
    return symbol
