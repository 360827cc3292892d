"""StopLadder: an exchange-native ladder of STOP_MARKET rungs on every position of an account.

Each pass asks ``riskd.protect.ladder.plan_actions`` per position and carries it out: place the new
generation, and only once it is confirmed open, cancel the old one. The open algo orders come
from the exchange (the truth: ladders are rebuilt from them after any restart), read in full
once per interval while the budget has room (at least every ``snapshot_max_age_ms``) and kept
current in between by the job's own acknowledgements and the stream's ALGO_UPDATEs, so the
passes that position changes (from the PositionBook) and order events (typed by the
UserStream) trigger at once spend no REST weight.
"""

from __future__ import annotations

import asyncio
import contextlib

from actors.base import Job
from actors.context import ConfigSource
from riskd.core.clock import wall_ms
from riskd.exchange.errors import Rejected
from riskd.exchange.filters import SymbolFilters, parse_exchange_info
from riskd.exchange.parse_orders import (
    AlgoUpdate,
    OrderUpdate,
    open_algo_from_update,
    parse_algo_order,
    parse_open_algo_orders,
)
from riskd.exchange.weights import endpoint_weight
from riskd.notify.events import ladder_failed_alert, market_reduce_alerts
from riskd.orders import AlgoOrderBook, OpenAlgoOrder
from riskd.plan import JobSpec
from riskd.positions import PositionRecord
from riskd.protect.ladder import (
    Ladder,
    Rung,
    on_would_trigger,
    parse_rung_client_id,
    plan_account,
    seen_open_rungs,
    snapshot_due,
)

WOULD_IMMEDIATELY_TRIGGER = -2021
NO_SUCH_ORDER = -2011
OPEN_ALGO_ORDERS_WEIGHT = endpoint_weight("GET", "/fapi/v1/openAlgoOrders", {}).ip_weight


