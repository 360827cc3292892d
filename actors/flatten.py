"""The emergency flatten's loop, run in the account's Trader (``Trader.flatten``): the exchange
reads and writes, the Ledger's calls, SQL and alerts around ``riskd.protect.flatten``, which
decides what to cancel, what to send and what the report says.

1. Stop new risk through the Ledger: HALTED (an account's flatten) or an operator's lock (a
   symbol's, both sides; a robot's, that robot only), each audited under the operator's name.
2. Cancel the open orders in scope: GET openOrders and openAlgoOrders (40 each, 1 with a
   symbol), DELETE each (1); the StopLadder's rungs stay.
3. Close: GET /fapi/v3/positionRisk (5), the slices by POST /fapi/v1/order, paced by the
   account's order budget, a few at once (``max_in_flight``), each idempotent by its client id.
4. Confirm: positionRisk again; what is still open is sent again, ``confirm_attempts`` rounds
   in all, within ``timeout_ms``.

Every read goes through the Trader's weight budget and the IP guard. A 418 ban stops the
flatten at once (nothing may be sent); anything the exchange refuses is kept with its code
and message; nothing raises out of it but a refused request (unknown robot or symbol, a
flatten already running).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

from ray.exceptions import RayTaskError
from sqlalchemy.exc import SQLAlchemyError

from actors.context import NamedActor, PeerUnavailable, ledger_name
from riskd.exchange.errors import ExchangeError, IpBanned, RateLimited, Rejected
from riskd.exchange.filters import SymbolFilters, parse_exchange_info
from riskd.exchange.parse import PayloadError, parse_position_risk
from riskd.exchange.parse_orders import parse_open_algo_orders, parse_open_orders
from riskd.notify.events import flatten_finished_alerts, flatten_started_alerts
from riskd.positions import PositionKey
from riskd.protect.flatten import (
    FlattenBusy,
    FlattenProgress,
    FlattenRequest,
    FlattenStep,
    LeftReason,
    Slice,
    SliceStatus,
    StepStatus,
    UnknownSymbol,
    orders_to_cancel,
)
from riskd.protect.flatten_store import finish_flatten, start_flatten
from riskd.risk.attribution import robot_positions
from riskd.risk.ledger_store import filled_quantities
from riskd.risk.locks import REASON_CHARS, TradingState

if TYPE_CHECKING:
    from actors.trader import Trader

T = TypeVar("T")
ALREADY_GONE = -2011  # a cancel of an order no longer open
log = logging.getLogger(__name__)


class Flattener:
    """The flattens of one Trader's account, one at a time."""

    def __init__(self, trader: Trader) -> None:
        self.trader = trader
        self.account = trader.spec.account
        self.config = trader.account_config.flatten
        jobs = trader.account_config.jobs
        self.ledger: NamedActor | None = (
            trader.peer(ledger_name(self.account)) if jobs.ledger.enabled else None
        )
        self._running = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether a flatten is running (the Trader's pass then leaves it the weight)."""
        return self._running.locked()

    # ------------------------------------------------------------------ the whole flatten

    async def run(self, request: FlattenRequest) -> dict[str, Any]:
        """Flatten as *request* says; its report as a dict (``FlattenReport.to_dict``).
        LookupError: the robot does not trade on this account, or the exchange does not
        list the symbol; FlattenBusy: a flatten of the account is running."""
        trader, scope = self.trader, request.scope
        if scope.robot and scope.robot not in trader.robots:
            robots = ", ".join(sorted(trader.robots)) or "none"
            raise LookupError(
                f"robot: {scope.robot!r} does not trade on account {self.account} "
                f"(its robots: {robots})"
            )
        if self.running:
            raise FlattenBusy(
                f"a flatten of account {self.account} is running: wait for its report"
            )
        async with self._running:
            if scope.symbol:
                await self._require_listed(scope.symbol)
            started_ms = trader.clock.now_ms()
            prefix = trader.robots[scope.robot].client_id_prefix if scope.robot else ""
            progress = FlattenProgress(self.account, request, started_ms, prefix)
            trader.report(flatten_started_alerts(self.account, scope, request.operator, started_ms))
            flatten_id = await self._audit(start_flatten, self.account, request, started_ms)
            try:
                async with asyncio.timeout(self.config.timeout_ms / 1000):
                    await self._flatten(progress)
            except TimeoutError:
                progress.stop(
                    LeftReason.TIMED_OUT,
                    f"the flatten did not finish within {self.config.timeout_ms} ms",
                )
            except Exception as exc:  # a bug: still report (and audit) what was done
                log.exception("%s: the flatten failed", trader.spec.name)
                progress.stop(
                    LeftReason.STOPPED, f"riskd failed ({type(exc).__name__}): see its log"
                )
            report = replace(progress.report(trader.clock.now_ms()), id=flatten_id)
            if flatten_id is not None:
                await self._audit(finish_flatten, flatten_id, report)
            trader.report(flatten_finished_alerts(scope, report))
            log.warning(
                "%s: flatten of %s by %s: %s",
                trader.spec.name,
                scope,
                request.operator,
                report.outcome.value,
            )
            return report.to_dict()

    async def _flatten(self, progress: FlattenProgress) -> None:
        await self._stop_new_risk(progress)
        await self._cancel(progress)
        if not await self._read_positions(progress, first=True):
            return
        config = self.config
        for attempt in range(1, config.confirm_attempts + 1):
            if attempt > 1:
                await asyncio.sleep(config.confirm_interval_ms / 1000)
                if not await self._read_positions(progress) or progress.flat:
                    break
            slices = progress.next_slices(await self._filters_of(progress), attempt)
            if not slices:
                if progress.flat or progress.to_send():  # flat, or what is left cannot be sized
                    break
                continue  # the answers say filled: give the exchange another interval
            progress.attempts = attempt
            filled = await self._send(progress, slices)
            if attempt == 1:
                progress.closed()
            if progress.stopped is not None:
                break
            if not filled:  # an answer that did not say filled: let the exchange catch up
                await asyncio.sleep(config.confirm_interval_ms / 1000)
            if not await self._read_positions(progress) or progress.flat:
                break
        if progress.steps[FlattenStep.CLOSE].status is StepStatus.PENDING:
            progress.closed()

    # ------------------------------------------------------------------ 1. stop new risk

    async def _stop_new_risk(self, progress: FlattenProgress) -> None:
        request, scope = progress.request, progress.scope
        reason = f"flatten: {request.reason}"[:REASON_CHARS]
        if scope.symbol or scope.robot:
            method = "add_lock"
            body: dict[str, object] = {
                "symbol": scope.lock_symbol,
                "side": "both",
                "operator": request.operator,
                "reason": reason,
            }
            what = f"locked {scope.lock_symbol}"
            if scope.robot:
                body["robot"] = scope.robot
                what += f" for robot {scope.robot}"
        else:
            method = "set_trading_state"
            body = {"state": TradingState.HALTED.value, "operator": request.operator}
            body["reason"] = reason
            what = "the account is HALTED"
        if self.ledger is None:
            progress.step(FlattenStep.STOP, StepStatus.FAILED, "no Ledger runs on this account")
            return
        try:
            answer = await self.ledger.call(method, body)
        except RayTaskError as exc:  # the Ledger refused it, or failed
            progress.step(FlattenStep.STOP, StepStatus.FAILED, f"the Ledger: {exc.cause}")
            return
        except PeerUnavailable:
            progress.step(FlattenStep.STOP, StepStatus.FAILED, "the Ledger is not running")
            return
        if method == "add_lock":
            what += f" (lock {answer.get('id')})"
        progress.step(FlattenStep.STOP, StepStatus.DONE, what)

    # ------------------------------------------------------------------ 2. cancel

    async def _cancel(self, progress: FlattenProgress) -> None:
        client = self.trader.access.client
        query = {"symbol": progress.scope.symbol} if progress.scope.symbol else {}
        try:
            orders = parse_open_orders(
                await self._read(
                    "/fapi/v1/openOrders", lambda: client.futures_get_open_orders(**query), query
                )
            )
            algo_orders = parse_open_algo_orders(
                await self._read(
                    "/fapi/v1/openAlgoOrders",
                    lambda: client.futures_get_open_algo_orders(**query),
                    query,
                )
            )
        except (ExchangeError, PayloadError) as exc:
            progress.step(
                FlattenStep.CANCEL, StepStatus.FAILED, f"the open orders could not be read: {exc}"
            )
            self._stop_if_banned(progress, exc)
            return
        plan = orders_to_cancel(progress.scope, orders, algo_orders, self.trader.attribution)
        progress.cancel_planned(plan)
        gate = asyncio.Semaphore(self.config.max_in_flight)

        async def cancel(symbol: str, client_id: str, order_id: int, algo: bool) -> None:
            async with gate:
                error = ""
                if progress.stopped is not None:
                    error = f"not sent: {progress.stopped.detail}"
                else:
                    try:
                        await self._cancel_one(symbol, order_id, algo)
                    except Rejected as exc:
                        error = "" if exc.code == ALREADY_GONE else str(exc)
                    except ExchangeError as exc:
                        error = str(exc)
                        self._stop_if_banned(progress, exc)
                progress.cancelled(symbol, client_id, order_id, algo=algo, error=error)

        await asyncio.gather(
            *(cancel(o.symbol, o.client_order_id, o.order_id, False) for o in plan.orders),
            *(cancel(a.symbol, a.client_algo_id, a.algo_id, True) for a in plan.algo_orders),
        )
        progress.cancels_finished()

    async def _cancel_one(self, symbol: str, order_id: int, algo: bool) -> None:
        access, client = self.trader.access, self.trader.access.client
        if algo:
            await access.write(
                "DELETE",
                "/fapi/v1/algoOrder",
                lambda: client.futures_cancel_algo_order(algoId=order_id),
            )
        else:
            await access.write(
                "DELETE",
                "/fapi/v1/order",
                lambda: client.futures_cancel_order(symbol=symbol, orderId=order_id),
                {"symbol": symbol},
            )

    # ------------------------------------------------------------------ 3. close, 4. confirm

    async def _read_positions(self, progress: FlattenProgress, *, first: bool = False) -> bool:
        """The account's positions from the exchange into *progress* (with the robots' own
        holdings on the first read of a robot's flatten); False when they could not be read
        (the flatten then stops, saying why)."""
        client = self.trader.access.client
        try:
            taken_ms = self.trader.clock.now_ms()
            body = await self._read("/fapi/v3/positionRisk", client.futures_position_information)
            snapshot = parse_position_risk(body, taken_ms, complete=True)
            held = None
            if first and progress.scope.robot:
                fills = await self.trader.sql.read(filled_quantities, self.account)
                held = robot_positions(fills, self.trader.attribution)
        except (ExchangeError, PayloadError) as exc:
            progress.stop(LeftReason.EXCHANGE_ERROR, f"the positions could not be read: {exc}")
            return False
        except SQLAlchemyError as exc:
            detail = f"the robot's fills could not be read from SQL: {type(exc).__name__}"
            progress.stop(LeftReason.STOPPED, detail)
            return False
        amounts: dict[PositionKey, Decimal] = {r.key: r.amount for r in snapshot.positions}
        progress.positions_read(amounts, held)
        return True

    async def _send(self, progress: FlattenProgress, slices: list[Slice]) -> bool:
        """Place *slices*, a few at once; whether every answer said filled."""
        gate = asyncio.Semaphore(self.config.max_in_flight)
        filters = self.trader.filters

        async def place(order: Slice) -> bool:
            async with gate:
                if progress.stopped is not None:
                    detail = f"not sent: {progress.stopped.detail}"
                    progress.answered(order, SliceStatus.FAILED, message=detail)
                    return False
                progress.sending(order)
                try:
                    answer = await self.trader.access.place_order(
                        order.params(filters[order.symbol])
                    )
                except Rejected as exc:
                    progress.answered(
                        order, SliceStatus.REJECTED, code=exc.code, message=exc.message
                    )
                    return False
                except RateLimited as exc:
                    progress.answered(order, SliceStatus.FAILED, code=-1003, message=str(exc))
                    return False
                except ExchangeError as exc:
                    progress.answered(order, SliceStatus.FAILED, message=str(exc))
                    self._stop_if_banned(progress, exc)
                    return False
                status, filled, message = _outcome(answer)
                progress.answered(order, status, filled, message=message)
                return status is SliceStatus.FILLED

        return all(await asyncio.gather(*(place(s) for s in slices)))

    async def _filters_of(self, progress: FlattenProgress) -> Mapping[str, SymbolFilters]:
        """The filters, read again once when a symbol to close has none."""
        missing = {key.symbol for key in progress.remaining()} - set(self.trader.filters)
        if missing:
            try:
                await self._read_filters()
            except (ExchangeError, ValueError) as exc:
                log.warning("%s: exchangeInfo failed: %s", self.trader.spec.name, exc)
        return self.trader.filters

    async def _require_listed(self, symbol: str) -> None:
        """UnknownSymbol unless exchangeInfo lists *symbol* (read again when it is not known);
        when the filters cannot be read at all, the flatten goes on and reports it."""
        if symbol in self.trader.filters:
            return
        try:
            await self._read_filters()
        except (ExchangeError, ValueError) as exc:
            log.warning("%s: exchangeInfo failed: %s", self.trader.spec.name, exc)
        if self.trader.filters and symbol not in self.trader.filters:
            raise UnknownSymbol(f"symbol: the exchange does not list {symbol!r}")

    async def _read_filters(self) -> None:
        trader = self.trader
        info = await self._read("/fapi/v1/exchangeInfo", trader.access.client.futures_exchange_info)
        trader.filters, trader.filters_read_ms = parse_exchange_info(info), trader.clock.now_ms()

    # ------------------------------------------------------------------ plumbing

    async def _read(
        self, path: str, call: Callable[[], Awaitable[T]], params: Mapping[str, Any] | None = None
    ) -> T:
        return await self.trader.access.read("GET", path, call, params)

    async def _audit(self, work: Callable[..., T], *args: object) -> T | None:
        """*work* in SQL; None, and one log line, when SQL fails (the flatten goes on)."""
        try:
            return await self.trader.sql.run(work, *args)
        except SQLAlchemyError as exc:
            log.error("%s: a flatten was not audited in SQL: %s", self.trader.spec.name, exc)
            return None

    @staticmethod
    def _stop_if_banned(progress: FlattenProgress, exc: Exception) -> None:
        if isinstance(exc, IpBanned):
            progress.stop(LeftReason.EXCHANGE_ERROR, f"nothing may be sent: {exc}")


def _outcome(answer: Mapping[str, Any]) -> tuple[SliceStatus, Decimal | None, str]:
    """A placed slice's status, what it filled and a word on it, from the order's answer
    (RESULT: its final state)."""
    status = str(answer.get("status", ""))[:32]
    try:
        filled = Decimal(str(answer["executedQty"]))
    except (KeyError, InvalidOperation):
        return SliceStatus.PLACED, None, "the answer did not say what it filled"
    if status == "FILLED":
        return SliceStatus.FILLED, filled, ""
    if filled > 0:
        return SliceStatus.PARTIALLY_FILLED, filled, f"{status}: filled in part"
    if status in ("NEW", "PARTIALLY_FILLED"):
        return SliceStatus.PLACED, None, status
    return SliceStatus.FAILED, filled, f"the exchange answered {status}, nothing filled"
