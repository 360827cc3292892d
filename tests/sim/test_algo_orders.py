"""Conditional orders on /fapi/v1/algoOrder: placement rules, triggers and their events."""

from __future__ import annotations

import pytest
from binance.exceptions import BinanceAPIException


async def _error(coro) -> tuple[int, int]:
    with pytest.raises(BinanceAPIException) as info:
        await coro
    return info.value.status_code, info.value.code


def _stop(trigger: str, side: str = "SELL", **extra: str) -> dict:
    return {
        "algoType": "CONDITIONAL",
        "symbol": "BTCUSDT",
        "side": side,
        "type": "STOP_MARKET",
        "triggerPrice": trigger,
        "quantity": "0.010",
        "reduceOnly": "true",
        "workingType": "MARK_PRICE",
        "priceProtect": "true",
        **extra,
    }


async def _long(client, qty: str = "0.010") -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty)


async def test_stop_market_is_listed_and_queryable_by_client_algo_id(sim, client) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(**_stop("57000", clientAlgoId="rung-1"))
    assert (ack["algoStatus"], ack["triggerPrice"], ack["workingType"]) == (
        "NEW",
        "57000.00",
        "MARK_PRICE",
    )
    listed = await client.futures_get_open_algo_orders(symbol="BTCUSDT")
    assert [a["clientAlgoId"] for a in listed] == ["rung-1"]
    queried = await client.futures_get_algo_order(clientAlgoId="rung-1")
    assert queried["algoId"] == ack["algoId"] and queried["actualOrderId"] == ""


async def test_stop_that_would_trigger_now_is_2021(sim, client) -> None:
    await _long(client)
    assert await _error(client.futures_create_algo_order(**_stop("61000"))) == (400, -2021)


async def test_stop_triggers_on_mark_price_and_closes_the_position(sim, client, control) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(**_stop("57000"))
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "57500"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "NEW"
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56990"})
    done = await client.futures_get_algo_order(algoId=ack["algoId"])
    assert (done["algoStatus"], done["actualQty"]) == ("FINISHED", "0.010")
    assert done["actualOrderId"] != "" and done["triggerTime"] > 0
    assert await client.futures_position_information() == []
    assert await client.futures_get_open_algo_orders() == []


async def test_contract_price_trigger_ignores_mark(sim, client, control) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(
        **_stop("57000", workingType="CONTRACT_PRICE", priceProtect="false")
    )
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56000", "last": "58000"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "NEW"
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "58000", "last": "56900"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "FINISHED"


async def test_price_protect_holds_trigger_while_mark_and_last_diverge(
    sim, client, control
) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(**_stop("57000"))
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56000", "last": "60000"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "NEW"


async def test_reduce_only_stop_without_position_is_cancelled_when_it_fires(
    sim, client, control
) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(**_stop("57000"))
    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56000"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "CANCELED"
    assert await client.futures_position_information() == []


async def test_close_position_rung_closes_whatever_size_is_open(sim, client, control) -> None:
    await _long(client, "0.030")
    await client.futures_create_algo_order(
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        triggerPrice="55000",
        closePosition="true",
        workingType="MARK_PRICE",
    )
    await _long(client, "0.020")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "54000"})
    assert await client.futures_position_information() == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"closePosition": "true"}, -1106),  # with quantity
        ({"quantity": None, "closePosition": "true", "reduceOnly": None, "type": "STOP"}, -1106),
        ({"triggerPrice": "57000.05"}, -4014),
        ({"triggerPrice": None}, -1102),
        ({"algoType": "VP"}, -1116),
        ({"type": "LIMIT"}, -1116),
        ({"quantity": "0.0001"}, -1111),
        ({"positionSide": "SHORT"}, -4061),
    ],
    ids=[
        "close_with_qty",
        "close_on_stop_limit",
        "tick",
        "no_trigger",
        "algo_type",
        "not_conditional",
        "qty_precision",
        "position_side",
    ],
)
async def test_invalid_algo_orders_are_rejected(sim, client, params, code) -> None:
    await _long(client)
    order = {k: v for k, v in (_stop("57000") | params).items() if v is not None}
    assert await _error(client.futures_create_algo_order(**order)) == (400, code)


async def test_algo_min_notional_applies_unless_reducing(sim, client) -> None:
    opening = _stop("61000", side="BUY", quantity="0.001", reduceOnly="false")
    assert await _error(client.futures_create_algo_order(**opening)) == (400, -4164)


