"""StopLadder on Ray against the simulator: ladders appear, grow confirm-then-cancel, vanish."""

from __future__ import annotations

import time
from decimal import Decimal

from actors import launcher
from riskd.protect.ladder import rung_client_id
from tests.kit.deployment import LOOPBACK_JOBS, deployment_toml, post_json, wait_for, wait_healthy
from tests.kit.sim import binance_client

LADDER_JOBS = (
    LOOPBACK_JOBS
    + """
[accounts.jobs.stop_ladder]
interval_ms = 1000
weight_per_minute = 1200
egress = "127.0.0.7"
"""
)


def _rungs(simulator) -> list[dict]:
    algos = simulator.server.exchange.state()["accounts"]["sim"]["open_algo_orders"]
    return [a for a in algos if a["algoStatus"] == "NEW"]


def _ladder_health(controller) -> dict | None:
    """The StopLadder's health, for a failing assertion's message."""
    rows = launcher.status(controller)
    return next((row.health for row in rows if row.job == "stop_ladder"), None)


def _record_algo_events(simulator) -> list[dict]:
    """Every ALGO_UPDATE the exchange emits, in order (wraps the simulator's emitter)."""
    events: list[dict] = []
    exchange = simulator.server.exchange
    emit = exchange.emit

    def recording(account: str, event: dict) -> None:
        if event["e"] == "ALGO_UPDATE":
            events.append(event["o"])
        emit(account, event)

    exchange.emit = recording
    return events


def _open_quantity_never_drops_below(events: list[dict], floor: Decimal) -> bool:
    """Replaying the events: once the ladder first covers *floor*, does it ever stop?"""
    open_qty: dict[int, Decimal] = {}
    covered = False
    for event in events:
        if event["X"] == "NEW":
            open_qty[event["aid"]] = Decimal(event["q"])
        else:
            open_qty.pop(event["aid"], None)
        total = sum(open_qty.values(), Decimal(0))
        covered = covered or total >= floor
        if covered and total < floor:
            return False
    return covered


async def test_a_position_gets_its_ladder_grows_it_safely_and_loses_it_on_close(
    deploy, simulator
) -> None:
    events = _record_algo_events(simulator)
    controller, _ = deploy(deployment_toml(simulator.server.url, LADDER_JOBS))
    wait_healthy(controller)
    client = binance_client(simulator.server)
    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100"
    )  # entry 60000.1
    ladder = wait_for(lambda: len(_rungs(simulator)) == 5 and _rungs(simulator))
    assert ladder, (_rungs(simulator), _ladder_health(controller), launcher.status(controller))
    # 60000.1 × (1 − 5 %, 5.5 %, … 7 %), floored to the 0.1 tick: never nearer than asked.
    assert sorted(r["triggerPrice"] for r in ladder) == [
        "55800.00",
        "56100.00",
        "56400.00",
        "56700.00",
        "57000.00",
    ]
    assert sum(Decimal(r["quantity"]) for r in ladder) == Decimal("0.100")
    assert all(
        r["side"] == "SELL" and r["reduceOnly"] and r["workingType"] == "MARK_PRICE" for r in ladder
    )

    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )  # +10 %: a new generation

    def grown() -> list[dict] | None:
        rungs = _rungs(simulator)
        total = sum(Decimal(r["quantity"]) for r in rungs)
        return rungs if len(rungs) == 5 and total == Decimal("0.110") else None

    assert wait_for(grown), _rungs(simulator)
    assert _open_quantity_never_drops_below(events, Decimal("0.100"))

    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.110"
    )
    await client.close_connection()
    assert wait_for(lambda: not _rungs(simulator)), _rungs(simulator)


def _five_rungs_summing_to(simulator, total: str):
    def check() -> list[dict] | None:
        rungs = _rungs(simulator)
        summed = sum(Decimal(r["quantity"]) for r in rungs)
        return rungs if len(rungs) == 5 and summed == Decimal(total) else None

    return check


