"""Leverage brackets, POST leverage and POST marginType."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from binance.exceptions import BinanceAPIException

from tests.kit.sim import binance_client


async def _error(call) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        await call
    return info.value


async def test_brackets_are_continuous_and_cover_every_symbol(sim, client) -> None:
    every = await client.futures_leverage_bracket()
    assert [b["symbol"] for b in every] == list(sim.exchange.market.specs)
    btc = await client.futures_leverage_bracket(symbol="BTCUSDT")
    brackets = btc["brackets"]
    assert brackets[0] == {
        "bracket": 1,
        "initialLeverage": 125,
        "notionalCap": 50000,
        "notionalFloor": 0,
        "maintMarginRatio": 0.004,
        "cum": 0.0,
    }
    assert brackets[-1]["initialLeverage"] == 1
    for lower, upper in itertools.pairwise(brackets):
        assert upper["notionalFloor"] == lower["notionalCap"]
        assert upper["initialLeverage"] < lower["initialLeverage"]
        # cum keeps the maintenance margin continuous at each floor.
        floor = Decimal(upper["notionalFloor"])
        below = floor * Decimal(str(lower["maintMarginRatio"])) - Decimal(str(lower["cum"]))
        above = floor * Decimal(str(upper["maintMarginRatio"])) - Decimal(str(upper["cum"]))
        assert below == above


async def test_leverage_sets_margin_and_reports_max_notional(sim, client) -> None:
    answer = await client.futures_change_leverage(symbol="BTCUSDT", leverage=10)
    assert answer == {"leverage": 10, "maxNotionalValue": "100000000", "symbol": "BTCUSDT"}
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
    position = (await client.futures_position_information(symbol="BTCUSDT"))[0]
    assert Decimal(position["initialMargin"]) == Decimal("600")  # 0.1 x 60000 / 10
    risk = await client._request_futures_api(
        "get", "positionRisk", signed=True, version=2, data={"symbol": "BTCUSDT"}
    )
    assert (risk[0]["leverage"], risk[0]["maxNotionalValue"]) == ("10", "100000000")
    answer = await client.futures_change_leverage(symbol="BTCUSDT", leverage=125)
    assert answer["maxNotionalValue"] == "50000"


async def test_leverage_errors(sim, client) -> None:
    for leverage, symbol, code in [(126, "BTCUSDT", -4028), (0, "BTCUSDT", -4028), (5, "X", -1121)]:
        error = await _error(client.futures_change_leverage(symbol=symbol, leverage=leverage))
        assert (error.status_code, error.code) == (400, code)
    error = await _error(client.futures_change_leverage(symbol="DOGEUSDT", leverage=100))
    assert error.message == "Leverage 100 is not valid"
    # 1 BTC (60 000 USDT) is above the 125x bracket's 50 000 cap.
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1")
    error = await _error(client.futures_change_leverage(symbol="BTCUSDT", leverage=125))
    assert error.code == -2027
    # At 1x the BTC position needs 60 000 USDT of margin and the ETH one 60 000 at 20x.
    await client.futures_change_leverage(symbol="BTCUSDT", leverage=2)
    await client.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="400")
    error = await _error(client.futures_change_leverage(symbol="BTCUSDT", leverage=1))
    assert (error.code, error.message) == (
        -2028,
        "Leverage is smaller than permitted: insufficient margin balance.",
    )


async def test_default_leverage_is_capped_by_the_contract(make_sim) -> None:
    sim = await make_sim(exchange={"default_leverage": 100})
    client = binance_client(sim)
    try:
        risk = await client._request_futures_api(
            "get", "positionRisk", signed=True, version=2, data={}
        )
    finally:
        await client.close_connection()
    assert {r["symbol"]: r["leverage"] for r in risk}["DOGEUSDT"] == "75"


async def test_margin_type_switches_and_is_reported(sim, client) -> None:
    done = await client.futures_change_margin_type(symbol="ETHUSDT", marginType="ISOLATED")
    assert done == {"code": 200, "msg": "success"}
    risk = await client._request_futures_api(
        "get", "positionRisk", signed=True, version=2, data={"symbol": "ETHUSDT"}
    )
    assert risk[0]["marginType"] == "isolated"
    account = await client.futures_account()
    isolated = {p["symbol"]: p["isolated"] for p in account["positions"]}
    assert isolated == {"BTCUSDT": False, "ETHUSDT": True, "SOLUSDT": False, "DOGEUSDT": False}
    error = await _error(client.futures_change_margin_type(symbol="ETHUSDT", marginType="ISOLATED"))
    assert (error.code, error.message) == (-4046, "No need to change margin type.")
    await client.futures_change_margin_type(symbol="ETHUSDT", marginType="CROSSED")


async def test_margin_type_cannot_change_with_orders_or_position(sim, client) -> None:
    order = await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="50000",
    )
    error = await _error(client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED"))
    assert error.code == -4047
    await client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    error = await _error(client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED"))
    assert (error.code, error.message) == (
        -4048,
        "Margin type cannot be changed if there exists position.",
    )
    # Other symbols are free.
    await client.futures_change_margin_type(symbol="SOLUSDT", marginType="ISOLATED")


@pytest.mark.parametrize("margin_type", ["CROSS", "isolated", ""])
async def test_bad_margin_type(sim, client, margin_type) -> None:
    error = await _error(
        client.futures_change_margin_type(symbol="BTCUSDT", marginType=margin_type)
    )
    assert (error.status_code, error.code) == (400, -1102)
