"""OrderIntent: the order a robot asks for, its enums from names, and shape errors naming the
field."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from riskd.trade.intent import OrderIntent, OrderType, PositionSide, Side
from tests.kit.trade import intent


def _intent(**changes: Any) -> OrderIntent:
    fields = {
        "robot": "r1",
        "account": "main",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "position_side": "BOTH",
        "type": "LIMIT",
        "quantity": Decimal("0.010"),
        "price": Decimal("60000.0"),
    }
    return OrderIntent(**(fields | changes))


def test_a_limit_order_takes_enum_names_and_keeps_its_decimals() -> None:
    order = _intent()
    assert order.side is Side.BUY
    assert order.position_side is PositionSide.BOTH
    assert order.type is OrderType.LIMIT
    assert (order.quantity, order.price) == (Decimal("0.010"), Decimal("60000.0"))
    assert not order.reduce_only and not order.intended_duplicate


def test_a_market_order_has_no_price() -> None:
    order = intent("SELL", "0.5", None, position_side="SHORT")
    assert order.type is OrderType.MARKET and order.price is None


def test_the_intent_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent().quantity = Decimal(1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"robot": ""}, "robot"),
        ({"account": ""}, "account"),
        ({"symbol": ""}, "symbol"),
        ({"side": "buy"}, "side"),
        ({"position_side": "NET"}, "position_side"),
        ({"type": "STOP_MARKET"}, "type"),
        ({"quantity": Decimal(0)}, "quantity"),
        ({"quantity": Decimal("-0.001")}, "quantity"),
        ({"quantity": 0.01}, "quantity"),
        ({"quantity": Decimal("NaN")}, "quantity"),
        ({"price": None}, "price"),
        ({"price": Decimal(0)}, "price"),
        ({"price": Decimal("Infinity")}, "price"),
        ({"type": "MARKET"}, "price"),
        ({"reduce_only": "yes"}, "reduce_only"),
        ({"intended_duplicate": 1}, "intended_duplicate"),
    ],
)
def test_a_bad_shape_is_a_value_error_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        _intent(**changes)


def test_reduce_only_is_refused_in_hedge_mode_as_binance_refuses_it() -> None:
    assert _intent(reduce_only=True).reduce_only
    with pytest.raises(ValueError, match=r"^reduce_only: .*one-way mode"):
        _intent(position_side="LONG", side="SELL", reduce_only=True)
