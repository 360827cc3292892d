"""Regular orders (LIMIT, MARKET): validation, the book of open orders, matching, cancels."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from riskd.sim import errors as err
from riskd.sim.accounts import Account, Accounts
from riskd.sim.errors import BinanceError
from riskd.sim.market import EIGHT_PLACES, ZERO, SymbolSpec, fixed, plain
from riskd.sim.orders import CONDITIONAL_TYPES, ORDER_TYPES, Order
from riskd.sim.params import (
    Params,
    boolean,
    dec,
    integer,
    json_list,
    opt,
    position_side,
    reduce_only,
    req,
    side,
    stp_mode,
    time_in_force,
    working_type,
)
from riskd.sim.quant_rules import QuantRules
from riskd.sim.trade_history import Fill, TradeHistory
from riskd.sim.venue import Venue, VenuePart

CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order ready for the matching engine."""

    symbol: str
    side: str
    position_side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    reduce_only: bool
    client_order_id: str
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    orig_type: str | None = None
    stop_price: Decimal = ZERO
    close_position: bool = False


@dataclass(slots=True)
class OrderBook:
    """One account's orders: all of them (for queries), the open ones per symbol, and
    clientOrderId -> newest orderId."""

    orders: dict[int, Order] = field(default_factory=dict)
    open: dict[str, dict[int, Order]] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            return list(self.open.get(symbol, {}).values())
        return [o for orders in self.open.values() for o in orders.values()]

    def open_with_client_id(self, client_id: str) -> Order | None:
        order = self.orders.get(self.client_ids.get(client_id, 0))
        return order if order is not None and order.open else None


