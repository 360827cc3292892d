"""The frame every job actor lives in: its loop with interval and jitter, its budget and
egress, and its health. Subclasses implement ``step`` (one pass of the job)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from typing import ClassVar

import ray
from ray.actor import ActorHandle

from actors.context import (
    ALERTER_NAME,
    ConfigSource,
    NamedActor,
    PeerUnavailable,
    position_book_name,
)
from actors.metrics import JobMetrics
from riskd.config import AccountConfig
from riskd.core.clock import wall_ms
from riskd.core.pacing import next_pass_delay_ms
from riskd.exchange.access import BinanceAccess
from riskd.exchange.budget import WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock
from riskd.exchange.errors import ExchangeError
from riskd.exchange.guard import IpEvent, IpGuards
from riskd.health import JobHealth
from riskd.notify.alerts import AlertEvent
from riskd.notify.events import database_alert, ip_alert
from riskd.plan import JobKind, JobSpec, job_name
from riskd.store.errors import error_line, is_database_error

log = logging.getLogger(__name__)


class Job:
    """An async Ray actor running one job for one account from one egress.

    Constructed on its node: it loads the config there, resolves the account's secrets from
    that node's environment or files, and starts its loop. State is rebuilt from the exchange
    (and SQL) in ``recover``; nothing lives only in memory.
    """

    SECRETS: ClassVar[frozenset[str]] = frozenset()
    """Secrets the job needs besides its account's keys (``"database"``, …)."""
    account_config: AccountConfig
    """The account's config (jobs that run per account)."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        if spec.kind.per_account:
            config = source.load(secrets={f"account:{spec.account}", *self.SECRETS})
            account = next(a for a in config.accounts if a.name == spec.account)
            self.account_config = account
            keys = account.api_key, account.api_secret
        else:  # the market feed reads public data: no keys
            config = source.load(secrets=self.SECRETS)
            keys = None, None
        self.config = config  # parsed once per actor; subclasses read it from here
        self.spec = spec
        self.deployment = config.deployment.name
        self.clock = ServerClock()
        self.ip_events: list[IpEvent] = []
        self.alerter = NamedActor(ALERTER_NAME, self.deployment)
        self.peers = [self.alerter]  # the actors this job notifies, warmed before it is ready
        self.guards = IpGuards(listeners=[self.ip_events.append, self._report_ip_event])
        client = make_client(config.exchange, *keys, local_addr=spec.local_addr)
        self.access = BinanceAccess(
            client,
            job=spec.name,
            guard=self.guards.for_ip(spec.config.egress),
            budget=WeightBudget(spec.config.weight_per_minute),
            clock=self.clock,
        )
        self.health = JobHealth(
            job=spec.kind.value,
            account=spec.account,
            interval_ms=spec.config.interval_ms,
            egress=spec.config.egress,
            weight_per_minute=spec.config.weight_per_minute,
            started_ms=wall_ms(),
            node_id=ray.get_runtime_context().get_node_id(),
            pid=os.getpid(),
        )
        self._metrics = JobMetrics(self.deployment, spec.kind.value, spec.account)
        self._rng = random.Random()
        self._loop = asyncio.get_running_loop().create_task(self._run())

    def report(self, events: list[AlertEvent]) -> None:
        """Alert events for the Alerter (fire-and-forget: a missing Alerter loses nothing that
        matters, since level-triggered alerts are reported again on the next pass)."""
        if events:
            self.alerter.notify("report", events)

    def _report_database(self, failing: bool, failures: int) -> None:
        job, account = self.spec.kind.value, self.spec.account
        self.report([database_alert(account, job, failing, failures, wall_ms())])

    def _report_ip_event(self, ip_event: IpEvent) -> None:
        self.report([ip_alert(ip_event, self.spec.account)])

    @functools.cached_property
    def position_book(self) -> ActorHandle:
        """The account's PositionBook actor (created by the Controller before any job)."""
        return ray.get_actor(position_book_name(self.spec.account), namespace=self.deployment)

    def peer(self, name: str) -> NamedActor:
        """An actor of the deployment this job notifies (see ``warm``)."""
        self.peers.append(NamedActor(name, self.deployment))
        return self.peers[-1]

    def account_peer(self, kind: JobKind) -> NamedActor | None:
        """The account's *kind* job, which this job notifies; None if the config disables it."""
        if not self.account_config.jobs.of(kind).enabled:
            return None
        return self.peer(job_name(kind, self.spec.account))

    async def warm(self) -> None:
        """Connect to every actor this job calls, so its first event after start is as fast
        as the next ones. The Controller calls this once all actors exist."""
        book = [self.position_book.__ray_ready__.remote()] if self.spec.kind.per_account else []
        await asyncio.gather(*book, *(peer.warm() for peer in self.peers))

    async def recover(self) -> None:
        """Rebuild this job's state from the exchange and SQL before its first pass."""
        await self.access.sync_time()

    async def step(self) -> None:
        raise NotImplementedError

    async def health_report(self) -> dict:
        """This job's health (for the controller, `riskd status` and the gateway)."""
        now = wall_ms()
        self.health.calls = self.access.stats.calls
        self.health.errors = self.access.stats.errors
        self.health.weight_used_1m = self.access.budget.used(self.clock.now_ms())
        return self.health.to_dict(now)

    async def _run(self) -> None:
        recovered = False
        failures = 0
        database_failing = False
        while True:
            started = wall_ms()
            try:
                if not recovered:
                    await self.recover()
                    recovered = True
                await self.step()
                self.health.succeeded(wall_ms())
                if database_failing:
                    database_failing = False
                    self._report_database(False, failures)
                failures = 0
            except Exception as exc:
                failures += 1
                # expected, and said in one line: IpBanned too (refused here, not sent), and
                # a peer restarting or gone as the deployment stops
                if isinstance(exc, (ExchangeError, PeerUnavailable)):
                    self.health.failed(str(exc), wall_ms())
                else:  # a bug must not kill the loop; it is reported
                    log.exception("%s: pass failed", self.spec.name)
                    self.health.failed(error_line(exc), wall_ms())
                if is_database_error(exc):
                    database_failing = True
                    self._report_database(True, failures)
            self._metrics.update(
                self.access.stats,
                self.access.budget.used(self.clock.now_ms()),
                self.health.lag_ms(wall_ms()),
            )
            delay_ms = next_pass_delay_ms(
                self.spec.config.interval_ms,
                wall_ms() - started,
                failures,
                spare=self.access.spare(),
            )
            delay_ms += self._rng.uniform(0, self.spec.config.jitter_ms)
            await self.pause(delay_ms)

    async def pause(self, delay_ms: float) -> None:
        """Wait before the next pass; a job that events can wake overrides this."""
        await asyncio.sleep(delay_ms / 1000)
