"""GET /fapi/v1/userTrades, GET /fapi/v1/fundingRate and GET /fapi/v{1,2}/ticker/price."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

DAY_MS = 86_400_000


async def _error(call) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        await call
    return info.value


async def _buy(client, qty: str = "0.010") -> dict:
    return await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty
    )


async def test_user_trades_list_the_fills(sim, client, control) -> None:
    bought = await _buy(client)
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61000"})
    sold = await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )
    trades = await client.futures_account_trades(symbol="BTCUSDT")
    assert [(t["orderId"], t["side"], t["buyer"], t["maker"]) for t in trades] == [
        (bought["orderId"], "BUY", True, False),
        (sold["orderId"], "SELL", False, False),
    ]
    assert (trades[0]["price"], trades[0]["qty"], trades[0]["quoteQty"]) == (
        "60000.10",
        "0.010",
        "600.00100",
    )
    assert trades[0]["commission"] == "0.30000050" and trades[0]["realizedPnl"] == "0"
    assert trades[1]["realizedPnl"] == "9.99800000"  # (60999.9 - 60000.1) x 0.010
    assert trades[1]["id"] == trades[0]["id"] + 1
    assert await client.futures_account_trades(symbol="ETHUSDT") == []
    only = await client.futures_account_trades(symbol="BTCUSDT", orderId=sold["orderId"])
    assert [t["orderId"] for t in only] == [sold["orderId"]]
    assert len(await client.futures_account_trades(symbol="BTCUSDT", limit=1)) == 1
    from_second = await client.futures_account_trades(symbol="BTCUSDT", fromId=trades[1]["id"])
    assert [t["id"] for t in from_second] == [trades[1]["id"]]


async def test_user_trades_window_is_seven_days(sim, client, control) -> None:
    await _buy(client)
    now = sim.clock.now_ms()
    assert len(await client.futures_account_trades(symbol="BTCUSDT", startTime=now - 1000)) == 1
    assert await client.futures_account_trades(symbol="BTCUSDT", endTime=now - 1000) == []
    await control("POST", "/_sim/clock", {"advance_ms": 8 * DAY_MS})
    client.timestamp_offset = sim.clock.offset_ms
    assert await client.futures_account_trades(symbol="BTCUSDT") == []
    found = await client.futures_account_trades(symbol="BTCUSDT", startTime=now - 1000)
    assert len(found) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, -1102),
        ({"symbol": "NOPE"}, -1121),
        ({"symbol": "BTCUSDT", "limit": 1001}, -1130),
        ({"symbol": "BTCUSDT", "startTime": 8 * DAY_MS, "endTime": DAY_MS}, -1023),
        ({"symbol": "BTCUSDT", "startTime": 0, "endTime": 8 * DAY_MS}, -1127),
        ({"symbol": "BTCUSDT", "fromId": 1, "startTime": 0}, -1128),
        ({"symbol": "BTCUSDT", "orderId": "x"}, -1100),
    ],
)
async def test_user_trades_errors(sim, client, params, code) -> None:
    error = await _error(client.futures_account_trades(**params))
    assert (error.status_code, error.code) == (400, code)


async def test_funding_rate_history_follows_the_schedule(sim, client, control) -> None:
    period = sim.config.exchange.funding_interval_ms
    before = await client.futures_funding_rate(symbol="BTCUSDT", limit=2)
    last_time = sim.exchange.next_funding_ms - period
    assert [r["fundingTime"] for r in before] == [last_time - period, last_time]
    assert before[-1] == {
        "symbol": "BTCUSDT",
        "fundingRate": "0.00010000",
        "fundingTime": last_time,
        "markPrice": "60000.00000000",
    }
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61000"})
    state = await control("GET", "/_sim/state")
    await control("POST", "/_sim/clock", {"advance_ms": state["next_funding_time"] - state["time"]})
    settled = await client.futures_funding_rate(symbol="BTCUSDT", limit=1)
    assert (settled[0]["fundingTime"], settled[0]["markPrice"]) == (
        state["next_funding_time"],
        "61000.00000000",
    )
    forward = await client.futures_funding_rate(symbol="BTCUSDT", startTime=last_time, limit=5)
    assert [r["fundingTime"] for r in forward] == [last_time, state["next_funding_time"]]
    every = await client.futures_funding_rate(limit=8)
    assert len(every) == 8 and {r["symbol"] for r in every} == set(sim.exchange.market.specs)


@pytest.mark.parametrize(
    ("params", "code"),
    [({"limit": 0}, -1130), ({"symbol": "NOPE"}, -1121), ({"startTime": 2, "endTime": 1}, -1023)],
)
async def test_funding_rate_errors(sim, client, params, code) -> None:
    error = await _error(client.futures_funding_rate(**params))
    assert (error.status_code, error.code) == (400, code)


async def test_ticker_price_v1_and_v2(sim, client, control) -> None:
    await control("POST", "/_sim/mark", {"symbol": "ETHUSDT", "price": "3001.5"})
    one = await client.futures_symbol_ticker(symbol="ETHUSDT")
    assert (one["symbol"], one["price"]) == ("ETHUSDT", "3001.50")
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    every = await client._request_futures_api("get", "ticker/price", signed=False, version=2)
    assert {t["symbol"]: t["price"] for t in every}["ETHUSDT"] == "3001.50"
    assert len(every) == len(sim.exchange.market.specs)
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "3"
    error = await _error(client.futures_symbol_ticker(symbol="NOPE"))
    assert error.code == -1121
