"""riskd on a real (multi-node, local) Ray cluster against the simulator."""

from __future__ import annotations

import re
import time

import pytest
import ray

from actors import launcher
from actors.context import ConfigSource
from riskd.exchange.planning import OverSubscribedError
from riskd.health import JobStatus
from tests.kit.deployment import (
    LOOPBACK_JOBS,
    READY_S,
    deployment_toml,
    exported_metrics,
    get_json,
    job_tables,
    post_json,
    run_cli,
    wait_for,
    wait_health_ok,
    wait_healthy,
)
from tests.kit.sim import binance_client


def _by_job(rows: list[JobStatus]) -> dict[str, JobStatus]:
    return {row.job: row for row in rows}


def test_jobs_report_health_each_from_its_own_ip_within_budget(deploy, simulator) -> None:
    jobs = LOOPBACK_JOBS + job_tables("order_reaper", "stop_ladder", "ledger", "trader")
    jobs += 'egress = "127.0.0.5"\n'  # the Trader's: an account without robots
    controller, info = deploy(deployment_toml(simulator.server.url, jobs))
    wait_healthy(controller)
    time.sleep(2)  # a few passes each
    ips = simulator.server.limiter.state()["ips"]
    assert 0 < ips["127.0.0.2"]["max_weight_per_minute"] <= 300  # account_reader alone
    assert 0 < ips["127.0.0.3"]["max_weight_per_minute"] <= 600  # position_risk_reader alone
    assert 0 < ips["127.0.0.4"]["max_weight_per_minute"] <= 60  # user_stream alone
    health = wait_health_ok(info["gateway"])
    assert {j["job"] for j in health["jobs"]} == {
        "account_reader",
        "position_risk_reader",
        "user_stream",
        "order_reaper",
        "stop_ladder",
        "ledger",
        "trader",  # every account's order path (the emergency flatten), robots or not
    }


async def test_positions_on_the_exchange_appear_in_the_gateway(deploy, simulator) -> None:
    _, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS))
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await client.close_connection()
    opened_at = simulator.server.clock.now_ms()

    def btc_position_from_both_sources() -> dict | None:
        view = get_json(f"{info['gateway']}/v1/positions?account=sim")[1]
        sources = {s["source"] for s in view["sources"] if s["taken_at_ms"] > opened_at}
        position = next((p for p in view["positions"] if p["symbol"] == "BTCUSDT"), None)
        return position if sources == {"account", "position_risk"} else None

    position = wait_for(btc_position_from_both_sources)
    assert position is not None and position["amount"] == "0.010"
    assert get_json(f"{info['gateway']}/v1/positions?account=nobody")[0] == 404


def test_killed_job_comes_back_and_recovers(deploy, simulator) -> None:
    controller, _ = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS, name="kill"))
    rows = _by_job(launcher.wait_ready(controller, READY_S))
    first_pid = rows["account_reader"].health["pid"]
    ray.kill(ray.get_actor("account_reader:sim", namespace="kill"), no_restart=False)

    def restarted() -> JobStatus | None:
        row = _by_job(ray.get(controller.status.remote()))["account_reader"]
        if row.health and row.health["pid"] != first_pid and row.health["last_success_ms"]:
            return row
        return None

    row = wait_for(restarted)
    assert row is not None, "the job did not come back"
    assert row.restarts == 1 and row.state == "running"
    assert simulator.server.exchange.state()["accounts"]["sim"]["open_orders"] == []


def test_a_job_warms_though_the_jobs_it_notifies_are_disabled(deploy, simulator) -> None:
    controller, _ = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS, name="alone"))
    launcher.wait_ready(controller, READY_S)
    user_stream = ray.get_actor("user_stream:sim", namespace="alone")  # no StopLadder, no Ledger
    assert ray.get(user_stream.warm.remote(), timeout=30) is None


def test_a_key_that_allows_withdrawals_is_reported_alerted_and_fails_keys_check(
    deploy, simulator
) -> None:
    restrictions = f"{simulator.server.url}/_sim/api_restrictions"
    assert post_json(restrictions, {"api_key": "sim-key", "enable_withdrawals": True})[0] == 200
    reader_only = '[accounts.jobs.account_reader]\negress = "127.0.0.2"\n'
    controller, info = deploy(deployment_toml(simulator.server.url, reader_only))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]

    def keys_read() -> dict | None:
        keys = get_json(f"{gateway}/v1/health")[1].get("keys")  # 503: a late job, say
        return keys if keys and keys["accounts"] and keys["accounts"][0]["checked_ms"] else None

    def alerted() -> list[dict]:
        alerts = get_json(f"{gateway}/v1/alerts")[1]["alerts"]
        return [alert for alert in alerts if alert["name"] == "ApiKeyUnsafe"]

    keys = wait_for(keys_read)
    assert (keys["ok"], keys["accounts"][0]["verdict"]) == (False, "unsafe")
    assert keys["problems"][0].startswith("API key of sim: unsafe: withdrawals are enabled")
    (alert,) = wait_for(alerted)
    assert (alert["severity"], alert["labels"]["account"]) == ("critical", "sim")
    unsafe = run_cli("keys", "check", "--url", gateway)
    assert (unsafe.returncode, unsafe.stderr) == (1, "")
    assert re.search(r"^sim +UNSAFE .* critical +withdrawals are enabled", unsafe.stdout, re.M)
    assert post_json(restrictions, {"api_key": "sim-key", "enable_withdrawals": False})[0] == 200
    checks = []

    def checked_safe() -> bool:  # a read that timed out on this busy host says so: exit 1
        checks.append(run_cli("keys", "check", "--url", gateway))
        return checks[-1].returncode == 0

    wait_for(checked_safe, interval_s=0.5)
    assert (checks[-1].returncode, checks[-1].stderr) == (0, ""), checks[-1].stdout


