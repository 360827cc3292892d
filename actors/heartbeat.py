"""Heartbeat: keeps countdownCancelAll armed for every symbol with open orders."""

from __future__ import annotations

from actors.base import Job
from actors.context import ConfigSource
from riskd.exchange.parse_orders import parse_open_orders
from riskd.plan import JobSpec
from riskd.protect.heartbeat import symbols_to_arm


class Heartbeat(Job):
    """A dead-man's switch per account: if riskd stops, Binance cancels resting orders."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.account_config.heartbeat.check_interval(spec.config.interval_ms)
        self.countdown_ms = self.account_config.heartbeat.countdown_ms

    async def step(self) -> None:
        client = self.access.client
        orders = parse_open_orders(
            await self.access.read("GET", "/fapi/v1/openOrders", client.futures_get_open_orders)
        )
        armed = symbols_to_arm(orders)
        for symbol in armed:
            await self.access.write(
                "POST",
                "/fapi/v1/countdownCancelAll",
                lambda s=symbol: client.futures_countdown_cancel_all(
                    symbol=s, countdownTime=self.countdown_ms
                ),
            )
        self.health.extra = {"armed": list(armed), "countdown_ms": self.countdown_ms}
