"""OrderReaper: cancels stale orders by client-id prefix and age (decides: riskd.protect.reaper)."""

from __future__ import annotations

from decimal import Decimal

from actors.base import Job
from actors.context import ConfigSource
from riskd.exchange.parse_orders import (
    parse_executed_qty,
    parse_open_algo_orders,
    parse_open_orders,
)
from riskd.plan import JobSpec
from riskd.protect.reaper import MarketOrder, decide, parse_trading_status, replacement_after_cancel


class OrderReaper(Job):
    """Each pass reads open orders, open algo orders and the trading-rule indicators (weight
    90 without a symbol), asks ``riskd.protect.reaper.decide`` and carries out its cancels."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.open_symbols: list[str] = []

    async def step(self) -> None:
        client = self.access.client
        orders = parse_open_orders(
            await self.access.read("GET", "/fapi/v1/openOrders", client.futures_get_open_orders)
        )
        algos = parse_open_algo_orders(
            await self.access.read(
                "GET", "/fapi/v1/openAlgoOrders", client.futures_get_open_algo_orders
            )
        )
        status = parse_trading_status(
            await self.access.read(
                "GET", "/fapi/v1/apiTradingStatus", client.futures_api_trading_status
            )
        )
        self.open_symbols = sorted({o.symbol for o in orders} | {a.symbol for a in algos})
        view = await self.position_book.current.remote()
        fresh = await self.position_book.complete_and_fresh.remote()
        positions = {position.key for position in view.positions} if fresh else None
        decision = decide(
            orders, algos, positions, status, self.clock.now_ms(), self.account_config.reaper
        )
        replacements = {r.replaces_order_id: r for r in decision.market_replacements}
        for cancel in decision.cancels:
            order = cancel.order
            answer = await self.access.write(
                "DELETE",
                "/fapi/v1/order",
                lambda o=order: client.futures_cancel_order(symbol=o.symbol, orderId=o.order_id),
                {"symbol": order.symbol},
            )
            replacement = replacements.get(order.order_id)
            if replacement is not None:
                await self._replace(replacement, order.orig_qty, parse_executed_qty(answer))
        for rung in decision.orphan_rungs:
            await self.access.write(
                "DELETE",
                "/fapi/v1/algoOrder",
                lambda r=rung: client.futures_cancel_algo_order(algoId=r.algo_id),
            )
        self.health.extra = {
            "cancelled": len(decision.cancels) + len(decision.orphan_rungs),
            "deferred": decision.deferred,
            "held_back": dict(decision.held_back),
            "alerts": list(decision.alerts),
        }

    async def open_order_symbols(self) -> list[str]:
        """The symbols with an open order or algo order at the last pass (the market feed's
        hot set)."""
        return self.open_symbols

    async def _replace(
        self, replacement: MarketOrder, orig_qty: Decimal, executed_qty: Decimal
    ) -> None:
        """Maker → taker: the unfilled remainder, at market, idempotent by client id."""
        order = replacement_after_cancel(replacement, orig_qty, executed_qty)
        if order is not None:
            await self.access.place_order(order.order_params())
