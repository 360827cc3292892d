"""The protocol's ``trade`` as the order a robot asks for (judged by ``riskd.trade.gate``)."""

from __future__ import annotations

from riskd.fmz.request import TradeParams
from riskd.trade.intent import OrderIntent, OrderType, PositionSide


def trade_intent(robot: str, account: str, params: TradeParams) -> OrderIntent:
    """*robot*'s ``trade`` on *account*: one-way mode; no price is a MARKET order; FMZ's
    ``closebuy``/``closesell`` are reduce-only; ``intended`` passes the duplicate guard."""
    return OrderIntent(
        robot=robot,
        account=account,
        symbol=params.symbol.binance,
        side=params.side.binance,
        position_side=PositionSide.BOTH,
        type=OrderType.MARKET if params.price is None else OrderType.LIMIT,
        quantity=params.amount,
        price=params.price,
        reduce_only=params.side.reduce_only,
        intended_duplicate=params.intended,
    )
