"""Client construction: no I/O, per-network URLs, timeouts, egress binding for REST and WS."""

from __future__ import annotations

import asyncio

import pytest
from binance import BinanceSocketManager

from riskd.core.secrets import Secret
from riskd.exchange.client import (
    base_url,
    capture_response,
    make_client,
    sapi_base_url,
    stop_capture,
    user_stream_ws_kwargs,
)
from riskd.exchange.config import ExchangeConfig

SIM_KEYS = Secret("sim-key"), Secret("sim-secret")


@pytest.mark.parametrize(
    ("network", "url"),
    [
        ("mainnet", "https://fapi.binance.com/fapi"),
        ("testnet", "https://testnet.binancefuture.com/fapi"),
        ("sim", "http://127.0.0.1:8765/fapi"),
    ],
)
async def test_client_points_at_the_network_without_any_request(network, url) -> None:
    config = ExchangeConfig(network=network, request_timeout_ms=2500, recv_window_ms=4000)
    client = make_client(config, Secret("k"), Secret("s"))
    try:
        assert url == client.FUTURES_URL
        assert client.REQUEST_TIMEOUT == 2.5
        assert client.REQUEST_RECVWINDOW == 4000
        assert client.response is None  # nothing was sent
    finally:
        await client.close_connection()


def test_base_url_override_wins() -> None:
    assert (
        base_url(ExchangeConfig(network="mainnet", base_url="http://127.0.0.1:9"))
        == "http://127.0.0.1:9"
    )


async def test_rest_calls_leave_from_the_egress_address(sim) -> None:
    config = ExchangeConfig(network="sim", base_url=sim.url)
    client = make_client(config, Secret("sim-key"), Secret("sim-secret"), local_addr="127.0.0.4")
    await client.futures_time()
    await client.close_connection()
    assert "127.0.0.4" in sim.limiter.state()["ips"]


async def test_headers_are_captured_for_the_request_of_this_task(sim) -> None:
    config = ExchangeConfig(network="sim", base_url=sim.url)
    first = make_client(config, Secret("sim-key"), Secret("sim-secret"), local_addr="127.0.0.6")
    second = make_client(config, Secret("sim-key"), Secret("sim-secret"), local_addr="127.0.0.7")

    async def call(fn) -> str | None:
        meta, token = capture_response()
        try:
            await fn()
        finally:
            stop_capture(token)
        return meta.headers.get("X-MBX-USED-WEIGHT-1M") if meta.headers else None

    used = await asyncio.gather(call(first.futures_time), call(second.futures_account))
    await first.close_connection()
    await second.close_connection()
    assert used == ["1", "5"]


async def test_user_stream_connects_from_the_egress_address(sim) -> None:
    config = ExchangeConfig(network="sim", base_url=sim.url)
    client = make_client(config, Secret("sim-key"), Secret("sim-secret"), local_addr="127.0.0.5")
    manager = BinanceSocketManager(client)
    manager.FSTREAM_URL = f"{sim.ws_url}/"
    manager.ws_kwargs = user_stream_ws_kwargs("127.0.0.5")
    async with manager.futures_user_socket() as socket:
        await asyncio.sleep(0.2)
        ips = [c.remote_ip for c in sim.hub.connections]
        # An event to read lets python-binance's reader stop at once on exit.
        await client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
        )
        await asyncio.wait_for(socket.recv(), 5)
    await client.close_connection()
    assert ips == ["127.0.0.5"]


@pytest.mark.parametrize(
    ("network", "sapi"),
    [
        ("mainnet", "https://api.binance.com"),
        ("testnet", None),  # Binance's futures testnet serves no /sapi
        ("sim", "http://127.0.0.1:8765"),
    ],
)
def test_sapi_is_on_spots_host_and_on_a_base_url_override(network: str, sapi: str | None) -> None:
    assert sapi_base_url(ExchangeConfig(network=network)) == sapi
    overridden = ExchangeConfig(network=network, base_url="http://127.0.0.1:9")
    assert sapi_base_url(overridden) == "http://127.0.0.1:9"


async def test_the_keys_restrictions_are_read_from_the_simulator_riskd_points_at(sim) -> None:
    client = make_client(ExchangeConfig(network="sim", base_url=sim.url), *SIM_KEYS)
    answer = await client.get_account_api_permissions()
    await client.close_connection()
    assert (answer["enableReading"], answer["enableWithdrawals"]) == (True, False)
    assert sim.limiter.state()["ips"]["127.0.0.1"]["total_weight"] == 1  # the one read
