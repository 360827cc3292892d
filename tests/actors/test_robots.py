"""Two robots on one account, on Ray: one robot's losses lock it alone, and its PnL is its own."""

from __future__ import annotations

from decimal import Decimal

from riskd.sim import SimServer, SimulatorThread
from tests.kit.deployment import (
    TRADING_JOBS,
    deployment_toml,
    fmz,
    fmz_trade,
    get_json,
    once_the_list_is_valid,
    run_cli,
    wait_for,
    wait_healthy,
)
from tests.kit.sim import binance_client

ROBOTS = """
[[robots]]
name = "a"
account = "sim"
token_env = "RISKD_TEST_ROBOT_TOKEN"

[[robots]]
name = "b"
account = "sim"
token_env = "RISKD_TEST_ROBOT_B_TOKEN"
"""
LOCK_RULE = """
[[accounts.rules.rules]]
id = "robot_symbol"
kind = "symbol_pnl"
scope = "robot"
window_ms = 14400000
threshold_usdt = "-1"
"""
FLATTEN_RULE = """
[[accounts.rules.rules]]
id = "robot_flatten"
kind = "account_pnl"
scope = "robot"
window_ms = 14400000
threshold_usdt = "-4"
action = "flatten"
"""
A = {"robot": "a", "secret": "robot-token"}
B = {"robot": "b", "secret": "robot-b-token"}


def _deploy(deploy, simulator: SimulatorThread, rule: str) -> str:
    """A deployment of the two robots under *rule*; its gateway, once every job is healthy."""
    toml = deployment_toml(simulator.server.url, TRADING_JOBS + rule + ROBOTS)
    controller, info = deploy(toml)
    wait_healthy(controller)
    return info["gateway"]


def _eth(gateway: str, side: str, amount: str, robot: dict[str, str]) -> dict:
    return fmz_trade(gateway, side, amount, "ETH_USDT", **robot)


async def _simulators_pnl_by_robot(server: SimServer) -> dict[str, Decimal]:
    """Realized PnL less commission of each robot's ETHUSDT trades, as the simulator books them."""
    client = binance_client(server)
    try:
        orders = await client.futures_get_all_orders(symbol="ETHUSDT")
        trades = await client.futures_account_trades(symbol="ETHUSDT")
    finally:
        await client.close_connection()
    robot_of = {order["orderId"]: order["clientOrderId"].split("-")[1] for order in orders}
    pnl: dict[str, Decimal] = {}
    for trade in trades:
        robot = robot_of[trade["orderId"]]
        amount = Decimal(trade["realizedPnl"]) - Decimal(trade["commission"])
        pnl[robot] = pnl.get(robot, Decimal(0)) + amount
    return pnl


async def test_one_robots_losses_lock_it_alone_and_its_pnl_matches_the_exchange(
    deploy, simulator
) -> None:
    gateway = _deploy(deploy, simulator, LOCK_RULE)

    assert "data" in once_the_list_is_valid(lambda: _eth(gateway, "buy", "0.500", A))
    assert "data" in _eth(gateway, "closebuy", "0.500", A)  # fees alone: about −1.5 USDT
    assert "data" in _eth(gateway, "buy", "0.010", B)

    def locks_of_a() -> list[dict]:
        locks = get_json(f"{gateway}/v1/locks")[1]["locks"]
        return [lock for lock in locks if lock["robot"] == "a"]

    (lock,) = wait_for(locks_of_a)
    assert (lock["symbol"], lock["source"]) == ("ETHUSDT", "rule:robot_symbol")

    def refused_by_the_ban() -> dict | None:
        answer = _eth(gateway, "buy", "0.010", A)
        return answer if "BANNED_SYMBOL" in answer.get("error", "") else None

    assert "for robot a" in wait_for(refused_by_the_ban)["error"]
    assert "data" in _eth(gateway, "buy", "0.020", B)  # b trades ETHUSDT on
    assert "data" in _eth(gateway, "closebuy", "0.010", A)  # a may still reduce

    expected = await _simulators_pnl_by_robot(simulator.server)

    def riskds_pnl() -> dict[str, Decimal] | None:
        rows = get_json(f"{gateway}/v1/pnl?by=robot&hours=1")[1]["rows"]
        totals = {row["key"]: Decimal(row["total"]) for row in rows if row["asset"] == "USDT"}
        return totals if totals == expected else None

    assert wait_for(riskds_pnl) == expected
    days = get_json(f"{gateway}/v1/report/daily?by=robot&days=2")[1]["rows"]  # midnight may pass
    per_robot = {row["key"]: Decimal(0) for row in days if row["key"]}
    for row in days:
        if row["key"] and row["asset"] == "USDT":
            per_robot[row["key"]] += Decimal(row["net"])
    assert per_robot == expected
    shown = run_cli("pnl", "--url", gateway, "--robot", "a", "--hours", "1")
    assert shown.returncode == 0, shown.stderr
    assert f"{expected['a'].normalize():f}" in shown.stdout


async def test_a_robots_flatten_rule_locks_it_on_all_and_closes_its_position_only(
    deploy, simulator
) -> None:
    gateway = _deploy(deploy, simulator, FLATTEN_RULE)

    assert "data" in once_the_list_is_valid(lambda: _eth(gateway, "buy", "0.010", B))
    assert "data" in _eth(gateway, "buy", "0.020", A)
    for step in range(6):  # round trips of 1 ETH, about −3 USDT of fees each, until locked
        amount = f"{1 + step / 1000:.3f}"  # not alike: no duplicate
        opened = _eth(gateway, "buy", amount, A)
        if "BANNED_ALL" in opened.get("error", ""):
            break
        assert "data" in opened, opened
        _eth(gateway, "closebuy", amount, A)  # refused once the flatten closed it: no matter

    def locked_on_all() -> list[dict]:
        locks = get_json(f"{gateway}/v1/locks")[1]["locks"]
        return [lock for lock in locks if (lock["robot"], lock["symbol"]) == ("a", "ALL")]

    assert {lock["source"] for lock in wait_for(locked_on_all)} >= {"rule:robot_flatten"}

    def only_bs_position_left() -> bool:
        positions = fmz(gateway, "positions", {"symbol": "ETH_USDT"}, **B)["data"]
        return [position["amount"] for position in positions] == [0.01]

    assert wait_for(only_bs_position_left)
    assert "data" in _eth(gateway, "buy", "0.020", B)  # b trades on
