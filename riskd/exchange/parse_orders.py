"""Binance open-order payloads and user-stream order events → riskd order models.

Numbers are read as in ``riskd.exchange.parse``: decimals as JSON strings, integers or
Decimals, never floats; ids and times as JSON integers or ccxt's strings of digits. Its private
field reader ``_Object`` (with ``_get``) and ``_show`` are imported on purpose, not copied.
Every problem raises PayloadError naming the endpoint or event and the field path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from riskd.exchange.parse import POSITION_SIDES, PayloadError, _Object, _show
from riskd.orders import OpenAlgoOrder, OpenOrder

OPEN_ORDERS: Final = "GET /fapi/v1/openOrders"
OPEN_ALGO_ORDERS: Final = "GET /fapi/v1/openAlgoOrders"
ALGO_ORDER: Final = "/fapi/v1/algoOrder"
ORDER: Final = "/fapi/v1/order"
ORDERS: Final = "GET /fapi/v1/openOrders|allOrders"
ALGO_UPDATE: Final = "ALGO_UPDATE"
ORDER_TRADE_UPDATE: Final = "ORDER_TRADE_UPDATE"
SIDES: Final = frozenset({"BUY", "SELL"})


@dataclass(frozen=True, slots=True)
class AlgoUpdate:
    """An ALGO_UPDATE event: a conditional order changed state in the algo service."""

    event_time_ms: int  # E
    transaction_time_ms: int  # T
    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    order_type: str
    status: str  # NEW | TRIGGERING | TRIGGERED | FINISHED | CANCELED | EXPIRED | REJECTED …
    quantity: Decimal  # 0 with close_position
    trigger_price: Decimal
    working_type: str
    actual_order_id: str  # the regular order a trigger placed; "" before that
    reject_reason: str  # "" when none
    close_position: bool
    reduce_only: bool
    price_protect: bool


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An ORDER_TRADE_UPDATE event: a regular order was placed, filled, cancelled, …"""

    event_time_ms: int  # E
    transaction_time_ms: int  # T
    symbol: str
    client_order_id: str
    side: str
    position_side: str
    order_type: str
    orig_type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    execution_type: str  # x: NEW | TRADE | CANCELED | EXPIRED | AMENDMENT …
    status: str  # X: NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED …
    order_id: int
    last_filled_qty: Decimal
    last_filled_price: Decimal
    cumulative_filled_qty: Decimal
    average_price: Decimal
    commission: Decimal  # 0 when Binance omits it (no commission)
    commission_asset: str  # "" when omitted
    realized_pnl: Decimal
    trade_id: int  # 0 when the event is not a trade
    maker: bool
    reduce_only: bool
    close_position: bool


def parse_open_orders(body: Sequence[Any]) -> tuple[OpenOrder, ...]:
    """A GET /fapi/v1/openOrders body (a list of orders)."""
    return tuple(_open_order(item) for item in _items(OPEN_ORDERS, body))


def parse_open_algo_orders(body: Sequence[Any]) -> tuple[OpenAlgoOrder, ...]:
    """A GET /fapi/v1/openAlgoOrders body; a closePosition order's quantity ("0" or "") is 0."""
    return tuple(_open_algo_order(item) for item in _items(OPEN_ALGO_ORDERS, body))


def parse_algo_order(body: object) -> tuple[str, OpenAlgoOrder]:
    """A POST or GET /fapi/v1/algoOrder body: its ``algoStatus`` and the order it describes."""
    item = _Object.at(ALGO_ORDER, "", body)
    return item.text("algoStatus"), _open_algo_order(item)


def parse_executed_qty(body: object) -> Decimal:
    """The ``executedQty`` of a POST, GET or DELETE /fapi/v1/order body: how much the order
    filled (for a cancel: before it was cancelled)."""
    return _Object.at(ORDER, "", body).decimal("executedQty")


