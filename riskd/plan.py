"""The deployment plan: which job actors run, for which account, from which egress, on what budget.

Pure: built from the config, validated against Binance's limits before anything starts. The
Controller (``actors/controller.py``) only carries it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from pydantic import Field, model_validator

from riskd.core.frozen import FrozenModel
from riskd.exchange.planning import (
    DEFAULT_EGRESS,
    LABEL_PREFIX,
    BudgetPlan,
    BudgetPlanConfig,
    JobBudget,
    plan_budgets,
)
from riskd.market.config import MarketConfig, ReaderSlot, ReaderTiming

EGRESS_LABEL_KEY = "egress"


class JobKind(Enum):
    """The jobs, named as their actor files in ``actors/``: each account's, then the market
    feed's (one set per deployment)."""

    ACCOUNT_READER = "account_reader"
    POSITION_RISK_READER = "position_risk_reader"
    USER_STREAM = "user_stream"
    ORDER_REAPER = "order_reaper"
    STOP_LADDER = "stop_ladder"
    HEARTBEAT = "heartbeat"
    LEDGER = "ledger"
    TRADER = "trader"
    MARKET_HUB = "market_hub"
    MARKET_READER = "market_reader"
    MARKET_STREAM = "market_stream"

    @property
    def per_account(self) -> bool:
        """Runs once per account with its keys (the market feed's jobs need none)."""
        return self not in _MARKET_KINDS


_MARKET_KINDS = frozenset({JobKind.MARKET_HUB, JobKind.MARKET_READER, JobKind.MARKET_STREAM})


def job_name(kind: JobKind, account: str) -> str:
    """The name of *account*'s *kind* job actor in the deployment's namespace."""
    return f"{kind.value}:{account}"


class JobConfig(FrozenModel):
    """One job of one account: its loop, its weight budget and where its requests leave from.

    ``egress``: ``"default"`` (the node's default route), a local IP address to bind
    (``"10.0.0.5"``; loopback addresses on one host), or ``"label:<value>"`` to run on the Ray
    node labelled ``egress=<value>`` (the node that owns that public IP).
    """

    enabled: bool = True
    interval_ms: int = Field(gt=0)
    jitter_ms: int = Field(0, ge=0)
    weight_per_minute: int = Field(gt=0)
    egress: str = DEFAULT_EGRESS


