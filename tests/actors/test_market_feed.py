"""The market feed on Ray against the simulator: readers, the stream, the hub, the kline store
and the gateway's cache, end to end."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import ray

from actors import launcher
from actors.context import ConfigSource
from riskd.sim import SimConfig, SimulatorThread
from tests.kit.deployment import (
    LOOPBACK_JOBS,
    deployment_toml,
    exported_metrics,
    get_json,
    post_json,
    run_cli,
    wait_for,
    wait_healthy,
)
from tests.kit.files import write_private
from tests.kit.sim import binance_client

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")
ACCOUNT_IPS = {f"127.0.0.{k}" for k in range(2, 8)}  # the account's jobs
FEED_IPS = ("127.0.0.8", "127.0.0.9", "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13")
JOBS = (
    LOOPBACK_JOBS
    + """
[accounts.jobs.order_reaper]
egress = "127.0.0.5"

[accounts.jobs.stop_ladder]
egress = "127.0.0.6"

[accounts.jobs.ledger]
egress = "127.0.0.7"
"""
)
MARKET = """
[market]
egress = "127.0.0.8"
kline_window = 5
silence_ms = 1000

[market.hot]
top_by_quote_volume = 0

[market.readers.klines]
period_ms = 200
egress = ["127.0.0.9"]

[market.readers.hot_klines]
period_ms = 200
egress = ["127.0.0.10"]

[market.readers.book]
readers = 2
period_ms = 500
egress = ["127.0.0.11"]

[market.readers.mark]
period_ms = 1000
egress = ["127.0.0.12"]

