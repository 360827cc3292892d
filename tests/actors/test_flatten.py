"""The emergency flatten on Ray against the simulator: ``riskd flatten`` and POST /v1/flatten
halt the account (or lock a symbol, or a robot), cancel its open orders but the ladder's,
close its positions (one-way and hedge mode) and confirm them flat from the exchange; a
robot's flatten closes only what its own fills built; a failed slice is sent again.

One deployment serves the module: account ``sim`` (one-way, robot ``r1``) and account
``hedge`` (hedge mode, keys from files), on one simulator.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
from ray.cluster_utils import Cluster

from actors import launcher
from actors.context import ConfigSource
from riskd.protect.flatten_store import recent_flattens
from riskd.protect.ladder import RUNG_PREFIX
from riskd.risk.attribution import Attribution, robot_positions
from riskd.risk.ledger_store import filled_quantities
from riskd.sim import SimAccountConfig, SimConfig, SimulatorThread
from riskd.sim.exchange import SimExchange
from riskd.store.engine import make_engine
from tests.kit.deployment import (
    LOOPBACK_JOBS,
    deployment_toml,
    get_json,
    post_json,
    run_cli,
    wait_for,
    wait_healthy,
)
from tests.kit.files import write_private

JOBS = (
    LOOPBACK_JOBS
    + """
[accounts.flatten]
confirm_interval_ms = 100

[accounts.jobs.order_reaper]
enabled = false

[accounts.jobs.stop_ladder]
interval_ms = 1000
egress = "127.0.0.5"

[accounts.jobs.ledger]
egress = "127.0.0.6"

[accounts.jobs.trader]
egress = "127.0.0.7"
"""
)
HEDGE = """
[[accounts]]
name = "hedge"
api_key_file = "hedge.key"
api_secret_file = "hedge.secret"

[accounts.flatten]
confirm_interval_ms = 100

[accounts.jobs.account_reader]
enabled = false

[accounts.jobs.user_stream]
enabled = false

[accounts.jobs.order_reaper]
enabled = false

[accounts.jobs.position_risk_reader]
interval_ms = 500
weight_per_minute = 600
egress = "127.0.0.8"

[accounts.jobs.stop_ladder]
interval_ms = 1000
egress = "127.0.0.9"

[accounts.jobs.ledger]
egress = "127.0.0.10"

[accounts.jobs.trader]
egress = "127.0.0.11"

[[robots]]
name = "r1"
account = "sim"
token_env = "RISKD_TEST_ROBOT_TOKEN"
"""


class Deployment(NamedTuple):
    gateway: str
    simulator: SimulatorThread
    database: str  # the deployment's SQLite URL

    @property
    def exchange(self) -> SimExchange:
        return self.simulator.server.exchange


@pytest.fixture(scope="module")
def deployment(
    ray_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    accounts = (
        SimAccountConfig(name="sim", api_key="sim-key", api_secret="sim-secret"),
        SimAccountConfig(
            name="hedge", api_key="hedge-key", api_secret="hedge-secret", dual_side_position=True
        ),
    )
    simulator = SimulatorThread(
        SimConfig(port=0, accounts=accounts, exchange={"walk_interval_ms": 0})
    )
    simulator.start()
    folder = tmp_path_factory.mktemp("flatten")
    write_private(folder / "hedge.key", "hedge-key")
    write_private(folder / "hedge.secret", "hedge-secret")
    toml = deployment_toml(simulator.server.url, JOBS + HEDGE)
    controller, info = launcher.start(ConfigSource(toml, "test.toml", str(folder)))
    try:
        wait_healthy(controller)
        yield Deployment(info["gateway"], simulator, f"sqlite:///{folder / 'riskd.db'}")
    finally:
        launcher.stop(controller)
        simulator.stop()


# ------------------------------------------------------------------------ helpers


def _order(d: Deployment, account: str, **params: str) -> dict:
    """An order straight on the simulator (no HTTP): a MARKET order unless *params* say."""
    key = {"sim": "sim-key", "hedge": "hedge-key"}[account]
    holder = d.exchange.account_by_key(key)
    assert holder is not None
    return d.exchange.new_order(holder, {"type": "MARKET", **params})


def _state(d: Deployment, account: str) -> dict:
    return d.exchange.state()["accounts"][account]


def _positions(d: Deployment, account: str) -> dict[tuple[str, str], Decimal]:
    return {
        (p["symbol"], p["positionSide"]): Decimal(p["positionAmt"])
        for p in _state(d, account)["positions"]
    }


def _rungs(d: Deployment, account: str) -> dict[tuple[str, str], int]:
    """The ladder's open rungs per (symbol, position side)."""
    rungs: dict[tuple[str, str], int] = {}
    for algo in _state(d, account)["open_algo_orders"]:
        if algo["clientAlgoId"].startswith(RUNG_PREFIX):
            key = (algo["symbol"], algo["positionSide"])
            rungs[key] = rungs.get(key, 0) + 1
    return rungs