class Matching(VenuePart):
    """The matching engine: takes orders into each account's book and fills them against
    the last price (the simulated book is the spread around it)."""

    def __init__(
        self, venue: Venue, accounts: Accounts, quant_rules: QuantRules, trades: TradeHistory
    ) -> None:
        super().__init__(venue)
        self._accounts = accounts
        self._quant_rules = quant_rules
        self._trades = trades
        self._books = {account.name: OrderBook() for account in accounts}
        # Queue positions: an order placed or modified later fills after the ones before it.
        self._queue = itertools.count()
        # Told when an order that an algo order placed is final; the exchange wires this in.
        self.on_algo_order_final: Callable[[Account, Order], None] = lambda _a, _o: None

    def book(self, account: Account) -> OrderBook:
        return self._books[account.name]

    def holds_orders(self, account: Account) -> bool:
        return bool(self.book(account).open_orders())

    # ------------------------------------------------------------ endpoints

    def new_order(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/order: ACK shape unless newOrderRespType=RESULT."""
        order = self.accept(account, self._parse(account, params))
        spec = self._market.specs[order.symbol]
        ack = order.ack(spec)
        self.match(account, order)
        return order.ack(spec) if opt(params, "newOrderRespType") == "RESULT" else ack

    def batch_new(self, account: Account, params: Params) -> list:
        """POST /fapi/v1/batchOrders: each item placed on its own, errors inline."""
        results = []
        for item in json_list(params, "batchOrders", 5, err.BATCH_SIZE):
            try:
                if not isinstance(item, dict):
                    raise err.mandatory("batchOrders")
                results.append(self.new_order(account, {k: str(v) for k, v in item.items()}))
            except BinanceError as exc:
                results.append(exc.body())
        return results

    def modify_order(self, account: Account, params: Params) -> dict:
        """PUT /fapi/v1/order: a resting LIMIT order's new price and quantity.

        The order keeps its orderId and goes to the back of the queue. It is cancelled instead
        when the new quantity is not above what has been filled, or when a post-only order
        would take liquidity; any rule the new values break rejects the change and leaves the
        order as it was. A new price that crosses executes at once, as a taker.
        """
        order = self._find(account, params, err.NO_SUCH_ORDER)
        if order.type != "LIMIT":
            raise err.ONLY_LIMIT_MODIFY
        if not order.open:
            raise err.NO_SUCH_ORDER
        if side(params) != order.side:
            raise err.INVALID_SIDE
        spec = self._market.specs[order.symbol]
        qty = dec(params, "quantity")
        price = dec(params, "price")
        spec.check_quantity(qty, market=False)
        self._check_limit_price(spec, order.side, price)
        if qty == order.orig_qty and price == order.price:
            raise err.NO_NEED_TO_MODIFY
        if not order.reduce_only and qty * price < spec.min_notional:
            raise err.min_notional(plain(spec.min_notional))
        execution = self._execution_price(order.symbol, order.side)
        if qty <= order.executed_qty or (
            order.time_in_force == "GTX" and self._crosses(order.side, price, execution)
        ):
            self._finish(account, order, "CANCELED")
            return order.ack(spec)
        margin_before = self._order_margin(account, order)
        previous = order.price, order.orig_qty
        order.price, order.orig_qty = price, qty
        added_margin = self._order_margin(account, order) - margin_before
        if added_margin > self._accounts.margins(account).available:
            order.price, order.orig_qty = previous
            raise err.MARGIN_INSUFFICIENT
        account.open_order_margin += added_margin
        order.update_time_ms = self._clock()
        order.queue_position = next(self._queue)
        self._emit_order(account, order, "AMENDMENT")
        ack = order.ack(spec)
        self.match(account, order)
        return ack

    def query_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/order."""
        order = self._find(account, params, err.NO_SUCH_ORDER)
        return order.query(self._market.specs[order.symbol])

    def all_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/allOrders: a symbol's orders, open or done, oldest first; from
        ``orderId`` on if given, else the most recent; within startTime..endTime."""
        spec = self._market.spec(opt(params, "symbol"))
        limit = integer(params, "limit", 500)
        if not 1 <= limit <= 1000:
            raise err.BAD_LIMIT
        from_id = integer(params, "orderId", 0)
        start_ms, end_ms = integer(params, "startTime", 0), integer(params, "endTime", 2**62)
        chosen = sorted(
            (
                order
                for order in self.book(account).orders.values()
                if order.symbol == spec.symbol
                and order.order_id >= from_id
                and start_ms <= order.time_ms <= end_ms
            ),
            key=lambda order: order.order_id,
        )
        chosen = chosen[:limit] if from_id else chosen[-limit:]
        return [order.query(spec) for order in chosen]

    def query_open_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/openOrder."""
        order = self._find(account, params, err.NO_SUCH_ORDER)
        if not order.open:
            raise err.NO_SUCH_ORDER
        return order.query(self._market.specs[order.symbol])

    def open_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/openOrders."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        return [
            o.query(self._market.specs[o.symbol])
            for o in self.book(account).open_orders(spec.symbol if spec else None)
        ]

    def cancel_order(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/order."""
        order = self._find(account, params, err.UNKNOWN_ORDER)
        if not order.open:
            raise err.UNKNOWN_ORDER
        self._finish(account, order, "CANCELED")
        return order.cancel(self._market.specs[order.symbol])

    def batch_cancel(self, account: Account, params: Params) -> list:
        """DELETE /fapi/v1/batchOrders: by orderIdList or origClientOrderIdList, errors inline."""
        spec = self._market.spec(opt(params, "symbol"))
        # Binance matches these two names case-insensitively (python-binance lower-cases them).
        lists = {k.lower(): v for k, v in params.items() if k.lower().endswith("idlist")}
        if opt(lists, "orderidlist") is not None:
            ids = json_list(lists, "orderidlist", 10, err.BATCH_CANCEL_SIZE)
            keys = [("orderId", str(i)) for i in ids]
        elif opt(lists, "origclientorderidlist") is not None:
            ids = json_list(lists, "origclientorderidlist", 10, err.BATCH_CANCEL_SIZE)
            keys = [("origClientOrderId", str(i)) for i in ids]
        else:
            raise err.either_param("orderIdList", "origClientOrderIdList")
        results = []
        for name, value in keys:
            try:
                results.append(self.cancel_order(account, {"symbol": spec.symbol, name: value}))
            except BinanceError as exc:
                results.append(exc.body())
        return results

    def cancel_all(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/allOpenOrders."""
        self.cancel_symbol(account, self._market.spec(opt(params, "symbol")).symbol)
        return dict(CANCEL_ALL_DONE)

    # ------------------------------------------------------------ for the other parts

    def accept(self, account: Account, request: OrderRequest, algo_id: int | None = None) -> Order:
        """Check an order against position, margin and book, then enter it (NEW)."""
        spec = self._market.specs[request.symbol]
        book = self.book(account)
        closing = self._closes(account, request)
        self._quant_rules.check(account, request.symbol, closing)
        if algo_id is None and book.open_with_client_id(request.client_order_id):
            raise err.DUPLICATE_CLIENT_ID
        if len(book.open.get(request.symbol, ())) >= self._rules.max_open_orders_per_symbol:
            raise err.MAX_OPEN_ORDERS
        execution = self._execution_price(request.symbol, request.side)
        quote = self._market.quotes[request.symbol]
        notional_price = request.price if request.type == "LIMIT" else execution
        if not closing:
            if request.quantity * notional_price < spec.min_notional:
                raise err.min_notional(plain(spec.min_notional))
            needed = (
                request.quantity * notional_price / self._accounts.leverage(account, request.symbol)
            )
            if needed > self._accounts.margins(account).available:
                raise err.MARGIN_INSUFFICIENT
        crosses = request.type == "MARKET" or self._crosses(request.side, request.price, execution)
        if request.type == "MARKET" and not (
            quote.mark * spec.multiplier_down <= execution <= quote.mark * spec.multiplier_up
        ):
            raise err.MARKET_PERCENT_PRICE
        if request.time_in_force == "GTX" and crosses:
            raise err.GTX_REJECT
        if request.time_in_force == "FOK" and not crosses:
            raise err.FOK_REJECT
        order = self._enter(account, request, algo_id)
        self._emit_order(account, order, "NEW")
        return order

    def match(self, account: Account, order: Order) -> None:
        """Execute what crosses now; rest or expire the remainder per timeInForce."""
        execution = self._execution_price(order.symbol, order.side)
        if order.type == "MARKET" or self._crosses(order.side, order.price, execution):
            self._fill(account, order, order.remaining, execution, maker=False)
        if order.open and (order.type == "MARKET" or order.time_in_force in ("IOC", "FOK")):
            self._finish(account, order, "EXPIRED")

    def match_resting(self, symbol: str) -> None:
        """Fill, as maker at their price, the resting LIMIT orders the last price reached."""
        last = self._market.quotes[symbol].last
        for account in self._accounts:
            resting = sorted(self.book(account).open_orders(symbol), key=lambda o: o.queue_position)
            for order in resting:
                if order.type == "LIMIT" and self._crosses(order.side, order.price, last):
                    self._fill(account, order, order.remaining, order.price, maker=True)

    def cancel_symbol(self, account: Account, symbol: str) -> int:
        """Cancel the account's open orders on a symbol; returns how many there were."""
        orders = self.book(account).open_orders(symbol)
        for order in orders:
            self._finish(account, order, "CANCELED")
        return len(orders)

    def recompute_order_margin(self, account: Account) -> None:
        """Re-derive the margin open orders hold (after the account's leverage changed)."""
        account.open_order_margin = sum(
            (self._order_margin(account, o) for o in self.book(account).open_orders()), ZERO
        )

    def expire_gtd(self, account: Account, now: int) -> None:
        for order in self.book(account).open_orders():
            if order.time_in_force == "GTD" and order.good_till_date <= now:
                self._finish(account, order, "EXPIRED")

    # ------------------------------------------------------------ rules

    def _parse(self, account: Account, params: Params) -> OrderRequest:
        spec = self._market.spec(opt(params, "symbol"))
        order_side = side(params)
        order_type = req(params, "type")
        if order_type not in ORDER_TYPES:
            raise err.INVALID_TYPE
        if order_type in CONDITIONAL_TYPES:
            raise err.STOP_ORDER_SWITCH_ALGO
        pos_side = position_side(params, account.dual_side)
        reducing = reduce_only(params, account.dual_side)
        if boolean(params, "closePosition"):
            raise err.not_required("closePosition")
        qty = dec(params, "quantity")
        spec.check_quantity(qty, market=order_type == "MARKET")
        if order_type == "LIMIT":
            tif = time_in_force(params)
            price = dec(params, "price")
            self._check_limit_price(spec, order_side, price)
        else:
            if opt(params, "price") is not None:
                raise err.not_required("price")
            tif, price = "GTC", ZERO
        good_till = integer(params, "goodTillDate", 0)
        if tif == "GTD" and good_till <= self._clock():
            raise err.mandatory("goodTillDate")
        return OrderRequest(
            symbol=spec.symbol,
            side=order_side,
            position_side=pos_side,
            type=order_type,
            time_in_force=tif,
            quantity=qty,
            price=price,
            reduce_only=reducing,
            # Drawn before the checks below: a seed replays ids in this order.
            client_order_id=opt(params, "newClientOrderId") or self._ids.random_id(22),
            working_type=working_type(params),
            price_protect=boolean(params, "priceProtect"),
            stp_mode=stp_mode(params),
            good_till_date=good_till if tif == "GTD" else 0,
        )

    def _check_limit_price(self, spec: SymbolSpec, order_side: str, price: Decimal) -> None:
        """PRICE_FILTER, then PERCENT_PRICE against the mark."""
        spec.check_price(price)
        mark = self._market.quotes[spec.symbol].mark
        if order_side == "BUY" and price > mark * spec.multiplier_up:
            raise err.PRICE_ABOVE_MULTIPLIER
        if order_side == "SELL" and price < mark * spec.multiplier_down:
            raise err.PRICE_BELOW_MULTIPLIER

    def _closes(self, account: Account, request: OrderRequest) -> bool:
        """Whether the order reduces a position (reduce-only ones must)."""
        if request.position_side == "BOTH":
            pos = account.positions.get((request.symbol, "BOTH"))
            reducing = bool(pos and pos.amount and (pos.amount > 0) == (request.side == "SELL"))
            if request.reduce_only and not reducing:
                raise err.REDUCE_ONLY_REJECT
            return reducing
        if (request.position_side == "LONG") != (request.side == "SELL"):
            return False
        pos = account.positions.get((request.symbol, request.position_side))
        if pos is None or not pos.amount:
            raise err.REDUCE_ONLY_REJECT
        return True

    @staticmethod
    def _crosses(side: str, limit: Decimal, price: Decimal) -> bool:
        return price <= limit if side == "BUY" else price >= limit

    def _execution_price(self, symbol: str, side: str) -> Decimal:
        bid, ask = self._market.book(symbol, self._rules.spread_ticks)
        return ask if side == "BUY" else bid

    def _enter(self, account: Account, request: OrderRequest, algo_id: int | None) -> Order:
        now = self._clock()
        order = Order(
            order_id=self._ids.order_id(),
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            position_side=request.position_side,
            type=request.type,
            orig_type=request.orig_type or request.type,
            time_in_force=request.time_in_force,
            price=request.price,
            orig_qty=request.quantity,
            reduce_only=request.reduce_only,
            close_position=request.close_position,
            stop_price=request.stop_price,
            working_type=request.working_type,
            price_protect=request.price_protect,
            self_trade_prevention_mode=request.stp_mode,
            good_till_date=request.good_till_date,
            time_ms=now,
            update_time_ms=now,
            algo_id=algo_id,
            queue_position=next(self._queue),
        )
        book = self.book(account)
        book.orders[order.order_id] = order
        book.open.setdefault(order.symbol, {})[order.order_id] = order
        book.client_ids[order.client_order_id] = order.order_id
        account.open_order_margin += self._order_margin(account, order)
        if order.time_in_force == "GTC" and order.type == "LIMIT":
            self._quant_rules.placed(account, order.symbol, now)
        return order

    def _fill(
        self, account: Account, order: Order, qty: Decimal, price: Decimal, *, maker: bool
    ) -> None:
        if order.reduce_only or order.position_side != "BOTH":
            closable = self._closable(account, order)
            if closable is not None:
                qty = min(qty, closable)
        if qty <= 0:
            self._finish(account, order, "EXPIRED")
            return
        spec = self._market.specs[order.symbol]
        now = self._clock()
        margin_before = self._order_margin(account, order)
        rate = self._rules.maker_fee_rate if maker else self._rules.taker_fee_rate
        fee = (qty * price * rate).quantize(EIGHT_PLACES)
        signed = qty if order.side == "BUY" else -qty
        pos, realized = self._accounts.settle_fill(
            account, order.symbol, order.position_side, signed, price, fee, now
        )
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if not order.remaining else "PARTIALLY_FILLED"
        order.update_time_ms = now
        account.open_order_margin += self._order_margin(account, order) - margin_before
        if not order.open:
            del self.book(account).open[order.symbol][order.order_id]
        trade_id = self._ids.trade_id()
        tran_id = self._ids.tran_id()
        self._trades.record(
            account,
            Fill(
                trade_id=trade_id,
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                position_side=order.position_side,
                price=price,
                qty=qty,
                realized_pnl=realized,
                commission=fee,
                time_ms=now,
                maker=maker,
            ),
        )
        if realized:
            self._accounts.book_income(
                account, order.symbol, "REALIZED_PNL", realized, tran_id, str(trade_id)
            )
        self._accounts.book_income(
            account, order.symbol, "COMMISSION", -fee, tran_id, str(trade_id)
        )
        trade = {
            "l": fixed(qty, spec.quantity_precision),
            "L": fixed(price, spec.price_precision),
            "n": fixed(fee, 8),
            "t": trade_id,
            "m": maker,
            "rp": fixed(realized, 8),
        }
        self._emit_order(account, order, "TRADE", trade)
        self._accounts.emit_account_update(account, "ORDER", [pos])
        if not order.open and order.algo_id is not None:
            self.on_algo_order_final(account, order)

    def _closable(self, account: Account, order: Order) -> Decimal | None:
        """How much of a closing order's position is left to close (None: it opens)."""
        pos = account.positions.get((order.symbol, order.position_side))
        amount = pos.amount if pos else ZERO
        if order.position_side == "BOTH":
            return abs(amount) if amount and (amount > 0) == (order.side == "SELL") else ZERO
        if (order.position_side == "LONG") == (order.side == "SELL"):
            return abs(amount)
        return None

    def _order_margin(self, account: Account, order: Order) -> Decimal:
        """Initial margin an open order holds (reduce-only and market orders hold none)."""
        if not order.open or order.reduce_only or order.type != "LIMIT":
            return ZERO
        return order.remaining * order.price / self._accounts.leverage(account, order.symbol)

    def _finish(self, account: Account, order: Order, status: str) -> None:
        account.open_order_margin -= self._order_margin(account, order)
        self.book(account).open[order.symbol].pop(order.order_id, None)
        order.status = status
        order.update_time_ms = self._clock()
        if status == "CANCELED" and order.time_in_force == "GTC" and order.type == "LIMIT":
            self._quant_rules.cancelled(account, order.symbol, self._clock())
        self._emit_order(account, order, status)
        if order.algo_id is not None:
            self.on_algo_order_final(account, order)

    def _find(self, account: Account, params: Params, missing: BinanceError) -> Order:
        """The order named by orderId or origClientOrderId on the request's symbol."""
        spec = self._market.spec(opt(params, "symbol"))
        order_id = integer(params, "orderId")
        client_id = opt(params, "origClientOrderId")
        book = self.book(account)
        if order_id is None:
            if client_id is None:
                raise err.either_param("orderId", "origClientOrderId")
            order_id = book.client_ids.get(client_id, 0)
        order = book.orders.get(order_id)
        if order is None or order.symbol != spec.symbol:
            raise missing
        return order

    def _emit_order(
        self, account: Account, order: Order, execution: str, trade: dict | None = None
    ) -> None:
        spec = self._market.specs[order.symbol]
        body = order.stream(spec)
        body["x"] = execution
        if trade:
            body |= trade
        if order.orig_type != order.type:
            body["sp"] = fixed(order.stop_price, spec.price_precision)
        now = self._clock()
        self._emit(account.name, {"e": "ORDER_TRADE_UPDATE", "T": now, "E": now, "o": body})
