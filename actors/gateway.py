"""Gateway actor: the server of ``riskd.gateway`` on Ray, answering from the deployment's
named actors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayActorError, RayTaskError

from actors.context import (
    ALERTER_NAME,
    CONTROLLER_NAME,
    KLINE_STORE_NAME,
    ConfigSource,
    ledger_name,
    position_book_name,
    stop_ladder_name,
    trader_name,
)
from actors.metrics import MarketMetrics
from riskd.core.clock import wall_ms
from riskd.fmz.request import Method, Params
from riskd.gateway.app import GatewayServer
from riskd.gateway.ports import BackendUnavailable
from riskd.gateway.robots import RobotTokens
from riskd.health import JobStatus
from riskd.market.records import Record
from riskd.plan import JobKind, job_name
from riskd.protect.flatten import FlattenRequest
from riskd.trade.config import ROBOTS_SECRETS

METRICS_EVERY_S = 5.0


class RayBackend:
    """The gateway's :class:`riskd.gateway.ports.Backend`: the deployment's named actors.

    A handle, once looked up, is kept: it stays valid while Ray restarts its actor, but not
    once the Controller has recreated a dead one, so a call that fails with RayActorError
    drops it and the next request looks the actor up again.
    """

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._handles: dict[str, ActorHandle] = {}

    async def _call(self, name: str, method: str, *args: object) -> Any:
        """Actor *name*'s *method*: what it returns or raises (without Ray's wrapping);
        BackendUnavailable when the actor does not exist or died."""
        handle = self._handles.get(name)
        if handle is None:
            try:
                handle = self._handles[name] = ray.get_actor(name, namespace=self._namespace)
            except ValueError:
                raise BackendUnavailable(f"{name} is not running") from None
        try:
            return await getattr(handle, method).remote(*args)
        except RayActorError as exc:
            if self._handles.get(name) is handle:
                del self._handles[name]
            raise BackendUnavailable() from exc
        except RayTaskError as exc:
            raise exc.cause from None

    async def warm(self, names: Sequence[str]) -> None:
        """Look actors *names* up and make a round trip to each, so that the first request
        that needs one is as fast as the next ones (the Controller calls this once all exist)."""
        for name in names:
            with contextlib.suppress(BackendUnavailable):
                await self._call(name, "__ray_ready__")

    async def health_rows(self) -> list[JobStatus]:
        return await self._call(CONTROLLER_NAME, "status")

    async def book_health(self, account: str) -> dict:
        return await self._call(position_book_name(account), "health")

    async def alerter_health(self) -> dict:
        return await self._call(ALERTER_NAME, "health")

    async def positions(self, account: str) -> dict:
        return await self._call(position_book_name(account), "view")

    async def check_key(self, account: str) -> dict:
        return await self._call(job_name(JobKind.ACCOUNT_READER, account), "check_key")

    async def ladder_rungs(self, account: str) -> list[dict]:
        return await self._call(stop_ladder_name(account), "rungs")

    async def equity(self, account: str, hours: int) -> dict:
        return await self._call(ledger_name(account), "equity", hours)

    async def order_summary(self, account: str, hours: int) -> dict:
        return await self._call(trader_name(account), "order_summary", hours)

    async def locks(self, account: str) -> list[dict]:
        return await self._call(ledger_name(account), "active_locks")

    async def add_lock(self, account: str, body: object) -> dict:
        return await self._call(ledger_name(account), "add_lock", body)

    async def unlock(self, account: str, lock_id: int, operator: str, reason: str) -> dict:
        return await self._call(ledger_name(account), "unlock", lock_id, operator, reason)

    async def trading_state(self, account: str) -> dict:
        return await self._call(ledger_name(account), "trading_state")

    async def set_trading_state(self, account: str, body: object) -> dict:
        return await self._call(ledger_name(account), "set_trading_state", body)

    async def alerts(self) -> list[dict]:
        return await self._call(ALERTER_NAME, "alerts")

    async def recent_alerts(self, hours: int, limit: int) -> list[dict]:
        return await self._call(ALERTER_NAME, "recent_alerts", hours, limit)

    async def silences(self) -> list[dict]:
        return await self._call(ALERTER_NAME, "silences")

    async def add_silence(self, body: object) -> dict:
        return await self._call(ALERTER_NAME, "add_silence", body)

    async def expire_silence(self, silence_id: int, operator: str) -> dict:
        return await self._call(ALERTER_NAME, "expire_silence", silence_id, operator)

    async def fmz(self, account: str, robot: str, method: Method, params: Params) -> dict:
        return await self._call(trader_name(account), "fmz", robot, method, params)

    async def orders(self, account: str, robot: str | None, limit: int) -> list[dict]:
        return await self._call(trader_name(account), "orders", robot, limit)

    async def flatten(self, account: str, request: FlattenRequest) -> dict:
        return await self._call(trader_name(account), "flatten", request)

    async def pnl(self, account: str, by: str, hours: int, robot: str | None) -> dict:
        return await self._call(ledger_name(account), "pnl", by, hours, robot)

    async def daily_report(self, account: str, by: str | None, days: int) -> dict:
        return await self._call(ledger_name(account), "daily_report", by, days)

    async def kline_history(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list]:
        rows = await self._call(
            KLINE_STORE_NAME, "history", symbol, interval, start_ms, end_ms, limit
        )
        return [list(row) for row in rows]


class Gateway:
    """A deployment's :class:`riskd.gateway.app.GatewayServer`, as a Ray actor."""

    def __init__(self, source: ConfigSource) -> None:
        config = source.load(secrets={"gateway", ROBOTS_SECRETS})
        accounts = [account.name for account in config.accounts]
        backend = RayBackend(config.deployment.name)
        market = config.market if config.market and config.market.enabled else None
        robots = RobotTokens.of(config.robots)
        self.backend = backend
        # Every account's Trader: the robots' orders and the operators' flattens go there.
        self.traders = sorted(
            trader_name(account.name) for account in config.accounts if account.jobs.trader.enabled
        )
        self.server = GatewayServer(
            config.gateway,
            accounts,
            backend,
            market=market,
            robots=robots,
            robot_accounts={robot.name: robot.account for robot in config.robots},
        )
        self._metrics = (
            asyncio.get_running_loop().create_task(self._export(config.deployment.name))
            if market
            else None
        )

    async def _export(self, deployment: str) -> None:
        """The market figures as metrics, every METRICS_EVERY_S."""
        metrics = MarketMetrics(deployment)
        while True:
            await asyncio.sleep(METRICS_EVERY_S)
            metrics.update(self.server.market_hub.stats(wall_ms()))

    async def warm(self) -> None:
        """Connect to every account's Trader now: the robots' first order, and an operator's
        first flatten, pay no lookup."""
        await self.backend.warm(self.traders)

    async def publish_banlist(self, body: bytes) -> bool:
        """A new ban-list version from an account's Ledger; False when not newer."""
        return self.server.publish_banlist(body)

    async def publish_market(self, records: Sequence[Record]) -> int:
        """Market records from the feed's readers and stream; how many were newer."""
        return self.server.publish_market(records)

    async def set_market_symbols(self, symbols: Sequence[str]) -> None:
        """The symbols the feed carries (the market routes' 404 for any other)."""
        self.server.set_market_symbols(symbols)

    async def url(self) -> str:
        """Start serving (once) and return the base URL."""
        return await self.server.url()

    async def routes(self) -> list[str]:
        """Every route served, as ``METHOD /path`` (what the ready line lists)."""
        return await self.server.routes()

    async def stop(self) -> None:
        """Stop serving, ending long-polls and closing streams first."""
        await self.server.stop()