async def test_unknown_status_placements_leave_exactly_one_ladder(deploy, simulator) -> None:
    post_json(
        f"{simulator.server.url}/_sim/fault",
        {"path": "/fapi/v1/algoOrder", "kind": "unknown503", "count": 3},
    )
    controller, _ = deploy(deployment_toml(simulator.server.url, LADDER_JOBS))
    wait_healthy(controller)
    client = binance_client(simulator.server)
    await client.futures_create_order(
        symbol="ETHUSDT", side="SELL", type="MARKET", quantity="1.000"
    )
    await client.close_connection()
    rungs = wait_for(_five_rungs_summing_to(simulator, "1.000"))
    assert rungs, (_rungs(simulator), _ladder_health(controller))
    time.sleep(1.5)  # further passes must not add anything
    assert len(_rungs(simulator)) == 5
    assert len({r["clientAlgoId"] for r in _rungs(simulator)}) == 5
    assert all(r["side"] == "BUY" for r in rungs)  # a short's stops buy


async def test_stop_past_the_price_reduces_at_market_instead(deploy, simulator) -> None:
    near = (
        LADDER_JOBS
        + """
[accounts.stop_ladder.symbols.BTCUSDT]
first_offset_pct = 1
"""
    )
    controller, _ = deploy(deployment_toml(simulator.server.url, near))
    wait_healthy(controller)
    # The mark is already 3 % below the last price: every 1 %…3 % stop is past it (−2021).
    post_json(
        f"{simulator.server.url}/_sim/mark",
        {"symbol": "BTCUSDT", "price": "58000", "last": "60000"},
    )
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    await client.close_connection()

    def flat() -> bool:
        positions = simulator.server.exchange.state()["accounts"]["sim"]["positions"]
        return not positions

    assert wait_for(flat), simulator.server.exchange.state()["accounts"]["sim"]["positions"]
    assert not _rungs(simulator)

    def reduce_alerted() -> bool:  # the pass that reduced reports once it has finished
        row = {r.job: r for r in launcher.status(controller)}["stop_ladder"]
        return any("−2021" in alert for alert in row.health["extra"]["alerts"])

    assert wait_for(reduce_alerted)


async def test_a_killed_ladder_comes_back_to_exactly_one_ladder(deploy, simulator) -> None:
    import ray

    controller, _ = deploy(deployment_toml(simulator.server.url, LADDER_JOBS, name="ladderkill"))
    wait_healthy(controller)
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    assert wait_for(_five_rungs_summing_to(simulator, "0.100"))
    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.020"
    )  # a re-ladder starts…
    ray.kill(ray.get_actor("stop_ladder:sim", namespace="ladderkill"), no_restart=False)
    await client.close_connection()
    assert wait_for(_five_rungs_summing_to(simulator, "0.120"), timeout_s=30), _rungs(simulator)
    time.sleep(1.5)
    assert len(_rungs(simulator)) == 5


async def test_a_first_ladder_cut_short_before_a_start_is_completed_under_its_own_ids(
    deploy, simulator
) -> None:
    """riskd starting again after a crash cut the placement of a new position's ladder short:
    the rung on the exchange is adopted and the others placed under generation 1's ids."""
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100")
    ids = [rung_client_id("sim", "BTCUSDT", "BOTH", 1, index) for index in range(5)]
    await client.futures_create_algo_order(
        algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL", positionSide="BOTH",
        type="STOP_MARKET", triggerPrice="56400.00", quantity="0.020", reduceOnly="true",
        workingType="MARK_PRICE", priceProtect="TRUE", clientAlgoId=ids[2],
    )  # fmt: skip
    await client.close_connection()
    events = _record_algo_events(simulator)
    controller, _ = deploy(deployment_toml(simulator.server.url, LADDER_JOBS))
    wait_healthy(controller)
    rungs = wait_for(_five_rungs_summing_to(simulator, "0.100"))
    assert rungs, _rungs(simulator)
    time.sleep(1.5)  # further passes must not change it
    assert sorted(r["clientAlgoId"] for r in _rungs(simulator)) == sorted(ids)
    assert [e["X"] for e in events] == ["NEW"] * 4  # nothing cancelled, nothing placed twice
