"""The user-data stream: listenKeys, events in order, expiry, and the stream faults."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from binance import BinanceSocketManager
from binance.exceptions import BinanceAPIException

WAIT_S = 5


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict:
    message = await asyncio.wait_for(ws.receive(), WAIT_S)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def _events(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    return [await _next(ws) for _ in range(count)]


@pytest.fixture
async def stream(sim, client):
    key = await client.futures_stream_get_listen_key()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{sim.ws_url}/private/ws?listenKey={key}") as ws,
    ):
        await asyncio.sleep(0.05)  # let the server register the socket
        yield ws


async def test_market_fill_streams_new_trade_and_account_update(sim, client, stream) -> None:
    await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="s-1"
    )
    new, trade, account = await _events(stream, 3)
    assert (new["e"], new["o"]["x"], new["o"]["X"], new["o"]["c"]) == (
        "ORDER_TRADE_UPDATE",
        "NEW",
        "NEW",
        "s-1",
    )
    assert (trade["o"]["x"], trade["o"]["X"], trade["o"]["l"], trade["o"]["L"]) == (
        "TRADE",
        "FILLED",
        "0.010",
        "60000.10",
    )
    assert trade["o"]["n"] == "0.30000050" and trade["o"]["rp"] == "0.00000000"
    assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["m"] == "ORDER"
    assert account["a"]["P"] == [
        {
            "s": "BTCUSDT",
            "pa": "0.010",
            "ep": "60000.1",
            "bep": account["a"]["P"][0]["bep"],
            "cr": "0.00000000",
            "up": "-0.00100000",
            "mt": "cross",
            "iw": "0",
            "ps": "BOTH",
        }
    ]


async def test_closing_fill_carries_realized_pnl(sim, client, control, stream) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await _events(stream, 3)
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "59000"})
    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )
    _, trade, account = await _events(stream, 3)
    assert trade["o"]["rp"] == "-10.00200000"
    assert account["a"]["P"][0]["pa"] == "0.000"


async def test_algo_trigger_streams_the_full_lifecycle(sim, client, control, stream) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await _events(stream, 3)
    await client.futures_create_algo_order(
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice="57000",
        quantity="0.010",
        reduceOnly="true",
        clientAlgoId="rung-1",
    )
    placed = await _next(stream)
    assert (placed["e"], placed["o"]["X"], placed["o"]["caid"]) == ("ALGO_UPDATE", "NEW", "rung-1")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56900"})
    events = await _events(stream, 6)
    kinds = [(e["e"], e["o"]["X"] if "o" in e else e["a"]["m"]) for e in events]
    assert kinds == [
        ("ALGO_UPDATE", "TRIGGERING"),
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ALGO_UPDATE", "TRIGGERED"),
        ("ORDER_TRADE_UPDATE", "FILLED"),
        ("ACCOUNT_UPDATE", "ORDER"),
        ("ALGO_UPDATE", "FINISHED"),
    ]
    fill = events[3]["o"]
    assert (fill["c"], fill["ot"], fill["o"], fill["sp"]) == (
        "rung-1",
        "STOP_MARKET",
        "MARKET",
        "57000.00",
    )
    assert events[2]["o"]["ai"] == str(fill["i"])
    assert events[5]["o"]["aq"] == "0.010"


async def test_listen_key_expires_without_keepalive(sim, client, stream) -> None:
    sim.clock.advance(sim.config.exchange.listen_key_ttl_ms)
    sim.exchange.tick()
    expired = await _next(stream)
    assert expired["e"] == "listenKeyExpired" and isinstance(expired["E"], int)
    closing = await asyncio.wait_for(stream.receive(), WAIT_S)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    client.timestamp_offset = sim.clock.offset_ms
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_stream_keepalive(listenKey=expired["listenKey"])
    assert info.value.code == -1125


async def test_keepalive_extends_the_key(sim, client) -> None:
    key = await client.futures_stream_get_listen_key()
    sim.clock.advance(sim.config.exchange.listen_key_ttl_ms - 1000)
    assert (await client.futures_stream_keepalive(listenKey=key))["listenKey"] == key
    sim.clock.advance(2000)
    sim.exchange.tick()
    assert sim.exchange.listen_key_account(key) == "sim"
    assert await client.futures_stream_get_listen_key() == key  # same key while valid


async def test_closed_key_refuses_connections(sim, client) -> None:
    key = await client.futures_stream_get_listen_key()
    assert await client.futures_stream_close(listenKey=key) == {}
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(f"{sim.ws_url}/ws/{key}")


async def test_drop_ws_fault_closes_the_socket(sim, control, stream) -> None:
    answer = await control("POST", "/_sim/fault", {"path": "/private/ws", "kind": "drop_ws"})
    assert answer["connections"] == 1
    message = await asyncio.wait_for(stream.receive(), WAIT_S)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_stall_ws_fault_loses_events_during_the_stall(sim, client, control, stream) -> None:
    await control("POST", "/_sim/fault", {"path": "/private/ws", "kind": "stall_ws", "ms": 60_000})
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(stream.receive(), 0.3)
    sim.clock.advance(60_001)
    client.timestamp_offset = 60_001
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    assert (await _next(stream))["o"]["x"] == "NEW"
    assert sim.hub.events_dropped == 3


async def test_connections_are_closed_after_24_hours(sim, client, stream) -> None:
    await client.futures_stream_keepalive(listenKey=next(iter(sim.exchange.listen_keys)))
    sim.clock.advance(sim.config.exchange.ws_max_lifetime_ms)
    sim.hub.expire_old()
    message = await asyncio.wait_for(stream.receive(), WAIT_S)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_python_binance_user_socket_receives_events(sim, client) -> None:
    manager = BinanceSocketManager(client)
    manager.FSTREAM_URL = f"{sim.ws_url}/"
    async with manager.futures_user_socket() as socket:
        await asyncio.sleep(0.1)
        await client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
        )
        event = await asyncio.wait_for(socket.recv(), WAIT_S)
    assert event["e"] == "ORDER_TRADE_UPDATE" and event["o"]["x"] == "NEW"


async def test_duplicate_ws_fault_sends_each_event_twice(sim, client, control, stream) -> None:
    answer = await control(
        "POST", "/_sim/fault", {"path": "*", "kind": "duplicate_ws", "ms": 60_000}
    )
    assert answer == {"kind": "duplicate_ws", "connections": 1}
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    events = await _events(stream, 6)
    assert events[0::2] == events[1::2]
    assert [e["e"] for e in events[0::2]] == ["ORDER_TRADE_UPDATE"] * 2 + ["ACCOUNT_UPDATE"]


async def test_reorder_ws_fault_sends_each_event_after_the_next(
    sim, client, control, stream
) -> None:
    await control("POST", "/_sim/fault", {"path": "*", "kind": "reorder_ws", "ms": 60_000})
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    trade, new = await _events(stream, 2)
    assert (trade["o"]["x"], new["o"]["x"]) == ("TRADE", "NEW")
    with pytest.raises(asyncio.TimeoutError):  # the ACCOUNT_UPDATE waits for a next event
        await asyncio.wait_for(stream.receive(), 0.3)
    await control("POST", "/_sim/clock", {"advance_ms": 60_000})  # the fault ends: it is sent
    assert (await _next(stream))["e"] == "ACCOUNT_UPDATE"


async def test_expire_listen_keys_fault_ends_every_key_and_its_streams(
    sim, client, control, stream
) -> None:
    key = next(iter(sim.exchange.listen_keys))
    answer = await control("POST", "/_sim/fault", {"path": "*", "kind": "expire_listen_keys"})
    assert answer == {"kind": "expire_listen_keys", "listen_keys": 1}
    expired = await _next(stream)
    assert (expired["e"], expired["listenKey"]) == ("listenKeyExpired", key)
    closing = await asyncio.wait_for(stream.receive(), WAIT_S)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_stream_keepalive(listenKey=key)
    assert info.value.code == -1125
    assert await client.futures_stream_get_listen_key() != key