def test_over_subscribed_plan_is_refused_before_anything_starts(
    ray_cluster, simulator, tmp_path
) -> None:
    jobs = LOOPBACK_JOBS.replace('egress = "127.0.0.3"', 'egress = "127.0.0.2"').replace(
        "weight_per_minute = 600", "weight_per_minute = 2000"
    )
    toml = deployment_toml(simulator.server.url, jobs, name="oversubscribed")
    with pytest.raises(OverSubscribedError, match=r"egress 127\.0\.0\.2 is over-subscribed"):
        launcher.start(ConfigSource(toml, "test.toml", str(tmp_path)))
    with pytest.raises(ValueError):
        ray.get_actor("controller", namespace="oversubscribed")


def test_jobs_are_placed_on_the_node_labelled_with_their_egress(
    deploy, simulator, ray_cluster
) -> None:
    jobs = LOOPBACK_JOBS.replace('egress = "127.0.0.2"', 'egress = "label:ip-a"').replace(
        'egress = "127.0.0.3"', 'egress = "label:ip-b"'
    )
    controller, _ = deploy(deployment_toml(simulator.server.url, jobs))
    rows = _by_job(launcher.wait_ready(controller, READY_S))
    labels = {n["NodeID"]: n["Labels"].get("egress") for n in ray.nodes() if n["Alive"]}
    assert labels[rows["account_reader"].health["node_id"]] == "ip-a"
    assert labels[rows["position_risk_reader"].health["node_id"]] == "ip-b"


def test_a_job_no_node_can_take_is_reported_pending(deploy, simulator) -> None:
    jobs = LOOPBACK_JOBS.replace('egress = "127.0.0.2"', 'egress = "label:ip-nowhere"')
    controller, info = deploy(deployment_toml(simulator.server.url, jobs))

    def pending() -> JobStatus | None:
        row = _by_job(ray.get(controller.status.remote()))["account_reader"]
        return row if row.state == "pending" else None

    row = wait_for(pending, timeout_s=20)
    assert row is not None
    assert row.note == "pending: no alive node has label egress=ip-nowhere"
    status, health = get_json(f"{info['gateway']}/v1/health")
    assert status == 503 and "account_reader:sim pending" in health["problems"][0]


def test_a_job_whose_only_labelled_node_is_lost_is_reported_pending(
    deploy, simulator, ray_cluster
) -> None:
    node = ray_cluster.add_node(num_cpus=1, labels={"egress": "ip-lost"})
    jobs = LOOPBACK_JOBS.replace('egress = "127.0.0.2"', 'egress = "label:ip-lost"')
    controller, _ = deploy(deployment_toml(simulator.server.url, jobs))
    assert _by_job(launcher.wait_ready(controller, READY_S))["account_reader"].health
    ray_cluster.remove_node(node)

    def pending() -> JobStatus | None:
        row = _by_job(ray.get(controller.status.remote()))["account_reader"]
        return row if row.state == "pending" else None

    row = wait_for(pending, timeout_s=30)
    assert row is not None, "a job that answered before and lost its node is not pending"
    assert row.note == "pending: no alive node has label egress=ip-lost"


def test_job_metrics_reach_rays_prometheus_export(deploy, simulator) -> None:
    controller, _ = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS, name="metrics"))
    rows = _by_job(launcher.wait_ready(controller, READY_S))
    node_id = rows["account_reader"].health["node_id"]
    ours = {
        name: re.compile(rf'{name}\{{(?=[^}}]*deployment="metrics")(?=[^}}]*job="account_reader")')
        for name in ("riskd_job_calls_total", "riskd_job_weight_used_1m", "riskd_job_lag_ms")
    }

    assert exported_metrics(node_id, ours) == set(ours)


