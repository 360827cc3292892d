"""The protocol's trade as an order intent."""

from __future__ import annotations

from decimal import Decimal

from riskd.fmz.intents import trade_intent
from riskd.fmz.request import Side, TradeParams
from riskd.fmz.symbols import parse_symbol
from riskd.trade.intent import OrderType, PositionSide


def _params(side: Side, price: str | None) -> TradeParams:
    amount = Decimal("0.01")
    return TradeParams(
        parse_symbol("BTC_USDT"), side, None if price is None else Decimal(price), amount
    )


def test_a_priced_buy_is_a_limit_order_and_no_price_a_market_order() -> None:
    limit = trade_intent("r1", "main", _params(Side.BUY, "60000"))
    assert (limit.type, limit.side.value, limit.price) == (OrderType.LIMIT, "BUY", Decimal("60000"))
    assert trade_intent("r1", "main", _params(Side.SELL, None)).type is OrderType.MARKET


def test_closing_directions_are_reduce_only_in_one_way_mode() -> None:
    close_long = trade_intent("r1", "main", _params(Side.CLOSE_BUY, None))
    assert (close_long.side.value, close_long.reduce_only) == ("SELL", True)
    assert close_long.position_side is PositionSide.BOTH
    assert trade_intent("r1", "main", _params(Side.CLOSE_SELL, None)).side.value == "BUY"


def test_an_intended_repeat_is_marked_for_the_duplicate_guard() -> None:
    params = TradeParams(parse_symbol("BTC_USDT"), Side.BUY, None, Decimal("0.01"), True)
    assert trade_intent("r1", "main", params).intended_duplicate
    assert not trade_intent("r1", "main", _params(Side.BUY, None)).intended_duplicate
