"""Open orders, open algo orders and user-stream order events → riskd models, from fixtures."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from riskd.exchange.parse import PayloadError
from riskd.exchange.parse_orders import (
    AlgoUpdate,
    OrderRecord,
    OrderUpdate,
    open_algo_from_update,
    parse_algo_order,
    parse_algo_update,
    parse_executed_qty,
    parse_open_algo_orders,
    parse_open_orders,
    parse_order,
    parse_order_update,
    parse_orders,
)
from riskd.orders import OpenAlgoOrder, OpenOrder
from tests.kit.fixtures import load_binance

OPEN_ORDERS_DOCS = "docs/fapi_v1_openOrders.docs.json"
OPEN_ORDER_REAL = "real/fapi_v1_openOrder.ccxt_real_2024-02-14.json"
OPEN_ALGOS_DOCS = "docs/fapi_v1_openAlgoOrders.sdk_docs.json"
ALGO_ORDER_POST_DOCS = "docs/fapi_v1_algoOrder_POST.sdk_docs.json"
ALGO_ORDER_GET_DOCS = "docs/fapi_v1_algoOrder_GET.sdk_docs.json"
ALGO_TRIGGERING = "real/ws_ALGO_UPDATE_TRIGGERING.nautilus_testnet_2025-12-11.json"
ALGO_TRIGGERED = "real/ws_ALGO_UPDATE_TRIGGERED.nautilus_testnet_2025-12-11.json"
ALGO_FINISHED = "real/ws_ALGO_UPDATE_FINISHED.nautilus_testnet_2025-12-11.json"
ALGO_DOCS = "docs/ws_ALGO_UPDATE.docs.json"
ORDER_UPDATE_REAL = "real/ws_ORDER_TRADE_UPDATE_NEW.real_mainnet_2026-05-21.json"
ORDER_UPDATE_DOCS = "docs/ws_ORDER_TRADE_UPDATE.docs.json"
CANCEL_ORDER_DOCS = "docs/fapi_v1_order_DELETE.sdk_docs.json"


def raises(pattern: str) -> Any:
    """pytest.raises(PayloadError) matching the whole message, taken literally."""
    return pytest.raises(PayloadError, match=f"^{re.escape(pattern)}")


# --- GET /fapi/v1/openOrders ------------------------------------------------------------------


def test_docs_open_orders_are_read_exactly() -> None:
    assert parse_open_orders(load_binance(OPEN_ORDERS_DOCS)) == (
        OpenOrder(
            order_id=1917641,
            client_order_id="abc",
            symbol="BTCUSDT",
            side="BUY",
            position_side="SHORT",
            type="TRAILING_STOP_MARKET",
            time_in_force="GTC",
            price=Decimal("0"),
            orig_qty=Decimal("0.40"),
            executed_qty=Decimal("0"),
            reduce_only=False,
            time_ms=1579276756075,
            update_time_ms=1579276756075,
        ),
    )


def test_real_ccxt_open_order_with_stringified_ids_and_times_is_read_exactly() -> None:
    (order,) = parse_open_orders([load_binance(OPEN_ORDER_REAL)])
    assert order == OpenOrder(
        order_id=664082074,
        client_order_id="x-xcKtGhcu68f8383451844295b3e8b9",
        symbol="LTCUSDT",
        side="BUY",
        position_side="BOTH",
        type="LIMIT",
        time_in_force="GTX",
        price=Decimal("50.00"),
        orig_qty=Decimal("0.200"),
        executed_qty=Decimal("0.000"),
        reduce_only=False,
        time_ms=1707907323983,
        update_time_ms=1707907323991,
    )
    assert order.remaining_qty == Decimal("0.200")


def test_empty_open_orders_list_is_no_orders() -> None:
    assert parse_open_orders([]) == ()


def test_order_id_beyond_2_pow_53_is_kept_exactly() -> None:
    body = load_binance(OPEN_ORDERS_DOCS)
    body[0]["orderId"] = 8389765739703625592
    assert parse_open_orders(body)[0].order_id == 8389765739703625592


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", 0.1, "GET /fapi/v1/openOrders: [0].price: is a float"),
        ("orderId", -1, "GET /fapi/v1/openOrders: [0].orderId: an integer is not an id"),
        ("orderId", 1.0, "GET /fapi/v1/openOrders: [0].orderId: a float is not an id"),
        ("reduceOnly", "false", "GET /fapi/v1/openOrders: [0].reduceOnly: a string is not a bool"),
        ("side", "LONG", "GET /fapi/v1/openOrders: [0].side: a string is not BUY or SELL"),
        ("positionSide", "X", "GET /fapi/v1/openOrders: [0].positionSide: a string is not BOTH"),
        ("time", True, "GET /fapi/v1/openOrders: [0].time: a boolean is not a time in ms"),
        (
            "clientOrderId",
            "",
            "GET /fapi/v1/openOrders: [0].clientOrderId: an empty string is not a non-empty",
        ),
    ],
)
def test_bad_open_order_field_is_named_by_its_path(field: str, value: Any, message: str) -> None:
    body = load_binance(OPEN_ORDERS_DOCS)
    body[0][field] = value
    with raises(message):
        parse_open_orders(body)


def test_missing_open_order_field_is_named() -> None:
    body = load_binance(OPEN_ORDERS_DOCS)
    del body[0]["executedQty"]
    with raises("GET /fapi/v1/openOrders: [0].executedQty: is missing"):
        parse_open_orders(body)


def test_open_orders_body_that_is_not_a_list_is_refused() -> None:
    with raises("GET /fapi/v1/openOrders: body: an object is not a list"):
        parse_open_orders({"code": -1000})  # type: ignore[arg-type]
    with raises("GET /fapi/v1/openOrders: [1]: null is not an object"):
        parse_open_orders([load_binance(OPEN_ORDER_REAL), None])


# --- GET /fapi/v1/openAlgoOrders --------------------------------------------------------------


def _docs_take_profit(algo_id: int, client_algo_id: str, at_ms: int) -> OpenAlgoOrder:
    """The BNBUSDT TAKE_PROFIT at 750 that the docs' algo-order examples show."""
    return OpenAlgoOrder(
        algo_id=algo_id,
        client_algo_id=client_algo_id,
        symbol="BNBUSDT",
        side="SELL",
        position_side="BOTH",
        order_type="TAKE_PROFIT",
        quantity=Decimal("0.01"),
        trigger_price=Decimal("750.000"),
        working_type="CONTRACT_PRICE",
        reduce_only=False,
        close_position=False,
        price_protect=False,
        create_time_ms=at_ms,
        update_time_ms=at_ms,
    )


