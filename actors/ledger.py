"""Ledger: books every cash flow of an account, turns losses into locks, publishes the ban list.

Fills arrive from the UserStream (ORDER_TRADE_UPDATE) and are booked at once; each pass pages
GET /fapi/v1/income (weight 30) from the cursor in SQL, so funding and every other flow are
booked too and the fills are reconciled. After every booking and on every pass the rules
(``riskd.risk.rules``) are evaluated, the locks reconciled in SQL (``riskd.risk.locks``) and a new
ban-list version sent to the gateway, valid for ``validity_ms`` only while the income
source and the PositionBook are fresh. Each pass also records the book's positions and
balances once a minute (the equity curve of the drawdown rule) and, hourly, the symbols from
exchangeInfo. The rules read only SQL (fills, income, snapshots, unlocks) and the live equity,
so a restarted Ledger decides exactly as the one before it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from decimal import Decimal

from sqlalchemy import Connection, select

from actors.base import Job
from actors.context import GATEWAY_NAME, ConfigSource
from riskd.core.clock import MINUTE_MS
from riskd.exchange.errors import ExchangeError
from riskd.exchange.filters import ExchangeInfoError, parse_exchange_info
from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_income import parse_income
from riskd.exchange.parse_orders import OrderUpdate, parse_order_update
from riskd.exchange.userstream import StreamEvent
from riskd.health import late_after_ms
from riskd.notify.events import lock_alerts, state_alert
from riskd.plan import JobSpec
from riskd.positions import BookView
from riskd.risk import ledger_store, lock_store
from riskd.risk.banlist import BanList, BanListLock, build_banlist, next_valid_until_ms
from riskd.risk.ledger import (
    Fill,
    advance_income_cursor,
    fill_from_order_update,
    next_income_request,
)
from riskd.risk.locks import (
    ALL,
    LockKey,
    SymbolListUnavailable,
    TradingState,
    next_trading_state,
    not_overruled,
    operator_lock_request,
    operator_state_request,
    operator_unlock_request,
    reconcile,
)
from riskd.risk.rules import EquityPoint, Evaluation, evaluate
from riskd.store import SqlRunner, init_schema, make_engine
from riskd.store.schema import symbols

log = logging.getLogger(__name__)
RULES_ACTOR = "rules"
STATE_REASON_CHARS = 512  # trading_states.reason
SYMBOLS_RETRY_MS = 60_000


def _listing(connection: Connection, symbol: str) -> tuple[bool, bool]:
    """Whether the symbols table lists *symbol*, and whether it lists any symbol at all."""
    if connection.scalar(select(symbols.c.symbol).where(symbols.c.symbol == symbol)) is not None:
        return True, True
    return False, connection.scalar(select(symbols.c.symbol).limit(1)) is not None


class Ledger(Job):
    """One account's ledger, rules and ban list; all state is in SQL and the exchange."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        config = source.load(secrets={"database"})
        account = next(a for a in config.accounts if a.name == spec.account)
        self.ledger_config = account.ledger
        self.rules = account.rules
        self.engine = make_engine(config.database.resolved_url.reveal())
        self.sql = SqlRunner(self.engine)
        self.gateway = self.peer(GATEWAY_NAME)
        self.cursor_ms: int | None = None
        self.income_ok_ms = 0  # when the income source last answered in full
        self.live_equity: EquityPoint | None = None  # from the latest fresh book
        self.snapshot_minute_ms: int | None = None  # the latest minute recorded
        self.symbols_refreshed_ms: int | None = None
        self.symbols_tried_ms = 0  # when an operator's unknown symbol last asked for a refresh
        self.published: BanList | None = None
        self.reported_locks: tuple[BanListLock, ...] = ()  # to the Alerter
        self.history: ledger_store.RuleHistory | None = None  # the last read, plus new fills
        self.rule_figures = {f"rule:{rule.id}": rule.figures() for rule in self.rules.rules}
        self.lock_pnl: dict[LockKey, Decimal] = {}  # by the latest evaluation
        self._evaluating = asyncio.Lock()

    async def recover(self) -> None:
        await super().recover()
        now_ms = self.clock.now_ms()
        await asyncio.to_thread(init_schema, self.engine, now_ms)
        stored = await self.sql.run(ledger_store.income_cursor, self.spec.account)
        self.cursor_ms = stored if stored is not None else now_ms - self.rules.lookback_ms()

    # ------------------------------------------------------------ fills, at once

    async def on_stream_event(self, event: dict) -> None:
        """An ORDER_TRADE_UPDATE: its fill is booked and the rules run at once."""
        if StreamEvent.of(event) is not StreamEvent.ORDER_TRADE_UPDATE:
            return
        try:
            update = parse_order_update(event)
        except PayloadError as exc:  # the income poll books the flow anyway
            self.health.failed(str(exc), self.clock.now_ms())
            return
        fill = fill_from_order_update(update)
        if fill is None:
            await self.sql.run(ledger_store.upsert_order, self.spec.account, update)
            return
        async with self._evaluating:
            now_ms = self.clock.now_ms()
            decided = await self.sql.run(self._book_and_decide, update, fill, now_ms)
            if decided is None:
                self.health.failed("deciding after a fill failed (see the log)", now_ms)
            else:
                self._announce(*decided, now_ms)

    def _book_and_decide(
        self, connection: Connection, update: OrderUpdate, fill: Fill, now_ms: int
    ) -> tuple[BanList, TradingState] | None:
        """Book the fill, then decide in the same transaction. The decision does not vouch
        anew (the previous valid_until stands: only a pass that found every source fresh
        extends it), and if it fails the fill stays booked and the next pass decides."""
        ledger_store.upsert_order(connection, self.spec.account, update)
        new = ledger_store.book_fills(connection, self.spec.account, [fill], now_ms)
        if self.history is not None and new:
            self.history = self.history.with_fill(fill)
        elif new:
            self.history = None  # read it all from SQL
        try:
            with connection.begin_nested():
                return self._decide(connection, False, now_ms)
        except Exception:
            log.exception("deciding after a fill failed; the next pass decides")
            return None

    # ------------------------------------------------------------ operators (via the gateway)

    async def active_locks(self) -> list[dict]:
        """The account's active locks, as the ban list shows them."""
        locks = await self.sql.run(lock_store.active_locks, self.spec.account)
        return [asdict(lock) for lock in locks]

    async def add_lock(self, body: object) -> dict:
        """An operator's lock (audited under their name); the list is republished at once.
        ValueError names what is wrong with *body*, or that the exchange does not list its
        symbol; SymbolListUnavailable when riskd has no list of symbols to check it against."""
        request = operator_lock_request(body)
        if request.symbol != ALL:
            await self._require_listed(request.symbol)
        now_ms = self.clock.now_ms()
        lock = await self.sql.run(lock_store.add_operator_lock, self.spec.account, request, now_ms)
        await self._evaluate_and_publish()
        return asdict(lock)

    async def unlock(self, lock_id: int, operator: str, reason: str) -> dict:
        """End a lock now: an audited act. LookupError: no such lock; ValueError: it ended
        already, or names the argument that is wrong."""
        request = operator_unlock_request(lock_id, operator, reason)
        now_ms = self.clock.now_ms()
        lock = await self.sql.run(
            lock_store.unlock,
            self.spec.account,
            request.lock_id,
            f"{lock_store.OPERATOR_PREFIX}{request.operator}",
            request.reason,
            now_ms,
        )
        await self._evaluate_and_publish()
        return asdict(lock)

    async def _require_listed(self, symbol: str) -> None:
        """ValueError unless exchangeInfo lists *symbol*, as the symbols table knows it. An
        unknown symbol first refreshes the table if a refresh is due (at most once per
        SYMBOLS_RETRY_MS), so requests do not spend exchange weight each."""
        listed, any_listed = await self.sql.run(_listing, symbol)
        now_ms = self.clock.now_ms()
        if not listed and now_ms - self.symbols_tried_ms >= SYMBOLS_RETRY_MS:
            self.symbols_tried_ms = now_ms
            try:
                await self._refresh_symbols()
            except (ExchangeError, ExchangeInfoError) as exc:
                log.warning(
                    "exchangeInfo failed, checking %s against the stored list: %s", symbol, exc
                )
            listed, any_listed = await self.sql.run(_listing, symbol)
        if listed:
            return
        if not any_listed:
            raise SymbolListUnavailable(
                f"symbol: cannot check {symbol!r}: riskd has no list of symbols from the "
                "exchange yet (lock ALL to cover every symbol)"
            )
        raise ValueError(f"symbol: the exchange does not list {symbol!r}")

    async def trading_state(self) -> dict:
        """The account's trading state: state, reason, actor, at_ms."""
        record = await self.sql.run(lock_store.trading_state, self.spec.account)
        return record._asdict()

    async def set_trading_state(self, body: object) -> dict:
        """An operator's trading state (audited under their name); the list is republished at
        once. It holds until an operator changes it, or rules escalate it on new evidence.
        ValueError names what is wrong with *body*."""
        request = operator_state_request(body)
        now_ms = self.clock.now_ms()
        actor = f"{lock_store.OPERATOR_PREFIX}{request.operator}"
        await self.sql.run(
            lock_store.set_trading_state,
            self.spec.account,
            request.state,
            request.reason,
            actor,
            now_ms,
        )
        await self._evaluate_and_publish()
        return await self.trading_state()

    # ------------------------------------------------------------ one pass

    async def step(self) -> None:
        await self._poll_income()
        view: BookView = await self.position_book.current.remote()
        book_fresh = await self.position_book.complete_and_fresh.remote()
        if book_fresh:
            self.live_equity = self._equity(view)
        await self._evaluate_and_publish(book_fresh)
        if book_fresh:
            await self._record_snapshot(view)
        await self._refresh_symbols()
        self.health.extra = {
            "income_cursor_ms": self.cursor_ms,
            "version": self.published.version if self.published else 0,
            "locks": len(self.published.locks) if self.published else 0,
        }

    def _equity(self, view: BookView) -> EquityPoint | None:
        """Wallet + unrealized PnL in the rules' assets; None unless every one is known."""
        balances = [b for b in view.balances if b.asset in self.rules.assets]
        if not balances or any(b.unrealized_pnl is None for b in balances):
            return None
        return EquityPoint(
            view.now_ms, sum((b.wallet_balance + b.unrealized_pnl for b in balances), Decimal(0))
        )

    async def _record_snapshot(self, view: BookView) -> None:
        """The book's positions and balances, once a minute (the first fresh view of it)."""
        minute_ms = view.now_ms - view.now_ms % MINUTE_MS
        if minute_ms == self.snapshot_minute_ms:
            return
        await self.sql.run(
            ledger_store.record_book_snapshot,
            self.spec.account,
            minute_ms,
            view.positions,
            view.balances,
        )
        self.snapshot_minute_ms = minute_ms

    async def _refresh_symbols(self) -> None:
        """Store every symbol's status and filters from exchangeInfo (weight 1), hourly."""
        now_ms = self.clock.now_ms()
        refreshed_ms = self.symbols_refreshed_ms
        if (
            refreshed_ms is not None
            and now_ms - refreshed_ms < self.ledger_config.symbols_refresh_ms
        ):
            return
        info = await self.access.read(
            "GET", "/fapi/v1/exchangeInfo", self.access.client.futures_exchange_info
        )
        await self.sql.run(ledger_store.upsert_symbols, parse_exchange_info(info), now_ms)
        self.symbols_refreshed_ms = now_ms

    async def _poll_income(self) -> None:
        """Page income from the cursor up to now (each page booked with its cursor)."""
        assert self.cursor_ms is not None
        while True:
            now_ms = self.clock.now_ms()
            request = next_income_request(self.cursor_ms, now_ms, self.ledger_config.income)
            params = request.params()
            body = await self.access.read(
                "GET",
                "/fapi/v1/income",
                lambda params=params: self.access.client.futures_income_history(**params),
                params,
            )
            records = parse_income(body)
            outcome = advance_income_cursor(request, records, now_ms, self.ledger_config.income)
            await self.sql.run(
                ledger_store.book_income_page,
                self.spec.account,
                records,
                outcome.next_cursor_ms,
                now_ms,
            )
            self.cursor_ms = outcome.next_cursor_ms
            if outcome.caught_up:
                self.income_ok_ms = now_ms
                return

    async def _evaluate_and_publish(self, book_fresh: bool | None = None) -> None:
        """Evaluate the rules, reconcile the locks and publish a new version: one transaction.
        *book_fresh*: the PositionBook's freshness if the caller asked already."""
        if book_fresh is None:
            book_fresh = bool(await self.position_book.complete_and_fresh.remote())
        async with self._evaluating:
            now_ms = self.clock.now_ms()
            self.history = None  # a pass reads everything from SQL again
            self._announce(*await self.sql.run(self._decide, book_fresh, now_ms), now_ms)

    def _announce(self, banlist: BanList, state: TradingState, now_ms: int) -> None:
        """The new version to the gateway; the locks and the state to the Alerter."""
        self.published = banlist
        self.gateway.notify("publish_banlist", banlist.to_json())
        self._report_locks(state, now_ms)

    def _decide(
        self, connection: Connection, book_fresh: bool, now_ms: int
    ) -> tuple[BanList, TradingState]:
        """Evaluate, reconcile the locks, publish. The history is read from SQL, except right
        after a fill: then it is the last pass's plus that fill (a pass reads it all again, so
        the fill path costs the same however busy the account is)."""
        if self.history is None:
            self.history = ledger_store.rule_history(
                connection, self.spec.account, self.rules, now_ms
            )
        history = self.history
        equity = history.equity + ([self.live_equity] if self.live_equity else [])
        evaluation = evaluate(self.rules, history.entries, history.stop_outs, equity, now_ms)
        self.lock_pnl = {
            (r.source, r.symbol, r.side): r.pnl_usdt
            for r in evaluation.locks
            if r.pnl_usdt is not None
        }
        state = self._apply(connection, evaluation, now_ms)
        return self._publish(connection, state, book_fresh, now_ms), state

    def _lock_figures(self, lock: BanListLock) -> dict[str, str]:
        """A lock's card: its rule's window and threshold, and the loss behind it."""
        figures = dict(self.rule_figures.get(lock.source, {}))
        pnl_usdt = self.lock_pnl.get((lock.source, lock.symbol, lock.side))
        if pnl_usdt is not None:
            figures["pnl_usdt"] = str(pnl_usdt)
        return figures

    def _report_locks(self, state: TradingState, now_ms: int) -> None:
        """Every active lock and the trading state to the Alerter; ended locks resolve."""
        assert self.published is not None
        account = self.spec.account
        locks = self.published.locks
        events = lock_alerts(account, self.reported_locks, locks, now_ms, self._lock_figures)
        self.report([*events, state_alert(account, state, now_ms)])
        self.reported_locks = locks

    def _apply(self, connection: Connection, evaluation: Evaluation, now_ms: int) -> TradingState:
        account = self.spec.account
        active = lock_store.active_locks(connection, account)
        unlocked = lock_store.operator_unlocks(
            connection, account, now_ms - self.rules.lookback_ms()
        )
        changes = reconcile(active, not_overruled(evaluation.locks, unlocked), now_ms)
        if changes:
            lock_store.apply_lock_changes(connection, account, changes, now_ms, RULES_ACTOR)
        current = lock_store.trading_state(connection, account)
        state = next_trading_state(
            current.state,
            current.actor.startswith(lock_store.OPERATOR_PREFIX),
            current.at_ms,
            evaluation.state,
            evaluation.state_evidence_ms,
        )
        if state is None:
            return current.state
        reason = "; ".join(evaluation.reasons) if evaluation.state else "no rule sets a state"
        lock_store.set_trading_state(
            connection, account, state, reason[:STATE_REASON_CHARS], RULES_ACTOR, now_ms
        )
        return state

    def _publish(
        self, connection: Connection, state: TradingState, book_fresh: bool, now_ms: int
    ) -> BanList:
        locks = lock_store.active_locks(connection, self.spec.account)
        version = lock_store.latest_banlist_version(connection, self.spec.account) + 1
        income_fresh = now_ms - self.income_ok_ms <= late_after_ms(self.spec.config.interval_ms)
        previous = self.published.valid_until_ms if self.published else now_ms
        valid_until = next_valid_until_ms(
            now_ms,
            previous,
            fresh=income_fresh and book_fresh,
            validity_ms=self.ledger_config.banlist_valid_ms,
        )
        banlist = build_banlist(self.spec.account, version, now_ms, valid_until, state, locks)
        lock_store.save_banlist_version(
            connection,
            self.spec.account,
            version,
            now_ms,
            banlist.valid_until_ms,
            banlist.to_json().decode(),
        )
        return banlist
