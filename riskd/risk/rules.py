"""The loss rules: which locks and which trading state the account's recent history calls for.

Every rule looks back over a sliding window ``(now_ms - window_ms, now_ms]`` and, while it
breaches, wants a lock (``source`` ``rule:<id>``) and optionally a trading state:

- ``symbol_pnl``: a symbol's PnL over the window ≤ ``threshold_usdt`` locks that symbol;
- ``account_pnl``: the account's PnL over the window ≤ ``threshold_usdt`` locks ALL;
- ``drawdown``: the latest equity (wallet + uPnL) minus its peak over the window, in USDT (not
  percent), ≤ ``threshold_usdt`` locks ALL;
- ``stop_streak``: ``count`` or more stop-outs of a symbol in the window lock that symbol;
- ``cooldown``: any stop-out of a symbol in the window locks that symbol;
- ``leverage`` (exposure): the gross notional of the positions over the equity above
  ``max_leverage`` locks ALL;
- ``symbol_notional`` (exposure): one symbol's gross notional above ``max_notional_usdt``
  locks that symbol.

Exposure rules read the live book (positions at their mark, or their entry price when no mark
is known; every position counts, those opened outside riskd too) and breach while it is above
the limit: their locks hold ``hold_ms`` past the last pass that saw the breach, or ``lock_ms``.

``scope = "robot"`` judges each robot apart, by the entries attributed to it
(``riskd.risk.attribution``): a robot's symbol PnL locks that robot on the symbol, its account
PnL or drawdown (of its cumulative PnL) locks it on ALL, a stop-out counts for each robot that
held the side stopped (by its fills) and locks it on the symbol, and the other robots trade on.
Unattributed entries count for no robot; the exposure kinds judge the account only.

A rule *acts* by ``action``: ``lock`` (the lock alone), ``reduce`` (and the account REDUCING
while it breaches), ``halt`` (HALTED) or ``flatten`` (HALTED, and the account's positions, or
the robot's, closed once when the lock is created); exposure rules reduce unless told
otherwise. A drawdown rule with ``trailing`` holds its lock while the equity stays below the
peak's threshold (the peak is the highest equity of the window), not until the peak ages out.

PnL is realized PnL plus, when configured, commission and funding fees, in the configured
assets (summed as equal to USDT); other income types never count. A lock rule with ``side``
long or short locks that side only, and a stop-out rule with such a side counts only stop-outs
of positions on that side.

Until when: with ``lock_ms`` unset, until the window stops breaching if nothing new happens
(entries age out of the window one by one): the lock then lengthens by itself with new losses
and ends by itself. With ``lock_ms`` set, until ``lock_ms`` after the latest event the rule
counted, and in any case until the window stops breaching. Each lock wanted carries its
evidence (the latest loss, stop-out or equity low), so an operator's unlock holds until there
is newer evidence (``riskd.risk.locks.not_overruled``). Pure: the caller passes the time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple, Protocol

from pydantic import Field, model_validator

from riskd.core.clock import HOUR_MS, MINUTE_MS
from riskd.core.display import plain
from riskd.core.frozen import FrozenModel
from riskd.risk.attribution import UNATTRIBUTED, Attribution
from riskd.risk.locks import (
    ALL,
    SEVERITY,
    LockRequest,
    LockSide,
    PositionSide,
    TradingState,
    rule_source,
)

RuleKind = Literal[
    "symbol_pnl",
    "account_pnl",
    "drawdown",
    "stop_streak",
    "cooldown",
    "leverage",
    "symbol_notional",
]
_LOSS_KINDS: Final = frozenset({"symbol_pnl", "account_pnl", "drawdown"})
_STOP_KINDS: Final = frozenset({"stop_streak", "cooldown"})
_EXPOSURE_KINDS: Final = frozenset({"leverage", "symbol_notional"})
RuleScope = Literal["account", "robot"]


class RuleAction(StrEnum):
    """What a breaching rule does besides its lock: nothing, set REDUCING, set HALTED, or set
    HALTED and flatten."""

    LOCK = "lock"
    REDUCE = "reduce"
    HALT = "halt"
    FLATTEN = "flatten"

    @property
    def state(self) -> TradingState | None:
        """The trading state this action sets while the rule breaches."""
        return _ACTION_STATES[self]


_ACTION_STATES: Final = {
    RuleAction.LOCK: None,
    RuleAction.REDUCE: TradingState.REDUCING,
    RuleAction.HALT: TradingState.HALTED,
    RuleAction.FLATTEN: TradingState.HALTED,
}


class RuleConfig(FrozenModel):
    """One rule. ``threshold_usdt`` is for the loss kinds, ``count`` for ``stop_streak``,
    ``max_leverage`` for ``leverage`` and ``max_notional_usdt`` for ``symbol_notional``."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: RuleKind
    enabled: bool = True
    window_ms: int | None = Field(None, gt=0)  # the loss and stop kinds look back this far
    threshold_usdt: Decimal | None = None  # a loss limit: negative
    count: int | None = Field(None, ge=1)
    max_leverage: Decimal | None = Field(None, gt=0)
    max_notional_usdt: Decimal | None = Field(None, gt=0)
    side: LockSide = "both"
    lock_ms: int | None = Field(None, gt=0)  # None: until the window no longer breaches
    scope: RuleScope = "account"
    action: RuleAction | None = None  # None: reduce for the exposure kinds, else lock
    trailing: bool = False  # drawdown: hold while below the peak's threshold

    @property
    def acts(self) -> RuleAction:
        """What the rule does when it breaches."""
        if self.action is not None:
            return self.action
        return RuleAction.REDUCE if self.kind in _EXPOSURE_KINDS else RuleAction.LOCK

    @property
    def window(self) -> int:
        """The look-back in ms (0 for the exposure kinds, which judge the live book)."""
        return self.window_ms or 0

    @property
    def source(self) -> str:
        """The source of this rule's locks: ``rule:<id>``."""
        return rule_source(self.id)

    def figures(self) -> dict[str, str]:
        """What an alert card shows of the rule: its window, and its threshold if it has one."""
        shown = {"window": _duration(self.window_ms)}
        if self.threshold_usdt is not None:
            shown["threshold_usdt"] = str(self.threshold_usdt)
        if self.count is not None:
            shown["count"] = str(self.count)
        if self.max_leverage is not None:
            shown["max_leverage"] = str(self.max_leverage)
        if self.max_notional_usdt is not None:
            shown["max_notional_usdt"] = str(self.max_notional_usdt)
        return shown

    @model_validator(mode="before")
    @classmethod
    def _state_is_now_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and "state" in data:
            raise ValueError(
                "state: replaced by action (reduce sets REDUCING, halt sets HALTED, "
                "flatten sets HALTED and closes the positions)"
            )
        return data

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> RuleConfig:
        name = f"rule {self.id!r} ({self.kind})"
        exposure = self.kind in _EXPOSURE_KINDS
        if exposure != (self.window_ms is None):
            raise ValueError(
                f"{name} judges the live book and takes no window_ms"
                if exposure
                else f"{name} needs window_ms"
            )
        for field, kind in (("max_leverage", "leverage"), ("max_notional_usdt", "symbol_notional")):
            if (getattr(self, field) is None) == (self.kind == kind):
                needs = "needs" if self.kind == kind else "takes no"
                raise ValueError(f"{name} {needs} {field}")
        if self.scope == "robot":
            if self.kind in _EXPOSURE_KINDS:
                raise ValueError(
                    f"{name}: exposure is the account's; a robot's share is max_notional_usdt "
                    "and max_margin_usdt of its [[robots]] table"
                )
            if self.acts in (RuleAction.REDUCE, RuleAction.HALT):
                raise ValueError(
                    f"{name}: action {self.acts} sets the account's state; a robot's lock "
                    "already lets it only reduce (use lock or flatten)"
                )
        if self.trailing and self.kind != "drawdown":
            raise ValueError(f"{name}: trailing is for the drawdown kind")
        if self.kind in _LOSS_KINDS:
            if self.threshold_usdt is None:
                raise ValueError(f"{name} needs threshold_usdt")
            if self.threshold_usdt >= 0:
                raise ValueError(
                    f"{name}: threshold_usdt is a loss limit and must be negative,"
                    f" not {self.threshold_usdt}"
                )
        elif self.threshold_usdt is not None:
            raise ValueError(f"{name} takes no threshold_usdt")
        if self.kind == "stop_streak":
            if self.count is None:
                raise ValueError(f"{name} needs count")
        elif self.count is not None:
            raise ValueError(f"{name} takes no count")
        return self


