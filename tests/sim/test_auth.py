"""Signatures, API keys and timestamps are checked as Binance checks them."""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp
import pytest
from binance.exceptions import BinanceAPIException

from riskd.sim import SimServer
from riskd.sim.auth import split_signature
from tests.kit.sim import binance_client


def _signed_query(secret: str, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def _raw(
    sim: SimServer,
    method: str,
    path: str,
    query: str = "",
    body: str = "",
    api_key: str | None = "sim-key",
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if api_key is not None:
        headers["X-MBX-APIKEY"] = api_key
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{sim.url}{path}?{query}", data=body or None, headers=headers
        ) as response,
    ):
        return response.status, await response.json()


async def test_signed_request_with_wrong_secret_is_rejected_with_1022(sim: SimServer) -> None:
    client = binance_client(sim, api_secret="not-the-secret")
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account()
    await client.close_connection()
    assert (info.value.status_code, info.value.code) == (400, -1022)


async def test_unknown_api_key_is_rejected_with_2015_and_401(sim: SimServer) -> None:
    client = binance_client(sim, api_key="nobody")
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account()
    await client.close_connection()
    assert (info.value.status_code, info.value.code) == (401, -2015)


async def test_missing_api_key_on_signed_endpoint_is_2015(sim: SimServer) -> None:
    query = _signed_query("sim-secret", timestamp=int(time.time() * 1000))
    status, body = await _raw(sim, "GET", "/fapi/v2/account", query, api_key=None)
    assert (status, body["code"]) == (401, -2015)


async def test_malformed_api_key_is_2014(sim: SimServer) -> None:
    status, body = await _raw(sim, "POST", "/fapi/v1/listenKey", api_key="bad key with spaces")
    assert (status, body["code"]) == (401, -2014)


async def test_missing_signature_is_1102_naming_signature(sim: SimServer) -> None:
    status, body = await _raw(
        sim, "GET", "/fapi/v2/account", f"timestamp={int(time.time() * 1000)}"
    )
    assert (status, body["code"]) == (400, -1102)
    assert "'signature'" in body["msg"]


async def test_signature_over_query_plus_body_is_accepted(sim: SimServer) -> None:
    ts = int(time.time() * 1000)
    query = "symbol=BTCUSDT&side=BUY&type=MARKET"
    body = f"quantity=0.002&timestamp={ts}"
    signature = hmac.new(b"sim-secret", (query + body).encode(), hashlib.sha256).hexdigest()
    status, answer = await _raw(
        sim, "POST", "/fapi/v1/order", query, f"{body}&signature={signature}"
    )
    assert status == 200, answer
    assert answer["origQty"] == "0.002"


async def test_stale_timestamp_is_1021(sim: SimServer) -> None:
    query = _signed_query("sim-secret", timestamp=int(time.time() * 1000) - 6000)
    status, body = await _raw(sim, "GET", "/fapi/v2/account", query)
    assert (status, body["code"]) == (400, -1021)
    assert body["msg"] == "Timestamp for this request is outside of the recvWindow."


async def test_timestamp_ahead_of_server_is_1021(sim: SimServer) -> None:
    query = _signed_query("sim-secret", timestamp=int(time.time() * 1000) + 5000)
    status, body = await _raw(sim, "GET", "/fapi/v2/account", query)
    assert (status, body["code"]) == (400, -1021)
    assert "ahead of the server's time" in body["msg"]


async def test_wider_recv_window_admits_older_timestamp(sim: SimServer) -> None:
    query = _signed_query("sim-secret", recvWindow=20000, timestamp=int(time.time() * 1000) - 6000)
    status, _ = await _raw(sim, "GET", "/fapi/v2/account", query)
    assert status == 200


async def test_recv_window_over_60s_is_rejected(sim: SimServer) -> None:
    query = _signed_query("sim-secret", recvWindow=60001, timestamp=int(time.time() * 1000))
    status, body = await _raw(sim, "GET", "/fapi/v2/account", query)
    assert (status, body["code"]) == (400, -1131)


async def test_advanced_server_clock_makes_client_time_stale_until_resync(
    sim: SimServer, client, control
) -> None:
    await control("POST", "/_sim/clock", {"advance_ms": 30_000})
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account()
    assert info.value.code == -1021
    server = await client.futures_time()
    client.timestamp_offset = server["serverTime"] - int(time.time() * 1000)
    assert (await client.futures_account())["assets"][0]["asset"] == "USDT"


async def test_market_data_needs_no_key(sim: SimServer) -> None:
    status, body = await _raw(sim, "GET", "/fapi/v1/time", api_key=None)
    assert status == 200 and isinstance(body["serverTime"], int)


def test_split_signature_removes_signature_from_either_part() -> None:
    assert split_signature("a=1&signature=ab", "") == ("a=1", "ab")
    assert split_signature("a=1", "b=2&signature=cd") == ("a=1b=2", "cd")
    assert split_signature("signature=ef&a=1", "") == ("a=1", "ef")
    assert split_signature("a=1", "") == ("a=1", None)
