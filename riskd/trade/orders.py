"""The orders riskd sends for robots: their client ids (which attribute every order and fill
to its robot), Binance's parameters for an intent, and the decision recorded for it."""

from __future__ import annotations

from typing import Final

from riskd.exchange.filters import SymbolFilters
from riskd.trade.config import RobotConfig
from riskd.trade.decision_store import DecisionRecord
from riskd.trade.gate import GateDecision
from riskd.trade.intent import OrderIntent, OrderType

MAX_CLIENT_ID_CHARS: Final = 36
"""Binance's limit on ``newClientOrderId``."""


def client_order_id(robot: RobotConfig, now_ms: int, sequence: int) -> str:
    """A new order's client id: the robot's prefix, the time in hex and a sequence number
    (unique per Trader within a millisecond up to 1,000 orders)."""
    client_id = f"{robot.client_id_prefix}{now_ms:x}{sequence % 1000:03d}"
    assert len(client_id) <= MAX_CLIENT_ID_CHARS  # a 16-character name leaves room
    return client_id


def owns(robot: RobotConfig, client_id: str) -> bool:
    """Whether the order with *client_id* is *robot*'s."""
    return client_id.startswith(robot.client_id_prefix)


def order_params(intent: OrderIntent, filters: SymbolFilters, client_id: str) -> dict[str, str]:
    """POST /fapi/v1/order's parameters for a passed *intent*, amounts in the symbol's
    precision (the gate has checked them against *filters* already)."""
    market = intent.type is OrderType.MARKET
    params = {
        "symbol": intent.symbol,
        "side": intent.side.value,
        "type": intent.type.value,
        "quantity": filters.format_quantity(intent.quantity, market=market),
        "newClientOrderId": client_id,
    }
    if intent.price is not None:
        params |= {"price": filters.format_price(intent.price), "timeInForce": "GTC"}
    if intent.reduce_only:
        params["reduceOnly"] = "true"
    return params


def decision_record(
    intent: OrderIntent, decision: GateDecision, client_id: str | None, now_ms: int
) -> DecisionRecord:
    """What is recorded of *intent* and the gate's *decision* on it."""
    return DecisionRecord(
        account=intent.account,
        robot=intent.robot,
        symbol=intent.symbol,
        side=intent.side.value,
        position_side=intent.position_side.value,
        order_type=intent.type.value,
        quantity=intent.quantity,
        price=intent.price,
        reduce_only=intent.reduce_only,
        passed=decision.passed,
        refusal=None if decision.refusal is None else decision.refusal.value,
        detail=decision.detail,
        client_order_id=client_id,
        decided_ms=now_ms,
    )