DEFAULT_RULES: Final = (
    RuleConfig(
        id="symbol_4h", kind="symbol_pnl", window_ms=4 * HOUR_MS, threshold_usdt=Decimal(-150)
    ),
    RuleConfig(
        id="symbol_24h", kind="symbol_pnl", window_ms=24 * HOUR_MS, threshold_usdt=Decimal(-1800)
    ),
    RuleConfig(
        id="account_24h", kind="account_pnl", window_ms=24 * HOUR_MS, threshold_usdt=Decimal(-3000)
    ),
    RuleConfig(
        id="drawdown_24h",
        kind="drawdown",
        enabled=False,
        window_ms=24 * HOUR_MS,
        threshold_usdt=Decimal(-3000),
        action=RuleAction.REDUCE,
    ),
    RuleConfig(id="stop_streak_1h", kind="stop_streak", enabled=False, window_ms=HOUR_MS, count=3),
    RuleConfig(id="cooldown", kind="cooldown", enabled=False, window_ms=15 * MINUTE_MS),
)


class RulesConfig(FrozenModel):
    """The RiskRules job: what counts as PnL, and the rules (the seed's defaults unless set)."""

    include_commission: bool = True
    include_funding: bool = True
    assets: tuple[str, ...] = Field(("USDT",), min_length=1)
    rules: tuple[RuleConfig, ...] = DEFAULT_RULES

    def lookback_ms(self, *kinds: RuleKind) -> int:
        """The longest window of the enabled rules (of *kinds*, if given); 0 if none."""
        return max(
            (
                rule.window
                for rule in self.rules
                if rule.enabled and (not kinds or rule.kind in kinds)
            ),
            default=0,
        )

    @model_validator(mode="after")
    def _unique_ids(self) -> RulesConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"two rules have the id {rule.id!r}")
            seen.add(rule.id)
        return self


