"""Robots trade through riskd on Ray: the FMZ protocol, the Trader, the pre-trade gate."""

from __future__ import annotations

from sqlalchemy import Engine, select

from actors import launcher
from riskd.store.schema import order_decisions
from tests.kit.deployment import (
    TRADING_JOBS,
    deployment_toml,
    fmz,
    fmz_trade,
    get_json,
    once_the_list_is_valid,
    post_json,
    wait_for,
    wait_healthy,
)
from tests.kit.sim import binance_client, rest_limit

ROBOT = """
[[robots]]
name = "r1"
account = "sim"
token_env = "RISKD_TEST_ROBOT_TOKEN"
"""


async def test_a_robot_trades_through_riskd_and_a_lock_refuses_its_next_opening_order(
    deploy, simulator
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, TRADING_JOBS + ROBOT))
    gateway = info["gateway"]
    wait_healthy(controller)
    assert "error" in fmz(gateway, "accounts", {}, secret="wrong")  # nothing sent

    answer = once_the_list_is_valid(lambda: fmz_trade(gateway, "buy", "0.010"))
    assert "data" in answer, answer
    order_id = answer["data"]["id"]
    client = binance_client(simulator.server)
    try:
        placed = await client.futures_get_order(
            symbol="BTCUSDT", orderId=int(order_id.split(",")[1])
        )
        assert placed["clientOrderId"].startswith("rb-r1-")  # the fill is the robot's
        assert placed["status"] == "FILLED"
    finally:
        await client.close_connection()
    assert fmz(gateway, "order", {"id": order_id})["data"]["status"] == "filled"

    status, _ = post_json(
        f"{gateway}/v1/locks", {"symbol": "BTCUSDT", "reason": "test", "operator": "alice"}
    )
    assert status == 201
    # Below the step size: refused by the filters until the lock arrives, then by the ban.
    refused = wait_for(
        lambda: "BANNED_SYMBOL" in fmz_trade(gateway, "buy", "0.0001").get("error", "")
    )
    assert refused
    opening = fmz_trade(gateway, "buy", "0.010")
    assert "BANNED_SYMBOL" in opening["error"]
    closing = fmz_trade(gateway, "closebuy", "0.010")  # reducing: never banned
    assert "data" in closing, closing

    refusals = wait_for(
        lambda: [
            alert["labels"]
            for alert in get_json(f"{gateway}/v1/alerts")[1]["alerts"]
            if alert["labels"]["alertname"] == "OrderRefused"
        ]
    )
    assert {"account": "sim", "robot": "r1", "symbol": "BTCUSDT"}.items() <= refusals[0].items()

    def decisions() -> list[dict]:  # the gateway lists the newest first
        listed = get_json(f"{gateway}/v1/orders?robot=r1")[1]["orders"]
        return listed if listed and listed[0]["reduce_only"] else []

    decisions = wait_for(decisions)
    assert decisions[0]["passed"]
    assert any(d["refusal"] == "BANNED_SYMBOL" and not d["passed"] for d in decisions)
    assert decisions[-1]["client_order_id"].startswith("rb-r1-")


def _trading_on(deploy, simulator, engine: Engine) -> tuple[object, str]:
    """The robot's deployment on *engine*'s database, ready, its first order placed:
    (controller, gateway URL)."""
    url = engine.url.render_as_string(hide_password=False)
    toml = deployment_toml(
        simulator.server.url, f'{TRADING_JOBS}{ROBOT}\n[database]\nurl = "{url}"\n'
    )
    controller, info = deploy(toml)
    wait_healthy(controller)
    gateway = info["gateway"]
    assert "data" in once_the_list_is_valid(lambda: fmz_trade(gateway, "buy", "0.010"))
    return controller, gateway


async def test_a_robot_is_answered_only_once_its_decision_is_in_sql(
    deploy, simulator, sqlite_engine: Engine
) -> None:
    _controller, gateway = _trading_on(deploy, simulator, sqlite_engine)

    def recorded() -> list[str]:
        with sqlite_engine.connect() as connection:
            return list(connection.scalars(select(order_decisions.c.side)))

    before = len(recorded())
    for side, amount in [("sell", "0.010"), ("buy", "0.0001"), ("buy", "0.010")]:
        fmz_trade(gateway, side, amount)  # placed, refused (below the step), placed
        assert len(recorded()) == before + 1, "answered before its decision was in SQL"
        before += 1


