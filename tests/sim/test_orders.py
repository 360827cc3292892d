"""Regular orders: placement, filters, matching, queries, cancels and batches."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.exceptions import BinanceAPIException


async def _error(coro) -> tuple[int, int, str]:
    with pytest.raises(BinanceAPIException) as info:
        await coro
    return info.value.status_code, info.value.code, info.value.message


def _limit(price: str, qty: str = "0.002", side: str = "BUY", **extra: str) -> dict:
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": qty,
        "price": price,
        **extra,
    }


async def test_market_order_answers_ack_then_fills_at_the_ask(sim, client) -> None:
    ack = await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    assert (ack["status"], ack["executedQty"]) == ("NEW", "0.000")
    order = await client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])
    assert (order["status"], order["executedQty"], order["avgPrice"]) == (
        "FILLED",
        "0.010",
        "60000.10",
    )
    position = (await client.futures_position_information(symbol="BTCUSDT"))[0]
    assert (position["positionAmt"], position["entryPrice"]) == ("0.010", "60000.1")


async def test_result_response_type_reports_the_fill(sim, client) -> None:
    answer = await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", newOrderRespType="RESULT"
    )
    assert (answer["status"], answer["avgPrice"], answer["cumQuote"]) == (
        "FILLED",
        "59999.90",
        "599.99900",
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "STOP_MARKET", "stopPrice": "50000"}, -4120),
        (
            {"type": "TAKE_PROFIT", "stopPrice": "70000", "price": "70000", "timeInForce": "GTC"},
            -4120,
        ),
        ({"type": "TRAILING_STOP_MARKET", "callbackRate": "1"}, -4120),
        ({"type": "STOP", "stopPrice": "50000", "price": "50000", "timeInForce": "GTC"}, -4120),
    ],
    ids=["stop_market", "take_profit", "trailing", "stop"],
)
async def test_conditional_types_on_order_endpoint_are_4120(sim, client, params, code) -> None:
    # python-binance reroutes conditional types to /algoOrder, so call /order directly.
    data = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.010", **params}
    status, got, message = await _error(
        client._request_futures_api("post", "order", True, data=data)
    )
    assert (status, got) == (400, code)
    assert message.startswith("Order type not supported for this endpoint")


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (_limit("60000.005"), -1111),  # more decimals than pricePrecision
        (_limit("60000.1", qty="0.0015"), -1111),
        (
            _limit("50000.00", qty="0.002", side="BUY")
            | {"symbol": "SOLUSDT", "price": "150.005", "quantity": "1"},
            -4014,
        ),
        (_limit("250.0"), -4013),
        (_limit("64000"), -4016),  # above mark x multiplierUp (1.05)
        (_limit("56000", side="SELL"), -4024),  # below mark x multiplierDown
        (_limit("59000", qty="0.001"), -4164),  # notional 59 < 100
        (_limit("59000", qty="1001"), -4006),
        (_limit("59000", qty="0"), -4003),
        (_limit("59000", qty="abc"), -1100),
        (_limit("59000") | {"symbol": "NOPEUSDT"}, -1121),
        (_limit("59000") | {"side": "HOLD"}, -1117),
        (_limit("59000") | {"timeInForce": "DAY"}, -1115),
        (_limit("59000", qty="40"), -2019),  # 40 BTC needs 118k margin at 20x
        (_limit("59000") | {"positionSide": "LONG"}, -4061),
        ({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002"}, -1102),
        (
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.002",
                "reduceOnly": "true",
            },
            -2022,
        ),
        (_limit("60500", side="BUY") | {"timeInForce": "GTX"}, -5022),
        (_limit("59000", side="BUY") | {"timeInForce": "FOK"}, -5021),
    ],
    ids=[
        "price_precision",
        "qty_precision",
        "tick",
        "min_price",
        "percent_up",
        "percent_down",
        "min_notional",
        "max_qty",
        "zero_qty",
        "illegal_qty",
        "symbol",
        "side",
        "tif",
        "margin",
        "position_side_oneway",
        "missing_price",
        "reduce_only_no_position",
        "post_only_crosses",
        "fok_not_fillable",
    ],
)
async def test_invalid_orders_get_binance_error_codes(sim, client, order, code) -> None:
    status, got, _ = await _error(client.futures_create_order(**order))
    assert (status, got) == (400, code)
    assert sim.exchange.state()["accounts"]["sim"]["open_orders"] == []


async def test_min_notional_message_names_the_threshold(sim, client) -> None:
    _, _, message = await _error(client.futures_create_order(**_limit("59000", qty="0.001")))
    assert (
        message == "Order's notional must be no smaller than 100 (unless you choose reduce only)."
    )


async def test_reduce_only_is_exempt_from_min_notional(sim, client) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    order = await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001", reduceOnly="true"
    )
    assert order["reduceOnly"] is True


async def test_reduce_only_larger_than_position_only_closes_it(sim, client) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    ack = await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.050", reduceOnly="true"
    )
    order = await client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])
    assert (order["executedQty"], order["status"]) == ("0.010", "EXPIRED")
    assert await client.futures_position_information() == []


async def test_duplicate_client_order_id_among_open_orders_is_rejected(sim, client) -> None:
    await client.futures_create_order(**_limit("59000", newClientOrderId="mine-1"))
    _, code, _ = await _error(
        client.futures_create_order(**_limit("58000", newClientOrderId="mine-1"))
    )
    assert code == -4116


async def test_resting_limit_fills_as_maker_when_price_crosses(sim, client, control) -> None:
    ack = await client.futures_create_order(**_limit("59000"))
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "58990"})
    order = await client.futures_get_order(symbol="BTCUSDT", orderId=ack["orderId"])
    assert (order["status"], order["avgPrice"]) == ("FILLED", "59000.00")
    income = await client.futures_income_history(incomeType="COMMISSION")
    assert income[0]["income"] == "-0.02360000"  # 0.002 * 59000 * 0.0002 maker


async def test_query_by_client_id_and_open_order_views(sim, client) -> None:
    ack = await client.futures_create_order(**_limit("59000", newClientOrderId="q-1"))
    by_client = await client.futures_get_order(symbol="BTCUSDT", origClientOrderId="q-1")
    assert by_client["orderId"] == ack["orderId"]
    one = await client._request_futures_api(
        "get", "openOrder", True, data={"symbol": "BTCUSDT", "orderId": ack["orderId"]}
    )
    assert one["status"] == "NEW" and one["time"] == ack["updateTime"]
    assert [o["orderId"] for o in await client.futures_get_open_orders()] == [ack["orderId"]]
    assert await client.futures_get_open_orders(symbol="ETHUSDT") == []


async def test_query_without_any_id_is_1102(sim, client) -> None:
    _, code, message = await _error(client.futures_get_order(symbol="BTCUSDT"))
    assert code == -1102 and "'orderId' or 'origClientOrderId'" in message


async def test_unknown_orders_are_2013_on_query_and_2011_on_cancel(sim, client) -> None:
    assert (await _error(client.futures_get_order(symbol="BTCUSDT", orderId=1)))[1] == -2013
    assert (await _error(client.futures_cancel_order(symbol="BTCUSDT", orderId=1)))[1] == -2011


async def test_cancel_then_cancel_again_is_2011(sim, client) -> None:
    ack = await client.futures_create_order(**_limit("59000"))
    cancelled = await client.futures_cancel_order(symbol="BTCUSDT", orderId=ack["orderId"])
    assert cancelled["status"] == "CANCELED" and "avgPrice" not in cancelled
    _, code, message = await _error(
        client.futures_cancel_order(symbol="BTCUSDT", orderId=ack["orderId"])
    )
    assert (code, message) == (-2011, "Unknown order sent.")
    open_one = client._request_futures_api(
        "get", "openOrder", True, data={"symbol": "BTCUSDT", "orderId": ack["orderId"]}
    )
    assert (await _error(open_one))[1] == -2013


async def test_cancel_all_open_orders_for_a_symbol(sim, client) -> None:
    for price in ("59000", "58000"):
        await client.futures_create_order(**_limit(price))
    await client.futures_create_order(
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="2900",
    )
    answer = await client.futures_cancel_all_open_orders(symbol="BTCUSDT")
    assert answer == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert [o["symbol"] for o in await client.futures_get_open_orders()] == ["ETHUSDT"]


async def test_batch_orders_answer_each_item_inline(sim, client) -> None:
    answer = await client.futures_place_batch_order(
        batchOrders=[
            _limit("59000"),
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "quantity": "0.002",
                "stopPrice": "50000",
            },
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "MARKET",
                "quantity": "0.002",
                "reduceOnly": "true",
            },
        ]
    )
    assert answer[0]["status"] == "NEW"
    assert answer[1] == {"code": -4120, "msg": answer[1]["msg"]}
    assert answer[2] == {"code": -2022, "msg": "ReduceOnly Order is rejected."}
    assert client.response.headers["X-MBX-ORDER-COUNT-10S"] == "3"


async def test_batch_of_more_than_five_is_4082(sim, client) -> None:
    batch = [_limit(str(59000 - i)) for i in range(6)]
    assert (await _error(client.futures_place_batch_order(batchOrders=batch)))[1] == -4082


async def test_batch_cancel_mixes_results_and_errors(sim, client) -> None:
    ack = await client.futures_create_order(**_limit("59000"))
    answer = await client.futures_cancel_orders(
        symbol="BTCUSDT", orderidlist=[ack["orderId"], 12345]
    )
    assert answer[0]["status"] == "CANCELED"
    assert answer[1] == {"code": -2011, "msg": "Unknown order sent."}


async def test_hedge_mode_positions_are_per_side(sim, client) -> None:
    assert (await client.futures_get_position_mode())["dualSidePosition"] is False
    await client.futures_change_position_mode(dualSidePosition="true")
    for side, ps in (("BUY", "LONG"), ("SELL", "SHORT")):
        await client.futures_create_order(
            symbol="BTCUSDT", side=side, positionSide=ps, type="MARKET", quantity="0.010"
        )
    rows = {
        r["positionSide"]: r["positionAmt"] for r in await client.futures_position_information()
    }
    assert rows == {"LONG": "0.010", "SHORT": "-0.010"}
    _, code, _ = await _error(
        client.futures_create_order(
            symbol="BTCUSDT",
            side="SELL",
            positionSide="LONG",
            type="MARKET",
            quantity="0.020",
            reduceOnly="true",
        )
    )
    assert code == -1106


async def test_hedge_close_without_position_is_2022(sim, client) -> None:
    await client.futures_change_position_mode(dualSidePosition="true")
    _, code, _ = await _error(
        client.futures_create_order(
            symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.010"
        )
    )
    assert code == -2022


async def test_position_mode_cannot_change_with_a_position(sim, client) -> None:
    assert (await _error(client.futures_change_position_mode(dualSidePosition="false")))[1] == -4059
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    assert (await _error(client.futures_change_position_mode(dualSidePosition="true")))[1] == -4068


async def test_flip_through_zero_realizes_pnl_and_reopens(sim, client, control) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await control("POST", "/_sim/mark", {"symbol": "BTCUSDT", "price": "61000"})
    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.030"
    )
    position = (await client.futures_position_information())[0]
    assert (position["positionAmt"], position["entryPrice"]) == ("-0.020", "60999.9")
    pnl = await client.futures_income_history(incomeType="REALIZED_PNL")
    assert Decimal(pnl[0]["income"]) == Decimal("0.010") * (Decimal("60999.9") - Decimal("60000.1"))


async def test_countdown_cancel_all_fires_after_its_time(sim, client) -> None:
    await client.futures_create_order(**_limit("59000"))
    answer = await client.futures_countdown_cancel_all(symbol="BTCUSDT", countdownTime=5000)
    assert answer == {"symbol": "BTCUSDT", "countdownTime": "5000"}
    sim.clock.advance(4000)
    sim.exchange.tick()
    assert len(await client.futures_get_open_orders()) == 1
    sim.clock.advance(1001)
    sim.exchange.tick()
    assert await client.futures_get_open_orders() == []
    fired = sim.exchange.state()["accounts"]["sim"]["countdowns_fired"]
    assert [(f["symbol"], f["cancelled"]) for f in fired] == [("BTCUSDT", 1)]


async def test_countdown_refresh_and_zero_disarm(sim, client) -> None:
    await client.futures_create_order(**_limit("59000"))
    await client.futures_countdown_cancel_all(symbol="BTCUSDT", countdownTime=5000)
    sim.clock.advance(4000)
    await client.futures_countdown_cancel_all(symbol="BTCUSDT", countdownTime=0)
    sim.clock.advance(10_000)
    sim.exchange.tick()
    assert len(sim.exchange.state()["accounts"]["sim"]["open_orders"]) == 1


async def test_gtc_cancel_storm_shows_in_trading_status_and_locks_symbol(sim, client) -> None:
    for i in range(150):
        ack = await client.futures_create_order(**_limit(str(58000 + i)))
        await client.futures_cancel_order(symbol="BTCUSDT", orderId=ack["orderId"])
    status = await client.futures_api_trading_status(symbol="BTCUSDT")
    indicator = status["indicators"]["BTCUSDT"][0]
    assert (indicator["indicator"], indicator["value"]) == ("GCR", 1.0)
    sim.exchange.tick()
    _, code, _ = await _error(client.futures_create_order(**_limit("59000")))
    assert code == -4400


async def test_all_orders_lists_open_and_done_orders_oldest_first(sim, client) -> None:
    resting = await client.futures_create_order(**_limit("50000.0"))
    filled = await client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002"
    )
    await client.futures_cancel_order(symbol="BTCUSDT", orderId=resting["orderId"])
    listed = await client.futures_get_all_orders(symbol="BTCUSDT")
    assert [(o["orderId"], o["status"]) for o in listed] == [
        (resting["orderId"], "CANCELED"),
        (filled["orderId"], "FILLED"),
    ]
    assert await client.futures_get_all_orders(symbol="BTCUSDT", limit=1) == listed[-1:]
    from_second = await client.futures_get_all_orders(symbol="BTCUSDT", orderId=filled["orderId"])
    assert [o["orderId"] for o in from_second] == [filled["orderId"]]
    before = int(client.response.headers["X-MBX-USED-WEIGHT-1M"])
    await client.futures_get_all_orders(symbol="BTCUSDT")
    assert int(client.response.headers["X-MBX-USED-WEIGHT-1M"]) == before + 5
