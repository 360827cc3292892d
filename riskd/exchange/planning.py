"""Budget planning: the jobs sharing a Binance limit must fit it, with headroom, before start.

Binance counts REQUEST_WEIGHT per source IP and ORDERS per account. Every job declares what it
may spend and where its requests leave from; riskd refuses to start when the jobs sharing a
limit could together exceed their share of it, and says which jobs those are.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from riskd.core.frozen import FrozenModel

DEFAULT_EGRESS = "default"
LABEL_PREFIX = "label:"


@dataclass(frozen=True, slots=True)
class JobBudget:
    """What one job may spend, on behalf of one account, and where its requests leave from.

    ``egress`` is an IP address, ``"default"`` (the host's default route) or
    ``"label:<value>"`` (a Ray node label); each distinct string is planned as one IP. Order
    budgets count placements against the account's ORDERS limits (0: the job places none).
    """

    job: str
    account: str
    egress: str
    weight_per_minute: int
    orders_per_10s: int = 0
    orders_per_minute: int = 0

    def __post_init__(self) -> None:
        if not self.job or not self.account:
            raise ValueError(f"job budget {self.name!r}: job and account must not be empty")
        if self.weight_per_minute <= 0:
            raise ValueError(
                f"job budget {self.name}: weight_per_minute must be > 0, "
                f"got {self.weight_per_minute}"
            )
        for field, value in (
            ("orders_per_10s", self.orders_per_10s),
            ("orders_per_minute", self.orders_per_minute),
        ):
            if value < 0:
                raise ValueError(f"job budget {self.name}: {field} must be ≥ 0, got {value}")
        if not _is_egress(self.egress):
            raise ValueError(
                f"job budget {self.name}: egress {self.egress!r} is not an IP address, "
                f"{DEFAULT_EGRESS!r} or '{LABEL_PREFIX}<value>'"
            )

    @property
    def name(self) -> str:
        """``job/account``: how plans and errors name this budget."""
        return f"{self.job}/{self.account}"


def _is_egress(egress: str) -> bool:
    if egress == DEFAULT_EGRESS:
        return True
    if egress.startswith(LABEL_PREFIX):
        return egress != LABEL_PREFIX
    try:
        ipaddress.ip_address(egress)
    except ValueError:
        return False
    return True


def _allowed(limit: int, headroom: Decimal) -> int:
    return math.floor(limit * headroom)


class BudgetPlanConfig(FrozenModel):
    """Binance's shared limits, and the fraction of each that riskd's jobs may plan to use."""

    ip_weight_limit_per_minute: int = Field(2400, gt=0)
    headroom: Decimal = Field(Decimal("0.9"), gt=0, le=1)
    account_orders_per_10s: int = Field(300, gt=0)
    account_orders_per_minute: int = Field(1200, gt=0)

    @model_validator(mode="after")
    def _leaves_a_budget(self) -> BudgetPlanConfig:
        for name in (
            "ip_weight_limit_per_minute",
            "account_orders_per_10s",
            "account_orders_per_minute",
        ):
            limit = getattr(self, name)
            if _allowed(limit, self.headroom) < 1:
                raise ValueError(
                    f"{name} {limit} with headroom {self.headroom} leaves no budget to plan"
                )
        return self


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """One shared Binance limit, the jobs drawing on it and their budgets, in ``unit``.

    ``kind`` and ``name`` say whose limit it is (``egress 127.0.0.2``, ``account main``);
    ``unit`` is ``"weight/min"``, ``"orders/10s"`` or ``"orders/min"``.
    """

    kind: Literal["egress", "account"]
    name: str
    unit: str
    limit: int
    headroom: Decimal
    jobs: tuple[tuple[JobBudget, int], ...]

    @property
    def used(self) -> int:
        """The sum of the jobs' budgets."""
        return sum(budget for _, budget in self.jobs)

    @property
    def allowed(self) -> int:
        """floor(limit × headroom): the most the jobs may plan to use together."""
        return _allowed(self.limit, self.headroom)

    @property
    def utilisation(self) -> float:
        """``used / allowed``; above 1 when over-subscribed."""
        return self.used / self.allowed

    @property
    def over_subscribed(self) -> bool:
        """True if the jobs' budgets add up to more than allowed."""
        return self.used > self.allowed

    def jobs_text(self) -> str:
        """The jobs and their budgets: ``"account_reader/main 600, ledger/main 1900"``."""
        return ", ".join(f"{job.name} {budget}" for job, budget in self.jobs)


class OverSubscribedError(ValueError):
    """The jobs sharing one or more limits could exceed them; the message names every one."""

    def __init__(self, usages: Sequence[LimitUsage]) -> None:
        super().__init__(
            "\n".join(
                f"{u.kind} {u.name} is over-subscribed: {u.used} {u.unit} > {u.allowed} allowed "
                f"({_percent(u.headroom)} % of {u.limit}): {u.jobs_text()}"
                for u in usages
            )
        )
        self.usages = tuple(usages)


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}"


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """A plan that fits, from :func:`plan_budgets`: weight per egress, orders per account.

    ``accounts`` holds an ``orders/10s`` and an ``orders/min`` usage for every account that
    has a job with an order budget.
    """

    config: BudgetPlanConfig
    egresses: tuple[LimitUsage, ...]
    accounts: tuple[LimitUsage, ...]

    def egress(self, egress: str) -> LimitUsage:
        """The weight usage of *egress*; raises KeyError if no job uses it."""
        for usage in self.egresses:
            if usage.name == egress:
                return usage
        raise KeyError(egress)

    def describe(self) -> str:
        """A readable table of every limit: who uses it, how much, of how much allowed."""
        config = self.config
        lines = [
            f"REQUEST_WEIGHT {config.ip_weight_limit_per_minute}/min per IP, ORDERS "
            f"{config.account_orders_per_10s}/10s and {config.account_orders_per_minute}/min "
            f"per account; jobs may plan {_percent(config.headroom)} % of each",
            "",
            *_table(
                ("egress", "jobs", "weight/min", "allowed", "use"),
                [(u.name, u.jobs_text(), *_figures(u)) for u in self.egresses],
            ),
        ]
        if self.accounts:
            lines += [
                "",
                *_table(
                    ("account", "window", "jobs", "orders", "allowed", "use"),
                    [(u.name, u.unit, u.jobs_text(), *_figures(u)) for u in self.accounts],
                ),
            ]
        return "\n".join(lines)