async def test_every_account_method_answers_for_the_robots_own_orders(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, TRADING_JOBS + ROBOT))
    gateway = info["gateway"]
    wait_healthy(controller)
    client = binance_client(simulator.server)
    try:  # an order of another client: the robot must not see it
        await rest_limit(client, quantity="0.002", newClientOrderId="someone-else-1")
    finally:
        await client.close_connection()
    resting = {"symbol": "BTC_USDT", "type": "buy", "price": "58000", "amount": "0.002"}
    placed = once_the_list_is_valid(lambda: fmz(gateway, "trade", resting))
    assert "data" in placed, placed
    order_id = placed["data"]["id"]

    open_orders = fmz(gateway, "orders", {"symbol": "BTC_USDT"})["data"]
    assert [o["id"] for o in open_orders] == [order_id]
    assert fmz(gateway, "order", {"id": order_id})["data"]["status"] == "pending"
    assert fmz(gateway, "cancel", {"id": order_id}) == {"data": True}
    history = fmz(gateway, "historyorders", {"symbol": "BTC_USDT"})["data"]
    assert [(o["id"], o["status"]) for o in history] == [(order_id, "canceled")]

    usdt = next(a for a in fmz(gateway, "accounts", {})["data"] if a["currency"] == "USDT")
    assert float(usdt["free"]) > 0
    assert fmz(gateway, "marginlevel", {"symbol": "BTC_USDT", "marginLevel": 10})["data"] is True
    assert "data" in fmz_trade(gateway, "buy", "0.010")
    position = wait_for(lambda: fmz(gateway, "positions", {"symbol": "BTC_USDT"})["data"])
    assert position[0]["margin_level"] == 10 and position[0]["type"] == "long"
    get = {"Http-Method": "GET"}
    raw = fmz(gateway, "__api_/fapi/v1/leverageBracket", {"symbol": "BTCUSDT"}, headers=get)
    assert raw["data"]["symbol"] == "BTCUSDT" and raw["data"]["brackets"]
    unbudgeted = fmz(gateway, "__api_/fapi/v2/balance", {}, headers=get)
    assert "weight" in unbudgeted["error"]
    foreign = fmz(gateway, "cancel", {"id": "BTC_USDT,1"})
    assert "error" in foreign  # not the robot's order (or no such order): nothing cancelled


async def test_while_decisions_cannot_be_stored_the_trader_says_why_and_keeps_them(
    deploy, simulator, sql_engine: Engine
) -> None:
    controller, gateway = _trading_on(deploy, simulator, sql_engine)

    order_decisions.drop(sql_engine)  # as a full disk or a stopped server would refuse them
    assert "data" in fmz_trade(gateway, "sell", "0.010")

    def trader_error(naming: str = "") -> str:
        """The Trader's last error if it names *naming*, else ""."""
        trader = next(row for row in launcher.status(controller) if row.job == "trader")
        error = (trader.health or {}).get("last_error") or ""
        return error if naming in error else ""

    error = wait_for(lambda: trader_error("order_decisions"))
    assert error.startswith(("OperationalError: ", "ProgrammingError: ")), error
    assert not any(mark in error for mark in ("\\x0a", "[SQL", "INSERT")), error
    firing = wait_for(
        lambda: [
            alert["labels"]
            for alert in get_json(f"{gateway}/v1/alerts")[1]["alerts"]
            if alert["labels"]["alertname"] == "DatabaseError"
        ]
    )
    assert {"account": "sim", "job": "trader"}.items() <= firing[0].items()

    order_decisions.create(sql_engine)
    assert wait_for(lambda: not trader_error())
    with sql_engine.connect() as connection:  # the sell's decision, kept until it could be
        sides = connection.scalars(select(order_decisions.c.side)).all()
    assert "SELL" in sides
    launcher.stop(controller)