def _laddered(d: Deployment, account: str, keys: set[tuple[str, str]]) -> bool:
    return keys <= set(_rungs(d, account))


def _flatten(d: Deployment, **body: object) -> dict:
    status, report = post_json(
        f"{d.gateway}/v1/flatten", {"operator": "alice", "reason": "drill", **body}
    )
    assert status == 200, report
    return report


def _fmz_trade(d: Deployment, side: str, amount: str) -> dict:
    body = {
        "access_key": "r1",
        "secret_key": "robot-token",
        "method": "trade",
        "nonce": time.time_ns(),
        "params": {"symbol": "BTC_USDT", "type": side, "price": -1, "amount": amount},
    }
    status, answer = post_json(f"{d.gateway}/fmz/binance", body)
    assert status == 200
    return answer


# ------------------------------------------------------------------------ tests


def test_a_robots_flatten_closes_only_what_its_fills_built(deployment: Deployment) -> None:
    d = deployment

    def bought() -> dict | None:  # refused only until the Trader holds a valid ban list
        answer = _fmz_trade(d, "buy", "0.010")
        return None if "BANLIST_" in answer.get("error", "") else answer

    assert "data" in wait_for(bought)
    _order(d, "sim", symbol="BTCUSDT", side="BUY", quantity="0.020", newClientOrderId="hand-1")
    engine = make_engine(d.database)
    attribution = Attribution([("rb-r1-", "r1")])

    def r1_holds() -> Decimal:
        with engine.connect() as conn:
            held = robot_positions(filled_quantities(conn, "sim"), attribution)
        return held.get(("r1", "BTCUSDT", "BOTH"), Decimal(0))

    assert wait_for(lambda: r1_holds() == Decimal("0.010"))  # the Ledger booked its fill

    report = _flatten(d, account="sim", robot="r1")

    assert report["outcome"] == "flat", report
    assert report["scope"] == "robot r1"
    (order,) = report["slices"]
    assert order["client_order_id"].startswith("rb-r1-f")  # the closing fill is r1's
    assert (order["side"], order["quantity"], order["status"]) == ("SELL", "0.010", "filled")
    assert _positions(d, "sim")[("BTCUSDT", "BOTH")] == Decimal("0.020")  # the hand's stays
    assert report["steps"][0]["detail"].startswith("locked ALL for robot r1")
    locks = get_json(f"{d.gateway}/v1/locks?account=sim")[1]["locks"]
    assert any(lock.get("robot") == "r1" and lock["symbol"] == "ALL" for lock in locks)
    assert "BANNED" in _fmz_trade(d, "buy", "0.010").get("error", "")  # r1 opens nothing
    _order(d, "sim", symbol="BTCUSDT", side="SELL", quantity="0.020", reduceOnly="true")


