"""OrderReaper and Heartbeat on Ray against the simulator."""

from __future__ import annotations

from actors import launcher
from tests.kit.deployment import READY_S, deployment_toml, wait_for
from tests.kit.sim import binance_client

REAPER = """
[accounts.jobs.order_reaper]
interval_ms = 500
weight_per_minute = 2000
egress = "127.0.0.5"

[accounts.reaper]
maker_max_age_ms = 1500

[[accounts.reaper.rules]]
client_id_prefix = "wTake_"
max_age_ms = 1000
"""

HEARTBEAT = """
[accounts.jobs.heartbeat]
enabled = true
interval_ms = 1000
weight_per_minute = 600
egress = "127.0.0.6"

[accounts.heartbeat]
countdown_ms = 10000
"""


def _open_orders(simulator) -> dict[str, dict]:
    orders = simulator.server.exchange.state()["accounts"]["sim"]["open_orders"]
    return {o["clientOrderId"]: o for o in orders}


async def test_reaper_cancels_stale_orders_by_prefix_and_replaces_stale_makers(
    deploy, simulator
) -> None:
    controller, _ = deploy(deployment_toml(simulator.server.url, REAPER))
    launcher.wait_ready(controller, READY_S)
    client = binance_client(simulator.server)
    for client_id, price, tif in (
        ("wTake_1", "59000", "GTC"),
        ("keep_1", "58000", "GTC"),
        ("maker_1", "58500", "GTX"),
    ):
        await client.futures_create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce=tif,
            quantity="0.002",
            price=price,
            newClientOrderId=client_id,
        )
    await client.close_connection()
    assert wait_for(lambda: set(_open_orders(simulator)) == {"keep_1"}), _open_orders(simulator)

    def positions() -> list[tuple[str, str]]:  # the maker's taker replacement fills after
        state = simulator.server.exchange.state()["accounts"]["sim"]["positions"]
        return [(p["symbol"], p["positionAmt"]) for p in state]

    assert wait_for(lambda: positions() == [("BTCUSDT", "0.002")]), positions()


async def test_heartbeat_fires_the_countdown_when_riskd_is_stopped(
    ray_cluster, simulator, tmp_path
) -> None:
    from actors.context import ConfigSource

    source = ConfigSource(deployment_toml(simulator.server.url, HEARTBEAT), "t.toml", str(tmp_path))
    controller, _ = launcher.start(source)
    try:
        launcher.wait_ready(controller, READY_S)
        client = binance_client(simulator.server)
        await client.futures_create_order(
            symbol="ETHUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.010",
            price="2900",
            newClientOrderId="resting",
        )
        await client.close_connection()
        account = lambda: simulator.server.exchange.state()["accounts"]["sim"]  # noqa: E731
        assert wait_for(lambda: "ETHUSDT" in account()["countdowns"])
    finally:
        launcher.stop(controller)
    assert "resting" in _open_orders(simulator)  # riskd is gone; Binance still has it
    simulator.server.clock.advance(10_001)
    simulator.server.exchange.tick()
    fired = account()["countdowns_fired"]
    assert [(f["symbol"], f["cancelled"]) for f in fired] == [("ETHUSDT", 1)]
    assert "resting" not in _open_orders(simulator)
