"""Controller: the one authoritative actor of a deployment. It carries out the plan (alerter,
books, jobs, gateway), places each job on its egress, and supervises: restarts dead jobs, says
which ones are pending because no node can take them, and reports unhealthy and restarted jobs
to the Alerter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings

import ray
from ray.actor import ActorHandle
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.account_reader import AccountReader
from actors.alerter import Alerter
from actors.base import Job
from actors.context import (
    ALERTER_NAME,
    GATEWAY_NAME,
    KLINE_STORE_NAME,
    ConfigSource,
    NamedActor,
    position_book_name,
)
from actors.gateway import Gateway
from actors.heartbeat import Heartbeat
from actors.kline_store import KlineStoreActor
from actors.ledger import Ledger
from actors.market_hub import MarketHub
from actors.market_reader import MarketReader
from actors.market_stream import MarketStream
from actors.order_reaper import OrderReaper
from actors.position_book import PositionBookActor
from actors.position_risk_reader import PositionRiskReader
from actors.stop_ladder import StopLadder
from actors.trader import Trader
from actors.user_stream import UserStream
from riskd.core.clock import wall_ms
from riskd.health import JobState, JobStatus, late_after_ms, unanswered_state
from riskd.notify.alerts import AlertEvent, Severity
from riskd.notify.events import (
    book_alerts,
    health_alerts,
    one_shot,
    restart_alerts,
    still_firing,
)
from riskd.plan import EGRESS_LABEL_KEY, JobKind, JobSpec
from riskd.positions import ACCOUNT_SOURCE, POSITION_RISK_SOURCE

log = logging.getLogger(__name__)

JOB_CLASSES: dict[JobKind, type[Job]] = {
    JobKind.ACCOUNT_READER: AccountReader,
    JobKind.POSITION_RISK_READER: PositionRiskReader,
    JobKind.USER_STREAM: UserStream,
    JobKind.ORDER_REAPER: OrderReaper,
    JobKind.STOP_LADDER: StopLadder,
    JobKind.HEARTBEAT: Heartbeat,
    JobKind.LEDGER: Ledger,
    JobKind.TRADER: Trader,
    JobKind.MARKET_HUB: MarketHub,
    JobKind.MARKET_READER: MarketReader,
    JobKind.MARKET_STREAM: MarketStream,
}
HEALTH_TIMEOUT_S = 2.0
# The jobs warm within a second or two; one no node can take (pending) never does and must
# not hold up the start: a job not warmed by then connects on its first call instead.
WARM_TIMEOUT_S = 10.0
SUPERVISE_INTERVAL_S = 2.0
GATEWAY_STOP_S = 5.0


def actor_options(name: str, namespace: str) -> dict:
    # IO-bound actors: 0 CPUs, so a small host can run every job. Jobs are restarted by Ray
    # (state is rebuilt from the exchange); their methods are never retried. No task events:
    # Ray's GCS kept one per method call (up to 100,000), and grew +20 % over the soak's
    # 30 minutes; riskd reports its own health, and Ray Serve turns them off for its actors.
    return {
        "enable_task_events": False,
        "name": name,
        "namespace": namespace,
        "lifetime": "detached",
        "get_if_exists": True,
        "max_restarts": -1,
        "max_task_retries": 0,
        "num_cpus": 0,
    }


def _reconstructed() -> bool:
    """Whether Ray restarted this actor (its property reads a deprecated one of Ray's own)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ray.get_runtime_context().was_current_actor_reconstructed


class Controller:
    """Creates and supervises a deployment's actors; ``status`` is what `riskd status` shows."""

    def __init__(self, source: ConfigSource, head_node_id: str) -> None:
        self.source = source
        self.config = source.load(secrets=())
        self.plan = self.config.plan()
        self.namespace = self.config.deployment.name
        self.head_node_id = head_node_id
        self._jobs: dict[str, ActorHandle] = {}
        self._books: dict[str, ActorHandle] = {}
        self._gateway: ActorHandle | None = None
        self._gateway_url = ""
        self._alerter: ActorHandle | None = None
        self._kline_store: ActorHandle | None = None
        self._alerts = NamedActor(ALERTER_NAME, self.namespace)
        self._firing: dict[str, AlertEvent] = {}  # reported to the Alerter as firing
        self._restarts_reported: dict[str, int] = {}
        self._created_ms: dict[str, int] = {}
        self._last_pid: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self._answered: set[str] = set()
        self._supervisor: asyncio.Task | None = None
        self._adopting: asyncio.Task | None = None
        if _reconstructed():
            # Ray restarted this Controller after a crash: the deployment's actors live on
            # (detached); adopt them and supervise them again, as start() does.
            self._adopting = asyncio.get_running_loop().create_task(self.start(adopting=True))

    async def _adopted(self) -> None:
        """Return once a restarted Controller has adopted the deployment's actors."""
        if self._adopting is not None:
            await asyncio.shield(self._adopting)

    async def start(self, adopting: bool = False) -> dict:
        """Create every actor of the plan (idempotent: existing named actors are adopted);
        *adopting*: a restarted Controller takes over a running deployment (riskd did not
        start, so no RiskdStarted)."""
        # Every actor is created before any is awaited, so that Ray starts their processes
        # together; a job's early reports wait in the Alerter until it has loaded its state.
        self._alerter = (
            ray.remote(Alerter).options(**self._on_head(ALERTER_NAME)).remote(self.source)
        )
        for account in self.config.accounts:
            self._books[account.name] = (
                ray.remote(PositionBookActor)
                .options(**actor_options(position_book_name(account.name), self.namespace))
                .remote(
                    account.name,
                    self.namespace,
                    self._source_max_age_ms(account.name),
                    expects_stream=any(
                        spec.account == account.name and spec.kind is JobKind.USER_STREAM
                        for spec in self.plan.jobs
                    ),
                    trades=any(robot.account == account.name for robot in self.config.robots),
                )
            )
        market = self.config.market
        if market is not None and market.enabled and market.store_klines:
            self._kline_store = (
                ray.remote(KlineStoreActor)
                .options(**actor_options(KLINE_STORE_NAME, self.namespace))
                .remote(self.source)
            )
        for spec in self.plan.jobs:
            self._spawn(spec)
        self._gateway = (
            ray.remote(Gateway).options(**self._on_head(GATEWAY_NAME)).remote(self.source)
        )
        await self._alerter.ready.remote()
        if not adopting:
            self._report(one_shot("RiskdStarted", Severity.INFO, wall_ms(), {}, "none"))
        self._gateway_url = await self._gateway.url.remote()
        await self._warm()
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        return {
            "jobs": [spec.name for spec in self.plan.jobs],
            "gateway": self._gateway_url,
            "routes": await self._gateway.routes.remote(),
        }

    async def describe(self) -> tuple[ConfigSource, str]:
        """What an operator's command needs to reach this deployment: its config source
        (no secrets) and the gateway's URL."""
        await self._adopted()
        return self.source, self._gateway_url

    async def _warm(self) -> None:
        """Have every job and book, and the gateway, connect to the actors they call, now that
        all exist, so the first position change, fill or robot's order after ready is handled
        as fast as the next ones. A job no alive node can take is left out: it cannot warm."""
        alive = _alive_egress_labels()
        placeable = [self._jobs[s.name] for s in self.plan.jobs if _placeable_on(s, alive)]
        handles = [*placeable, *self._books.values(), self._gateway]
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(h.warm.remote() for h in handles), return_exceptions=True),
                WARM_TIMEOUT_S,
            )
        except TimeoutError:
            log.warning("jobs did not warm their connections within %s s", WARM_TIMEOUT_S)
            return
        for error in (r for r in results if isinstance(r, Exception)):
            log.warning("warming a job's connections failed: %s", error)

    def _on_head(self, name: str) -> dict:
        return {
            **actor_options(name, self.namespace),
            "scheduling_strategy": NodeAffinitySchedulingStrategy(self.head_node_id, soft=False),
        }

    def _report(self, events: list[AlertEvent]) -> None:
        if events:
            self._alerts.notify("report", events)

    def _source_max_age_ms(self, account: str) -> dict[str, int]:
        """How old each REST source of an account's book may get before it counts as silent:
        three of its reader's intervals plus a request timeout. The stream is not listed: a
        quiet account sends nothing, and its job's own health covers a dead connection."""
        timeout_ms = self.config.exchange.request_timeout_ms
        sources = {
            JobKind.ACCOUNT_READER: ACCOUNT_SOURCE,
            JobKind.POSITION_RISK_READER: POSITION_RISK_SOURCE,
        }
        return {
            sources[spec.kind]: late_after_ms(spec.config.interval_ms) + timeout_ms
            for spec in self.plan.jobs
            if spec.account == account and spec.kind in sources
        }

    def _spawn(self, spec: JobSpec) -> None:
        options = actor_options(spec.name, self.namespace)
        if spec.label_selector:
            options["label_selector"] = spec.label_selector
        self._jobs[spec.name] = (
            ray.remote(JOB_CLASSES[spec.kind]).options(**options).remote(spec, self.source)
        )
        self._created_ms[spec.name] = wall_ms()
        self._answered.discard(spec.name)
        self._last_pid.pop(spec.name, None)

    async def status(self) -> list[JobStatus]:
        """Every job's state and health, in plan order."""
        await self._adopted()
        return list(await asyncio.gather(*(self._job_status(spec) for spec in self.plan.jobs)))

    async def _job_status(self, spec: JobSpec) -> JobStatus:
        name = spec.name
        restarts = self._restarts.get(name, 0)
        try:
            health = await asyncio.wait_for(
                self._jobs[name].health_report.remote(), HEALTH_TIMEOUT_S
            )
        except (GetTimeoutError, TimeoutError, ActorUnavailableError):  # busy, or restarting
            placeable = _placeable_on(spec, _alive_egress_labels())
            age_ms = wall_ms() - self._created_ms[name]
            state = unanswered_state(name in self._answered, age_ms, placeable)
            note = self._pending_reason(spec, placeable) if state is JobState.PENDING else ""
            return JobStatus(spec.kind.value, spec.account, state, restarts, note=note)
        except RayActorError as exc:
            note = str(exc).splitlines()[0][:120]
            return JobStatus(spec.kind.value, spec.account, JobState.DEAD, restarts, note=note)
        self._answered.add(name)
        if self._last_pid.setdefault(name, health["pid"]) != health["pid"]:
            self._last_pid[name] = health["pid"]
            self._restarts[name] = self._restarts.get(name, 0) + 1
        # read after the await: a concurrent status() call may have counted this restart
        restarts = self._restarts.get(name, 0)
        return JobStatus(spec.kind.value, spec.account, JobState.RUNNING, restarts, health)

    def _pending_reason(self, spec: JobSpec, placeable: bool) -> str:
        wanted = spec.label_selector.get(EGRESS_LABEL_KEY)
        if wanted is None:
            return "not scheduled yet: no node has room for it"
        if not placeable:
            return f"pending: no alive node has label {EGRESS_LABEL_KEY}={wanted}"
        return f"not scheduled yet on the node labelled {EGRESS_LABEL_KEY}={wanted}"

    async def _supervise(self) -> None:
        """Recreate jobs that died for good (Ray restarts the others by itself)."""
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL_S)
            try:
                rows = await self.status()
                for spec, row in zip(self.plan.jobs, rows, strict=True):
                    if row.state is JobState.DEAD:
                        log.warning("%s is dead (%s): recreating it", spec.name, row.note)
                        self._restarts[spec.name] = row.restarts + 1
                        self._spawn(spec)
                await self._report_health(rows)
            except Exception:  # supervision must outlive any single failure
                log.exception("supervision pass failed")

    async def _report_health(self, rows: list[JobStatus]) -> None:
        """Unhealthy jobs and what the books cannot vouch for fire (again) each pass and
        resolve when they recover; restarts fire once. Jobs still starting are left out."""
        now_ms = wall_ms()
        settled = [row for row in rows if row.state is not JobState.STARTING]
        firing = health_alerts(settled, now_ms)
        for account, book in self._books.items():
            try:
                health = await asyncio.wait_for(book.health.remote(), HEALTH_TIMEOUT_S)
            except (GetTimeoutError, TimeoutError, RayActorError):
                continue  # its jobs' health says what matters
            firing += book_alerts(account, health, now_ms)
        events, self._firing = still_firing(firing, self._firing, now_ms)
        events += restart_alerts(settled, self._restarts_reported, now_ms)
        self._restarts_reported = {f"{row.job}:{row.account}": row.restarts for row in rows}
        self._report(events)

    async def positions(self, account: str) -> dict:
        return await self._books[account].view.remote()

    async def stop(self) -> None:
        """Kill every actor of the deployment, this one last (by the caller)."""
        await self._adopted()
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._alerter is not None:
            with contextlib.suppress(Exception):
                await self._alerter.stop.remote()
        if self._gateway is not None:  # long-polls answer 304, streams close with 1001
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._gateway.stop.remote(), GATEWAY_STOP_S)
        handles = [
            *self._jobs.values(),
            *self._books.values(),
            self._kline_store,
            self._gateway,
            self._alerter,
        ]
        for handle in handles:
            if handle is not None:
                with contextlib.suppress(Exception):
                    ray.kill(handle, no_restart=True)


def _alive_egress_labels() -> set[str | None]:
    """The egress labels of the alive nodes of the cluster (None: a node without one)."""
    return {n.get("Labels", {}).get(EGRESS_LABEL_KEY) for n in ray.nodes() if n["Alive"]}


def _placeable_on(spec: JobSpec, alive_labels: set[str | None]) -> bool:
    """Whether an alive node may take *spec*'s job: any, or one with its egress label."""
    wanted = spec.label_selector.get(EGRESS_LABEL_KEY)
    return wanted is None or wanted in alive_labels