def parse_algo_update(event: Mapping[str, Any]) -> AlgoUpdate:
    """An ALGO_UPDATE user-stream event."""
    root, order = _event(ALGO_UPDATE, event)
    close_position = _flag(order, "cp")
    return AlgoUpdate(
        event_time_ms=root.time_ms("E"),
        transaction_time_ms=root.time_ms("T"),
        algo_id=_id(order, "aid"),
        client_algo_id=order.text("caid"),
        symbol=order.text("s"),
        side=_side(order, "S"),
        position_side=_position_side(order, "ps"),
        order_type=order.text("o"),
        status=order.text("X"),
        quantity=_quantity(order, "q", close_position=close_position),
        trigger_price=order.decimal("tp"),
        working_type=order.text("wt"),
        actual_order_id=_optional_text(order, "ai"),
        reject_reason=_optional_text(order, "rm"),
        close_position=close_position,
        reduce_only=_flag(order, "R"),
        price_protect=_flag(order, "pP"),
    )


def parse_order_update(event: Mapping[str, Any]) -> OrderUpdate:
    """An ORDER_TRADE_UPDATE user-stream event."""
    root, order = _event(ORDER_TRADE_UPDATE, event)
    return OrderUpdate(
        event_time_ms=root.time_ms("E"),
        transaction_time_ms=root.time_ms("T"),
        symbol=order.text("s"),
        client_order_id=order.text("c"),
        side=_side(order, "S"),
        position_side=_position_side(order, "ps"),
        order_type=order.text("o"),
        orig_type=order.text("ot"),
        time_in_force=order.text("f"),
        price=order.decimal("p"),
        orig_qty=order.decimal("q"),
        execution_type=order.text("x"),
        status=order.text("X"),
        order_id=_id(order, "i"),
        last_filled_qty=order.decimal("l"),
        last_filled_price=order.decimal("L"),
        cumulative_filled_qty=order.decimal("z"),
        average_price=order.decimal("ap"),
        commission=order.decimal("n") if "n" in order.data else Decimal(0),
        commission_asset=_optional_text(order, "N"),
        realized_pnl=order.decimal("rp"),
        trade_id=_id(order, "t"),
        maker=_flag(order, "m"),
        reduce_only=_flag(order, "R"),
        close_position=_flag(order, "cp"),
    )


def open_algo_from_update(update: AlgoUpdate) -> OpenAlgoOrder | None:
    """The open algo order an ALGO_UPDATE NEW announces (placed at T); None for other states."""
    if update.status != "NEW":
        return None
    return OpenAlgoOrder(
        algo_id=update.algo_id,
        client_algo_id=update.client_algo_id,
        symbol=update.symbol,
        side=update.side,
        position_side=update.position_side,
        order_type=update.order_type,
        quantity=update.quantity,
        trigger_price=update.trigger_price,
        working_type=update.working_type,
        reduce_only=update.reduce_only,
        close_position=update.close_position,
        price_protect=update.price_protect,
        create_time_ms=update.transaction_time_ms,
        update_time_ms=update.transaction_time_ms,
    )


def _open_order(item: _Object) -> OpenOrder:
    return OpenOrder(
        order_id=_id(item, "orderId"),
        client_order_id=item.text("clientOrderId"),
        symbol=item.text("symbol"),
        side=_side(item, "side"),
        position_side=item.position_side(),
        type=item.text("type"),
        time_in_force=item.text("timeInForce"),
        price=item.decimal("price"),
        orig_qty=item.decimal("origQty"),
        executed_qty=item.decimal("executedQty"),
        reduce_only=_flag(item, "reduceOnly"),
        time_ms=item.time_ms("time"),
        update_time_ms=item.time_ms("updateTime"),
    )


