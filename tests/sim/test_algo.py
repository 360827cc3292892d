"""The algo order service in process: trigger rules and what happens when an order fires."""

from __future__ import annotations

import pytest

from tests.kit.sim_local import Local


def _short(local: Local) -> None:
    local.order(side="SELL", type="MARKET", quantity="0.010")


def _statuses(local: Local, algo_id: int) -> list[str]:
    return [o["X"] for o in local.of("ALGO_UPDATE") if o["aid"] == algo_id]


def test_buy_trailing_stop_waits_for_its_activation_then_fires_on_a_rebound(local) -> None:
    _short(local)
    ack = local.algo(
        side="BUY",
        type="TRAILING_STOP_MARKET",
        quantity="0.010",
        callbackRate="1",
        activatePrice="59000",
        reduceOnly="true",
    )
    # 60100 is 1 % above 59500 but the stop is not active yet: it activates at 58000.
    for price in ("59500", "60100", "58000", "57500", "58000"):
        local.mark(price)
        assert _statuses(local, ack["algoId"]) == ["NEW"], price
    local.mark("58100")  # 1 % above the 57500 low
    assert _statuses(local, ack["algoId"]) == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
    fill = [o for o in local.of("ORDER_TRADE_UPDATE") if o["x"] == "TRADE"][-1]
    assert (fill["S"], fill["L"], fill["ot"]) == ("BUY", "58100.10", "TRAILING_STOP_MARKET")
    assert local.exchange.state()["accounts"]["sim"]["positions"] == []


@pytest.mark.parametrize(
    ("order_type", "trigger", "quiet", "firing"),
    [("STOP_MARKET", "61000", "60990", "61000"), ("TAKE_PROFIT_MARKET", "59000", "59010", "59000")],
)
def test_buy_side_triggers(local, order_type, trigger, quiet, firing) -> None:
    _short(local)
    ack = local.algo(
        side="BUY", type=order_type, quantity="0.010", triggerPrice=trigger, reduceOnly="true"
    )
    local.mark(quiet)
    assert _statuses(local, ack["algoId"]) == ["NEW"]
    local.mark(firing)
    assert _statuses(local, ack["algoId"])[-1] == "FINISHED"


def test_algo_orders_on_one_trigger_fire_oldest_first(local) -> None:
    local.order(side="BUY", type="MARKET", quantity="0.010")
    first, second = (
        local.algo(
            side="SELL",
            type="STOP_MARKET",
            quantity="0.010",
            triggerPrice="59000",
            reduceOnly="true",
        )
        for _ in range(2)
    )
    local.mark("58900")
    assert _statuses(local, first["algoId"])[-1] == "FINISHED"
    cancelled = local.of("ALGO_UPDATE")[-1]
    assert (cancelled["aid"], cancelled["X"], cancelled["rm"]) == (
        second["algoId"],
        "CANCELED",
        "Reduce Only reject",
    )


def test_an_order_the_engine_rejects_at_trigger_cancels_the_algo_with_its_reason(local) -> None:
    ack = local.algo(side="BUY", type="STOP_MARKET", quantity="40", triggerPrice="61000")
    local.mark("61000")  # 40 BTC at 20x needs 122k of margin; the account has 100k
    assert _statuses(local, ack["algoId"]) == ["NEW", "TRIGGERING", "CANCELED"]
    assert local.of("ALGO_UPDATE")[-1]["rm"] == "Margin is insufficient."
    assert local.of("ORDER_TRADE_UPDATE") == []
