"""Trader: the account's order path, for its robots and the emergency flatten. Every robot's
order passes the pre-trade gate (decides: riskd.trade.gate) and every decision is recorded
(riskd.trade.decision_store); the FMZ protocol's account methods are answered here (shapes:
riskd.fmz.answers). An operator's flatten runs here too (``flatten``; its loop in
``actors/flatten.py``, its decisions in riskd.protect.flatten). Every account runs one.

Each pass refreshes the symbols' filters (exchangeInfo, every 10 min) and, on an account with
robots, what the gate judges by: the account's open orders (weight 40), every symbol's mark
price (10) and the positions (the PositionBook, which also tells it of every change). The ban
list comes from the Ledger.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar

from actors.base import Job
from actors.context import ConfigSource
from actors.flatten import Flattener
from riskd.core.clock import HOUR_MS, MINUTE_MS, wall_ms
from riskd.exchange.budget import OrderBudget
from riskd.exchange.errors import ExchangeError, Rejected
from riskd.exchange.filters import parse_exchange_info
from riskd.exchange.parse import parse_account
from riskd.exchange.parse_orders import parse_open_orders, parse_order, parse_orders
from riskd.exchange.weights import endpoint_weight
from riskd.fmz import answers
from riskd.fmz.intents import trade_intent
from riskd.fmz.request import (
    HistoryParams,
    MarginLevelParams,
    Method,
    NoParams,
    OrderParams,
    Params,
    PositionsParams,
    RawParams,
    SymbolParams,
    TradeParams,
)
from riskd.fmz.symbols import FmzSymbol
from riskd.notify.events import order_refused_alert
from riskd.plan import JobSpec
from riskd.positions import PositionKey
from riskd.protect.flatten import FlattenRequest
from riskd.risk.attribution import Attribution, RobotPositionKey, robot_positions
from riskd.risk.banlist import BanList
from riskd.risk.ledger_store import filled_quantities
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.schema import init_schema
from riskd.store.write_queue import WriteQueue
from riskd.trade.decision_store import (
    DecisionRecord,
    decision_counts,
    decisions,
    record_decisions,
)
from riskd.trade.gate import GateContext, decide
from riskd.trade.orders import client_order_id, decision_record, order_params, owns
from riskd.trade.recent import RecentOrders

FILTERS_EVERY_MS = 10 * MINUTE_MS
RECORD_EVERY_S = 0.1  # a failed write of gate decisions is tried again this often
RESTING = frozenset({"NEW", "PARTIALLY_FILLED"})
log = logging.getLogger(__name__)


class Trader(Job):
    """Places, lists and cancels the account's robots' orders; a robot sees only its own."""

    SECRETS: ClassVar[frozenset[str]] = frozenset({"database"})

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.robots = {r.name: r for r in self.config.robots if r.account == spec.account}
        self.engine = make_engine(self.config.database.resolved_url.reveal())
        self.sql = SqlRunner(self.engine)
        windows = [r.limits.duplicate_window_ms for r in self.robots.values()]
        windows.append(self.account_config.limits.duplicate_window_ms)
        self.recent = RecentOrders(max(1_000, *windows))
        self.banlist: BanList | None = None
        self.filters: dict = {}
        self.filters_read_ms: int | None = None
        self.positions: dict = {}
        self.attribution = Attribution.of(self.config.robots, spec.account)
        self.robot_positions: Mapping[RobotPositionKey, Decimal] = {}
        self.leverage: dict[str, int] = {}
        self.open_orders: tuple = ()
        self.marks: dict[str, Decimal] = {}
        self.sequence = itertools.count()
        self.decisions = WriteQueue(
            f"{spec.name}: gate decisions",
            functools.partial(self.sql.run, record_decisions),
            retry_s=RECORD_EVERY_S,
        )
        budgets = self.config.budgets
        self.access.orders = OrderBudget(  # robots' bursts wait here, not in a −1015
            math.floor(budgets.account_orders_per_10s * budgets.headroom),
            math.floor(budgets.account_orders_per_minute * budgets.headroom),
        )
        self.flattener = Flattener(self)  # after the attribution and the order budget

    async def recover(self) -> None:
        await super().recover()
        await asyncio.to_thread(init_schema, self.engine, wall_ms())

    async def step(self) -> None:
        """Refresh what the gate judges robots' orders by; then fail while gate decisions wait
        for SQL, with the write's error, so that the health and DatabaseError tell."""
        await self._refresh()
        if self.decisions.error is not None:
            raise self.decisions.error.with_traceback(None)

    async def _refresh(self) -> None:
        client = self.access.client
        now_ms = self.clock.now_ms()
        if self.filters_read_ms is None or now_ms - self.filters_read_ms >= FILTERS_EVERY_MS:
            info = await self.access.read(
                "GET", "/fapi/v1/exchangeInfo", client.futures_exchange_info
            )
            self.filters, self.filters_read_ms = parse_exchange_info(info), now_ms
        # The rest is what the gate judges robots' orders by; a running flatten needs the
        # job's weight more (and HALTED or a lock refuses what they would open meanwhile).
        if not self.robots or self.flattener.running:
            return
        self.open_orders = parse_open_orders(
            await self.access.read("GET", "/fapi/v1/openOrders", client.futures_get_open_orders)
        )
        marks = await self.access.read("GET", "/fapi/v1/premiumIndex", client.futures_mark_price)
        self.marks = {item["symbol"]: Decimal(item["markPrice"]) for item in marks}
        if any(r.max_margin_usdt is not None for r in self.robots.values()):
            self.leverage = await self._leverage()
        await self.on_positions()

    async def on_positions(self) -> None:
        """The PositionBook's positions changed (or a pass asks): take its current view, and
        the robots' own positions as their fills built them (for their shares)."""
        view = await self.position_book.current.remote()
        self.positions = {record.key: record.amount for record in view.positions}
        if any(r.max_notional_usdt or r.max_margin_usdt for r in self.robots.values()):
            fills = await self.sql.read(filled_quantities, self.spec.account)
            self.robot_positions = robot_positions(fills, self.attribution)

    async def _leverage(self) -> dict[str, int]:
        """Each symbol's leverage, from GET /fapi/v2/account (v3 and positionRisk v3 no longer
        report it)."""
        body = await self.access.read(
            "GET", "/fapi/v2/account", lambda: self.access.client.futures_account(version=2)
        )
        return {item["symbol"]: int(item["leverage"]) for item in body["positions"]}

    def _own_positions(self, robot: str) -> dict[PositionKey, Decimal]:
        return {
            PositionKey(symbol, side): amount
            for (owner, symbol, side), amount in self.robot_positions.items()
            if owner == robot
        }

    async def on_banlist(self, body: bytes) -> None:
        """A new ban-list version from the Ledger (an older one is ignored)."""
        banlist = BanList.from_json(body)
        if self.banlist is None or banlist.version > self.banlist.version:
            self.banlist = banlist

    # ------------------------------------------------------------ the FMZ methods

    async def fmz(self, robot: str, method: Method, params: Params) -> dict[str, Any]:
        """Answer one FMZ account method for *robot*: ``{"data", "raw"}`` or ``{"error"}``."""
        if robot not in self.robots:
            return answers.error(f"robot {robot!r} does not trade on account {self.spec.account}")
        try:
            return await self._fmz(robot, method, params)
        except Rejected as exc:
            return answers.error(f"the exchange refused: {exc.detail}")
        except ExchangeError as exc:
            return answers.error(f"the exchange could not be reached: {exc.detail}")
        except (KeyError, TypeError, ValueError) as exc:  # a malformed answer (PayloadError)
            log.warning("%s: %s answered from a malformed body: %r", self.spec.name, method, exc)
            return answers.error(f"{method.value}: the exchange's answer was malformed")

    async def _fmz(self, robot: str, method: Method, params: Params) -> dict[str, Any]:
        client = self.access.client
        match method, params:
            case Method.TRADE, TradeParams():
                return await self._trade(robot, params)
            case Method.ORDERS, SymbolParams():
                body = await self.access.read(
                    "GET",
                    "/fapi/v1/openOrders",
                    lambda: client.futures_get_open_orders(symbol=params.symbol.binance),
                    {"symbol": params.symbol.binance},
                )
                return answers.answer(answers.orders(self._own(robot, parse_orders(body))))
            case Method.ORDER, OrderParams():
                body = await self._order(params)
                if not self._owns(robot, body):
                    return answers.error(f"order {params.order.fmz_id} is not robot {robot}'s")
                return answers.answer(answers.order(parse_order(body)), body)
            case Method.CANCEL, OrderParams():
                body = await self._order(params)
                if not self._owns(robot, body):
                    return answers.error(f"order {params.order.fmz_id} is not robot {robot}'s")
                ref = params.order
                await self.access.write(
                    "DELETE",
                    "/fapi/v1/order",
                    lambda: client.futures_cancel_order(
                        symbol=ref.symbol.binance, orderId=ref.order_id
                    ),
                    {"symbol": ref.symbol.binance},
                )
                self.open_orders = tuple(
                    order for order in self.open_orders if order.order_id != ref.order_id
                )
                return answers.answer(answers.DONE)
            case Method.HISTORY_ORDERS, HistoryParams():
                query: dict[str, Any] = {"symbol": params.symbol.binance}
                if params.since_ms:
                    query["startTime"] = params.since_ms
                if params.limit:
                    query["limit"] = params.limit
                body = await self.access.read(
                    "GET",
                    "/fapi/v1/allOrders",
                    lambda: client.futures_get_all_orders(**query),
                    query,
                )
                return answers.answer(answers.orders(self._own(robot, parse_orders(body))))
            case Method.ACCOUNTS | Method.ASSETS, NoParams():
                body = await self.access.read(
                    "GET", "/fapi/v3/account", lambda: client.futures_account(version=3)
                )
                snapshot = parse_account(body, self.clock.now_ms())
                return answers.answer(answers.balances(snapshot.balances))
            case Method.POSITIONS, PositionsParams():
                return await self._positions(params)
            case Method.MARGIN_LEVEL, MarginLevelParams():
                symbol = params.symbol.binance
                await self.access.write(
                    "POST",
                    "/fapi/v1/leverage",
                    lambda: client.futures_change_leverage(
                        symbol=symbol, leverage=params.margin_level
                    ),
                    {"symbol": symbol},
                )
                return answers.answer(answers.DONE)
            case Method.RAW, RawParams():
                return await self._raw(params)
        return answers.error(f"method {method.value}: not an account method")

    async def _trade(self, robot: str, params: TradeParams) -> dict[str, Any]:
        config = self.robots[robot]
        now_ms = self.clock.now_ms()
        intent = trade_intent(robot, self.spec.account, params)
        context = GateContext(
            now_ms=now_ms,
            robot=config,
            account_limits=self.account_config.limits,
            banlist=self.banlist,
            filters=self.filters.get(intent.symbol),
            positions=self.positions,
            open_orders=self.open_orders,
            marks=self.marks,
            recent=self.recent,
            robot_positions=self._own_positions(robot),
            leverage=self.leverage,
        )
        decision = decide(intent, context)
        if decision.refusal is not None:
            await self._record(decision_record(intent, decision, None, now_ms))
            refusal = decision.refusal.value
            self.report(
                [order_refused_alert(intent.account, robot, intent.symbol, refusal, now_ms)]
            )
            return answers.error(f"refused ({refusal}): {decision.detail}")
        client_id = client_order_id(config, now_ms, next(self.sequence))
        record = decision_record(intent, decision, client_id, now_ms)
        self.recent.record(intent, now_ms)
        try:
            placed = await self.access.place_order(
                order_params(intent, self.filters[intent.symbol], client_id)
            )
        except ExchangeError as exc:
            await self._record(replace(record, detail=f"not placed: {exc}"))
            raise
        await self._record(replace(record, order_id=int(placed["orderId"])))
        if placed.get("status") in RESTING:  # the gate counts it until the next pass reads it
            resting = {"time": placed.get("updateTime"), **placed}  # the answer has no "time"
            self.open_orders = (*self.open_orders, *parse_open_orders([resting]))
        return answers.answer(answers.created(params.symbol, int(placed["orderId"])), placed)

    async def _record(self, record: DecisionRecord) -> None:
        """Return once the write that takes *record* is over: a robot is answered only once
        its decision is in SQL, which a crash right after then cannot lose. A failed write
        lets the answer go too; the decision stays queued for the next."""
        await self.decisions.put(record)

    async def _order(self, params: OrderParams) -> dict:
        ref = params.order
        return await self.access.read(
            "GET",
            "/fapi/v1/order",
            lambda: self.access.client.futures_get_order(
                symbol=ref.symbol.binance, orderId=ref.order_id
            ),
            {"symbol": ref.symbol.binance},
        )

    def _owns(self, robot: str, body: dict) -> bool:
        return owns(self.robots[robot], str(body.get("clientOrderId", "")))

    def _own(self, robot: str, orders: Sequence) -> list:
        return [order for order in orders if owns(self.robots[robot], order.client_order_id)]

    async def _positions(self, params: PositionsParams) -> dict[str, Any]:
        """Positions from the PositionBook; margin levels from the account."""
        levels = self.leverage = await self._leverage()
        view = await self.position_book.current.remote()
        wanted: FmzSymbol | None = params.symbol
        records = [
            record for record in view.positions if wanted is None or record.symbol == wanted.binance
        ]
        return answers.answer(answers.positions(records, levels))

    async def _raw(self, params: RawParams) -> dict[str, Any]:
        version, _, path = params.path.removeprefix("/fapi/v").partition("/")
        if not version.isdigit():
            return answers.error(f"{params.path}: only /fapi/v<n>/ paths go through riskd")
        query = dict(params.params)
        method = params.http_method.value
        try:
            endpoint_weight(method, params.path, query)
        except KeyError:
            return answers.error(
                f"{method} {params.path}: riskd knows no weight for it, so cannot budget it"
            )

        async def call() -> Any:
            return await self.access.client._request_futures_api(
                method.lower(), path, signed=True, version=int(version), data=query
            )

        send = self.access.read if method == "GET" else self.access.write
        body = await send(method, params.path, call, query)
        return answers.answer(body, body)

    async def orders(self, robot: str | None, limit: int) -> list[dict]:
        """The newest gate decisions of this account (of *robot* if given)."""
        records = await self.sql.read(
            decisions, account=self.spec.account, robot=robot, limit=limit
        )
        return [record.to_dict() for record in records]

    async def order_summary(self, hours: int) -> dict[str, Any]:
        """Per robot of this account, how many orders the gate passed and refused over the
        last *hours*, and its latest refusal: ``GET /v1/orders/summary``."""
        since_ms = wall_ms() - hours * HOUR_MS
        counts = await self.sql.read(
            decision_counts, self.spec.account, sorted(self.robots), since_ms
        )
        return {
            "account": self.spec.account,
            "since_ms": since_ms,
            "robots": [count.to_dict() for count in counts],
        }

    async def flatten(self, request: FlattenRequest) -> dict[str, Any]:
        """An operator's emergency flatten of this account, a symbol of it or a robot's
        positions (``actors.flatten.Flattener``): its report as a dict. LookupError: the robot
        does not trade here, or the exchange does not list the symbol; FlattenBusy: a
        flatten of the account is running."""
        return await self.flattener.run(request)
