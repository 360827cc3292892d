"""PUT /fapi/v1/order: modifying a resting LIMIT order."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException

from tests.kit.sim import rest_limit
from tests.kit.sim_local import Local


def _limit(local: Local, tif: str = "GTC") -> dict:
    return local.order(side="BUY", type="LIMIT", timeInForce=tif, quantity="0.010", price="50000")


def _modify(local: Local, order_id: int, price: str, qty: str = "0.010") -> dict:
    params = {"symbol": "BTCUSDT", "orderId": str(order_id), "side": "BUY"}
    return local.exchange.modify_order(local.account, {**params, "price": price, "quantity": qty})


def test_modify_keeps_the_id_and_moves_to_the_back_of_the_queue(local: Local) -> None:
    first = _limit(local)
    second = _limit(local)
    local.clock.now_ms += 5
    modified = _modify(local, first["orderId"], "50000", "0.020")
    assert (modified["orderId"], modified["origQty"], modified["status"]) == (
        first["orderId"],
        "0.020",
        "NEW",
    )
    assert modified["updateTime"] == first["updateTime"] + 5
    assert local.of("ORDER_TRADE_UPDATE")[-1]["x"] == "AMENDMENT"
    local.mark("49999")
    fills = [o["i"] for o in local.of("ORDER_TRADE_UPDATE") if o["x"] == "TRADE"]
    assert fills == [second["orderId"], first["orderId"]]


def test_modify_to_a_crossing_price_executes_as_taker(local: Local) -> None:
    order = _limit(local)
    _modify(local, order["orderId"], "60001")
    query = {"symbol": "BTCUSDT", "orderId": str(order["orderId"])}
    status = local.exchange.query_order(local.account, query)
    assert (status["status"], status["avgPrice"]) == ("FILLED", "60000.10")


def test_post_only_that_would_take_is_cancelled(local: Local) -> None:
    order = _limit(local, tif="GTX")
    assert _modify(local, order["orderId"], "60001")["status"] == "CANCELED"


def test_modify_moves_the_margin_held(local: Local) -> None:
    order = _limit(local)
    held = local.account.open_order_margin
    _modify(local, order["orderId"], "50000", "0.030")
    assert local.account.open_order_margin == held * 3


async def _error(call) -> BinanceAPIException:
    with pytest.raises(BinanceAPIException) as info:
        await call
    return info.value


async def test_modify_errors(sim, client) -> None:
    resting = await rest_limit(client)
    market = await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    order_id = resting["orderId"]
    cases = [
        ({"orderId": order_id, "price": "50000", "quantity": "0.010"}, -5027),
        ({"orderId": order_id, "price": "50000.05", "quantity": "0.010"}, -4014),
        ({"orderId": order_id, "price": "50000", "quantity": "0.0101"}, -1111),
        ({"orderId": order_id, "price": "70000", "quantity": "0.010"}, -4016),
        ({"orderId": order_id, "price": "50000", "quantity": "0.001"}, -4164),
        ({"orderId": order_id, "price": "50000", "quantity": "100"}, -2019),
        ({"orderId": order_id, "side": "SELL", "price": "50000", "quantity": "0.02"}, -1117),
        ({"orderId": market["orderId"], "price": "50000", "quantity": "0.02"}, -5025),
        ({"orderId": 1, "price": "50000", "quantity": "0.02"}, -2013),
        ({"price": "50000", "quantity": "0.02"}, -1102),
        ({"orderId": order_id, "quantity": "0.02"}, -1102),
    ]
    for params, code in cases:
        call = {"symbol": "BTCUSDT", "side": "BUY", **params}
        error = await _error(client.futures_modify_order(**call))
        assert (params, error.status_code, error.code) == (params, 400, code)
    unchanged = await client.futures_get_order(symbol="BTCUSDT", orderId=order_id)
    assert (unchanged["price"], unchanged["origQty"]) == ("50000.00", "0.010")
    await client.futures_cancel_order(symbol="BTCUSDT", orderId=order_id)
    error = await _error(
        client.futures_modify_order(
            symbol="BTCUSDT", side="BUY", orderId=order_id, price="50000", quantity="0.02"
        )
    )
    assert (error.code, error.message) == (-2013, "Order does not exist.")


async def test_modify_counts_on_the_order_limits_not_the_ip(sim, client) -> None:
    order = await rest_limit(client)
    weight = client.response.headers["X-MBX-USED-WEIGHT-1M"]
    await client.futures_modify_order(
        symbol="BTCUSDT", side="BUY", orderId=order["orderId"], price="50100", quantity="0.010"
    )
    headers = client.response.headers
    assert (headers["X-MBX-USED-WEIGHT-1M"], headers["X-MBX-ORDER-COUNT-1M"]) == (weight, "2")
