"""bench/soak.py without Ray: its deployment (every poller at its budget), its position sizes,
the ladder tracker it shares with bench/reaction.py on many positions at once, the split of the
ban list's pushes, the RSS growth verdict and the capacity search."""

from __future__ import annotations

import argparse
import importlib
from array import array
from decimal import Decimal
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from riskd.config import load_config_text
from riskd.protect.ladder import rung_client_id

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def soak(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("soak")


def test_every_poller_spends_its_whole_budget_and_robots_go_round_the_accounts(
    soak: ModuleType, tmp_path: Path
) -> None:
    data, env, accounts = soak.soak_deployment(soak.Size(3, 4, 5, 1.0))
    config = load_config_text(soak.soak_toml(data, "http://127.0.0.1:1", 4), "soak", tmp_path, env)
    assert (
        [a.name for a in accounts] == [a.name for a in config.accounts] == ["sim", "sim2", "sim3"]
    )
    assert len({a.api_key for a in accounts}) == 3
    polled = [job for job in config.plan().jobs if job.kind in soak.POLLS]
    assert len(polled) == 3 * len(soak.POLLS)
    for job in polled:
        weight = soak.pass_weight(job.kind) * 60_000 / job.config.interval_ms
        assert job.config.jitter_ms == 0
        assert job.config.weight_per_minute * 0.99 <= weight <= job.config.weight_per_minute
    assert [(r.name, r.account) for r in config.robots] == [
        ("b0", "sim"),
        ("b1", "sim2"),
        ("b2", "sim3"),
        ("b3", "sim"),
    ]


def test_a_position_is_whole_rungs_worth_its_notional(soak: ModuleType) -> None:
    filters = SimpleNamespace(step_size=Decimal("0.001"), min_notional=Decimal(100))
    quantity = soak.position_quantity(filters, Decimal("60000"), Decimal(1000))
    assert quantity == Decimal("0.020")  # 5 rungs of 0.004: the first multiple over 1,000 USDT
    assert quantity % (filters.step_size * soak.RUNGS) == 0
    big_minimum = soak.position_quantity(filters, Decimal("60000"), Decimal(10))
    assert big_minimum * 60000 >= 105  # over the min notional with 5 % to spare


def fill(client_id: str, symbol: str) -> dict:
    o = {"c": client_id, "s": symbol, "x": "TRADE", "X": "FILLED"}
    return {"e": "ORDER_TRADE_UPDATE", "o": o}


def rung(account: str, symbol: str, algo_id: int, generation: int, status: str) -> dict:
    caid = rung_client_id(account, symbol, "BOTH", generation, algo_id % 5)
    o = {"caid": caid, "aid": algo_id, "s": symbol, "q": "0.004", "X": status}
    return {"e": "ALGO_UPDATE", "o": o}


def test_the_tracker_follows_positions_of_many_accounts_and_ladders_started_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    reaction = importlib.import_module("reaction")
    exchange = SimpleNamespace(emit=lambda _account, _event: None)
    tracker = reaction.Tracker(SimpleNamespace(server=SimpleNamespace(exchange=exchange)))
    emit = exchange.emit  # the tracker's hook
    a = reaction.Change("a", "BTCUSDT", "ca", Decimal("0.020"))
    b = reaction.Change("b", "BTCUSDT", "cb", Decimal("0.020"))
    tracker.expect(a)
    tracker.expect(b)
    emit("a", fill("ca", "BTCUSDT"))
    emit("b", fill("cb", "BTCUSDT"))
    for algo_id in range(1, 6):  # account a's ladder, generation 1, in full
        emit("a", rung("a", "BTCUSDT", algo_id, 1, "NEW"))
    emit("b", rung("b", "BTCUSDT", 11, 1, "NEW"))  # b's first rung only
    assert a.done.is_set() and a.t1 is not None and a.t0 is not None
    assert not b.done.is_set()
    for algo_id in range(1, 6):  # a's position closed: its ladder cancelled
        emit("a", rung("a", "BTCUSDT", algo_id, 1, "CANCELED"))
    again = reaction.Change("a", "BTCUSDT", "ca2", Decimal("0.020"))
    tracker.expect(again)
    emit("a", fill("ca2", "BTCUSDT"))
    for algo_id in range(21, 26):  # reopened: riskd starts over at generation 1
        emit("a", rung("a", "BTCUSDT", algo_id, 1, "NEW"))
    assert again.done.is_set() and again.gen_before == 0
    tracker.forget(b)
    assert not tracker.filled and not tracker.expected


def test_each_accounts_lowest_version_is_its_first_push(soak: ModuleType) -> None:
    def deliveries(*rows: tuple[int, int, float]) -> tuple[array, array, array]:
        accounts, versions, latencies = zip(*rows, strict=True)
        return array("i", accounts), array("q", versions), array("d", latencies)

    result = soak.PushResult()
    one = deliveries((0, 7, 0.010), (1, 3, 0.020), (0, 8, 0.001))
    two = deliveries((0, 7, 0.011), (1, 4, 0.002))
    soak.push_latencies([(one, 2), (two, 1)], 5, result)
    assert sorted(result.first_s) == [0.010, 0.011, 0.020]
    assert sorted(result.steady_s) == [0.001, 0.002]
    assert result.failed == 2  # 5 subscribers, 3 of them pushed to


def test_growth_is_the_last_sample_against_the_first_after_warm_up(soak: ModuleType) -> None:
    samples = [soak.Sample(at_s, (0, 0)) for at_s in (0.0, 10.0, 20.0, 60.0, 100.0)]
    assert soak.after_warmup(samples) == 2  # the first at or after 20 % of 100 s
    assert soak.growth_cells(1000, 1100) == ["+10.0 %", "flat"]
    assert soak.growth_cells(1000, 1101) == ["+10.1 %", "grew"]
    assert soak.after_warmup(samples[:2]) is None  # no sample after warm-up but the last
    assert soak.growth_cells(None, 1000) == ["n/a", "n/a"]


@pytest.mark.parametrize(
    ("soak_accounts", "passing_up_to", "run", "capacity"),
    [
        (4, 8, [8, 10], "8"),  # the soak passed: up from it until a miss
        (4, 2, [1, 2], "2"),  # it missed: up from the smallest, and the soak's miss ends it
        (4, 1, [1, 2], "1"),
        (4, 0, [1], "fewer than 1"),
        (10, 12, [], "at least 10"),
    ],
)
def test_the_capacity_search_runs_rounds_until_the_first_miss(
    soak: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    soak_accounts: int,
    passing_up_to: int,
    run: list[int],
    capacity: str,
) -> None:
    def result(accounts: int) -> object:
        latency_s = 0.010 if accounts <= passing_up_to else 0.500
        changes = []
        for k in range(3):
            change = soak.Change("sim", f"S{k}", f"c{k}", Decimal(1), t0=1.0, t1=1.0 + latency_s)
            change.done.set()
            changes.append(change)
        return soak.RunResult(soak.Size(accounts, 1, 1, 1.0), changes=changes)

    ran: list[int] = []

    def run_bounded(size: object, _args: argparse.Namespace) -> object:
        ran.append(size.accounts)  # type: ignore[attr-defined]
        return result(size.accounts)  # type: ignore[attr-defined]

    monkeypatch.setattr(soak, "run_bounded", run_bounded)
    args = argparse.Namespace(
        accounts=soak_accounts, robots=10, subscribers=20, capacity=[1, 2, 4, 8, 10],
        capacity_minutes=1.0,
    )  # fmt: skip
    rounds = soak.capacity_rounds(result(soak_accounts), args)
    assert ran == run
    soak.report_capacity(rounds)
    assert f"capacity: {capacity} account(s)" in capsys.readouterr().out