class AccountJobsConfig(FrozenModel):
    """The jobs every account runs; defaults fit comfortably in Binance's limits."""

    # GET /fapi/v3/account costs 5: every 5 s is 60 weight/min.
    account_reader: JobConfig = JobConfig(interval_ms=5_000, jitter_ms=500, weight_per_minute=120)
    # GET /fapi/v3/positionRisk costs 5: every 5 s is 60 weight/min (the stream is faster).
    position_risk_reader: JobConfig = JobConfig(
        interval_ms=5_000, jitter_ms=500, weight_per_minute=120
    )
    # A listenKey (1) and a REST resync (5) per connection; interval_ms paces reconnects.
    user_stream: JobConfig = JobConfig(interval_ms=1_000, jitter_ms=500, weight_per_minute=60)
    # openOrders + openAlgoOrders + apiTradingStatus without a symbol: 90 per pass.
    order_reaper: JobConfig = JobConfig(interval_ms=20_000, jitter_ms=1_000, weight_per_minute=300)
    # openAlgoOrders (40) per pass, woken by every position change; placements weigh 0.
    stop_ladder: JobConfig = JobConfig(interval_ms=5_000, jitter_ms=500, weight_per_minute=600)
    # GET /fapi/v1/income costs 30: a page every 10 s is 180 weight/min; catching up after a
    # restart pages faster, up to the budget. Fills come from the stream between passes.
    ledger: JobConfig = JobConfig(interval_ms=10_000, jitter_ms=500, weight_per_minute=240)
    # The account's order path: robots' orders and the emergency flatten. With robots,
    # openOrders (40) and premiumIndex (10) per pass; exchangeInfo (1) every 10 min; what robots
    # ask (an order 1, positions 5, history 5); a flatten's reads (openOrders and
    # openAlgoOrders 40 each, positionRisk 5 per confirmation, 1 per cancel); placements weigh 0.
    trader: JobConfig = JobConfig(interval_ms=10_000, jitter_ms=500, weight_per_minute=600)
    # Optional dead-man's switch: openOrders (40) + countdownCancelAll (10) per armed symbol.
    heartbeat: JobConfig = JobConfig(
        enabled=False, interval_ms=30_000, jitter_ms=1_000, weight_per_minute=300
    )

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: Any) -> Any:
        """A job's table overrides its defaults key by key (``egress = …`` alone is enough)."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is not None and isinstance(value, dict):
                merged[name] = {**field.default.model_dump(), **value}
        return merged

    def of(self, kind: JobKind) -> JobConfig:
        return getattr(self, kind.value)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job actor to run: an account's, or the market feed's (``account`` then names the
    job's part of the feed: ``hub``, ``ws``, or a reader as ``book-2of4``)."""

    kind: JobKind
    account: str
    config: JobConfig
    reader: ReaderSlot | None = None

    @property
    def name(self) -> str:
        """The actor's name in the deployment's namespace."""
        return job_name(self.kind, self.account)

    @property
    def local_addr(self) -> str | None:
        egress = self.config.egress
        return None if egress == DEFAULT_EGRESS or egress.startswith(LABEL_PREFIX) else egress

    @property
    def label_selector(self) -> dict[str, str]:
        egress = self.config.egress
        if egress.startswith(LABEL_PREFIX):
            return {EGRESS_LABEL_KEY: egress.removeprefix(LABEL_PREFIX)}
        return {}

    def budget(self) -> JobBudget:
        return JobBudget(
            self.kind.value, self.account, self.config.egress, self.config.weight_per_minute
        )


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """Every job to run, and the budget plan proving they fit Binance's limits."""

    jobs: tuple[JobSpec, ...]
    budgets: BudgetPlan

    def describe(self) -> str:
        lines = [f"{len(self.jobs)} job(s):"]
        for job in self.jobs:
            lines.append(
                f"  {job.name:<40} every {job.config.interval_ms} ms, "
                f"{job.config.weight_per_minute} weight/min, egress {job.config.egress}"
            )
        return "\n".join([*lines, "", self.budgets.describe()])


# The hub reads exchangeInfo (1) now and then; the stream's only REST call is the same, after
# a reconnect, to learn the symbols.
HUB_JOB: Final = JobConfig(interval_ms=5_000, jitter_ms=500, weight_per_minute=20)
STREAM_JOB: Final = JobConfig(interval_ms=1_000, weight_per_minute=20)


def market_jobs(market: MarketConfig) -> list[JobSpec]:
    """The market feed's jobs: its hub, its WebSocket reader, and every REST reader."""
    on_egress = {"egress": market.egress}
    jobs = [JobSpec(JobKind.MARKET_HUB, "hub", HUB_JOB.model_copy(update=on_egress))]
    if market.websocket:
        jobs.append(JobSpec(JobKind.MARKET_STREAM, "ws", STREAM_JOB.model_copy(update=on_egress)))
    for group, readers in market.readers.items():
        if not readers.enabled:
            continue
        for index in range(readers.readers):
            slot = ReaderSlot(group, index, readers.readers)
            config = JobConfig(
                interval_ms=readers.period_ms,
                jitter_ms=0 if readers.timing is ReaderTiming.SLOTS else readers.period_ms // 10,
                weight_per_minute=readers.weight_per_minute,
                egress=readers.egress[index % len(readers.egress)],
            )
            jobs.append(JobSpec(JobKind.MARKET_READER, slot.label, config, slot))
    return jobs


def build_plan(
    accounts: Sequence[tuple[str, AccountJobsConfig]],
    limits: BudgetPlanConfig,
    market: MarketConfig | None = None,
) -> DeploymentPlan:
    """The enabled jobs of every account (the Trader too: it is every account's order path,
    the robots' and the emergency flatten's) and of the market feed; raises
    OverSubscribedError if an IP cannot carry them."""
    jobs = tuple(
        JobSpec(kind, account, jobs_config.of(kind))
        for account, jobs_config in accounts
        for kind in JobKind
        if kind.per_account and jobs_config.of(kind).enabled
    ) + tuple(market_jobs(market) if market and market.enabled else ())
    return DeploymentPlan(jobs, plan_budgets([job.budget() for job in jobs], limits))
