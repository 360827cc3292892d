"""Ledger: books every cash flow of an account, turns losses into locks, publishes the ban list.

The Ray shell around ``riskd.risk.decide``: its loop, its exchange calls, its messages. Fills
arrive from the UserStream as parsed order updates and are booked at once; each pass pages
GET /fapi/v1/income (weight 30) from the cursor in SQL, so funding and every other flow are
booked too and the fills are reconciled. After every booking and on every pass one decision
(``decide``, in one transaction) evaluates the rules, reconciles the locks and writes a new
ban-list version, whose bytes go to the gateway as stored. Each pass also records the book's
positions and balances once a minute (the equity curve of the drawdown rule), hourly, the
symbols from exchangeInfo and, daily, the previous UTC day's summary to the Alerter. The rules
read only SQL (fills, income, snapshots, unlocks) and the live equity, so a restarted Ledger
decides exactly as the one before it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import asdict

from actors.base import Job
from actors.context import GATEWAY_NAME, ConfigSource
from riskd.core.clock import HOUR_MS, MINUTE_MS
from riskd.exchange.errors import ExchangeError
from riskd.exchange.filters import ExchangeInfoError, parse_exchange_info
from riskd.exchange.parse_income import parse_income
from riskd.exchange.parse_orders import OrderUpdate
from riskd.notify import alert_store
from riskd.notify.events import (
    DAILY_SUMMARY,
    daily_summary_alerts,
    lock_alerts,
    state_alert,
    summarized_days,
)
from riskd.plan import JobKind, JobSpec
from riskd.pnl import daily_summary
from riskd.pnl.report import PnlGrouping
from riskd.pnl.store import daily_report, pnl_report
from riskd.positions import BookView
from riskd.protect.flatten import FlattenRequest, FlattenScope
from riskd.risk import ledger_store, lock_store
from riskd.risk.attribution import Attribution
from riskd.risk.banlist import BanList, BanListLock
from riskd.risk.decide import (
    DecideInputs,
    Decision,
    book_order_updates,
    decide,
    live_equity,
    live_exposure,
    lock_figures,
)
from riskd.risk.ledger import advance_income_cursor, fill_from_order_update, next_income_request
from riskd.risk.ledger_store import RuleHistory
from riskd.risk.locks import (
    ALL,
    REASON_CHARS,
    SymbolListUnavailable,
    operator_lock_request,
    operator_state_request,
    operator_unlock_request,
)
from riskd.risk.rules import EquityPoint, Exposure
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.schema import init_schema
from riskd.store.write_queue import WriteQueue

log = logging.getLogger(__name__)
RULES_OPERATOR = "riskd"  # who the audit names for a flatten rule's flatten
SYMBOLS_RETRY_MS = 60_000
ORDERS_RETRY_S = 1.0  # order updates a failed write kept are tried again this often


class Ledger(Job):
    """One account's ledger, rules and ban list; all state is in SQL and the exchange."""

    SECRETS = frozenset({"database"})

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.ledger_config = self.account_config.ledger
        self.rules = self.account_config.rules
        self.engine = make_engine(self.config.database.resolved_url.reveal())
        self.sql = SqlRunner(self.engine)
        self.gateway = self.peer(GATEWAY_NAME)
        self.trader = self.account_peer(JobKind.TRADER)
        self._flattens: set[asyncio.Task] = set()  # the rules' flattens, running
        self.cursor_ms: int | None = None
        self.income_ok_ms = 0  # when the income source last answered in full
        self.live_equity: EquityPoint | None = None  # from the latest fresh book
        self.exposure: Exposure | None = None  # the latest book, while it is fresh
        self.attribution = Attribution.of(self.config.robots, spec.account)
        self.snapshot_minute_ms: int | None = None  # the latest minute recorded
        self.symbols_refreshed_ms: int | None = None
        self.symbols_tried_ms = 0  # when an operator's unknown symbol last asked for a refresh
        self.published: BanList | None = None
        self.reported_locks: tuple[BanListLock, ...] = ()  # to the Alerter
        self.history: RuleHistory | None = None  # the last pass's read, plus new fills
        self.summarized: set[str] = set()  # days whose summary the Alerter took in, from SQL
        self._evaluating = asyncio.Lock()
        self.order_updates = WriteQueue(
            f"{spec.name}: order updates", self._store_order_updates, retry_s=ORDERS_RETRY_S
        )

    async def recover(self) -> None:
        await super().recover()
        now_ms = self.clock.now_ms()
        await asyncio.to_thread(init_schema, self.engine, now_ms)
        stored = await self.sql.read(ledger_store.income_cursor, self.spec.account)
        self.cursor_ms = stored if stored is not None else now_ms - self.rules.lookback_ms()

    # ------------------------------------------------------------ fills, at once

    async def on_order_update(self, update: OrderUpdate) -> None:
        """An ORDER_TRADE_UPDATE, parsed by the UserStream: the order is stored, and its fill,
        if any, booked with the rules run at once. Updates that arrive while a write runs are
        stored together in the next (``WriteQueue``)."""
        await self.order_updates.put(update)

    async def _store_order_updates(self, updates: list[OrderUpdate]) -> None:
        if not any(map(fill_from_order_update, updates)):
            await self.sql.run(ledger_store.upsert_orders, self.spec.account, updates)
            return
        async with self._evaluating:
            inputs = self._inputs(book_fresh=False, history=self.history)
            decision = await self.sql.run(book_order_updates, updates, inputs)
            if decision is None:
                self.history = None
                self.health.failed("deciding after a fill failed (see the log)", inputs.now_ms)
            else:
                self._announce(decision, inputs.now_ms)

    # ------------------------------------------------------------ operators (via the gateway)

    async def active_locks(self) -> list[dict]:
        """The account's active locks, as the ban list shows them."""
        locks = await self.sql.read(lock_store.active_locks, self.spec.account)
        return [asdict(lock) for lock in locks]

    async def add_lock(self, body: object) -> dict:
        """An operator's lock (audited under their name); the list is republished at once.
        ValueError names what is wrong with *body*, or that the exchange does not list its
        symbol; SymbolListUnavailable when riskd has no list of symbols to check it against."""
        request = operator_lock_request(body)
        robots = [r.name for r in self.config.robots if r.account == self.spec.account]
        if request.robot and request.robot not in robots:
            raise ValueError(
                f"robot: {request.robot!r} does not trade on account {self.spec.account} "
                f"({', '.join(robots) or 'no robot does'})"
            )
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
            request.actor,
            request.reason,
            now_ms,
        )
        await self._evaluate_and_publish()
        return asdict(lock)

    async def _require_listed(self, symbol: str) -> None:
        """ValueError unless exchangeInfo lists *symbol*, as the symbols table knows it. An
        unknown symbol first refreshes the table if a refresh is due (at most once per
        SYMBOLS_RETRY_MS), so requests do not spend exchange weight each."""
        listing = await self.sql.read(ledger_store.symbol_listing, symbol)
        now_ms = self.clock.now_ms()
        if not listing.listed and now_ms - self.symbols_tried_ms >= SYMBOLS_RETRY_MS:
            self.symbols_tried_ms = now_ms
            try:
                await self._refresh_symbols()
            except (ExchangeError, ExchangeInfoError) as exc:
                log.warning(
                    "exchangeInfo failed, checking %s against the stored list: %s", symbol, exc
                )
            listing = await self.sql.read(ledger_store.symbol_listing, symbol)
        if listing.listed:
            return
        if not listing.any_listed:
            raise SymbolListUnavailable(
                f"symbol: cannot check {symbol!r}: riskd has no list of symbols from the "
                "exchange yet (lock ALL to cover every symbol)"
            )
        raise ValueError(f"symbol: the exchange does not list {symbol!r}")

    async def trading_state(self) -> dict:
        """The account's trading state: state, reason, actor, at_ms."""
        record = await self.sql.read(lock_store.trading_state, self.spec.account)
        return record._asdict()

    async def set_trading_state(self, body: object) -> dict:
        """An operator's trading state (audited under their name); the list is republished at
        once. It holds until an operator changes it, or rules escalate it on new evidence.
        ValueError names what is wrong with *body*."""
        request = operator_state_request(body)
        now_ms = self.clock.now_ms()
        await self.sql.run(
            lock_store.set_trading_state,
            self.spec.account,
            request.state,
            request.reason,
            request.actor,
            now_ms,
        )
        await self._evaluate_and_publish()
        return await self.trading_state()

    async def pnl(self, by: str, hours: int, robot: str | None) -> dict:
        """The account's PnL over the last *hours* per robot or symbol (``PnlGrouping``), of
        *robot* only when given, as ``GET /v1/pnl`` answers it. ValueError names a bad
        argument; LookupError: *robot* is none of the account's robots."""
        attribution = Attribution.of(self.config.robots, self.spec.account)
        report = await self.sql.read(
            pnl_report,
            self.spec.account,
            attribution,
            PnlGrouping(by),
            hours,
            self.clock.now_ms(),
            robot,
        )
        return report.to_dict()

    async def daily_report(self, by: str | None, days: int) -> dict:
        """The account's figures per UTC day over the last *days* days, with rows per robot or
        symbol when *by* names a ``PnlGrouping``, as ``GET /v1/report/daily`` answers it.
        ValueError names a bad argument."""
        attribution = Attribution.of(self.config.robots, self.spec.account)
        grouping = None if by is None else PnlGrouping(by)
        report = await self.sql.read(
            daily_report, self.spec.account, attribution, grouping, days, self.clock.now_ms()
        )
        return report.to_dict()

    async def equity(self, hours: int) -> dict:
        """The account's equity (wallet + unrealized PnL of the rules' assets) per recorded
        minute over the last *hours*: ``GET /v1/equity``."""
        now_ms = self.clock.now_ms()
        since_ms = now_ms - hours * HOUR_MS
        assets = sorted(self.rules.assets)
        points = await self.sql.read(
            ledger_store.equity_points, self.spec.account, since_ms, assets
        )
        return {
            "account": self.spec.account,
            "assets": assets,
            "start_ms": since_ms,
            "end_ms": now_ms,
            "points": [[point.time_ms, f"{point.equity.normalize():f}"] for point in points],
        }

    # ------------------------------------------------------------ one pass

    async def step(self) -> None:
        await self._poll_income()
        view: BookView = await self.position_book.current.remote()
        book_fresh = await self.position_book.complete_and_fresh.remote()
        if book_fresh:
            self.live_equity = live_equity(self.rules, view)
        # The exposure rules judge the latest fresh book (a fill's decision too), or nothing.
        self.exposure = live_exposure(view, self.live_equity) if book_fresh else None
        await self._evaluate_and_publish(book_fresh)
        if book_fresh:
            await self._record_snapshot(view)
        await self._refresh_symbols()
        await self._summarize_day()
        self.health.extra = {
            "income_cursor_ms": self.cursor_ms,
            "version": self.published.version if self.published else 0,
            "locks": len(self.published.locks) if self.published else 0,
            "order_updates_waiting": self.order_updates.waiting,
        }

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

    async def _summarize_day(self) -> None:
        """The summary of the day due (``riskd.pnl.daily_summary``) to the Alerter, on every
        pass until the Alerter's record of it (SQL) shows: it takes it in once."""
        minute = self.ledger_config.daily_summary_minute
        now_ms = self.clock.now_ms()
        if minute is None or daily_summary.due_day(now_ms, minute, self.summarized) is None:
            return
        since_ms = daily_summary.since_ms(now_ms)
        told = await self.sql.read(alert_store.told_labels, DAILY_SUMMARY, since_ms)
        self.summarized = summarized_days(self.spec.account, told)
        day = daily_summary.due_day(now_ms, minute, self.summarized)
        if day is None:
            return
        days = daily_summary.report_days(day, now_ms)
        report = await self.sql.read(
            daily_report, self.spec.account, self.attribution, None, days, now_ms
        )
        self.report(daily_summary_alerts(self.spec.account, report.totals(day), now_ms))

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
            self.history = None  # a pass reads everything from SQL again
            inputs = self._inputs(book_fresh, history=None)
            self._announce(await self.sql.run(decide, inputs), inputs.now_ms)

    def _inputs(self, book_fresh: bool, history: RuleHistory | None) -> DecideInputs:
        """What a decision now needs of this actor's state."""
        return DecideInputs(
            account=self.spec.account,
            rules=self.rules,
            now_ms=self.clock.now_ms(),
            banlist_valid_ms=self.ledger_config.banlist_valid_ms,
            interval_ms=self.spec.config.interval_ms,
            income_ok_ms=self.income_ok_ms,
            book_fresh=book_fresh,
            live_equity=self.live_equity,
            previous_valid_until_ms=self.published.valid_until_ms if self.published else None,
            history=history,
            attribution=self.attribution,
            exposure=self.exposure,
        )

    def _announce(self, decision: Decision, now_ms: int) -> None:
        """The new version to the gateway (the bytes stored); the locks and the state to the
        Alerter."""
        self.published = decision.banlist
        self.history = decision.history
        self.gateway.notify("publish_banlist", decision.body)
        if self.trader is not None:
            self.trader.notify("on_banlist", decision.body)
        self._report_locks(decision, now_ms)
        for lock in decision.flattens:
            reason = f"{lock.source}: {lock.reason_text}"[:REASON_CHARS]
            request = FlattenRequest(FlattenScope(robot=lock.robot), RULES_OPERATOR, reason)
            task = asyncio.get_running_loop().create_task(self._flatten(request))
            self._flattens.add(task)
            task.add_done_callback(self._flattens.discard)

    async def _flatten(self, request: FlattenRequest) -> None:
        """A flatten rule's flatten, by the Trader (which reports and audits it); one that
        cannot run is logged: the rule's lock and state stand either way."""
        try:
            if self.trader is None:
                raise RuntimeError("the account's Trader is disabled")
            await self.trader.call("flatten", request)
        except Exception as exc:
            log.error("%s: the rules' flatten of %s did not run: %s", self.spec.name, request, exc)

    def _report_locks(self, decision: Decision, now_ms: int) -> None:
        """Every active lock and the trading state to the Alerter; ended locks resolve."""
        account = self.spec.account
        locks = decision.banlist.locks
        figures = functools.partial(lock_figures, self.rules, decision.pnl_usdt_by_lock)
        events = lock_alerts(account, self.reported_locks, locks, now_ms, figures)
        self.report([*events, state_alert(account, decision.state, now_ms)])
        self.reported_locks = locks