async def test_duplicate_client_algo_id_while_open_is_rejected(sim, client) -> None:
    await _long(client)
    await client.futures_create_algo_order(**_stop("57000", clientAlgoId="same"))
    assert (await _error(client.futures_create_algo_order(**_stop("56000", clientAlgoId="same"))))[
        1
    ] == -4116


async def test_algo_order_limit_per_account(make_sim) -> None:
    from tests.kit.sim import binance_client

    sim = await make_sim(exchange={"max_algo_orders_per_account": 3})
    client = binance_client(sim)
    await _long(client)
    for trigger in ("57000", "56000", "55000"):
        await client.futures_create_algo_order(**_stop(trigger))
    code = (await _error(client.futures_create_algo_order(**_stop("54000"))))[1]
    await client.close_connection()
    assert code == -4045


async def test_cancel_algo_by_id_then_again_is_2011(sim, client) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(**_stop("57000"))
    answer = await client.futures_cancel_algo_order(algoId=ack["algoId"])
    assert answer == {
        "algoId": ack["algoId"],
        "clientAlgoId": ack["clientAlgoId"],
        "code": "200",
        "msg": "success",
    }
    assert await _error(client.futures_cancel_algo_order(algoId=ack["algoId"])) == (400, -2011)
    assert await _error(client.futures_get_algo_order(algoId=42)) == (400, -2013)


async def test_cancel_all_algo_orders_of_a_symbol(sim, client) -> None:
    await _long(client)
    for trigger in ("57000", "56000"):
        await client.futures_create_algo_order(**_stop(trigger))
    answer = await client.futures_cancel_all_algo_open_orders(symbol="BTCUSDT")
    assert answer["code"] == 200
    assert await client.futures_get_open_algo_orders() == []


async def test_stop_limit_fires_a_resting_limit_order(sim, client, control) -> None:
    await _long(client)
    ack = await client.futures_create_algo_order(
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="STOP",
        quantity="0.010",
        triggerPrice="57000",
        price="57500",
        reduceOnly="true",
        timeInForce="GTC",
    )
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "56999"})
    fired = await client.futures_get_algo_order(algoId=ack["algoId"])
    assert fired["algoStatus"] == "TRIGGERED"
    resting = await client.futures_get_open_orders()
    assert [(o["type"], o["origType"], o["price"], o["stopPrice"]) for o in resting] == [
        ("LIMIT", "STOP", "57500.00", "57000.00")
    ]
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "57600"})
    assert (await client.futures_get_algo_order(algoId=ack["algoId"]))["algoStatus"] == "FINISHED"


async def test_take_profit_market_fires_on_rise_for_a_long(sim, client, control) -> None:
    await _long(client)
    await client.futures_create_algo_order(
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="TAKE_PROFIT_MARKET",
        quantity="0.010",
        triggerPrice="63000",
        reduceOnly="true",
    )
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "63000"})
    assert await client.futures_position_information() == []


async def test_trailing_stop_fires_after_retrace_from_the_high(sim, client, control) -> None:
    await _long(client)
    await client.futures_create_algo_order(
        algoType="CONDITIONAL",
        symbol="BTCUSDT",
        side="SELL",
        type="TRAILING_STOP_MARKET",
        quantity="0.010",
        callbackRate="1",
        reduceOnly="true",
    )
    for price in ("62000", "61500"):  # 61500 is within 1 % of the 62000 high
        await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": price})
    assert len(await client.futures_position_information()) == 1
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61370"})
    assert await client.futures_position_information() == []


async def test_state_lists_open_algo_orders_apart_from_done_ones(sim, client, control) -> None:
    await _long(client)
    kept = await client.futures_create_algo_order(**_stop("57000", clientAlgoId="kept"))
    gone = await client.futures_create_algo_order(**_stop("56000", clientAlgoId="gone"))
    await client.futures_cancel_algo_order(algoId=gone["algoId"])
    account = (await control("GET", "/_sim/state"))["accounts"]["sim"]
    assert [a["algoId"] for a in account["open_algo_orders"]] == [kept["algoId"]]
    assert [(a["algoId"], a["algoStatus"]) for a in account["done_algo_orders"]] == [
        (gone["algoId"], "CANCELED")
    ]
