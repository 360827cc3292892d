"""The matching engine in process: expiry, reduce-only fills and the margin orders hold."""

from __future__ import annotations

from decimal import Decimal

from tests.kit.sim_local import Local


def _limit(local: Local, side: str, price: str, qty: str = "0.010", **extra: str) -> dict:
    params = {"side": side, "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": price}
    return local.order(**params | extra)


def _query(local: Local, order_id: int) -> dict:
    params = {"symbol": "BTCUSDT", "orderId": str(order_id)}
    return local.exchange.query_order(local.account, params)


def test_gtd_order_expires_at_its_good_till_date(local) -> None:
    deadline = local.clock.now_ms + 5000
    ack = _limit(local, "BUY", "59000", timeInForce="GTD", goodTillDate=str(deadline))
    assert ack["goodTillDate"] == deadline
    local.advance(4999)
    assert _query(local, ack["orderId"])["status"] == "NEW"
    local.advance(1)
    assert _query(local, ack["orderId"])["status"] == "EXPIRED"
    assert local.of("ORDER_TRADE_UPDATE")[-1]["x"] == "EXPIRED"


def test_reduce_only_order_whose_position_is_gone_expires_instead_of_opening(local) -> None:
    local.order(side="BUY", type="MARKET", quantity="0.010")
    resting = _limit(local, "SELL", "60500", reduceOnly="true")
    local.order(side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    local.mark("60500")
    order = _query(local, resting["orderId"])
    assert (order["status"], order["executedQty"]) == ("EXPIRED", "0.000")
    assert local.exchange.state()["accounts"]["sim"]["positions"] == []


def test_open_order_margin_is_released_by_a_fill_and_by_a_cancel(local) -> None:
    _limit(local, "BUY", "59000", qty="1.000")
    assert local.account.open_order_margin == Decimal("2950")
    local.mark("59000")
    assert local.account.open_order_margin == 0
    ack = _limit(local, "BUY", "58000", qty="1.000")
    assert local.account.open_order_margin == Decimal("2900")
    local.exchange.cancel_order(
        local.account, {"symbol": "BTCUSDT", "orderId": str(ack["orderId"])}
    )
    assert local.account.open_order_margin == 0
    totals = local.exchange.account_v2(local.account)
    assert totals["totalOpenOrderInitialMargin"] == "0.00000000"