def test_docs_open_algo_orders_are_read_exactly() -> None:
    assert parse_open_algo_orders(load_binance(OPEN_ALGOS_DOCS)) == (
        _docs_take_profit(2148627, "MRumok0dkhrP4kCm12AHaB", 1750514941540),
    )


@pytest.mark.parametrize("quantity", ["", "0"])
def test_close_position_algo_order_has_quantity_zero(quantity: str) -> None:
    body = load_binance(OPEN_ALGOS_DOCS)
    body[0].update(closePosition=True, quantity=quantity, orderType="STOP_MARKET")
    (algo,) = parse_open_algo_orders(body)
    assert algo.quantity == Decimal(0)
    assert algo.close_position


def test_empty_quantity_without_close_position_is_refused() -> None:
    body = load_binance(OPEN_ALGOS_DOCS)
    body[0]["quantity"] = ""
    with raises("GET /fapi/v1/openAlgoOrders: [0].quantity: an empty string is not a decimal"):
        parse_open_algo_orders(body)


def test_bad_algo_order_field_is_named_by_its_path() -> None:
    body = load_binance(OPEN_ALGOS_DOCS)
    body[0]["triggerPrice"] = 750.0
    with raises("GET /fapi/v1/openAlgoOrders: [0].triggerPrice: is a float"):
        parse_open_algo_orders(body)