SLOW_READERS_FAST_STREAM = LOOPBACK_JOBS.replace(
    "interval_ms = 500\nweight_per_minute = 300", "interval_ms = 60000\nweight_per_minute = 300"
).replace(
    "interval_ms = 500\nweight_per_minute = 600", "interval_ms = 60000\nweight_per_minute = 600"
)


def _stream_position(gateway: str, symbol: str, since_ms: int) -> dict | None:
    view = get_json(f"{gateway}/v1/positions?account=sim")[1]
    stream = [s for s in view["sources"] if s["source"] == "stream"]
    if not stream or stream[0]["taken_at_ms"] < since_ms:
        return None
    return next((p for p in view["positions"] if p["symbol"] == symbol), None)


async def test_user_stream_brings_fills_into_the_book_from_its_own_ip(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, SLOW_READERS_FAST_STREAM))
    launcher.wait_ready(controller, READY_S)  # a fill before the stream is up is REST's to find
    assert wait_for(lambda: simulator.server.hub.connections)
    assert [c.remote_ip for c in simulator.server.hub.connections] == ["127.0.0.4"]
    client = binance_client(simulator.server)
    before = simulator.server.clock.now_ms()
    await client.futures_create_order(
        symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.100"
    )
    await client.close_connection()
    position = wait_for(lambda: _stream_position(info["gateway"], "ETHUSDT", before), timeout_s=15)
    assert position is not None and position["amount"] == "-0.100"


async def test_user_stream_resyncs_from_rest_after_a_reconnect(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, SLOW_READERS_FAST_STREAM))
    launcher.wait_ready(controller, READY_S)
    assert wait_for(lambda: simulator.server.hub.connections)
    control = f"{simulator.server.url}/_sim/fault"
    post_json(control, {"path": "/private/ws", "kind": "stall_ws", "ms": 600_000})
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="SOLUSDT", side="BUY", type="MARKET", quantity="10")
    await client.close_connection()
    time.sleep(0.5)
    assert simulator.server.hub.events_dropped > 0  # the stream missed the fill
    post_json(control, {"path": "/private/ws", "kind": "drop_ws"})

    def solusdt() -> dict | None:
        view = get_json(f"{info['gateway']}/v1/positions?account=sim")[1]
        return next((p for p in view["positions"] if p["symbol"] == "SOLUSDT"), None)

    position = wait_for(solusdt, timeout_s=10)  # readers are 60 s away: only the resync
    assert position is not None and position["amount"] == "10"
    row = _by_job(ray.get(controller.status.remote()))["user_stream"]
    assert row.health["extra"]["reconnects"] >= 1


async def test_a_stalled_but_connected_stream_is_reported_and_rest_keeps_the_book_right(
    deploy, simulator
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS))
    launcher.wait_ready(controller, READY_S)
    assert wait_for(lambda: get_json(f"{info['gateway']}/v1/health")[0] == 200)
    post_json(
        f"{simulator.server.url}/_sim/fault",
        {"path": "/private/ws", "kind": "stall_ws", "ms": 600_000},
    )
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="SOLUSDT", side="SELL", type="MARKET", quantity="7")
    await client.close_connection()

    def missed() -> list[str]:
        status, health = get_json(f"{info['gateway']}/v1/health")
        return [p for p in health["problems"] if "missed" in p] if status == 503 else []

    (problem,) = wait_for(missed, timeout_s=15)
    assert problem.startswith(
        "position book sim: the user stream missed a change: SOLUSDT BOTH: changed on the exchange"
    )
    assert simulator.server.hub.connections  # still connected: only the missed change shows it
    view = get_json(f"{info['gateway']}/v1/positions?account=sim")[1]
    (position,) = [p for p in view["positions"] if p["symbol"] == "SOLUSDT"]
    assert position["amount"] == "-7"


async def test_a_stalled_rest_source_is_reported_and_the_book_keeps_working(
    deploy, simulator
) -> None:
    _, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS))
    assert wait_for(lambda: get_json(f"{info['gateway']}/v1/health")[0] == 200)
    post_json(
        f"{simulator.server.url}/_sim/fault",
        {"path": "/fapi/v3/positionRisk", "kind": "delay", "ms": 4000, "count": 50},
    )

    def silent() -> list[str]:
        status, health = get_json(f"{info['gateway']}/v1/health")
        return [p for p in health["problems"] if "silent" in p] if status == 503 else []

    problems = wait_for(silent, timeout_s=20)
    assert problems == ["position book sim: source position_risk is silent"]
    client = binance_client(simulator.server)
    await client.futures_create_order(symbol="DOGEUSDT", side="BUY", type="MARKET", quantity="1000")
    await client.close_connection()

    def doge() -> dict | None:
        view = get_json(f"{info['gateway']}/v1/positions?account=sim")[1]
        return next((p for p in view["positions"] if p["symbol"] == "DOGEUSDT"), None)

    position = wait_for(doge, timeout_s=10)  # from the stream and the account reader
    assert position is not None and position["amount"] == "1000"
