"""Market-data WebSocket streams: routes, shapes, subscriptions, cadences, limits, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from riskd.sim import SimServer

WAIT_S = 5
SILENCE_S = 0.3  # how long a socket that must stay silent is watched after its peer spoke

KLINE_KEYS = {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}
MARK_KEYS = {"e", "E", "s", "p", "ap", "P", "i", "r", "T"}
TICKER_KEYS = {
    "e",
    "E",
    "s",
    "p",
    "P",
    "w",
    "c",
    "Q",
    "o",
    "h",
    "l",
    "v",
    "q",
    "O",
    "C",
    "F",
    "L",
    "n",
}
BOOK_KEYS = {"e", "u", "E", "T", "s", "b", "B", "a", "A"}
DEPTH_KEYS = {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _connect(sim: SimServer, session, path: str, control) -> aiohttp.ClientWebSocketResponse:
    before = (await control("GET", "/_sim/state"))["market_stream"]["connections"]
    ws = await session.ws_connect(f"{sim.ws_url}{path}")
    await _until(control, lambda s: s["market_stream"]["connections"] > before)
    return ws


async def _until(control, condition: Callable[[dict], bool]) -> dict:
    for _ in range(WAIT_S * 100):
        state = await control("GET", "/_sim/state")
        if condition(state):
            return state
        await asyncio.sleep(0.01)
    pytest.fail("the simulator never reached the expected state")


async def _next(ws, wanted: Callable[[dict], bool] = lambda _m: True) -> dict:
    while True:
        message = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        body = json.loads(message.data)
        if wanted(body):
            return body


async def _silent(ws) -> None:
    with pytest.raises(asyncio.TimeoutError):
        message = await asyncio.wait_for(ws.receive(), SILENCE_S)
        pytest.fail(f"a silent socket received {message}")


async def _mark(control, price: str, symbol: str = "BTCUSDT") -> None:
    await control("POST", "/_sim/mark", {"symbol": symbol, "price": price})


async def test_market_route_combined_kline_mark_price_and_ticker(sim, session, control) -> None:
    names = ["btcusdt@kline_1m", "btcusdt@markPrice", "btcusdt@ticker"]
    ws = await _connect(sim, session, "/market/stream?streams=" + "/".join(names), control)
    await _mark(control, "60500")
    await control("POST", "/_sim/clock", {"advance_ms": 3000})
    seen: dict[str, dict] = {}
    while len(seen) < 3:
        message = await _next(ws)
        assert set(message) == {"stream", "data"}
        seen[message["stream"]] = message["data"]
    kline = seen["btcusdt@kline_1m"]
    assert (kline["e"], kline["s"], set(kline["k"])) == ("kline", "BTCUSDT", KLINE_KEYS)
    assert (kline["k"]["i"], kline["k"]["c"], kline["k"]["x"]) == ("1m", "60500.00", False)
    mark = seen["btcusdt@markPrice"]
    assert set(mark) == MARK_KEYS and mark["e"] == "markPriceUpdate"
    assert (mark["p"], mark["r"], mark["T"]) == (
        "60500.00000000",
        "0.00010000",
        sim.exchange.next_funding_ms,
    )
    ticker = seen["btcusdt@ticker"]
    assert set(ticker) == TICKER_KEYS and (ticker["e"], ticker["c"]) == ("24hrTicker", "60500.00")
    await ws.close()


async def test_public_route_book_ticker_follows_the_price(sim, session, control) -> None:
    ws = await _connect(sim, session, "/public/ws/btcusdt@bookTicker", control)
    await _mark(control, "60100")
    first = await _next(ws)
    assert set(first) == BOOK_KEYS and first["e"] == "bookTicker"
    assert (first["s"], first["b"], first["a"], first["B"]) == (
        "BTCUSDT",
        "60099.90",
        "60100.10",
        "0.100",
    )
    await _mark(control, "60200")
    second = await _next(ws)
    assert second["b"] == "60199.90" and second["u"] > first["u"]
    await ws.close()


async def test_partial_depth_levels_and_update_ids(sim, session, control) -> None:
    ws = await _connect(sim, session, "/public/stream?streams=ethusdt@depth5@100ms", control)
    first = (await _next(ws))["data"]
    assert set(first) == DEPTH_KEYS and first["e"] == "depthUpdate"
    assert len(first["b"]) == len(first["a"]) == 5 and first["b"][0][0] == "2999.99"
    await _mark(control, "3100", "ETHUSDT")
    second = (await _next(ws, lambda m: m["data"]["b"][0][0] == "3099.99"))["data"]
    assert second["pu"] == first["u"] and second["U"] == first["u"] + 1
    await ws.close()


async def test_wrong_route_unknown_symbol_and_legacy_routes_stay_silent(
    sim, session, control
) -> None:
    silent = [
        await _connect(sim, session, path, control)
        for path in (
            "/market/ws/btcusdt@bookTicker",
            "/public/ws/btcusdt@markPrice@1s",
            "/public/ws/nopeusdt@bookTicker",
            "/ws/btcusdt@bookTicker",
            "/stream?streams=btcusdt@bookTicker/btcusdt@markPrice",
        )
    ]
    live = await _connect(sim, session, "/public/ws/btcusdt@bookTicker", control)
    await _mark(control, "60300")
    await control("POST", "/_sim/clock", {"advance_ms": 3000})
    await _next(live)
    for ws in silent:
        await _silent(ws)
    # The legacy socket still answers requests; it just never pushes data.
    await silent[3].send_json({"method": "LIST_SUBSCRIPTIONS", "id": 9})
    assert await _next(silent[3]) == {"result": ["btcusdt@bookTicker"], "id": 9}


async def test_subscribe_unsubscribe_and_list(sim, session, control) -> None:
    ws = await _connect(sim, session, "/public/ws", control)
    await ws.send_json(
        {"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker", "ethusdt@bookTicker"], "id": 1}
    )
    assert await _next(ws) == {"result": None, "id": 1}
    await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
    assert await _next(ws) == {"result": ["btcusdt@bookTicker", "ethusdt@bookTicker"], "id": 2}
    await _mark(control, "3050", "ETHUSDT")
    assert (await _next(ws))["s"] == "ETHUSDT"
    await ws.send_json({"method": "UNSUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 3})
    assert await _next(ws) == {"result": None, "id": 3}
    await _mark(control, "3060", "ETHUSDT")
    await _mark(control, "60010")
    assert (await _next(ws))["s"] == "BTCUSDT"  # ETH's move was not pushed
    await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 4})
    assert await _next(ws) == {"result": False, "id": 4}
    await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
    assert await _next(ws) == {"result": None, "id": 5}
    await _mark(control, "60020")
    assert (await _next(ws))["stream"] == "btcusdt@bookTicker"
    await ws.close()


@pytest.mark.parametrize(
    ("request_text", "code"),
    [
        ("not json", 3),
        ('{"method": "PING", "id": 1}', 2),
        ('{"params": [], "id": 1}', 2),
        ('{"method": "SUBSCRIBE", "params": "btcusdt@ticker", "id": 1}', 1),
        ('{"method": "SUBSCRIBE", "params": [1], "id": 1}', 1),
        ('{"method": "SUBSCRIBE", "params": [], "id": -1}', 2),
        ('{"method": "GET_PROPERTY", "params": ["colour"], "id": 1}', 0),
    ],
)
async def test_bad_requests_get_binance_errors(sim, session, control, request_text, code) -> None:
    ws = await _connect(sim, session, "/market/ws", control)
    await ws.send_str(request_text)
    answer = await _next(ws)
    assert answer["code"] == code and answer["msg"]
    await ws.close()


async def test_kline_closes_once_with_x_true(sim, session, control) -> None:
    ws = await _connect(sim, session, "/market/ws/solusdt@kline_1m", control)
    await _mark(control, "151", "SOLUSDT")
    await control("POST", "/_sim/clock", {"advance_ms": 300})
    opened = (await _next(ws))["k"]
    assert (opened["x"], opened["c"]) == (False, "151.0000")
    now = sim.clock.now_ms()
    await control("POST", "/_sim/clock", {"advance_ms": 60_000 - now % 60_000})
    closed = (await _next(ws, lambda e: e["k"]["x"]))["k"]
    assert (closed["t"], closed["T"], closed["c"]) == (opened["t"], opened["T"], "151.0000")
    following = (await _next(ws))["k"]
    assert (following["t"], following["x"]) == (opened["t"] + 60_000, False)
    await ws.close()


async def test_more_than_1024_streams_closes_the_connection(sim, session, control) -> None:
    # Short (unknown, silent) names: they count all the same, and the URL stays under 8 KiB.
    names = "/".join(f"{i}@x" for i in range(1025))
    ws = await session.ws_connect(f"{sim.ws_url}/market/stream?streams={names}")
    message = await asyncio.wait_for(ws.receive(), WAIT_S)
    assert message.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1008
    ok = await _connect(sim, session, "/market/ws", control)
    await ok.send_json(
        {"method": "SUBSCRIBE", "params": [f"x{i}@ticker" for i in range(1024)], "id": 1}
    )
    assert await _next(ok) == {"result": None, "id": 1}
    await ok.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 2})
    message = await asyncio.wait_for(ok.receive(), WAIT_S)
    assert message.type == aiohttp.WSMsgType.CLOSE and ok.close_code == 1008


async def test_more_than_ten_messages_a_second_closes(sim, session, control) -> None:
    ws = await _connect(sim, session, "/market/ws", control)
    for i in range(11):
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
    while (message := await asyncio.wait_for(ws.receive(), WAIT_S)).type == aiohttp.WSMsgType.TEXT:
        pass
    assert message.type == aiohttp.WSMsgType.CLOSE


async def test_drop_and_stall_faults_reach_market_streams(sim, session, control) -> None:
    ws = await _connect(sim, session, "/public/ws/btcusdt@bookTicker", control)
    stalled = await control("POST", "/_sim/fault", {"path": "*", "kind": "stall_ws", "ms": 60_000})
    assert stalled["connections"] == 1
    await _mark(control, "60400")
    await _until(control, lambda s: s["market_stream"]["events_dropped"] >= 1)
    await _silent(ws)
    dropped = await control("POST", "/_sim/fault", {"path": "*", "kind": "drop_ws"})
    assert dropped["connections"] == 1
    message = await asyncio.wait_for(ws.receive(), WAIT_S)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await _until(control, lambda s: s["market_stream"]["connections"] == 0)
    again = await _connect(sim, session, "/public/ws/btcusdt@bookTicker", control)
    await _mark(control, "60450")
    assert (await _next(again))["b"] == "60449.90"


async def test_duplicate_and_reorder_faults_reach_market_streams(sim, session, control) -> None:
    ws = await _connect(sim, session, "/public/ws/btcusdt@bookTicker", control)
    doubled = {"path": "*", "kind": "duplicate_ws", "ms": 60_000}
    assert (await control("POST", "/_sim/fault", doubled))["connections"] == 1
    await _mark(control, "60400")
    first, again = await _next(ws), await _next(ws)
    assert first == again and first["b"] == "60399.90"
    swapped = {"path": "*", "kind": "reorder_ws", "ms": 60_000}
    assert (await control("POST", "/_sim/fault", swapped))["connections"] == 1
    await _mark(control, "60450")
    await _mark(control, "60500")
    later, earlier = await _next(ws), await _next(ws)
    assert (later["b"], earlier["b"]) == ("60499.90", "60449.90")
    assert later["u"] > earlier["u"]
    await ws.close()