def test_a_symbols_flatten_sends_again_what_failed(deployment: Deployment) -> None:
    d = deployment
    _order(d, "sim", symbol="SOLUSDT", side="SELL", quantity="3")
    # The first slice's placement and the lookups of its unknown outcome all fail.
    status, _ = post_json(
        f"{d.simulator.server.url}/_sim/fault",
        {"path": "/fapi/v1/order", "kind": "http5xx", "count": 5},
    )
    assert status == 200

    report = _flatten(d, account="sim", symbol="SOLUSDT")

    assert report["outcome"] == "flat", report
    first, second = report["slices"]
    assert (first["attempt"], first["status"]) == (1, "failed")
    assert "HTTP 502" in first["message"]
    assert (second["attempt"], second["side"], second["status"]) == (2, "BUY", "filled")
    assert report["steps"][2]["status"] == "failed"  # the first round
    assert report["steps"][3] == {
        "step": "confirm",
        "status": "done",
        "detail": "the exchange reports flat",
    }
    assert ("SOLUSDT", "BOTH") not in _positions(d, "sim")


def test_riskd_flatten_closes_one_way_and_hedge_positions_and_keeps_the_ladders(
    deployment: Deployment,
) -> None:
    d = deployment
    _order(d, "sim", symbol="BTCUSDT", side="BUY", quantity="0.010")
    _order(d, "sim", symbol="ETHUSDT", side="SELL", quantity="0.100")
    _order(d, "hedge", symbol="BTCUSDT", side="BUY", positionSide="LONG", quantity="0.010")
    resting = {"type": "LIMIT", "timeInForce": "GTC", "price": "50000", "quantity": "0.010"}
    _order(d, "sim", symbol="BTCUSDT", side="BUY", newClientOrderId="hand-limit", **resting)
    _order(d, "hedge", symbol="BTCUSDT", side="BUY", positionSide="LONG", **resting)
    sim_keys = {("BTCUSDT", "BOTH"), ("ETHUSDT", "BOTH")}
    assert wait_for(lambda: _laddered(d, "sim", sim_keys))
    assert wait_for(lambda: _laddered(d, "hedge", {("BTCUSDT", "LONG")}))

    folder = Path(d.database.removeprefix("sqlite:///")).parent
    cli = run_cli(
        "flatten", "--url", d.gateway, "--account", "sim",
        "--operator", "alice", "--reason", "drill",
    )  # fmt: skip
    hedge = _flatten(d, account="hedge")

    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "FLAT after" in cli.stdout and "nothing left" in cli.stdout
    assert "the account is HALTED" in cli.stdout and "hand-limit" in cli.stdout
    assert hedge["outcome"] == "flat", hedge
    for account in ("sim", "hedge"):
        assert _positions(d, account) == {}  # flat, as the exchange says
        assert _state(d, account)["open_orders"] == []
        assert all(  # no open order but the ladder's
            algo["clientAlgoId"].startswith(RUNG_PREFIX)
            for algo in _state(d, account)["open_algo_orders"]
        )
        state = get_json(f"{d.gateway}/v1/state?account={account}")[1]
        assert (state["state"], state["actor"]) == ("HALTED", "operator:alice")
    (slice_,) = hedge["slices"]
    assert (slice_["position_side"], slice_["side"], slice_["status"]) == (
        "LONG",
        "SELL",
        "filled",
    )
    assert hedge["kept_rungs"] >= 1  # the ladder kept covering the position until it was flat
    assert not any(c["client_id"].startswith(RUNG_PREFIX) for c in hedge["cancelled"])
    assert [c["cancelled"] for c in hedge["cancelled"]] == [True]
    with make_engine(d.database).connect() as conn:
        audited = {r.account: r for r in recent_flattens(conn, "sim")[:1]}
        audited |= {r.account: r for r in recent_flattens(conn, "hedge")}
    assert folder.is_dir()
    sim = audited["sim"]
    assert (sim.scope, sim.operator, sim.outcome) == ("account", "alice", "flat")
    assert sim.report["closed"] == 2
    sides = {(s["symbol"], s["side"]) for s in sim.report["slices"]}
    assert sides == {("BTCUSDT", "SELL"), ("ETHUSDT", "BUY")}
    assert audited["hedge"].report == hedge
