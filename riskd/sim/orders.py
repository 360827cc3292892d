"""Orders, algo (conditional) orders and positions of the simulator, with their wire shapes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from riskd.sim.market import ZERO, SymbolSpec, fixed, plain

CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
ORDER_TYPES = frozenset({"LIMIT", "MARKET"}) | CONDITIONAL_TYPES
TERMINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED"})


@dataclass(slots=True)
class Order:
    """A regular order on the matching engine (LIMIT or MARKET)."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    position_side: str
    type: str
    orig_type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    reduce_only: bool
    close_position: bool
    stop_price: Decimal
    working_type: str
    price_protect: bool
    self_trade_prevention_mode: str
    good_till_date: int
    time_ms: int
    update_time_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    algo_id: int | None = None
    # Place in the queue at the order's price: later orders (and modified ones) fill last.
    queue_position: int = 0

    @property
    def open(self) -> bool:
        return self.status not in TERMINAL

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO

    def _common(self, spec: SymbolSpec) -> dict:
        return {
            "clientOrderId": self.client_order_id,
            "cumQty": fixed(self.executed_qty, spec.quantity_precision),
            "cumQuote": fixed(self.cum_quote, 5),
            "executedQty": fixed(self.executed_qty, spec.quantity_precision),
            "orderId": self.order_id,
            "avgPrice": fixed(self.avg_price, spec.price_precision),
            "origQty": fixed(self.orig_qty, spec.quantity_precision),
            "price": fixed(self.price, spec.price_precision),
            "reduceOnly": self.reduce_only,
            "side": self.side,
            "positionSide": self.position_side,
            "status": self.status,
            "stopPrice": fixed(self.stop_price, spec.price_precision),
            "closePosition": self.close_position,
            "symbol": self.symbol,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "origType": self.orig_type,
            "updateTime": self.update_time_ms,
            "workingType": self.working_type,
            "priceProtect": self.price_protect,
            "priceMatch": "NONE",
            "selfTradePreventionMode": self.self_trade_prevention_mode,
            "goodTillDate": self.good_till_date,
        }

    def ack(self, spec: SymbolSpec) -> dict:
        """Response of POST /fapi/v1/order and each item of POST batchOrders."""
        return self._common(spec)

    def query(self, spec: SymbolSpec) -> dict:
        """Shape of GET order, openOrder and openOrders."""
        body = self._common(spec)
        del body["cumQty"]
        body["time"] = self.time_ms
        return body

    def cancel(self, spec: SymbolSpec) -> dict:
        """Response of DELETE order and each item of DELETE batchOrders."""
        body = self._common(spec)
        del body["cumQuote"], body["avgPrice"]
        return body

    def stream(self, spec: SymbolSpec) -> dict:
        """The ``o`` object of ORDER_TRADE_UPDATE before execution fields are added."""
        return {
            "s": self.symbol,
            "c": self.client_order_id,
            "S": self.side,
            "o": self.type,
            "f": self.time_in_force,
            "q": fixed(self.orig_qty, spec.quantity_precision),
            "p": fixed(self.price, spec.price_precision),
            "ap": fixed(self.avg_price, spec.price_precision) if self.executed_qty else "0",
            "sp": fixed(self.stop_price, spec.price_precision) if self.stop_price else "0",
            "x": "NEW",
            "X": self.status,
            "i": self.order_id,
            "l": "0",
            "z": fixed(self.executed_qty, spec.quantity_precision),
            "L": "0",
            "n": "0",
            "N": spec.quote_asset,
            "T": self.update_time_ms,
            "t": 0,
            "b": "0",
            "a": "0",
            "m": False,
            "R": self.reduce_only,
            "wt": self.working_type,
            "ot": self.orig_type,
            "ps": self.position_side,
            "cp": self.close_position,
            "rp": "0",
            "pP": self.price_protect,
            "si": 0,
            "ss": 0,
            "V": self.self_trade_prevention_mode,
            "pm": "NONE",
            "gtd": self.good_till_date,
            "er": "0",
        }