# --- ALGO_UPDATE ------------------------------------------------------------------------------


def doge_update(status: str, transaction_ms: int, actual_order_id: str) -> AlgoUpdate:
    """The nautilus testnet STOP_MARKET on DOGEUSDT at one of its states."""
    return AlgoUpdate(
        event_time_ms={"TRIGGERING": 1765431097020}.get(status, 1765431097037),
        transaction_time_ms=transaction_ms,
        algo_id=1000000033225453,
        client_algo_id="O-20251211-053131-TEST-000-1",
        symbol="DOGEUSDT",
        side="BUY",
        position_side="BOTH",
        order_type="STOP_MARKET",
        status=status,
        quantity=Decimal("38"),
        trigger_price=Decimal("0.13855"),
        working_type="CONTRACT_PRICE",
        actual_order_id=actual_order_id,
        reject_reason="",
        close_position=False,
        reduce_only=False,
        price_protect=False,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (ALGO_TRIGGERING, doge_update("TRIGGERING", 1765431097019, "")),
        (ALGO_TRIGGERED, doge_update("TRIGGERED", 1765431097030, "88937381063")),
        (ALGO_FINISHED, doge_update("FINISHED", 1765431097031, "88937381063")),
    ],
)
def test_real_algo_updates_are_read_exactly(name: str, expected: AlgoUpdate) -> None:
    assert parse_algo_update(load_binance(name)) == expected


def test_docs_cancelled_algo_update_carries_its_reject_reason() -> None:
    assert parse_algo_update(load_binance(ALGO_DOCS)) == AlgoUpdate(
        event_time_ms=1750515742303,
        transaction_time_ms=1750515742297,
        algo_id=2148719,
        client_algo_id="Q5xaq5EGKgXXa0fD7fs0Ip",
        symbol="BNBUSDT",
        side="SELL",
        position_side="BOTH",
        order_type="TAKE_PROFIT",
        status="CANCELED",
        quantity=Decimal("0.01"),
        trigger_price=Decimal("750"),
        working_type="CONTRACT_PRICE",
        actual_order_id="",
        reject_reason="Reduce Only reject",
        close_position=False,
        reduce_only=False,
        price_protect=False,
    )


def test_algo_update_new_is_an_open_algo_order_placed_at_the_transaction_time() -> None:
    event = load_binance(ALGO_DOCS)
    event["o"].update(X="NEW", cp=True, q="", o="STOP_MARKET", R=True)
    del event["o"]["rm"]
    assert open_algo_from_update(parse_algo_update(event)) == OpenAlgoOrder(
        algo_id=2148719,
        client_algo_id="Q5xaq5EGKgXXa0fD7fs0Ip",
        symbol="BNBUSDT",
        side="SELL",
        position_side="BOTH",
        order_type="STOP_MARKET",
        quantity=Decimal(0),
        trigger_price=Decimal("750"),
        working_type="CONTRACT_PRICE",
        reduce_only=True,
        close_position=True,
        price_protect=False,
        create_time_ms=1750515742297,
        update_time_ms=1750515742297,
    )


@pytest.mark.parametrize("name", [ALGO_TRIGGERING, ALGO_TRIGGERED, ALGO_FINISHED, ALGO_DOCS])
def test_algo_update_past_new_is_not_an_open_algo_order(name: str) -> None:
    assert open_algo_from_update(parse_algo_update(load_binance(name))) is None


def test_event_of_another_kind_is_refused_as_algo_update() -> None:
    with raises("ALGO_UPDATE: e: a string is not 'ALGO_UPDATE'"):
        parse_algo_update(load_binance(ORDER_UPDATE_REAL))