def _open_algo_order(item: _Object) -> OpenAlgoOrder:
    close_position = _flag(item, "closePosition")
    return OpenAlgoOrder(
        algo_id=_id(item, "algoId"),
        client_algo_id=item.text("clientAlgoId"),
        symbol=item.text("symbol"),
        side=_side(item, "side"),
        position_side=item.position_side(),
        order_type=item.text("orderType"),
        quantity=_quantity(item, "quantity", close_position=close_position),
        trigger_price=item.decimal("triggerPrice"),
        working_type=item.text("workingType"),
        reduce_only=_flag(item, "reduceOnly"),
        close_position=close_position,
        price_protect=_flag(item, "priceProtect"),
        create_time_ms=item.time_ms("createTime"),
        update_time_ms=item.time_ms("updateTime"),
    )


def _items(endpoint: str, body: object) -> tuple[_Object, ...]:
    if isinstance(body, str | bytes) or not isinstance(body, Sequence):
        raise PayloadError(endpoint, "body", f"{_show(body)} is not a list")
    return tuple(_Object.at(endpoint, f"[{index}]", item) for index, item in enumerate(body))


def _event(name: str, event: object) -> tuple[_Object, _Object]:
    """The event's root and its ``o`` object, after checking ``e`` names the event."""
    root = _Object.at(name, "", event)
    if root.data.get("e") != name:
        raise root.error("e", f"{_show(root.data.get('e'))} is not {name!r}")
    return root, _Object.at(name, "o", root._get("o"))


def _flag(item: _Object, key: str) -> bool:
    value = item._get(key)
    if not isinstance(value, bool):
        raise item.error(key, f"{_show(value)} is not a boolean")
    return value


def _id(item: _Object, key: str) -> int:
    """An int64 id (orderId, algoId, tradeId): a JSON integer or ccxt's string of digits."""
    value = item._get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise item.error(key, f"{_show(value)} is not an id")


def _optional_text(item: _Object, key: str) -> str:
    """A string that may be empty or absent ("" then); a numeric id is kept as its digits."""
    value = item.data.get(key, "")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise item.error(key, f"{_show(value)} is not a string")
    return value


def _side(item: _Object, key: str) -> str:
    side = item.text(key)
    if side not in SIDES:
        raise item.error(key, f"{_show(side)} is not BUY or SELL")
    return side


def _position_side(item: _Object, key: str) -> str:
    side = item.text(key)
    if side not in POSITION_SIDES:
        raise item.error(key, f"{_show(side)} is not BOTH, LONG or SHORT")
    return side


def _quantity(item: _Object, key: str, *, close_position: bool) -> Decimal:
    """An algo order's quantity; a closePosition order may send "" for it, read as 0."""
    if close_position and item._get(key) == "":
        return Decimal(0)
    return item.decimal(key)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A regular order as GET/POST/DELETE /fapi/v1/order, openOrders and allOrders describe
    it, open or done; its client id tells whose it is."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    status: str
    price: Decimal  # 0 for a market order
    avg_price: Decimal  # 0 before a fill
    orig_qty: Decimal
    executed_qty: Decimal
    reduce_only: bool


def parse_order(body: object, endpoint: str = ORDER) -> OrderRecord:
    """One order body (POST, GET or DELETE /fapi/v1/order)."""
    return _order_record(_Object.at(endpoint, "", body))


def parse_orders(body: Sequence[Any]) -> tuple[OrderRecord, ...]:
    """A GET /fapi/v1/openOrders or allOrders body."""
    return tuple(_order_record(item) for item in _items(ORDERS, body))


def _order_record(item: _Object) -> OrderRecord:
    return OrderRecord(
        order_id=_id(item, "orderId"),
        client_order_id=item.text("clientOrderId"),
        symbol=item.text("symbol"),
        side=_side(item, "side"),
        status=item.text("status"),
        price=item.decimal("price"),
        avg_price=item.decimal("avgPrice"),
        orig_qty=item.decimal("origQty"),
        executed_qty=item.decimal("executedQty"),
        reduce_only=_flag(item, "reduceOnly"),
    )
