"""Public market data: exchangeInfo, klines, depth, tickers, premium index."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException


async def test_exchange_info_publishes_filters_and_limits(sim, client) -> None:
    info = await client.futures_exchange_info()
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.1"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"
    assert filters["PERCENT_PRICE"]["multiplierUp"] == "1.0500"
    limits = {(r["rateLimitType"], r["intervalNum"]): r["limit"] for r in info["rateLimits"]}
    assert limits == {("REQUEST_WEIGHT", 1): 2400, ("ORDERS", 1): 1200, ("ORDERS", 10): 300}


async def test_klines_end_with_the_current_candle(sim, client, control) -> None:
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "60500"})
    rows = await client.futures_klines(symbol="BTCUSDT", interval="1m", limit=3)
    assert len(rows) == 3 and all(len(r) == 12 for r in rows)
    assert rows[-1][0] <= sim.clock.now_ms() <= rows[-1][6]
    assert rows[-1][4] == "60500.00"
    assert rows[1][6] + 1 == rows[2][0]


async def test_klines_from_a_start_time_are_the_first_ones_opened_at_or_after_it(
    sim, client
) -> None:
    now = sim.clock.now_ms()
    start = now - now % 60_000 - 10 * 60_000 + 1  # just after a kline opened
    rows = await client.futures_klines(symbol="BTCUSDT", interval="1m", startTime=start, limit=3)
    assert [r[0] for r in rows] == [start - 1 + k * 60_000 for k in (1, 2, 3)]
    up_to_now = await client.futures_klines(symbol="BTCUSDT", interval="1m", startTime=start)
    assert len(up_to_now) == 10 and up_to_now[-1][0] <= now <= up_to_now[-1][6]
    bounded = await client.futures_klines(
        symbol="BTCUSDT", interval="1m", startTime=start, endTime=start + 60_000
    )
    assert [r[0] for r in bounded] == [start - 1 + 60_000]
    assert (
        await client.futures_klines(symbol="BTCUSDT", interval="1m", startTime=now + 60_000) == []
    )


async def test_klines_weight_depends_on_limit(sim, client) -> None:
    await client.futures_klines(symbol="BTCUSDT", interval="1h", limit=99)
    await client.futures_klines(symbol="BTCUSDT", interval="1h", limit=1000)
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "6"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ({"symbol": "BTCUSDT", "interval": "7x"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 0}, -1130),
        ({"symbol": "XXX", "interval": "1m"}, -1121),
        ({"interval": "1m"}, -1102),
    ],
)
async def test_bad_kline_requests(sim, client, call, code) -> None:
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_klines(**call)
    assert info.value.code == code


async def test_depth_and_book_ticker_straddle_the_last_price(sim, client) -> None:
    depth = await client.futures_order_book(symbol="BTCUSDT", limit=5)
    assert [b[0] for b in depth["bids"][:2]] == ["59999.90", "59999.80"]
    assert depth["asks"][0][0] == "60000.10"
    ticker = await client.futures_orderbook_ticker(symbol="BTCUSDT")
    assert (ticker["bidPrice"], ticker["askPrice"]) == ("59999.90", "60000.10")
    assert len(await client.futures_orderbook_ticker()) == len(sim.exchange.market.specs)


async def test_depth_limit_must_be_a_published_value(sim, client) -> None:
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_order_book(symbol="BTCUSDT", limit=7)
    assert info.value.code == -1130


async def test_ticker_and_premium_index(sim, client) -> None:
    ticker = await client.futures_ticker(symbol="ETHUSDT")
    assert ticker["lastPrice"] == "3000.00"
    index = await client.futures_mark_price(symbol="ETHUSDT")
    assert index["markPrice"] == "3000.00000000"
    assert index["nextFundingTime"] == sim.exchange.next_funding_ms
    assert len(await client.futures_mark_price()) == len(sim.exchange.market.specs)


async def test_random_walk_moves_prices_deterministically(make_sim) -> None:
    paths = []
    for _ in range(2):
        sim = await make_sim(seed=3, exchange={"walk_interval_ms": 1})
        for _ in range(20):
            sim.clock.advance(1)
            sim.exchange.tick()
        paths.append(sim.exchange.state()["prices"])
    assert paths[0] == paths[1]
    assert paths[0]["BTCUSDT"]["mark"] != "60000"


async def test_spot_ping_and_time_let_async_client_create_work(sim) -> None:
    from binance import AsyncClient

    class SimClient(AsyncClient):
        API_URL = f"{sim.url}/api"

    client = await SimClient.create("sim-key", "sim-secret")
    assert abs(client.timestamp_offset) < 5000
    await client.close_connection()
