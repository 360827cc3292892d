"""The deployment plan: jobs per account, placement hints from egress, budget validation."""

from __future__ import annotations

import pytest

from riskd.exchange.planning import BudgetPlanConfig, OverSubscribedError
from riskd.market.config import MarketConfig
from riskd.plan import AccountJobsConfig, JobConfig, JobKind, build_plan


def _jobs(reader_egress: str, risk_egress: str, risk_weight: int = 300) -> AccountJobsConfig:
    return AccountJobsConfig(
        account_reader=JobConfig(interval_ms=5000, weight_per_minute=120, egress=reader_egress),
        position_risk_reader=JobConfig(
            interval_ms=2000, weight_per_minute=risk_weight, egress=risk_egress
        ),
    )


def test_every_account_gets_each_enabled_job() -> None:
    disabled = AccountJobsConfig(
        position_risk_reader=JobConfig(enabled=False, interval_ms=1, weight_per_minute=1)
    )
    testnet_ip_limit = BudgetPlanConfig(ip_weight_limit_per_minute=6000)
    plan = build_plan([("a", AccountJobsConfig()), ("b", disabled)], testnet_ip_limit)
    assert [job.name for job in plan.jobs] == [
        "account_reader:a",
        "position_risk_reader:a",
        "user_stream:a",
        "order_reaper:a",
        "stop_ladder:a",
        "ledger:a",
        "trader:a",
        "account_reader:b",
        "user_stream:b",
        "order_reaper:b",
        "stop_ladder:b",
        "ledger:b",
        "trader:b",
    ]


def test_egress_becomes_a_bind_address_or_a_label_selector() -> None:
    plan = build_plan([("a", _jobs("10.0.0.5", "label:ip-b"))], BudgetPlanConfig())
    reader, risk = plan.jobs[:2]
    assert (reader.local_addr, reader.label_selector) == ("10.0.0.5", {})
    assert (risk.local_addr, risk.label_selector) == (None, {"egress": "ip-b"})
    default = build_plan([("a", AccountJobsConfig())], BudgetPlanConfig()).jobs[0]
    assert (default.local_addr, default.label_selector) == (None, {})


def test_jobs_of_many_accounts_on_one_ip_are_refused_when_they_do_not_fit() -> None:
    accounts = [(f"acct{i}", _jobs("10.0.0.5", "10.0.0.5", risk_weight=600)) for i in range(3)]
    with pytest.raises(
        OverSubscribedError,
        match=r"egress 10\.0\.0\.5 is over-subscribed: "
        r"2160 weight/min > 2159 allowed",
    ):
        build_plan(accounts, BudgetPlanConfig(headroom="0.8999"))


def test_describe_lists_each_job_and_the_per_ip_table() -> None:
    text = build_plan([("a", _jobs("10.0.0.5", "10.0.0.6"))], BudgetPlanConfig()).describe()
    assert "account_reader:a" in text and "egress 10.0.0.5" in text
    assert "10.0.0.6" in text.split("\n\n")[-1]


def test_job_kinds_name_their_actor_files() -> None:
    from pathlib import Path

    actors = Path(__file__).resolve().parents[1] / "actors"
    assert all((actors / f"{kind.value}.py").exists() for kind in JobKind)


def test_a_job_table_overrides_its_defaults_key_by_key() -> None:
    jobs = AccountJobsConfig.model_validate({"user_stream": {"egress": "127.0.0.4"}})
    assert jobs.user_stream.egress == "127.0.0.4"
    assert jobs.user_stream.weight_per_minute == AccountJobsConfig().user_stream.weight_per_minute


def _market(**readers: dict) -> MarketConfig:
    return MarketConfig.model_validate({"egress": "127.0.0.8", "readers": readers})


def test_the_market_feed_adds_its_hub_stream_and_one_job_per_reader() -> None:
    market = _market(
        book={"readers": 3, "egress": ["127.0.0.11", "127.0.0.12"]},
        hot_klines={"enabled": False},
    )
    jobs = AccountJobsConfig.model_validate({"trader": {"egress": "127.0.0.14"}})
    plan = build_plan([("a", jobs)], BudgetPlanConfig(), market)
    feed = [job for job in plan.jobs if not job.kind.per_account]
    assert [job.name for job in feed] == [
        "market_hub:hub",
        "market_stream:ws",
        "market_reader:klines-1of1",
        "market_reader:book-1of3",
        "market_reader:book-2of3",
        "market_reader:book-3of3",
        "market_reader:mark-1of1",
        "market_reader:ticker-1of1",
    ]
    books = [job for job in feed if job.reader and job.reader.group == "book"]
    assert [job.config.egress for job in books] == ["127.0.0.11", "127.0.0.12", "127.0.0.11"]
    assert [job.reader.index for job in books if job.reader] == [0, 1, 2]
    assert all(job.config.jitter_ms == 0 for job in books)  # slots: on time, no jitter
    assert plan.budgets.egress("127.0.0.11").used == 2 * 330


def test_readers_that_overload_an_ip_refuse_the_plan_naming_them() -> None:
    market = _market(klines={"readers": 8, "egress": ["127.0.0.9"], "weight_per_minute": 300})
    with pytest.raises(OverSubscribedError, match=r"127\.0\.0\.9 .*klines-8of8 300"):
        build_plan([], BudgetPlanConfig(), market)


def test_no_market_table_means_no_feed() -> None:
    plan = build_plan([("a", AccountJobsConfig())], BudgetPlanConfig(), None)
    assert all(job.kind.per_account for job in plan.jobs)


def test_every_account_runs_a_trader_unless_its_job_is_disabled() -> None:
    off = AccountJobsConfig.model_validate({"trader": {"enabled": False}})
    testnet_ip_limit = BudgetPlanConfig(ip_weight_limit_per_minute=6000)
    plan = build_plan([("a", AccountJobsConfig()), ("b", off)], testnet_ip_limit)
    traders = [job.name for job in plan.jobs if job.kind is JobKind.TRADER]
    assert traders == ["trader:a"]  # robots or not: the emergency flatten runs in it
