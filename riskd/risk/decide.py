"""One Ledger decision: read what the rules need from SQL, decide, write the new version.

``decide`` runs in the caller's transaction. It reads the rule history (unless the caller holds
it), the active locks, the operators' unlocks, the trading state and the latest version; then
decides purely (``judge``: evaluate the rules, reconcile the locks, the next trading state);
then writes the lock changes, a new trading state if the rules change it, and the new ban-list
version, whose JSON is encoded once here and sent on by the caller as it was stored.

A version is vouched for ``banlist_valid_ms`` more only when both sources are fresh: the income
poll caught up within ``late_after_ms(interval_ms)`` and the PositionBook is complete and fresh
(``DecideInputs.valid_until_ms``); otherwise the previous end stands and the list expires.
``book_order_updates`` is the fill path: the fills are booked first, and a decision that fails
after them leaves them booked for the next pass to decide on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from sqlalchemy import Connection

from riskd.exchange.parse_orders import OrderUpdate
from riskd.health import late_after_ms
from riskd.positions import BookView
from riskd.risk import ledger_store, lock_store
from riskd.risk.attribution import Attribution
from riskd.risk.banlist import BanList, BanListLock, build_banlist, next_valid_until_ms
from riskd.risk.ledger import fill_from_order_update
from riskd.risk.ledger_store import RuleHistory
from riskd.risk.lock_store import StateRecord
from riskd.risk.locks import (
    REASON_CHARS,
    Lock,
    LockChanges,
    LockKey,
    LockRequest,
    TradingState,
    next_trading_state,
    not_overruled,
    reconcile,
)
from riskd.risk.rules import EquityPoint, Exposure, RuleAction, RulesConfig, evaluate

log = logging.getLogger(__name__)
RULES_ACTOR: Final = "rules"  # who the audit names for the rules' acts


@dataclass(frozen=True, slots=True)
class DecideInputs:
    """What one decision needs besides SQL."""

    account: str
    rules: RulesConfig
    now_ms: int
    banlist_valid_ms: int  # how long a fresh version is vouched for
    interval_ms: int  # the Ledger's pass interval: income is late after late_after_ms of it
    income_ok_ms: int  # when the income source last answered in full
    book_fresh: bool  # the caller found the PositionBook complete and fresh just now
    live_equity: EquityPoint | None  # from the latest fresh book
    previous_valid_until_ms: int | None  # the last published version's; None: none yet
    history: RuleHistory | None = None  # the caller's cached history; None: read it from SQL
    attribution: Attribution | None = None  # the account's robots, for robot-scoped rules
    exposure: Exposure | None = None  # the latest fresh book, for the exposure rules

    @property
    def sources_fresh(self) -> bool:
        """Whether riskd may vouch anew: the income poll caught up lately and the book is fresh."""
        income_fresh = self.now_ms - self.income_ok_ms <= late_after_ms(self.interval_ms)
        return income_fresh and self.book_fresh

    @property
    def valid_until_ms(self) -> int:
        """The new version's end: pushed on while the sources are fresh, else the last one's."""
        previous_ms = self.previous_valid_until_ms
        return next_valid_until_ms(
            self.now_ms,
            self.now_ms if previous_ms is None else previous_ms,
            fresh=self.sources_fresh,
            validity_ms=self.banlist_valid_ms,
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the rules make of the history: the lock changes, the trading state after them (and
    the reason to record, or None when the state stays), and the loss behind each lock wanted."""

    changes: LockChanges
    state: TradingState
    state_reason: str | None
    pnl_usdt_by_lock: Mapping[LockKey, Decimal]
    flattens: tuple[LockRequest, ...] = ()  # a flatten rule's new locks: flatten their robot


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision, written: the new version and its JSON (as stored: send these bytes), the
    trading state, the loss behind each lock the rules want, and the history read for it."""

    banlist: BanList
    body: bytes
    state: TradingState
    pnl_usdt_by_lock: Mapping[LockKey, Decimal]
    history: RuleHistory
    flattens: tuple[LockRequest, ...] = ()  # flatten each one's robot now ("": the account)


def judge(
    inputs: DecideInputs,
    history: RuleHistory,
    active: Sequence[Lock],
    unlocked_ms: Mapping[LockKey, int],
    current: StateRecord,
) -> Judgement:
    """Evaluate the rules on *history* (and the live equity), turn the locks they want, less
    those an operator's unlock overrules (*unlocked_ms*), into changes to the *active* ones,
    and choose the trading state after *current*. Pure."""
    equity = [*history.equity, inputs.live_equity] if inputs.live_equity else history.equity
    evaluation = evaluate(
        inputs.rules,
        history.entries,
        history.stop_outs,
        equity,
        inputs.now_ms,
        attribution=inputs.attribution,
        exposure=inputs.exposure,
        hold_ms=inputs.banlist_valid_ms,
    )
    changes = reconcile(active, not_overruled(evaluation.locks, unlocked_ms), inputs.now_ms)
    flattening = {rule.source for rule in inputs.rules.rules if rule.acts is RuleAction.FLATTEN}
    flattened = {lock.robot: lock for lock in changes.create if lock.source in flattening}
    flattens = tuple(flattened.values())
    state = next_trading_state(
        current.state,
        current.set_by_operator,
        current.at_ms,
        evaluation.state,
        evaluation.state_evidence_ms,
    )
    pnl = {lock.key: lock.pnl_usdt for lock in evaluation.locks if lock.pnl_usdt is not None}
    if state is None:
        return Judgement(changes, current.state, None, pnl, flattens)
    reason = "; ".join(evaluation.reasons) if evaluation.state else "no rule sets a state"
    return Judgement(changes, state, reason[:REASON_CHARS], pnl, flattens)


def decide(connection: Connection, inputs: DecideInputs) -> Decision:
    """Read, judge, write: the lock changes, the trading state and the next ban-list version,
    all in the caller's transaction."""
    account, now_ms = inputs.account, inputs.now_ms
    history = inputs.history
    if history is None:
        history = ledger_store.rule_history(
            connection, account, inputs.rules, now_ms, inputs.attribution
        )
    active = lock_store.active_locks(connection, account)
    unlocked_ms = lock_store.operator_unlocks(
        connection, account, now_ms - inputs.rules.lookback_ms()
    )
    current = lock_store.trading_state(connection, account)
    version = lock_store.latest_banlist_version(connection, account) + 1

    judgement = judge(inputs, history, active, unlocked_ms, current)

    locks = active
    if judgement.changes:
        locks = lock_store.apply_lock_changes(
            connection, account, judgement.changes, now_ms, RULES_ACTOR
        )
    if judgement.state_reason is not None:
        lock_store.set_trading_state(
            connection, account, judgement.state, judgement.state_reason, RULES_ACTOR, now_ms
        )
    banlist = build_banlist(account, version, now_ms, inputs.valid_until_ms, judgement.state, locks)
    body = banlist.to_json()
    lock_store.save_banlist_version(
        connection, account, version, now_ms, banlist.valid_until_ms, body.decode()
    )
    return Decision(
        banlist, body, judgement.state, judgement.pnl_usdt_by_lock, history, judgement.flattens
    )