class Entry(Protocol):
    """A ledger entry as the rules read it (``riskd.risk.ledger.LedgerEntry`` is one)."""

    @property
    def time_ms(self) -> int: ...

    @property
    def symbol(self) -> str: ...  # "" for account-wide flows

    @property
    def kind(self) -> str: ...  # realized_pnl | commission | funding_fee | other

    @property
    def amount(self) -> Decimal: ...  # signed: losses and fees negative

    @property
    def asset(self) -> str: ...

    @property
    def client_order_id(self) -> str: ...  # its trade's order's; "" when not known


class StopOut(NamedTuple):
    """A position closed by a stop order, and the robots that held that side just before (by
    their fills; for the rules of robot scope)."""

    time_ms: int
    symbol: str
    position: PositionSide
    robots: tuple[str, ...] = ()


class EquityPoint(NamedTuple):
    """The account's equity (wallet + unrealized PnL) at a time."""

    time_ms: int
    equity: Decimal


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The locks the rules want now, the most severe state they set (None: none) with the
    latest evidence of the rules setting it, and why."""

    locks: tuple[LockRequest, ...]
    state: TradingState | None
    reasons: tuple[str, ...]
    state_evidence_ms: int | None = None
    flattens: tuple[str, ...] = ()  # whom flatten rules breaching want flattened ("": all)


@dataclass(frozen=True, slots=True)
class _Series:
    """Events in time order: their times, and their values (PnL, equity; unused for stops)."""

    times: list[int]
    values: list[Decimal]


def _duration(ms: int) -> str:
    for unit_ms, unit in ((HOUR_MS, "h"), (MINUTE_MS, "m"), (1000, "s")):
        if ms % unit_ms == 0:
            return f"{ms // unit_ms}{unit}"
    return f"{ms}ms"


def _until(rule: RuleConfig, clear_ms: int, last_event_ms: int) -> int:
    return clear_ms if rule.lock_ms is None else max(clear_ms, last_event_ms + rule.lock_ms)


class _Breach(NamedTuple):
    """A breaching window: when it stops breaching, and its latest loss (the evidence)."""

    clear_ms: int
    evidence_ms: int


def _pnl_breach(
    series: _Series, rule: RuleConfig, threshold: Decimal, now_ms: int
) -> tuple[Decimal, _Breach] | None:
    """(PnL over the window, the breach) if it breaches now, else None."""
    times, amounts = series.times, series.values
    first = bisect_right(times, now_ms - rule.window)
    total = sum(amounts[first:], Decimal(0))
    if total > threshold:
        return None
    last_loss_ms = max(
        at_ms for at_ms, amount in zip(times[first:], amounts[first:], strict=True) if amount < 0
    )
    running = total
    for index in range(first, len(times)):
        running -= amounts[index]
        at_ms = times[index]
        last_at_time = index + 1 == len(times) or times[index + 1] != at_ms
        if last_at_time and running > threshold:
            return total, _Breach(at_ms + rule.window, last_loss_ms)
    raise AssertionError("an empty window cannot breach a negative threshold")


def _drawdown_breach(
    series: _Series, rule: RuleConfig, threshold: Decimal, now_ms: int
) -> tuple[Decimal, Decimal, _Breach] | None:
    """(latest equity, its peak over the window, the breach), or None. The evidence is when
    the equity first fell to its lowest since the peak."""
    if not series.times:
        return None
    first = min(bisect_right(series.times, now_ms - rule.window), len(series.times) - 1)
    times, values = series.times[first:], series.values[first:]
    latest = values[-1]  # the current equity: it never ages out
    peaks = values.copy()  # peaks[i]: the peak of points i…latest
    for index in range(len(peaks) - 2, -1, -1):
        peaks[index] = max(peaks[index], peaks[index + 1])
    if latest - peaks[0] > threshold:
        return None
    since_peak = values.index(peaks[0])
    low = min(values[since_peak:])
    low_ms = times[since_peak + values[since_peak:].index(low)]
    for index in range(len(times) - 1):
        if index + 2 < len(times) and times[index + 1] == times[index]:
            continue
        if latest - peaks[index + 1] > threshold:
            return latest, peaks[0], _Breach(times[index] + rule.window, low_ms)
    raise AssertionError("the latest equity alone cannot breach a negative threshold")


def _streak_breach(
    times: list[int], rule: RuleConfig, count: int, now_ms: int
) -> tuple[int, _Breach] | None:
    """(stop-outs in the window, the breach: until fewer than *count* remain; the latest
    stop-out) if *count* are in it now."""
    window = times[bisect_right(times, now_ms - rule.window) :]
    if len(window) < count:
        return None
    return len(window), _Breach(window[len(window) - count] + rule.window, window[-1])


def _series(pairs: Iterable[tuple[int, Decimal]]) -> _Series:
    times: list[int] = []
    values: list[Decimal] = []
    for at_ms, value in pairs:
        times.append(at_ms)
        values.append(value)
    return _Series(times, values)


class Exposure(NamedTuple):
    """The live book as the exposure rules read it: each symbol's gross notional in USDT, and
    the equity."""

    notional_usdt: Mapping[str, Decimal]
    equity_usdt: Decimal | None  # None: not known (the leverage rule cannot judge)


def evaluate(
    config: RulesConfig,
    entries: Iterable[Entry],
    stop_outs: Iterable[StopOut],
    equity: Iterable[tuple[int, Decimal]],
    now_ms: int,
    *,
    attribution: Attribution | None = None,
    exposure: Exposure | None = None,
    hold_ms: int = 0,
) -> Evaluation:
    """The locks and state the enabled rules call for at *now_ms*.

    Inputs may come in any order and may reach back further than any window; events after
    *now_ms* are ignored. Entries are sorted once and summed per symbol (and per robot, by
    *attribution*, for the rules of robot scope). Without *exposure* the exposure rules do not
    judge (riskd holds no fresh book). A breach judged on what holds now (exposure, a trailing
    drawdown) holds its lock *hold_ms* past *now_ms*, when the next pass judges again.
    """
    rules = [rule for rule in config.rules if rule.enabled]
    if not rules:
        return Evaluation(locks=(), state=None, reasons=())
    since_ms = now_ms - config.lookback_ms()
    kinds = {"realized_pnl"}
    if config.include_commission:
        kinds.add("commission")
    if config.include_funding:
        kinds.add("funding_fee")
    assets = set(config.assets)
    robot_of = (attribution or Attribution(())).robot_of
    flows = sorted(
        (entry.time_ms, entry.symbol, entry.amount, robot_of(entry.client_order_id))
        for entry in entries
        if since_ms < entry.time_ms <= now_ms and entry.kind in kinds and entry.asset in assets
    )
    stops = sorted(StopOut(*stop) for stop in stop_outs if since_ms < stop[0] <= now_ms and stop[1])
    equity_curve = _series(sorted((p for p in equity if p[0] <= now_ms), key=lambda p: p[0]))
    books = {"": _Book.of((at_ms, symbol, amount) for at_ms, symbol, amount, _ in flows)}
    if any(rule.scope == "robot" for rule in rules):
        by_robot: dict[str, list[tuple[int, str, Decimal]]] = defaultdict(list)
        for at_ms, symbol, amount, robot in flows:
            if robot != UNATTRIBUTED:
                by_robot[robot].append((at_ms, symbol, amount))
        books |= {robot: _Book.of(robot_flows) for robot, robot_flows in sorted(by_robot.items())}

    locks: list[LockRequest] = []
    states: list[tuple[TradingState, int]] = []
    reasons: list[str] = []
    flattens: list[str] = []

    def want(
        rule: RuleConfig,
        symbol: str,
        breach: _Breach,
        last_ms: int,
        text: str,
        pnl_usdt: Decimal | None = None,
        robot: str = "",
    ) -> None:
        text = f"robot {robot}: {text}" if robot else text
        locks.append(
            LockRequest(
                symbol=symbol,
                side=rule.side,
                reason_code=rule.kind,
                reason_text=text,
                source=rule.source,
                until_ms=_until(rule, breach.clear_ms, last_ms),
                evidence_ms=breach.evidence_ms,
                pnl_usdt=pnl_usdt,
                robot=robot,
            )
        )
        reasons.append(f"{rule.id}: {text}")
        action = rule.acts
        if action.state is not None and not robot:
            states.append((action.state, breach.evidence_ms))
        if action is RuleAction.FLATTEN:
            flattens.append(robot)

    for rule in rules:
        window = _duration(rule.window)
        threshold = rule.threshold_usdt
        judged = books.items() if rule.scope == "robot" else [("", books[""])]
        for robot, book in judged:
            if rule.scope == "robot" and not robot:
                continue
            if rule.kind == "symbol_pnl" and threshold is not None:
                for symbol, series in book.symbols.items():
                    pnl = _pnl_breach(series, rule, threshold, now_ms)
                    if pnl is not None:
                        loss = plain(pnl[0])
                        text = f"{symbol} PnL {loss} USDT over {window} ≤ {plain(threshold)}"
                        want(rule, symbol, pnl[1], series.times[-1], text, pnl[0], robot)
            elif rule.kind == "account_pnl" and threshold is not None:
                pnl = _pnl_breach(book.account, rule, threshold, now_ms)
                if pnl is not None:
                    whose = "robot" if robot else "account"
                    text = f"{whose} PnL {plain(pnl[0])} USDT over {window} ≤ {plain(threshold)}"
                    want(rule, ALL, pnl[1], book.account.times[-1], text, pnl[0], robot)
            elif rule.kind == "drawdown" and threshold is not None:
                curve = book.cumulative() if robot else equity_curve
                drop = _drawdown_breach(curve, rule, threshold, now_ms)
                if drop is not None:
                    latest, peak, breach = drop
                    if rule.trailing:
                        breach = _Breach(now_ms + hold_ms, breach.evidence_ms)
                    what = "cumulative PnL" if robot else "equity"
                    text = (
                        f"{what} {plain(latest)} USDT is {plain(latest - peak)} from its {window}"
                        f" peak {plain(peak)} ≤ {plain(threshold)}"
                    )
                    want(rule, ALL, breach, curve.times[-1], text, latest - peak, robot)
    for rule in rules:
        if rule.kind in _STOP_KINDS:
            _judge_stops(rule, stops, now_ms, want)
        elif rule.kind in _EXPOSURE_KINDS and exposure is not None:
            _judge_exposure(rule, exposure, _Breach(now_ms + hold_ms, now_ms), want)
    state = max((s for s, _ in states), key=SEVERITY.__getitem__) if states else None
    return Evaluation(
        locks=tuple(locks),
        state=state,
        reasons=tuple(reasons),
        state_evidence_ms=max((at_ms for _, at_ms in states), default=None),
        flattens=tuple(dict.fromkeys(flattens)),
    )


_Want = Callable[..., None]  # evaluate's want(rule, symbol, breach, last_ms, text, …)


def _judge_stops(rule: RuleConfig, stops: Iterable[StopOut], now_ms: int, want: _Want) -> None:
    """Per symbol, or per robot and symbol for robot scope (a stop-out counts for each robot
    that held the side stopped)."""
    count = rule.count or 1
    window = _duration(rule.window)
    by_stopped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for stop in stops:
        if rule.side in ("both", stop.position):
            for robot in stop.robots if rule.scope == "robot" else ("",):
                by_stopped[(robot, stop.symbol)].append(stop.time_ms)
    for (robot, symbol), times in sorted(by_stopped.items()):
        streak = _streak_breach(times, rule, count, now_ms)
        if streak is None:
            continue
        sides = "" if rule.side == "both" else f"{rule.side} "
        if rule.kind == "cooldown":
            text = f"{symbol} {sides}stop-out within {window}: cooling down"
        else:
            text = f"{symbol} {streak[0]} {sides}stop-outs in {window} ≥ {count}"
        want(rule, symbol, streak[1], times[-1], text, robot=robot)


def _judge_exposure(rule: RuleConfig, exposure: Exposure, breach: _Breach, want: _Want) -> None:
    """*breach*: what an exposure breach seen now holds until, and its evidence (now)."""
    now_ms = breach.evidence_ms
    if rule.kind == "leverage" and rule.max_leverage is not None:
        gross = sum(exposure.notional_usdt.values(), Decimal(0))
        equity = exposure.equity_usdt
        if not gross:
            return
        if equity is None or equity <= 0:
            text = f"gross notional {gross:.2f} USDT on equity {equity}: leverage unbounded"
            want(rule, ALL, breach, now_ms, text)
            return
        leverage = gross / equity
        if leverage > rule.max_leverage:
            text = (
                f"gross notional {gross:.2f} USDT is {leverage:.2f}x the equity {equity:.2f}"
                f" > {rule.max_leverage}x"
            )
            want(rule, ALL, breach, now_ms, text)
    elif rule.kind == "symbol_notional" and rule.max_notional_usdt is not None:
        for symbol, notional in sorted(exposure.notional_usdt.items()):
            if notional > rule.max_notional_usdt:
                text = f"{symbol} notional {notional:.2f} USDT > {rule.max_notional_usdt}"
                want(rule, symbol, breach, now_ms, text)


@dataclass(frozen=True, slots=True)
class _Book:
    """One party's (the account's, or a robot's) flows: in all, and per symbol."""

    account: _Series
    symbols: Mapping[str, _Series]

    @classmethod
    def of(cls, flows: Iterable[tuple[int, str, Decimal]]) -> _Book:
        """*flows* (time, symbol, amount) in time order."""
        ordered = list(flows)
        by_symbol: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
        for at_ms, symbol, amount in ordered:
            if symbol:
                by_symbol[symbol].append((at_ms, amount))
        return cls(
            _series((at_ms, amount) for at_ms, _, amount in ordered),
            {symbol: _series(pairs) for symbol, pairs in sorted(by_symbol.items())},
        )

    def cumulative(self) -> _Series:
        """The running sum of the flows: a robot's equity curve, from 0 at the window's start."""
        total = Decimal(0)
        values = []
        for amount in self.account.values:
            total += amount
            values.append(total)
        return _Series(self.account.times, values)