def _figures(usage: LimitUsage) -> tuple[str, str, str]:
    return str(usage.used), str(usage.allowed), f"{usage.used * 100 // usage.allowed} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to width; the last three (the figures) right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    numeric = len(header) - 3
    return [
        "  ".join(
            cell.rjust(width) if i >= numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (header, *rows)
    ]


def plan_budgets(jobs: Sequence[JobBudget], config: BudgetPlanConfig) -> BudgetPlan:
    """Check that every egress's weight and every account's orders fit, and plan them.

    Raises ValueError if a (job, account) pair is declared twice, and OverSubscribedError
    naming every limit whose jobs together exceed floor(limit × headroom).
    """
    counts = Counter((job.job, job.account) for job in jobs)
    repeated = [f"{job}/{account} ({n}×)" for (job, account), n in counts.items() if n > 1]
    if repeated:
        raise ValueError(f"job budgets declared more than once: {', '.join(repeated)}")
    egresses = tuple(
        LimitUsage(
            kind="egress",
            name=egress,
            unit="weight/min",
            limit=config.ip_weight_limit_per_minute,
            headroom=config.headroom,
            jobs=tuple((job, job.weight_per_minute) for job in group),
        )
        for egress, group in _group(jobs, lambda job: job.egress).items()
    )
    accounts = tuple(
        usage
        for account, group in _group(jobs, lambda job: job.account).items()
        if any(job.orders_per_10s or job.orders_per_minute for job in group)
        for usage in _order_usages(account, group, config)
    )
    over = [usage for usage in (*egresses, *accounts) if usage.over_subscribed]
    if over:
        raise OverSubscribedError(over)
    return BudgetPlan(config=config, egresses=egresses, accounts=accounts)


def _group(
    jobs: Sequence[JobBudget], key: Callable[[JobBudget], str]
) -> dict[str, list[JobBudget]]:
    """*jobs* grouped by *key*, groups and jobs in the order given."""
    groups: dict[str, list[JobBudget]] = {}
    for job in jobs:
        groups.setdefault(key(job), []).append(job)
    return groups


def _order_usages(
    account: str, group: Sequence[JobBudget], config: BudgetPlanConfig
) -> tuple[LimitUsage, LimitUsage]:
    """The account's two ORDERS windows, each with the jobs that place orders in it."""
    return (
        LimitUsage(
            kind="account",
            name=account,
            unit="orders/10s",
            limit=config.account_orders_per_10s,
            headroom=config.headroom,
            jobs=tuple((job, job.orders_per_10s) for job in group if job.orders_per_10s),
        ),
        LimitUsage(
            kind="account",
            name=account,
            unit="orders/min",
            limit=config.account_orders_per_minute,
            headroom=config.headroom,
            jobs=tuple((job, job.orders_per_minute) for job in group if job.orders_per_minute),
        ),
    )