def book_order_updates(
    connection: Connection, updates: Sequence[OrderUpdate], inputs: DecideInputs
) -> Decision | None:
    """Store *updates* and book their fills, then decide once in a nested transaction, on the
    cached history plus the new fills when the caller holds one. None when deciding failed
    (logged): the fills stay booked and the next pass decides. Right after a fill the caller
    has not asked the PositionBook, so ``book_fresh`` is False and the previous end of the
    list stands."""
    history = inputs.history
    ledger_store.upsert_orders(connection, inputs.account, updates)
    for fill in filter(None, map(fill_from_order_update, updates)):
        new = ledger_store.book_fills(connection, inputs.account, [fill], inputs.now_ms)
        if new and history is not None:
            history = history.with_fill(fill)
    try:
        with connection.begin_nested():
            return decide(connection, replace(inputs, history=history))
    except Exception:
        log.exception("deciding after a fill failed; the next pass decides")
        return None


def live_exposure(view: BookView, equity: EquityPoint | None) -> Exposure:
    """Each symbol's gross notional in the book (at the mark, or the entry price when no mark
    is known), and the equity."""
    notional: dict[str, Decimal] = {}
    for position in view.positions:
        price = position.mark_price or position.entry_price
        notional[position.symbol] = notional.get(position.symbol, Decimal(0)) + abs(
            position.amount * price
        )
    return Exposure(notional, None if equity is None else equity.equity)


def live_equity(rules: RulesConfig, view: BookView) -> EquityPoint | None:
    """Wallet + unrealized PnL in the rules' assets; None unless every one is known."""
    balances = [b for b in view.balances if b.asset in rules.assets]
    if not balances or any(b.unrealized_pnl is None for b in balances):
        return None
    return EquityPoint(
        view.now_ms, sum((b.wallet_balance + b.unrealized_pnl for b in balances), Decimal(0))
    )


def lock_figures(
    rules: RulesConfig, pnl_usdt_by_lock: Mapping[LockKey, Decimal], lock: BanListLock
) -> dict[str, str]:
    """A lock's alert card: its rule's window and threshold, and the loss behind it."""
    figures = next((rule.figures() for rule in rules.rules if rule.source == lock.source), {})
    pnl_usdt = pnl_usdt_by_lock.get((lock.source, lock.symbol, lock.side, lock.robot))
    if pnl_usdt is not None:
        figures["pnl_usdt"] = str(pnl_usdt)
    return figures
