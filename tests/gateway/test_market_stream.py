"""The /v1/market/stream WebSocket on the gateway as it serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import WSCloseCode, WSMsgType

from riskd.core.clock import MINUTE_MS
from riskd.market.config import MarketConfig
from tests.kit.clock import FrozenClock
from tests.kit.gateway import (
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    Served,
    gateway_config,
    serving,
)
from tests.kit.market import NOW_MS, book, kline, mark

CONFIG = MarketConfig(intervals=("1m", "5m"), kline_window=5)
CLOCK_MS = NOW_MS + 1_000
STREAM = "/v1/market/stream?symbols=BTCUSDT,ETHUSDT&robot=bot-7"


@pytest.fixture
async def gateway() -> AsyncIterator[Served]:
    async with serving(market=CONFIG, clock=FrozenClock(CLOCK_MS)) as served:
        served.server.set_market_symbols(["BTCUSDT", "ETHUSDT", "XRPUSDT"])
        served.server.publish_market(
            [
                book(NOW_MS + 900),
                mark(NOW_MS + 800),
                kline(NOW_MS, update_ms=NOW_MS + 500),
                kline(NOW_MS, update_ms=NOW_MS + 600, interval="5m"),
                book(NOW_MS + 400, symbol="ETHUSDT", bid="3500"),
                book(NOW_MS, symbol="XRPUSDT", bid="0.5"),
            ]
        )
        yield served


async def receive(socket: aiohttp.ClientWebSocketResponse, count: int) -> list[dict]:
    messages = []
    for _ in range(count):
        message = await socket.receive(timeout=10)
        assert message.type is WSMsgType.TEXT, message
        messages.append(json.loads(message.data))
    return messages


async def eventually(condition: object, deadline_s: float = 10.0) -> None:
    """Wait until *condition()* holds, failing after *deadline_s*."""
    async with asyncio.timeout(deadline_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_the_stream_sends_the_values_held_then_every_change(gateway: Served) -> None:
    async with gateway.http.ws_connect(gateway.url + STREAM) as socket:
        initial = await receive(socket, 5)
        assert [(m["type"], m["symbol"], m.get("interval")) for m in initial] == [
            ("ticker", "BTCUSDT", None),
            ("mark", "BTCUSDT", None),
            ("kline", "BTCUSDT", "1m"),
            ("kline", "BTCUSDT", "5m"),
            ("ticker", "ETHUSDT", None),
        ]
        _status, _headers, answer = await gateway.call("GET", "/v1/market/ticker?symbol=BTCUSDT")
        assert initial[0] == {"type": "ticker"} | answer
        assert initial[2] == {
            "type": "kline",
            "symbol": "BTCUSDT",
            "interval": "1m",
            "kline": list(kline(NOW_MS).row),
            "closed": False,
        }
        gateway.server.publish_market([book(NOW_MS, symbol="XRPUSDT", bid="0.6")])  # not asked
        gateway.server.publish_market([mark(NOW_MS + 950, symbol="ETHUSDT", price="3501")])
        closed = kline(NOW_MS, update_ms=NOW_MS + MINUTE_MS, closed=True, close="70001")
        gateway.server.publish_market([closed])
        changes = await receive(socket, 3)
    assert changes[0] == {
        "type": "mark",
        "symbol": "ETHUSDT",
        "age_ms": 50,
        "mark": "3501",
        "index": "3500",
        "funding_rate": "0.0001",
        "next_funding_ms": NOW_MS + 3_600_000,
    }
    assert changes[1]["kline"] == list(closed.row) and changes[1]["closed"] is True
    assert (changes[2]["type"], changes[2]["last"]) == ("ticker", "70001")  # the newest close


async def test_a_slow_reader_gets_the_newest_value_of_each(gateway: Served) -> None:
    async with gateway.http.ws_connect(gateway.url + STREAM) as socket:
        await receive(socket, 5)
        # Published while the stream's sender cannot run: it finds only the newest of each.
        for step in range(1, 501):
            gateway.server.publish_market([book(NOW_MS + 900 + step, bid=str(70_000 + step))])
        gateway.server.publish_market([mark(NOW_MS + 2_000, symbol="ETHUSDT")])
        ticker, then = await receive(socket, 2)
    assert (ticker["type"], ticker["bid"], ticker["time"]) == ("ticker", "70500", NOW_MS + 1_400)
    assert (then["type"], then["symbol"]) == ("mark", "ETHUSDT")


async def test_streams_are_counted_and_released_when_the_client_leaves(gateway: Served) -> None:
    hub = gateway.server.market_hub
    assert hub is not None
    async with gateway.http.ws_connect(gateway.url + STREAM) as socket:
        await receive(socket, 5)
        assert set(hub._subscribers) == {"BTCUSDT", "ETHUSDT"}
    await eventually(lambda: not hub._subscribers)
    assert hub.stats(CLOCK_MS)["robots"] == {"bot-7": 1}


async def test_streams_close_with_1001_when_the_gateway_stops(gateway: Served) -> None:
    socket = await gateway.http.ws_connect(gateway.url + STREAM)
    await receive(socket, 5)
    await asyncio.wait_for(gateway.server.stop(), 10)
    closing = await socket.receive(timeout=10)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
    await socket.close()


async def test_the_stream_needs_the_read_token_when_tokens_are_configured() -> None:
    tokens = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with serving(config=tokens, market=CONFIG) as gateway:
        gateway.server.set_market_symbols(["BTCUSDT"])
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gateway.http.ws_connect(gateway.url + "/v1/market/stream?symbols=BTCUSDT")
        assert refused.value.status == 401
        url = gateway.url + "/v1/market/stream?symbols=BTCUSDT"
        async with gateway.http.ws_connect(url, headers=READER) as socket:
            gateway.server.publish_market([mark(NOW_MS)])
            assert (await receive(socket, 1))[0]["type"] == "mark"
