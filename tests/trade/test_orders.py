"""The orders riskd sends for robots: client ids, Binance's parameters, the recorded decision."""

from __future__ import annotations

from decimal import Decimal

from riskd.trade.gate import GateDecision, Refusal
from riskd.trade.orders import (
    MAX_CLIENT_ID_CHARS,
    client_order_id,
    decision_record,
    order_params,
    owns,
)
from tests.kit.samples import BTC, NOW_MS
from tests.kit.trade import intent, robot


def test_client_ids_carry_the_robots_prefix_and_fit_binances_limit() -> None:
    longest = robot("r" * 16)
    client_id = client_order_id(longest, NOW_MS, 1234)
    assert client_id.startswith("rb-" + "r" * 16 + "-") and len(client_id) <= MAX_CLIENT_ID_CHARS
    assert client_order_id(robot(), NOW_MS, 1) != client_order_id(robot(), NOW_MS, 2)
    assert owns(robot(), client_order_id(robot(), NOW_MS, 1))
    assert not owns(robot("r2"), client_order_id(robot("r1"), NOW_MS, 1))
    assert not owns(robot("r1"), client_order_id(robot("r10"), NOW_MS, 1))


def test_a_limit_order_is_sent_in_the_symbols_precision() -> None:
    params = order_params(intent("BUY", "0.01", "60000.1"), BTC, "rb-r1-1")
    assert params == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.010",
        "price": "60000.1",
        "timeInForce": "GTC",
        "newClientOrderId": "rb-r1-1",
    }


def test_a_reducing_market_order_has_no_price_and_is_reduce_only() -> None:
    params = order_params(intent("SELL", "0.5", None, reduce_only=True), BTC, "rb-r1-2")
    assert "price" not in params and "timeInForce" not in params
    assert params["type"] == "MARKET" and params["reduceOnly"] == "true"


def test_the_record_keeps_the_order_and_the_reason() -> None:
    refused = GateDecision(False, Refusal.BANNED_SYMBOL, "BTCUSDT long is locked")
    record = decision_record(intent(), refused, None, NOW_MS)
    assert (record.robot, record.account, record.symbol) == ("r1", "main", "BTCUSDT")
    assert (record.passed, record.refusal, record.client_order_id) == (
        False,
        "BANNED_SYMBOL",
        None,
    )
    assert record.quantity == Decimal("0.010") and record.decided_ms == NOW_MS