def test_bad_algo_update_field_is_named_by_its_path() -> None:
    event = load_binance(ALGO_FINISHED)
    event["o"]["aid"] = "1e15"
    with raises("ALGO_UPDATE: o.aid: a string is not an id"):
        parse_algo_update(event)
    del event["o"]
    with raises("ALGO_UPDATE: o: is missing"):
        parse_algo_update(event)


# --- ORDER_TRADE_UPDATE -----------------------------------------------------------------------


def test_real_order_update_new_is_read_exactly() -> None:
    assert parse_order_update(load_binance(ORDER_UPDATE_REAL)) == OrderUpdate(
        event_time_ms=1779367929402,
        transaction_time_ms=1779367929401,
        symbol="SOLUSDT",
        client_order_id="bot-e0536484551311f1b0c42676a180379c",
        side="BUY",
        position_side="SHORT",
        order_type="LIMIT",
        orig_type="LIMIT",
        time_in_force="GTC",
        price=Decimal("85.67"),
        orig_qty=Decimal("21.26"),
        execution_type="NEW",
        status="NEW",
        order_id=215456450616,
        last_filled_qty=Decimal("0"),
        last_filled_price=Decimal("0"),
        cumulative_filled_qty=Decimal("0"),
        average_price=Decimal("0"),
        commission=Decimal("0"),
        commission_asset="USDT",
        realized_pnl=Decimal("0"),
        trade_id=0,
        maker=False,
        reduce_only=True,
        close_position=False,
    )


def test_docs_order_update_is_read_exactly() -> None:
    assert parse_order_update(load_binance(ORDER_UPDATE_DOCS)) == OrderUpdate(
        event_time_ms=1568879465651,
        transaction_time_ms=1568879465650,
        symbol="BTCUSDT",
        client_order_id="TEST",
        side="SELL",
        position_side="LONG",
        order_type="TRAILING_STOP_MARKET",
        orig_type="TRAILING_STOP_MARKET",
        time_in_force="GTC",
        price=Decimal("0"),
        orig_qty=Decimal("0.001"),
        execution_type="NEW",
        status="NEW",
        order_id=8886774,
        last_filled_qty=Decimal("0"),
        last_filled_price=Decimal("0"),
        cumulative_filled_qty=Decimal("0"),
        average_price=Decimal("0"),
        commission=Decimal("0"),
        commission_asset="USDT",
        realized_pnl=Decimal("0"),
        trade_id=0,
        maker=False,
        reduce_only=False,
        close_position=False,
    )


def test_trade_update_reads_fill_commission_and_realized_pnl() -> None:
    event = load_binance(ORDER_UPDATE_REAL)
    event["o"].update(
        x="TRADE", X="PARTIALLY_FILLED", l="5.00", L="85.67", z="5.00", ap="85.67",
        n="0.08567", N="USDT", rp="-1.25000000", t=987654321, m=True,
    )  # fmt: skip
    update = parse_order_update(event)
    assert (update.execution_type, update.status) == ("TRADE", "PARTIALLY_FILLED")
    assert update.last_filled_qty == Decimal("5.00")
    assert update.cumulative_filled_qty == Decimal("5.00")
    assert update.average_price == Decimal("85.67")
    assert update.commission == Decimal("0.08567")
    assert update.realized_pnl == Decimal("-1.25000000")
    assert update.trade_id == 987654321
    assert update.maker


def test_order_update_without_commission_has_commission_zero_and_no_asset() -> None:
    event = load_binance(ORDER_UPDATE_REAL)
    del event["o"]["n"], event["o"]["N"]
    update = parse_order_update(event)
    assert update.commission == Decimal(0)
    assert update.commission_asset == ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("z", 1.5, "ORDER_TRADE_UPDATE: o.z: is a float"),
        ("i", None, "ORDER_TRADE_UPDATE: o.i: null is not an id"),
        ("m", 0, "ORDER_TRADE_UPDATE: o.m: an integer is not a bool"),
        ("S", "buy", "ORDER_TRADE_UPDATE: o.S: a string is not BUY or SELL"),
        ("ps", "", "ORDER_TRADE_UPDATE: o.ps: an empty string is not a non-empty string"),
    ],
)
def test_bad_order_update_field_is_named_by_its_path(field: str, value: Any, message: str) -> None:
    event = load_binance(ORDER_UPDATE_REAL)
    event["o"][field] = value
    with raises(message):
        parse_order_update(event)


