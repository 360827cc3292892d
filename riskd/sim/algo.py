"""The algo order service: conditional orders held until the price reaches their trigger."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from riskd.sim import errors as err
from riskd.sim.accounts import Account, Accounts
from riskd.sim.errors import BinanceError
from riskd.sim.market import ZERO, SymbolSpec, plain
from riskd.sim.matching import CANCEL_ALL_DONE, Matching, OrderRequest
from riskd.sim.orders import CONDITIONAL_TYPES, AlgoOrder, Order
from riskd.sim.params import (
    Params,
    boolean,
    dec,
    integer,
    opt,
    opt_dec,
    position_side,
    reduce_only,
    req,
    side,
    stp_mode,
    time_in_force,
    working_type,
)
from riskd.sim.quant_rules import QuantRules
from riskd.sim.venue import Venue, VenuePart

_MIN_CALLBACK_RATE, _MAX_CALLBACK_RATE = Decimal("0.1"), Decimal("10")


@dataclass(slots=True)
class AlgoBook:
    """One account's algo orders: all of them, the open ones, and clientAlgoId -> newest
    algoId (an id may be reused once its earlier order is final)."""

    orders: dict[int, AlgoOrder] = field(default_factory=dict)
    open: dict[int, AlgoOrder] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)

    def open_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        return [a for a in self.open.values() if symbol is None or a.symbol == symbol]

    def done_orders(self) -> list[AlgoOrder]:
        return [a for a in self.orders.values() if a.algo_id not in self.open]


class AlgoService(VenuePart):
    """Holds each account's conditional orders (STOP, TAKE_PROFIT, their _MARKET forms and
    TRAILING_STOP_MARKET); when one triggers, places its order with the matching engine.
    Every change is an ALGO_UPDATE."""

    def __init__(
        self, venue: Venue, accounts: Accounts, matching: Matching, quant_rules: QuantRules
    ) -> None:
        super().__init__(venue)
        self._accounts = accounts
        self._matching = matching
        self._quant_rules = quant_rules
        self._books = {account.name: AlgoBook() for account in accounts}

    def book(self, account: Account) -> AlgoBook:
        return self._books[account.name]

    def holds_orders(self, account: Account) -> bool:
        return bool(self.book(account).open_orders())

    # ------------------------------------------------------------ endpoints

    def new_algo_order(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/algoOrder (algoType CONDITIONAL)."""
        if req(params, "algoType") != "CONDITIONAL":
            raise err.INVALID_ALGO_TYPE
        spec = self._market.spec(opt(params, "symbol"))
        order_side = side(params)
        order_type = req(params, "type")
        if order_type not in CONDITIONAL_TYPES:
            raise err.INVALID_TYPE
        pos_side = position_side(params, account.dual_side)
        reducing = reduce_only(params, account.dual_side)
        close_position = boolean(params, "closePosition")
        qty = self._quantity(spec, order_type, params, reducing, close_position)
        trigger, activate, callback = self._trigger(spec, order_type, params)
        if order_type in ("STOP", "TAKE_PROFIT"):
            price = dec(params, "price")
            spec.check_price(price)
            tif = time_in_force(params, "GTC")
        else:
            price, tif = ZERO, "GTC"
        working = working_type(params)
        # Drawn before the checks below (as is algoId): a seed replays ids in this order.
        client_id = opt(params, "clientAlgoId") or self._ids.random_id(22)
        book = self.book(account)
        if book.client_ids.get(client_id) in book.open:
            raise err.DUPLICATE_CLIENT_ID
        closing = (
            reducing
            or close_position
            or (pos_side != "BOTH" and (pos_side == "LONG") == (order_side == "SELL"))
        )
        self._quant_rules.check(account, spec.symbol, closing)
        notional_price = price or trigger or self._market.quotes[spec.symbol].last
        if not closing and qty * notional_price < spec.min_notional:
            raise err.min_notional(plain(spec.min_notional))
        if (
            len(book.open_orders()) >= self._rules.max_algo_orders_per_account
            or len(book.open_orders(spec.symbol)) >= self._rules.max_algo_orders_per_symbol
        ):
            raise err.MAX_STOP_ORDERS
        now = self._clock()
        algo = AlgoOrder(
            algo_id=self._ids.algo_id(),
            client_algo_id=client_id,
            symbol=spec.symbol,
            side=order_side,
            position_side=pos_side,
            order_type=order_type,
            time_in_force=tif,
            quantity=qty,
            trigger_price=trigger,
            price=price,
            working_type=working,
            close_position=close_position,
            price_protect=boolean(params, "priceProtect"),
            reduce_only=reducing,
            activate_price=activate,
            callback_rate=callback,
            self_trade_prevention_mode=stp_mode(params),
            good_till_date=integer(params, "goodTillDate", 0),
            create_time_ms=now,
            update_time_ms=now,
        )
        if order_type != "TRAILING_STOP_MARKET" and self._triggered(algo):
            raise err.WOULD_TRIGGER
        book.orders[algo.algo_id] = book.open[algo.algo_id] = algo
        book.client_ids[algo.client_algo_id] = algo.algo_id
        self._emit_algo(account, algo)
        return algo.ack(spec)

    def query_algo_order(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/algoOrder."""
        algo = self._find(account, params, err.NO_SUCH_ORDER)
        return algo.query(self._market.specs[algo.symbol])

    def open_algo_orders(self, account: Account, params: Params) -> list:
        """GET /fapi/v1/openAlgoOrders."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        return [
            a.listed(self._market.specs[a.symbol])
            for a in self.book(account).open_orders(spec.symbol if spec else None)
        ]

    def cancel_algo_order(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/algoOrder."""
        algo = self._find(account, params, err.UNKNOWN_ORDER)
        if not algo.open:
            raise err.UNKNOWN_ORDER
        self._cancel(account, algo)
        return {
            "algoId": algo.algo_id,
            "clientAlgoId": algo.client_algo_id,
            "code": "200",
            "msg": "success",
        }

    def cancel_all_algo(self, account: Account, params: Params) -> dict:
        """DELETE /fapi/v1/algoOpenOrders."""
        spec = self._market.spec(opt(params, "symbol"))
        for algo in self.book(account).open_orders(spec.symbol):
            self._cancel(account, algo)
        return dict(CANCEL_ALL_DONE)

    # ------------------------------------------------------------ triggering

    def check_triggers(self, symbol: str) -> None:
        """Fire, oldest first, the open algo orders on a symbol whose trigger is reached."""
        quote = self._market.quotes[symbol]
        protect = self._market.specs[symbol].trigger_protect
        for account in self._accounts:
            for algo in sorted(self.book(account).open_orders(symbol), key=lambda a: a.algo_id):
                if not self._triggered(algo):
                    continue
                if algo.price_protect and abs(quote.mark - quote.last) > quote.mark * protect:
                    continue
                self._fire(account, algo)

    def order_final(self, account: Account, order: Order) -> None:
        """The order a triggered algo order placed is final: the algo order is FINISHED."""
        algo = self.book(account).orders[order.algo_id]
        if algo.status != "TRIGGERED":
            return
        algo.status = "FINISHED"
        algo.actual_price = order.avg_price
        algo.actual_qty = order.executed_qty
        algo.update_time_ms = self._clock()
        self._emit_algo(account, algo)

    def _triggered(self, algo: AlgoOrder) -> bool:
        quote = self._market.quotes[algo.symbol]
        price = quote.mark if algo.working_type == "MARK_PRICE" else quote.last
        if algo.order_type == "TRAILING_STOP_MARKET":
            return self._trailing_triggered(algo, price)
        stop = algo.order_type.startswith("STOP")
        rising = (algo.side == "BUY") == stop
        return price >= algo.trigger_price if rising else price <= algo.trigger_price

    @staticmethod
    def _trailing_triggered(algo: AlgoOrder, price: Decimal) -> bool:
        """Track the best price since activation; trigger on a callbackRate % retrace."""
        sell = algo.side == "SELL"
        if algo.extreme_price is None:
            activated = algo.activate_price is None or (
                price >= algo.activate_price if sell else price <= algo.activate_price
            )
            if not activated:
                return False
            algo.extreme_price = price
        algo.extreme_price = (
            max(algo.extreme_price, price) if sell else min(algo.extreme_price, price)
        )
        retrace = (algo.callback_rate or ZERO) / 100
        if sell:
            return price <= algo.extreme_price * (1 - retrace)
        return price >= algo.extreme_price * (1 + retrace)

    def _fire(self, account: Account, algo: AlgoOrder) -> None:
        now = self._clock()
        self.book(account).open.pop(algo.algo_id, None)
        algo.status = "TRIGGERING"
        algo.trigger_time_ms = algo.update_time_ms = now
        self._emit_algo(account, algo)
        qty = algo.quantity
        if algo.close_position:
            pos = account.positions.get((algo.symbol, algo.position_side))
            qty = abs(pos.amount) if pos else ZERO
        request = OrderRequest(
            symbol=algo.symbol,
            side=algo.side,
            position_side=algo.position_side,
            type=algo.actual_type,
            time_in_force=algo.time_in_force if algo.actual_type == "LIMIT" else "GTC",
            quantity=qty,
            price=algo.price,
            reduce_only=algo.reduce_only or algo.close_position,
            client_order_id=algo.client_algo_id,
            working_type=algo.working_type,
            price_protect=algo.price_protect,
            stp_mode=algo.self_trade_prevention_mode,
            orig_type=algo.order_type,
            stop_price=algo.trigger_price,
            close_position=algo.close_position,
        )
        try:
            if qty <= 0:
                raise err.REDUCE_ONLY_REJECT
            order = self._matching.accept(account, request, algo_id=algo.algo_id)
        except BinanceError as exc:
            reason = "Reduce Only reject" if exc.code == -2022 else exc.msg
            self._cancel(account, algo, reason)
            return
        algo.status = "TRIGGERED"
        algo.actual_order_id = order.order_id
        self._emit_algo(account, algo)
        self._matching.match(account, order)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _quantity(
        spec: SymbolSpec, order_type: str, params: Params, reducing: bool, close_position: bool
    ) -> Decimal:
        """quantity; closePosition orders take none (they close whatever is open)."""
        if not close_position:
            qty = dec(params, "quantity")
            spec.check_quantity(qty, market=order_type not in ("STOP", "TAKE_PROFIT"))
            return qty
        if order_type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise err.not_required("closePosition")
        if opt(params, "quantity") is not None:
            raise err.not_required("quantity")
        if reducing:
            raise err.not_required("reduceOnly")
        return ZERO

    @staticmethod
    def _trigger(
        spec: SymbolSpec, order_type: str, params: Params
    ) -> tuple[Decimal, Decimal | None, Decimal | None]:
        """(trigger, activatePrice, callbackRate): a trailing stop's trigger is its
        activatePrice, zero without one."""
        if order_type != "TRAILING_STOP_MARKET":
            trigger = dec(params, "triggerPrice")
            spec.check_price(trigger)
            return trigger, None, None
        callback = dec(params, "callbackRate")
        if not _MIN_CALLBACK_RATE <= callback <= _MAX_CALLBACK_RATE:
            raise err.INVALID_CALLBACK_RATE
        activate = opt_dec(params, "activatePrice")
        if activate is not None:
            spec.check_price(activate)
        return activate or ZERO, activate, callback

    def _cancel(self, account: Account, algo: AlgoOrder, reason: str = "") -> None:
        self.book(account).open.pop(algo.algo_id, None)
        algo.status = "CANCELED"
        algo.update_time_ms = self._clock()
        self._emit_algo(account, algo, reason)

    def _find(self, account: Account, params: Params, missing: BinanceError) -> AlgoOrder:
        """The algo order named by algoId or clientAlgoId."""
        algo_id = integer(params, "algoId")
        book = self.book(account)
        if algo_id is None:
            client_id = opt(params, "clientAlgoId")
            if client_id is None:
                raise err.either_param("algoId", "clientAlgoId")
            algo_id = book.client_ids.get(client_id, 0)
        algo = book.orders.get(algo_id)
        if algo is None:
            raise missing
        return algo

    def _emit_algo(self, account: Account, algo: AlgoOrder, reason: str = "") -> None:
        now = self._clock()
        body = algo.stream(self._market.specs[algo.symbol], reason)
        self._emit(account.name, {"e": "ALGO_UPDATE", "T": now, "E": now, "o": body})
