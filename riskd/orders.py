"""Open orders as riskd sees them: regular orders and conditional (algo) orders.

Pure data, parsed from GET /fapi/v1/openOrders, /fapi/v1/openAlgoOrders and the user stream
(``riskd.exchange.parse_orders``); the StopLadder and the OrderReaper decide on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A resting regular order (LIMIT, or a triggered STOP/TAKE_PROFIT's limit order)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    position_side: str  # BOTH | LONG | SHORT
    type: str
    time_in_force: str  # GTC | IOC | FOK | GTX | GTD
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    reduce_only: bool
    time_ms: int  # when it was placed
    update_time_ms: int

    @property
    def remaining_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty


@dataclass(frozen=True, slots=True)
class OpenAlgoOrder:
    """A conditional order waiting in Binance's algo service for its trigger."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    order_type: str  # STOP_MARKET | STOP | TAKE_PROFIT(_MARKET) | TRAILING_STOP_MARKET
    quantity: Decimal  # 0 with close_position
    trigger_price: Decimal
    working_type: str  # MARK_PRICE | CONTRACT_PRICE
    reduce_only: bool
    close_position: bool
    price_protect: bool
    create_time_ms: int
    update_time_ms: int