def test_order_update_event_time_is_read_from_the_root() -> None:
    event = load_binance(ORDER_UPDATE_REAL)
    event["E"] = "soon"
    with raises("ORDER_TRADE_UPDATE: E: a string is not a time in ms"):
        parse_order_update(event)


# --- POST / GET /fapi/v1/algoOrder ------------------------------------------------------------


def test_algo_order_placement_answer_is_its_status_and_the_open_order() -> None:
    status, order = parse_algo_order(load_binance(ALGO_ORDER_POST_DOCS))
    assert status == "NEW"
    assert order == _docs_take_profit(2146760, "6B2I9XVcJpCjqPAJ4YoFX7", 1750485492076)


def test_algo_order_lookup_reports_a_cancelled_order_by_its_status() -> None:
    status, order = parse_algo_order(load_binance(ALGO_ORDER_GET_DOCS))
    assert (status, order.algo_id, order.update_time_ms) == ("CANCELED", 2146760, 1750514545091)


def test_algo_order_answer_without_status_names_the_field() -> None:
    body = load_binance(ALGO_ORDER_POST_DOCS)
    del body["algoStatus"]
    with raises("/fapi/v1/algoOrder: algoStatus"):
        parse_algo_order(body)


def test_algo_order_answer_that_is_not_an_object_is_refused() -> None:
    with raises("/fapi/v1/algoOrder: "):
        parse_algo_order([load_binance(ALGO_ORDER_POST_DOCS)])


# --- POST / GET / DELETE /fapi/v1/order -------------------------------------------------------


def test_cancel_answer_says_how_much_the_order_filled() -> None:
    body = load_binance(CANCEL_ORDER_DOCS)
    assert parse_executed_qty(body) == Decimal("0")
    body["executedQty"] = "0.350"
    assert parse_executed_qty(body) == Decimal("0.350")


def test_cancel_answer_without_a_readable_executed_qty_names_the_field() -> None:
    body = load_binance(CANCEL_ORDER_DOCS)
    body["executedQty"] = 0.35
    with raises("/fapi/v1/order: executedQty: is a float"):
        parse_executed_qty(body)
    del body["executedQty"]
    with raises("/fapi/v1/order: executedQty: is missing"):
        parse_executed_qty(body)


def test_order_bodies_are_read_open_or_done() -> None:
    order = parse_order(load_binance("docs/fapi_v1_order_GET.sdk_docs.json"))
    assert order == OrderRecord(
        order_id=1573346959,
        client_order_id="abc",
        symbol="BTCUSDT",
        side="BUY",
        status="NEW",
        price=Decimal("0"),
        avg_price=Decimal("0.00000"),
        orig_qty=Decimal("0.40"),
        executed_qty=Decimal("0"),
        reduce_only=False,
    )
    (listed,) = parse_orders(load_binance("docs/fapi_v1_openOrders.docs.json"))
    assert listed.order_id == 1917641


def test_order_bodies_it_cannot_read_are_refused() -> None:
    body = load_binance("docs/fapi_v1_order_GET.sdk_docs.json")
    with pytest.raises(PayloadError, match=r"^/fapi/v1/order: avgPrice: is missing$"):
        parse_order({key: value for key, value in body.items() if key != "avgPrice"})
    with pytest.raises(PayloadError, match=r"^GET /fapi/v1/openOrders\|allOrders: body: "):
        parse_orders({})  # type: ignore[arg-type]