@dataclass(slots=True)
class AlgoOrder:
    """A conditional order held by the algo service until its trigger fires."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    trigger_price: Decimal
    price: Decimal
    working_type: str
    close_position: bool
    price_protect: bool
    reduce_only: bool
    activate_price: Decimal | None
    callback_rate: Decimal | None
    self_trade_prevention_mode: str
    good_till_date: int
    create_time_ms: int
    update_time_ms: int
    status: str = "NEW"
    trigger_time_ms: int = 0
    actual_order_id: int | None = None
    actual_price: Decimal = ZERO
    actual_qty: Decimal = ZERO
    # Trailing stops: best price seen since activation.
    extreme_price: Decimal | None = None

    @property
    def open(self) -> bool:
        return self.status == "NEW"

    @property
    def actual_type(self) -> str:
        return "LIMIT" if self.order_type in ("STOP", "TAKE_PROFIT") else "MARKET"

    def _common(self, spec: SymbolSpec) -> dict:
        qty = fixed(self.quantity, spec.quantity_precision) if self.quantity else "0"
        return {
            "algoId": self.algo_id,
            "clientAlgoId": self.client_algo_id,
            "algoType": "CONDITIONAL",
            "orderType": self.order_type,
            "symbol": self.symbol,
            "side": self.side,
            "positionSide": self.position_side,
            "timeInForce": self.time_in_force,
            "quantity": qty,
            "algoStatus": self.status,
            "triggerPrice": fixed(self.trigger_price, spec.price_precision),
            "price": fixed(self.price, spec.price_precision),
            "icebergQuantity": None,
            "selfTradePreventionMode": self.self_trade_prevention_mode,
            "workingType": self.working_type,
            "priceMatch": "NONE",
            "closePosition": self.close_position,
            "priceProtect": self.price_protect,
            "reduceOnly": self.reduce_only,
            "createTime": self.create_time_ms,
            "updateTime": self.update_time_ms,
            "triggerTime": self.trigger_time_ms,
            "goodTillDate": self.good_till_date,
        }

    def ack(self, spec: SymbolSpec) -> dict:
        """Response of POST /fapi/v1/algoOrder."""
        body = self._common(spec)
        body["activatePrice"] = plain(self.activate_price) if self.activate_price else ""
        body["callbackRate"] = plain(self.callback_rate) if self.callback_rate else ""
        return body

    def query(self, spec: SymbolSpec) -> dict:
        """Shape of GET /fapi/v1/algoOrder."""
        body = self._common(spec)
        body["actualOrderId"] = str(self.actual_order_id or "")
        body["actualPrice"] = fixed(self.actual_price, 5)
        body["actualType"] = self.actual_type
        body["actualQty"] = fixed(self.actual_qty, spec.quantity_precision)
        body["tpOrderType"] = ""
        return body

    def listed(self, spec: SymbolSpec) -> dict:
        """Shape of each item of GET /fapi/v1/openAlgoOrders."""
        body = self._common(spec)
        body["actualOrderId"] = str(self.actual_order_id or "")
        body["actualPrice"] = fixed(self.actual_price, 5)
        zero = fixed(ZERO, 3)
        body |= {
            "tpTriggerPrice": zero,
            "tpPrice": zero,
            "slTriggerPrice": zero,
            "slPrice": zero,
            "tpOrderType": "",
        }
        return body

    def stream(self, spec: SymbolSpec, reject_reason: str = "") -> dict:
        """The ``o`` object of ALGO_UPDATE."""
        body = {
            "caid": self.client_algo_id,
            "aid": self.algo_id,
            "at": "CONDITIONAL",
            "o": self.order_type,
            "s": self.symbol,
            "S": self.side,
            "ps": self.position_side,
            "f": self.time_in_force,
            "q": fixed(self.quantity, spec.quantity_precision) if self.quantity else "0",
            "X": self.status,
            "ai": str(self.actual_order_id or ""),
            "ap": fixed(self.actual_price, 5),
            "aq": fixed(self.actual_qty, spec.quantity_precision),
            "act": self.actual_type if self.actual_order_id else "0",
            "tp": plain(self.trigger_price),
            "p": plain(self.price),
            "V": self.self_trade_prevention_mode,
            "wt": self.working_type,
            "pm": "NONE",
            "cp": self.close_position,
            "pP": self.price_protect,
            "R": self.reduce_only,
            "tt": self.trigger_time_ms,
            "gtd": self.good_till_date,
        }
        if self.status == "TRIGGERING":
            del body["ap"], body["aq"], body["act"]
        if reject_reason:
            body["rm"] = reject_reason
        return body


@dataclass(slots=True)
class Position:
    """One position: ``amount`` is signed (short < 0), per (symbol, positionSide)."""

    symbol: str
    position_side: str
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    # Fees paid while opening, for the break-even price.
    open_fees: Decimal = ZERO
    # Accumulated realized PnL before fees (ACCOUNT_UPDATE "cr").
    realized: Decimal = ZERO
    update_time_ms: int = 0

    @property
    def break_even_price(self) -> Decimal:
        if not self.amount:
            return ZERO
        return self.entry_price + self.open_fees / self.amount

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return self.amount * (mark - self.entry_price)

    def fill(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Add a fill (sells negative); returns the realized PnL, before fees."""
        old = self.amount
        new = old + signed_qty
        if not old or (old > 0) == (signed_qty > 0):
            self.entry_price = (abs(old) * self.entry_price + abs(signed_qty) * price) / abs(new)
            self.amount = new
            return ZERO
        closed = min(abs(signed_qty), abs(old))
        realized = closed * (price - self.entry_price) * (1 if old > 0 else -1)
        self.realized += realized
        self.amount = new
        if not new:
            self.entry_price = ZERO
            self.open_fees = ZERO
        elif (new > 0) != (old > 0):
            self.entry_price = price
            self.open_fees = ZERO
        return realized
