"""Open orders as riskd sees them: regular orders and conditional (algo) orders.

Pure data, parsed from GET /fapi/v1/openOrders, /fapi/v1/openAlgoOrders and the user stream
(``riskd.exchange.parse_orders``); the StopLadder and the OrderReaper decide on them.
"""

from __future__ import annotations

from collections.abc import Iterable
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


# How long a gone order's id is remembered, so a late or repeated NEW cannot revive it.
GONE_MEMORY_MS = 120_000


class AlgoOrderBook:
    """An account's open algo orders as one job last learnt them, between REST snapshots.

    A snapshot replaces the set, except for what was learnt after the snapshot was requested
    (a placement acknowledged or a cancel confirmed while the request was in flight): the
    snapshot may predate it. In between, acknowledgements and ALGO_UPDATEs keep it current,
    so a job can act on every event without spending REST weight on each.
    """

    def __init__(self) -> None:
        self._open: dict[int, tuple[OpenAlgoOrder, int]] = {}  # algo id → (order, learnt at)
        self._gone: dict[int, int] = {}  # algo id → when it was learnt to be gone
        self.snapshot_requested_ms: int | None = None

    def replace(self, orders: Iterable[OpenAlgoOrder], requested_at_ms: int) -> None:
        """A full snapshot (GET /fapi/v1/openAlgoOrders) requested at *requested_at_ms*."""
        learnt_later = {
            algo_id: entry for algo_id, entry in self._open.items() if entry[1] > requested_at_ms
        }
        self._open = {
            order.algo_id: (order, requested_at_ms)
            for order in orders
            if self._gone.get(order.algo_id, -1) <= requested_at_ms
        }
        self._open.update(learnt_later)
        forget_before_ms = requested_at_ms - GONE_MEMORY_MS
        self._gone = {algo_id: at for algo_id, at in self._gone.items() if at > forget_before_ms}
        self.snapshot_requested_ms = requested_at_ms

    def opened(self, order: OpenAlgoOrder, at_ms: int) -> None:
        """The order is open (placement acknowledged, or an ALGO_UPDATE NEW)."""
        if order.algo_id not in self._gone:
            self._open[order.algo_id] = (order, at_ms)

    def gone(self, algo_id: int, at_ms: int) -> None:
        """The order is no longer open (cancelled, triggered, expired or rejected)."""
        self._open.pop(algo_id, None)
        self._gone[algo_id] = at_ms

    def orders(self) -> tuple[OpenAlgoOrder, ...]:
        """The open orders, oldest algo id first."""
        return tuple(self._open[algo_id][0] for algo_id in sorted(self._open))