class StopLadder(Job):
    """Keeps every position of the account protected by its ladder; never leaves one bare."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.filters: dict[str, SymbolFilters] = {}
        self.alerts: list[str] = []
        self.placed = self.cancelled = 0
        self.algo_orders = AlgoOrderBook()
        self.seen_open: frozenset[str] = frozenset()  # rungs seen open (of open generations)
        self._wake = asyncio.Event()

    async def recover(self) -> None:
        await super().recover()
        info = await self.access.read(
            "GET", "/fapi/v1/exchangeInfo", self.access.client.futures_exchange_info
        )
        self.filters = parse_exchange_info(info)

    # ------------------------------------------------------------ wake-ups

    async def on_positions(self) -> None:
        """The PositionBook saw a position open, change or close."""
        self._wake.set()

    async def on_order_update(self, update: OrderUpdate) -> None:
        """A regular order changed (a fill may have moved a position)."""
        self._wake.set()

    async def on_algo_update(self, update: AlgoUpdate) -> None:
        """A rung (or another algo order) was confirmed, triggered or is gone."""
        opened = open_algo_from_update(update)
        if opened is None:
            self.algo_orders.gone(update.algo_id, wall_ms())
        else:
            self.algo_orders.opened(opened, wall_ms())
        self._wake.set()

    async def pause(self, delay_ms: float) -> None:
        """Until the next interval or a wake-up; after a failed pass, the base loop's back-off
        in full (a wake-up then would re-read the open orders at the events' pace)."""
        if self.health.last_error is not None:
            return await super().pause(delay_ms)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay_ms / 1000)
        self._wake.clear()

    async def rungs(self) -> list[dict]:
        """The ladders' open rungs as this job last learnt them, each ``{symbol,
        position_side, rung, trigger_price, quantity, close_position}`` (the status page's)."""
        return [
            {
                "symbol": order.symbol,
                "position_side": order.position_side,
                "rung": rung.rung,
                "trigger_price": f"{order.trigger_price:f}",
                "quantity": f"{order.quantity:f}",
                "close_position": order.close_position,
            }
            for order in self.algo_orders.orders()
            if (rung := parse_rung_client_id(order.client_algo_id)) is not None
        ]

    # ------------------------------------------------------------ one pass

    async def step(self) -> None:
        positions = {p.key: p for p in (await self.position_book.current.remote()).positions}
        complete = await self.position_book.complete_and_fresh.remote()
        open_algos = await self._open_algo_orders()
        actions = plan_account(
            positions,
            open_algos,
            self.filters,
            self.account_config.stop_ladder,
            account=self.spec.account,
            complete=complete,
            seen_open=self.seen_open,
        )
        self.seen_open = seen_open_rungs(self.seen_open, open_algos)
        self.alerts.extend(actions.alerts)
        await asyncio.gather(
            *(self._place(ladder, positions[key]) for key, ladder in actions.place.items()),
            *(self._cancel(order) for order in actions.cancel),
        )
        if actions.place or actions.cancel:
            self._wake.set()  # confirm the new generation (then cancel the old) at once
        del self.alerts[:-50]
        self.health.extra = {
            "complete_positions": complete,
            "ladders": actions.open_ladders,
            "positions": len(positions),
            "placed": self.placed,
            "cancelled": self.cancelled,
            "alerts": self.alerts[-5:],
        }

    async def _open_algo_orders(self) -> tuple[OpenAlgoOrder, ...]:
        """The open algo orders: read in full when ``snapshot_due``, otherwise as last learnt."""
        requested = wall_ms()
        last = self.algo_orders.snapshot_requested_ms
        due = snapshot_due(
            None if last is None else requested - last,
            self.spec.config.interval_ms,
            self.account_config.stop_ladder.snapshot_max_age_ms,
            self.access.spare(OPEN_ALGO_ORDERS_WEIGHT),
        )
        if due:
            body = await self.access.read(
                "GET", "/fapi/v1/openAlgoOrders", self.access.client.futures_get_open_algo_orders
            )
            self.algo_orders.replace(parse_open_algo_orders(body), requested)
        return self.algo_orders.orders()

    async def _place(self, ladder: Ladder, position: PositionRecord) -> None:
        filters = self.filters[ladder.symbol]
        await asyncio.gather(
            *(
                self._place_rung(ladder, rung, params, position, filters)
                for rung, params in zip(ladder.rungs, ladder.order_params(filters), strict=True)
            )
        )

    async def _place_rung(
        self,
        ladder: Ladder,
        rung: Rung,
        params: dict[str, str],
        position: PositionRecord,
        filters: SymbolFilters,
    ) -> None:
        try:
            status, order = parse_algo_order(await self.access.place_algo_order(params))
            self.placed += 1
            if status == "NEW":
                self.algo_orders.opened(order, wall_ms())
            else:  # found by clientAlgoId after an unknown outcome, already triggered or gone
                self.algo_orders.gone(order.algo_id, wall_ms())
        except Rejected as exc:
            if exc.code != WOULD_IMMEDIATELY_TRIGGER:
                self.alerts.append(f"{ladder.symbol} rung {rung.index}: {exc.message}")
                self.report(
                    [ladder_failed_alert(self.spec.account, ladder.symbol, exc.code, wall_ms())]
                )
                raise
            reduce = on_would_trigger(ladder, rung, position)
            if reduce is not None:
                self.alerts.append(reduce.alert)
                await self.access.place_order(reduce.order_params(filters))
                self.report(
                    market_reduce_alerts(
                        self.spec.account, ladder.symbol, reduce.quantity, wall_ms()
                    )
                )

    async def _cancel(self, order: OpenAlgoOrder) -> None:
        try:
            await self.access.write(
                "DELETE",
                "/fapi/v1/algoOrder",
                lambda: self.access.client.futures_cancel_algo_order(algoId=order.algo_id),
            )
            self.cancelled += 1
        except Rejected as exc:
            if exc.code != NO_SUCH_ORDER:  # already gone (triggered or cancelled): the goal
                raise
        self.algo_orders.gone(order.algo_id, wall_ms())