[market.readers.ticker]
period_ms = 5000
egress = ["127.0.0.13"]
"""


@pytest.fixture(scope="module")
def feed(ray_cluster, tmp_path_factory) -> Iterator[tuple[str, Path, SimulatorThread]]:
    """One deployment with the market feed against a simulator whose prices move every
    200 ms (so every stream has something to say): its gateway URL, config file, simulator."""
    simulator = SimulatorThread(SimConfig(port=0, exchange={"walk_interval_ms": 200}))
    simulator.start()
    folder = tmp_path_factory.mktemp("feed")
    toml = deployment_toml(simulator.server.url, JOBS + MARKET, name="feed")
    path = write_private(folder / "riskd.toml", toml)
    controller, info = launcher.start(ConfigSource.from_path(path))
    try:
        wait_healthy(controller)
        yield info["gateway"], path, simulator
    finally:
        launcher.stop(controller)
        simulator.stop()


def _weights(simulator: SimulatorThread) -> dict[str, int]:
    ips = simulator.server.limiter.state()["ips"]
    return {ip: usage["total_weight"] for ip, usage in ips.items()}


def _served(gateway: str, path: str) -> dict | None:
    status, body = get_json(f"{gateway}{path}")
    return body if status == 200 else None


async def _poll(gateway: str, robots: int, rounds: int) -> int:
    """*robots* robots each ask for every symbol's ticker, mark and klines *rounds* times;
    how many answers were 200."""
    ok = 0
    async with aiohttp.ClientSession() as session:

        async def robot(name: str) -> None:
            nonlocal ok
            for _ in range(rounds):
                for symbol in SYMBOLS:
                    for path in (
                        f"/v1/market/ticker?symbol={symbol}",
                        f"/v1/market/mark?symbol={symbol}",
                        f"/v1/market/klines?symbol={symbol}&interval=1m&limit=2",
                    ):
                        async with session.get(f"{gateway}{path}&robot={name}") as answer:
                            ok += answer.status == 200

        await asyncio.gather(*(robot(f"r{k}") for k in range(robots)))
    return ok


def test_robots_polling_the_gateway_cost_the_exchange_nothing_beyond_the_feed(feed) -> None:
    gateway, _, simulator = feed
    for symbol in SYMBOLS:
        for query in ("ticker?", "mark?", "klines?interval=1m&"):
            assert wait_for(lambda q=query, s=symbol: _served(gateway, f"/v1/market/{q}symbol={s}"))
    before = _weights(simulator)
    answered = asyncio.run(_poll(gateway, robots=20, rounds=5))
    after = _weights(simulator)

    assert answered == 20 * 5 * len(SYMBOLS) * 3
    grew = {ip for ip in after if after[ip] > before.get(ip, 0)}
    assert grew <= set(FEED_IPS) | ACCOUNT_IPS  # robots read riskd, never the exchange
    assert "127.0.0.1" not in grew
    stats = get_json(f"{gateway}/v1/market/stats")[1]
    assert stats["robots"]["r7"] == 5 * len(SYMBOLS) * 3
    assert set(stats["symbols"]) == set(SYMBOLS)


def test_a_silent_stream_is_reconnected_and_reported(feed) -> None:
    gateway, _, simulator = feed
    stream = ray.get_actor("market_stream:ws", namespace="feed")

    def extra() -> dict:
        return ray.get(stream.health_report.remote())["extra"]

    assert wait_for(lambda: extra()["events"] > 0)
    # both connections (/market and /public) are up: the fault stalls each
    assert wait_for(lambda: len(simulator.server.market_hub.connections) >= 2)
    reconnects = extra()["reconnects"]
    status, answer = post_json(
        f"{simulator.server.url}/_sim/fault", {"path": "*", "kind": "stall_ws", "ms": 3000}
    )
    assert status == 200 and answer["connections"] >= 2

    assert wait_for(lambda: extra()["reconnects"] > reconnects)
    alerts = wait_for(
        lambda: [
            alert
            for alert in get_json(f"{gateway}/v1/alerts")[1]["alerts"]
            if alert["labels"]["alertname"] == "MarketStreamSilent"
        ]
    )
    assert alerts and alerts[0]["labels"]["source"] in ("market", "public")
    events = extra()["events"]
    assert wait_for(lambda: extra()["events"] > events)  # the new connections deliver


async def test_a_symbol_with_a_position_joins_the_hot_set_and_its_fast_reader(feed) -> None:
    _, _, simulator = feed
    hub = ray.get_actor("market_hub:hub", namespace="feed")
    hot_reader = ray.get_actor("market_reader:hot_klines-1of1", namespace="feed")
    assert ray.get(hub.health_report.remote())["extra"]["hot"] == []
    client = binance_client(simulator.server)
    try:
        await client.futures_create_order(symbol="SOLUSDT", side="BUY", type="MARKET", quantity="1")
    finally:
        await client.close_connection()

    def hot() -> list[str]:
        return ray.get(hub.health_report.remote())["extra"]["hot"]

    assert wait_for(lambda: hot() == ["SOLUSDT"])
    assert wait_for(lambda: ray.get(hot_reader.health_report.remote())["extra"].get("published"))


def test_history_beyond_the_cache_comes_from_the_kline_store(feed) -> None:
    gateway, path, _ = feed
    query = "/v1/market/klines?symbol=BTCUSDT&interval=1m"
    cached = wait_for(lambda: _served(gateway, f"{query}&limit=5"))
    assert len(cached["klines"]) == 5  # the window

    backfill = run_cli(
        *("klines", "backfill", "--config", str(path), "--symbol", "BTCUSDT"),
        *("--interval", "1m", "--days", "1"),
    )
    assert backfill.returncode == 0, backfill.stderr
    body = _served(gateway, f"{query}&limit=60")
    assert body is not None and len(body["klines"]) == 60
    opens = [row[0] for row in body["klines"]]
    assert opens == list(range(opens[0], opens[0] + 60 * 60_000, 60_000))  # no gap, no repeat
    assert opens[-1] >= cached["klines"][-1][0]  # ends with the cache's newest


def test_market_stats_reach_rays_prometheus_export(feed) -> None:
    gateway, _, _ = feed
    assert _served(gateway, "/v1/market/ticker?symbol=BTCUSDT&robot=metrics-robot")
    node_id = ray.get_runtime_context().get_node_id()  # the gateway runs on the head
    ours = {
        "requests": re.compile(
            r'riskd_market_requests_total\{(?=[^}]*deployment="feed")(?=[^}]*robot="metrics-robot")'
        ),
        "age": re.compile(
            r'riskd_market_data_age_ms\{(?=[^}]*kind="book")(?=[^}]*symbol="BTCUSDT")'
        ),
    }

    assert exported_metrics(node_id, ours) == set(ours)
