"""Budget planning: the jobs on each egress IP and account must fit Binance's limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from riskd.exchange.planning import (
    BudgetPlanConfig,
    JobBudget,
    OverSubscribedError,
    plan_budgets,
)

CONFIG = BudgetPlanConfig()


def _job(
    job: str, weight: int, egress: str = "127.0.0.2", account: str = "main", **orders: int
) -> JobBudget:
    return JobBudget(job=job, account=account, egress=egress, weight_per_minute=weight, **orders)


def _over(jobs: list[JobBudget], config: BudgetPlanConfig = CONFIG) -> OverSubscribedError:
    with pytest.raises(OverSubscribedError) as info:
        plan_budgets(jobs, config)
    return info.value


def test_default_headroom_allows_2160_of_2400_weight() -> None:
    plan = plan_budgets([_job("account_reader", 600)], CONFIG)

    usage = plan.egress("127.0.0.2")
    assert (usage.limit, usage.allowed, usage.used) == (2400, 2160, 600)


def test_jobs_fitting_exactly_at_the_allowed_maximum_are_accepted() -> None:
    plan = plan_budgets([_job("account_reader", 600), _job("ledger", 1560)], CONFIG)

    usage = plan.egress("127.0.0.2")
    assert usage.used == usage.allowed == 2160
    assert usage.utilisation == 1
    assert [job.name for job, _ in usage.jobs] == ["account_reader/main", "ledger/main"]


def test_one_weight_over_the_allowed_maximum_is_over_subscribed() -> None:
    error = _over([_job("account_reader", 600), _job("ledger", 1561)])

    assert str(error) == (
        "egress 127.0.0.2 is over-subscribed: 2161 weight/min > 2160 allowed (90 % of 2400): "
        "account_reader/main 600, ledger/main 1561"
    )


def test_only_the_over_subscribed_egress_is_named() -> None:
    error = _over(
        [
            _job("account_reader", 600),
            _job("ledger", 1900),
            _job("market_feed", 2000, egress="127.0.0.3"),
            _job("order_reaper", 100, egress="default"),
        ]
    )

    assert str(error) == (
        "egress 127.0.0.2 is over-subscribed: 2500 weight/min > 2160 allowed (90 % of 2400): "
        "account_reader/main 600, ledger/main 1900"
    )
    assert [usage.name for usage in error.usages] == ["127.0.0.2"]


def test_every_over_subscribed_egress_is_named() -> None:
    error = _over(
        [
            _job("account_reader", 600),
            _job("ledger", 1900),
            _job("position_risk", 100, egress="127.0.0.3"),
            _job("market_feed", 2200, egress="label:md"),
        ]
    )

    assert str(error).splitlines() == [
        "egress 127.0.0.2 is over-subscribed: 2500 weight/min > 2160 allowed (90 % of 2400): "
        "account_reader/main 600, ledger/main 1900",
        "egress label:md is over-subscribed: 2200 weight/min > 2160 allowed (90 % of 2400): "
        "market_feed/main 2200",
    ]


def test_jobs_of_different_accounts_share_their_egress() -> None:
    error = _over([_job("account_reader", 1100, account="a"), _job("account_reader", 1100)])

    assert "2200 weight/min > 2160 allowed" in str(error)
    assert "account_reader/a 1100, account_reader/main 1100" in str(error)


def test_headroom_and_limit_set_the_allowed_maximum() -> None:
    config = BudgetPlanConfig(ip_weight_limit_per_minute=6000, headroom=Decimal("0.75"))

    error = _over([_job("ledger", 4501)], config)

    assert "4501 weight/min > 4500 allowed (75 % of 6000)" in str(error)


def test_float_headroom_is_read_as_its_decimal_text() -> None:
    config = BudgetPlanConfig(ip_weight_limit_per_minute=100, headroom=0.29)  # type: ignore[arg-type]

    assert config.headroom == Decimal("0.29")
    assert plan_budgets([_job("ledger", 29)], config).egress("127.0.0.2").allowed == 29


def test_account_orders_over_the_10s_limit_are_named() -> None:
    error = _over(
        [
            _job("stop_ladder", 10, orders_per_10s=200, orders_per_minute=600),
            _job("order_reaper", 10, orders_per_10s=100, orders_per_minute=100),
        ]
    )

    assert str(error) == (
        "account main is over-subscribed: 300 orders/10s > 270 allowed (90 % of 300): "
        "stop_ladder/main 200, order_reaper/main 100"
    )


def test_account_orders_over_the_minute_limit_are_named() -> None:
    error = _over([_job("stop_ladder", 10, orders_per_minute=1081)])

    assert str(error).startswith("account main is over-subscribed: 1081 orders/min > 1080 allowed")


def test_accounts_without_order_budgets_are_not_planned_for_orders() -> None:
    plan = plan_budgets(
        [_job("account_reader", 600), _job("stop_ladder", 10, account="b", orders_per_10s=5)],
        CONFIG,
    )

    assert [(usage.name, usage.unit, usage.used) for usage in plan.accounts] == [
        ("b", "orders/10s", 5),
        ("b", "orders/min", 0),
    ]


def test_describe_renders_every_egress_with_jobs_weight_allowed_and_use() -> None:
    plan = plan_budgets(
        [
            _job("account_reader", 600),
            _job("ledger", 1500),
            _job("market_feed", 1200, egress="default", account="-"),
        ],
        CONFIG,
    )

    assert plan.describe().splitlines() == [
        "REQUEST_WEIGHT 2400/min per IP, ORDERS 300/10s and 1200/min per account; "
        "jobs may plan 90 % of each",
        "",
        "egress     jobs                                       weight/min  allowed   use",
        "127.0.0.2  account_reader/main 600, ledger/main 1500        2100     2160  97 %",
        "default    market_feed/- 1200                               1200     2160  55 %",
    ]


def test_describe_renders_account_order_windows() -> None:
    plan = plan_budgets(
        [_job("stop_ladder", 10, orders_per_10s=135, orders_per_minute=540)], CONFIG
    )

    assert plan.describe().splitlines()[-3:] == [
        "account  window      jobs                  orders  allowed   use",
        "main     orders/10s  stop_ladder/main 135     135      270  50 %",
        "main     orders/min  stop_ladder/main 540     540     1080  50 %",
    ]


def test_duplicate_job_and_account_pair_is_rejected() -> None:
    jobs = [_job("ledger", 100), _job("ledger", 200, egress="default"), _job("ledger", 5)]

    with pytest.raises(
        ValueError, match=r"^job budgets declared more than once: ledger/main \(3×\)$"
    ):
        plan_budgets(jobs, CONFIG)


def test_same_job_for_two_accounts_is_not_a_duplicate() -> None:
    plan = plan_budgets([_job("ledger", 100), _job("ledger", 100, account="b")], CONFIG)

    assert plan.egress("127.0.0.2").used == 200


@pytest.mark.parametrize("weight", [0, -30])
def test_non_positive_weight_budget_is_rejected(weight: int) -> None:
    with pytest.raises(
        ValueError, match=rf"^job budget ledger/main: weight_per_minute must be > 0, got {weight}$"
    ):
        _job("ledger", weight)


def test_negative_order_budget_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"orders_per_10s must be ≥ 0, got -1$"):
        _job("stop_ladder", 10, orders_per_10s=-1)


@pytest.mark.parametrize("egress", ["127.0.0.256", "label:", "", "eth0"])
def test_unknown_egress_is_rejected(egress: str) -> None:
    with pytest.raises(ValueError, match=rf"egress {egress!r} is not an IP address"):
        _job("ledger", 10, egress=egress)


@pytest.mark.parametrize("egress", ["default", "label:ip-a", "10.0.0.7", "::1"])
def test_egress_forms_are_accepted(egress: str) -> None:
    assert _job("ledger", 10, egress=egress).egress == egress


@pytest.mark.parametrize(
    ("headroom", "message"),
    [
        (Decimal(0), "greater than 0"),
        (Decimal("-0.1"), "greater than 0"),
        (Decimal("1.01"), "less than or equal to 1"),
    ],
)
def test_headroom_outside_zero_to_one_is_rejected(headroom: Decimal, message: str) -> None:
    with pytest.raises(ValidationError, match=rf"headroom\n.*{message}"):
        BudgetPlanConfig(headroom=headroom)


def test_non_positive_limit_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"ip_weight_limit_per_minute\n.*greater than 0"):
        BudgetPlanConfig(ip_weight_limit_per_minute=0)


def test_limit_that_leaves_no_budget_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"account_orders_per_10s 1 .* leaves no budget"):
        BudgetPlanConfig(account_orders_per_10s=1)


def test_no_jobs_plan_nothing() -> None:
    plan = plan_budgets([], CONFIG)

    assert (plan.egresses, plan.accounts) == ((), ())
