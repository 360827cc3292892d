"""The pre-trade gate: whether riskd places the order a robot asks for, and if not, why.

Every order a robot places through riskd passes :func:`decide`, whatever protocol it came by.
``decide`` is pure: it judges by the :class:`GateContext` alone and changes nothing in it. The
caller records every decision (passed or refused), and records a passed order in the
:class:`~riskd.trade.recent.RecentOrders` the next decisions read.

Order of evaluation: the first check that fails refuses. The cheapest and most fundamental come
first, the ban list before the limits, and the exchange's filters last, just before sending:

1. ``SYMBOL_NOT_ALLOWED``: the symbol is not on the robot's whitelist.
2. ``UNKNOWN_SYMBOL``: riskd has no exchange filters for the symbol.
3. The ban list and trading state, for orders that are not reducing: ``BANLIST_MISSING``,
   ``BANLIST_EXPIRED`` (riskd cannot vouch for the list: fail closed), ``HALTED``,
   ``REDUCING``, ``BANNED_ALL`` (``all``, or an ``ALL`` lock on the side opened),
   ``BANNED_SYMBOL``.
4. The limits, each checked for the robot and then for the account: ``ORDER_RATE``,
   ``DUPLICATE``, ``PRICE_BAND``, ``ORDER_NOTIONAL``, and for orders that add exposure
   ``SYMBOL_EXPOSURE`` and ``ACCOUNT_EXPOSURE``. A limit that needs a mark price riskd does not
   have refuses with ``NO_MARK`` (fail closed). The rate counts the robot's passed orders
   against its limit and every robot's of the account against the account's; a duplicate is
   always the same robot's order, within the robot's window and within the account's.
   Then the robot's share of the wallet (``max_notional_usdt``, ``max_margin_usdt`` of
   ``[[robots]]``): ``ROBOT_NOTIONAL``, ``ROBOT_MARGIN``, judged on the robot's own positions
   (as its fills built them) and its own open orders, for an order that adds to them.
5. The exchange's filters (:func:`riskd.exchange.filters.check_order`): ``NOT_TRADING``,
   ``STEP_SIZE``, ``MIN_QTY``, ``MAX_QTY``, ``TICK_SIZE``, ``MIN_PRICE``, ``MAX_PRICE``,
   ``PERCENT_PRICE``, ``MIN_NOTIONAL`` (``NO_MARK`` for a market order's min notional without
   a mark).

An order is *reducing* when it can only reduce a position: it is reduce-only; or, in one-way
mode (BOTH), it is on the side opposite the position and its quantity, together with the open
orders on that side that are not reduce-only, is at most the position (so that several orders
cannot turn a position around between them); or, in hedge mode, it is a SELL on LONG or a BUY
on SHORT for at most that position. Reducing orders pass in HALTED and REDUCING and are never
refused by the ban list, which bans opening only; the other limits still apply to them, except
exposure.

Notional is the quantity at the order's price, or at the mark for a market order. Exposure is
gross, in USDT, and the account's (positions are not the robot's own): the absolute positions
at the mark, plus the open orders that would add to them at their prices (not reduce-only; in
hedge mode those opening their side; in one-way mode those with the position's sign, all of
them when flat, and those against it only for the quantity beyond the position, at their
highest price). A robot's exposure limits cap how far its orders may take the account's
exposure. An order adds exposure when the exposure with it is above the exposure without it;
an order that does not is never refused for exposure, even above the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Final, NamedTuple

from riskd.exchange.filters import FilterViolation, SymbolFilters, check_order
from riskd.orders import OpenOrder
from riskd.positions import PositionKey
from riskd.risk.banlist import BanList
from riskd.risk.locks import ALL, TradingState, is_banned
from riskd.risk.locks import PositionSide as BannedSide
from riskd.trade.config import LimitsConfig, RobotConfig
from riskd.trade.intent import OrderIntent, OrderType, PositionSide, Side
from riskd.trade.recent import RecentOrders

ZERO: Final = Decimal(0)
BPS: Final = Decimal(10_000)


class Refusal(StrEnum):
    """Why the gate refused an order."""

    SYMBOL_NOT_ALLOWED = "SYMBOL_NOT_ALLOWED"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    BANLIST_MISSING = "BANLIST_MISSING"
    BANLIST_EXPIRED = "BANLIST_EXPIRED"
    HALTED = "HALTED"
    REDUCING = "REDUCING"
    BANNED_ALL = "BANNED_ALL"
    BANNED_SYMBOL = "BANNED_SYMBOL"
    ORDER_RATE = "ORDER_RATE"
    DUPLICATE = "DUPLICATE"
    PRICE_BAND = "PRICE_BAND"
    ORDER_NOTIONAL = "ORDER_NOTIONAL"
    SYMBOL_EXPOSURE = "SYMBOL_EXPOSURE"
    ACCOUNT_EXPOSURE = "ACCOUNT_EXPOSURE"
    ROBOT_NOTIONAL = "ROBOT_NOTIONAL"
    ROBOT_MARGIN = "ROBOT_MARGIN"
    NO_MARK = "NO_MARK"
    NOT_TRADING = "NOT_TRADING"
    STEP_SIZE = "STEP_SIZE"
    MIN_QTY = "MIN_QTY"
    MAX_QTY = "MAX_QTY"
    TICK_SIZE = "TICK_SIZE"
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"
    PERCENT_PRICE = "PERCENT_PRICE"
    MIN_NOTIONAL = "MIN_NOTIONAL"


class Scope(StrEnum):
    """Whose limit refused an order: the robot's own, or its account's (every robot together)."""

    ROBOT = "robot"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class GateDecision:
    """What the gate decided. ``detail`` is one line naming the numbers; ``scope`` is set when
    a robot's or an account's limit refused."""

    passed: bool
    refusal: Refusal | None
    detail: str
    scope: Scope | None = None

    def __post_init__(self) -> None:
        if self.passed != (self.refusal is None):
            raise ValueError("refusal: set exactly when the order is refused")
        if self.passed and self.scope is not None:
            raise ValueError("scope: only a refusal has one")


@dataclass(frozen=True, slots=True)
class GateContext:
    """Everything :func:`decide` judges an order by, at ``now_ms``.

    ``banlist`` is the account's latest (None: riskd has none). ``filters`` are the order's
    symbol's (None: unknown symbol). ``positions`` are the account's signed amounts by
    (symbol, position side), every symbol; ``open_orders`` the account's open regular orders,
    every symbol; ``marks`` the mark price per symbol (a symbol left out has none). ``recent``
    is read only. ``robot_positions`` are the robot's own, as its fills built them (for its
    share of the wallet); ``leverage`` each symbol's (left out: 1x).
    """

    now_ms: int
    robot: RobotConfig
    account_limits: LimitsConfig
    banlist: BanList | None
    filters: SymbolFilters | None
    positions: Mapping[PositionKey, Decimal]
    open_orders: Sequence[OpenOrder]
    marks: Mapping[str, Decimal]
    recent: RecentOrders
    robot_positions: Mapping[PositionKey, Decimal] = field(default_factory=dict)
    leverage: Mapping[str, int] = field(default_factory=dict)


def decide(intent: OrderIntent, context: GateContext) -> GateDecision:
    """Whether *intent* may be sent, judged by *context*; checks in the module's order.

    Raises ValueError if the context is not the intent's (another robot, account or symbol).
    """
    _same_parties(intent, context)
    reducing = is_reducing(intent, context.positions, context.open_orders)
    scopes = (
        _Limits(Scope.ROBOT, context.robot.limits, f"robot {context.robot.name}"),
        _Limits(Scope.ACCOUNT, context.account_limits, f"account {intent.account}"),
    )
    refused = (
        _whitelist(intent, context)
        or _known_symbol(intent, context)
        or (None if reducing else _ban_list(intent, context))
        or _order_limits(intent, context, scopes)
        or (None if reducing else _exposure_limits(intent, context, scopes))
        or _robot_share(intent, context)
        or _exchange_filters(intent, context)
    )
    return refused or GateDecision(True, None, _passed_detail(intent, context, reducing))


def is_reducing(
    intent: OrderIntent, positions: Mapping[PositionKey, Decimal], open_orders: Iterable[OpenOrder]
) -> bool:
    """Whether *intent* can only reduce a position (see the module docstring)."""
    if intent.reduce_only:
        return True
    held = abs(positions.get(PositionKey(intent.symbol, intent.position_side), ZERO))
    if intent.position_side is PositionSide.LONG:
        return intent.side is Side.SELL and intent.quantity <= held
    if intent.position_side is PositionSide.SHORT:
        return intent.side is Side.BUY and intent.quantity <= held
    signed = positions.get(PositionKey(intent.symbol, PositionSide.BOTH), ZERO)
    closing = Side.SELL if signed > 0 else Side.BUY if signed < 0 else None
    if intent.side is not closing:
        return False
    pending = sum(
        (
            order.remaining_qty
            for order in open_orders
            if order.symbol == intent.symbol
            and order.position_side == PositionSide.BOTH
            and order.side == closing
            and not order.reduce_only
        ),
        ZERO,
    )
    return intent.quantity + pending <= held


class _Limits(NamedTuple):
    """One scope's limits, and who it is in a refusal's detail (``robot r1``)."""

    scope: Scope
    limits: LimitsConfig
    who: str


def _refuse(refusal: Refusal, detail: str, limits: _Limits | None = None) -> GateDecision:
    if limits is None:
        return GateDecision(False, refusal, detail)
    return GateDecision(False, refusal, f"{detail} ({limits.who})", limits.scope)


def _same_parties(intent: OrderIntent, context: GateContext) -> None:
    robot = context.robot
    if intent.robot != robot.name:
        raise ValueError(f"robot: the order is {intent.robot}'s, the context {robot.name}'s")
    if intent.account != robot.account:
        raise ValueError(
            f"account: robot {robot.name} trades on {robot.account}, not on {intent.account}"
        )
    if context.banlist is not None and context.banlist.account != intent.account:
        raise ValueError(f"banlist: account {context.banlist.account}'s, not {intent.account}'s")
    if context.filters is not None and context.filters.symbol != intent.symbol:
        raise ValueError(f"filters: {context.filters.symbol}'s, not {intent.symbol}'s")


def _whitelist(intent: OrderIntent, context: GateContext) -> GateDecision | None:
    allowed = context.robot.symbols
    if allowed is None or intent.symbol in allowed:
        return None
    return _refuse(
        Refusal.SYMBOL_NOT_ALLOWED,
        f"{intent.symbol} is not among robot {intent.robot}'s symbols ({', '.join(allowed)})",
    )


def _known_symbol(intent: OrderIntent, context: GateContext) -> GateDecision | None:
    if context.filters is not None:
        return None
    return _refuse(Refusal.UNKNOWN_SYMBOL, f"no exchange filters for {intent.symbol}")


def _ban_list(intent: OrderIntent, context: GateContext) -> GateDecision | None:
    banlist, now_ms = context.banlist, context.now_ms
    if banlist is None:
        return _refuse(
            Refusal.BANLIST_MISSING,
            f"no ban list for account {intent.account}: only reducing orders pass",
        )
    version = f"ban list v{banlist.version}"
    if banlist.expired(now_ms):
        return _refuse(
            Refusal.BANLIST_EXPIRED,
            f"{version} of account {intent.account} expired {now_ms - banlist.valid_until_ms} ms "
            f"ago (valid until {banlist.valid_until_ms}): only reducing orders pass",
        )
    if banlist.state is not TradingState.ACTIVE:
        refusal = Refusal.HALTED if banlist.state is TradingState.HALTED else Refusal.REDUCING
        return _refuse(
            refusal,
            f"account {intent.account} is {banlist.state} ({version}): only reducing orders pass",
        )
    if banlist.all:
        return _refuse(
            Refusal.BANNED_ALL, f"every symbol of account {intent.account} is banned ({version})"
        )
    side = _opened_side(intent)
    # ALL locks first: a ban of every symbol is the more fundamental reason.
    for lock in sorted(banlist.locks, key=lambda lock: lock.symbol != ALL):
        if is_banned((lock,), intent.symbol, side, now_ms, intent.robot):
            until = "unlocked" if lock.until_ms is None else str(lock.until_ms)
            whom = f" for robot {lock.robot}" if lock.robot else ""
            return _refuse(
                Refusal.BANNED_ALL if lock.symbol == ALL else Refusal.BANNED_SYMBOL,
                f"lock {lock.id} ({lock.reason_code}) bans opening {side} on {lock.symbol}"
                f"{whom} until {until} ({version})",
            )
    return None


def _opened_side(intent: OrderIntent) -> BannedSide:
    """The side of the position an order that is not reducing opens or adds to."""
    if intent.position_side is PositionSide.BOTH:
        return "long" if intent.side is Side.BUY else "short"
    return "long" if intent.position_side is PositionSide.LONG else "short"


def _order_limits(
    intent: OrderIntent, context: GateContext, scopes: Sequence[_Limits]
) -> GateDecision | None:
    for check in (_rate, _duplicate, _price_band, _order_notional):
        for limits in scopes:
            if refused := check(intent, context, limits):
                return refused
    return None


def _rate(intent: OrderIntent, context: GateContext, limits: _Limits) -> GateDecision | None:
    most = limits.limits.max_orders_per_second
    if most is None:
        return None
    if limits.scope is Scope.ROBOT:
        sent = context.recent.rate(intent.robot, context.now_ms)
    else:
        sent = context.recent.account_rate(intent.account, context.now_ms)
    if sent < most:
        return None
    return _refuse(
        Refusal.ORDER_RATE, f"{sent} orders in the last second, max {most} per second", limits
    )


def _duplicate(intent: OrderIntent, context: GateContext, limits: _Limits) -> GateDecision | None:
    window_ms = limits.limits.duplicate_window_ms
    if intent.intended_duplicate or window_ms == 0:
        return None
    if not context.recent.duplicate(
        intent.robot, intent.symbol, intent.side, intent.quantity, context.now_ms, window_ms
    ):
        return None
    return _refuse(
        Refusal.DUPLICATE,
        f"{intent.side} {intent.quantity:f} {intent.symbol} again within {window_ms} ms; "
        "mark it intended to send it anyway",
        limits,
    )


def _price_band(intent: OrderIntent, context: GateContext, limits: _Limits) -> GateDecision | None:
    band_bps = limits.limits.price_band_bps
    if band_bps is None or intent.price is None:
        return None
    mark = context.marks.get(intent.symbol)
    if mark is None:
        return _no_mark(intent.symbol, "check the price band", limits)
    off_bps = (intent.price - mark) / mark * BPS
    if abs(off_bps) <= band_bps:
        return None
    where = "above" if off_bps > 0 else "below"
    return _refuse(
        Refusal.PRICE_BAND,
        f"price {intent.price:f} is {abs(off_bps):.1f} bps {where} mark {mark:f}, "
        f"band {band_bps} bps",
        limits,
    )


def _order_notional(
    intent: OrderIntent, context: GateContext, limits: _Limits
) -> GateDecision | None:
    most = limits.limits.max_order_notional
    if most is None:
        return None
    price = intent.price if intent.price is not None else context.marks.get(intent.symbol)
    if price is None:
        return _no_mark(intent.symbol, "price the market order's notional", limits)
    notional = intent.quantity * price
    if notional <= most:
        return None
    return _refuse(
        Refusal.ORDER_NOTIONAL,
        f"notional {_usdt(notional)} USDT ({intent.quantity:f} × {price:f}) > max "
        f"{_usdt(most)} USDT",
        limits,
    )


def _no_mark(symbol: str, to: str, limits: _Limits | None = None) -> GateDecision:
    return _refuse(Refusal.NO_MARK, f"no mark price for {symbol} to {to}", limits)


def _usdt(amount: Decimal) -> str:
    """*amount* without trailing zeros or an exponent: 12000.0000 → 12000."""
    return f"{amount.normalize():f}"


class _Pending(NamedTuple):
    """An order that may add exposure; ``price`` None: at the mark."""

    symbol: str
    side: str
    position_side: str
    quantity: Decimal
    price: Decimal | None


class _MissingMark(Exception):
    """Exposure cannot be valued: *symbol* has no mark price."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol


class _Exposure(NamedTuple):
    positions: Decimal
    orders: Decimal

    @property
    def total(self) -> Decimal:
        return self.positions + self.orders


def _exposure_limits(
    intent: OrderIntent, context: GateContext, scopes: Sequence[_Limits]
) -> GateDecision | None:
    per_symbol = [(lim, lim.limits.max_symbol_exposure) for lim in scopes]
    per_account = [(lim, lim.limits.max_account_exposure) for lim in scopes]
    if all(most is None for _, most in per_symbol + per_account):
        return None
    pending = [
        _Pending(
            order.symbol, order.side, order.position_side, order.remaining_qty, order.price or None
        )
        for order in context.open_orders
        if not order.reduce_only and order.remaining_qty > 0
    ]
    ordered = _Pending(
        intent.symbol, intent.side, intent.position_side, intent.quantity, intent.price
    )
    symbol = intent.symbol
    try:
        before = _symbol_exposure(symbol, context.positions, pending, context.marks)
        after = _symbol_exposure(symbol, context.positions, [*pending, ordered], context.marks)
    except _MissingMark as missing:
        limits = next(lim for lim, most in per_symbol + per_account if most is not None)
        return _no_mark(missing.symbol, f"value {symbol}'s exposure", limits)
    added = after.total - before.total
    if added <= 0:
        return None
    parts = (
        f"positions {_usdt(before.positions)} + open orders {_usdt(before.orders)} + this "
        f"order {_usdt(added)}"
    )
    for limits, most in per_symbol:
        if most is not None and after.total > most:
            return _refuse(
                Refusal.SYMBOL_EXPOSURE,
                f"{symbol} exposure {_usdt(after.total)} USDT > max {_usdt(most)} USDT: {parts}",
                limits,
            )
    if all(most is None for _, most in per_account):
        return None
    try:
        account_before = sum(_exposures(context.positions, pending, context.marks).values(), ZERO)
    except _MissingMark as missing:
        limits = next(lim for lim, most in per_account if most is not None)
        return _no_mark(missing.symbol, "value the account's exposure", limits)
    account_after = account_before + added
    for limits, most in per_account:
        if most is not None and account_after > most:
            return _refuse(
                Refusal.ACCOUNT_EXPOSURE,
                f"account exposure {_usdt(account_after)} USDT > max {_usdt(most)} USDT: "
                f"{_usdt(account_before)} + this order {_usdt(added)}",
                limits,
            )
    return None


def _robot_share(intent: OrderIntent, context: GateContext) -> GateDecision | None:
    """The robot's own share of the wallet: its positions and its own open orders that would
    add to them, as gross notional and as margin; only an order adding to them is refused."""
    robot = context.robot
    if robot.max_notional_usdt is None and robot.max_margin_usdt is None:
        return None
    limits = _Limits(Scope.ROBOT, robot.limits, f"robot {robot.name}")
    own = [
        _Pending(
            order.symbol, order.side, order.position_side, order.remaining_qty, order.price or None
        )
        for order in context.open_orders
        if not order.reduce_only
        and order.remaining_qty > 0
        and order.client_order_id.startswith(robot.prefixes)
    ]
    ordered = _Pending(
        intent.symbol, intent.side, intent.position_side, intent.quantity, intent.price
    )
    positions = context.robot_positions
    try:
        before = _exposures(positions, own, context.marks)
        after = _exposures(positions, [*own, ordered], context.marks)
    except _MissingMark as missing:
        return _no_mark(missing.symbol, f"value robot {robot.name}'s share", limits)
    if after.get(intent.symbol, ZERO) <= before.get(intent.symbol, ZERO):
        return None
    shares = (
        (
            Refusal.ROBOT_NOTIONAL,
            "gross notional",
            sum(after.values(), ZERO),
            robot.max_notional_usdt,
        ),
        (
            Refusal.ROBOT_MARGIN,
            "margin in use",
            sum((value / context.leverage.get(s, 1) for s, value in after.items()), ZERO),
            robot.max_margin_usdt,
        ),
    )
    for refusal, what, used, most in shares:
        if most is not None and used > most:
            detail = f"its {what} {_usdt(used)} USDT with this order > max {_usdt(most)} USDT"
            return _refuse(refusal, detail, limits)
    return None


def _exposures(
    positions: Mapping[PositionKey, Decimal],
    pending: Sequence[_Pending],
    marks: Mapping[str, Decimal],
) -> dict[str, Decimal]:
    """Each symbol's gross exposure (positions and pending orders, see ``_symbol_exposure``)."""
    held: dict[str, dict[PositionKey, Decimal]] = {}
    for key, amount in positions.items():
        if amount:
            held.setdefault(key.symbol, {})[key] = amount
    orders: dict[str, list[_Pending]] = {}
    for order in pending:
        orders.setdefault(order.symbol, []).append(order)
    return {
        symbol: _symbol_exposure(symbol, held.get(symbol, {}), orders.get(symbol, []), marks).total
        for symbol in sorted(held.keys() | orders.keys())
    }


def _symbol_exposure(
    symbol: str,
    positions: Mapping[PositionKey, Decimal],
    pending: Sequence[_Pending],
    marks: Mapping[str, Decimal],
) -> _Exposure:
    """*symbol*'s gross exposure: its positions at the mark, and the pending orders that would
    add to them (see the module docstring)."""

    def mark() -> Decimal:
        price = marks.get(symbol)
        if price is None:
            raise _MissingMark(symbol)
        return price

    def notional(order: _Pending) -> Decimal:
        return order.quantity * (mark() if order.price is None else order.price)

    held = sum((abs(amount) for key, amount in positions.items() if key.symbol == symbol), ZERO)
    mine = [order for order in pending if order.symbol == symbol]
    orders = sum(
        (
            notional(order)
            for order in mine
            if (order.position_side, order.side)
            in ((PositionSide.LONG, Side.BUY), (PositionSide.SHORT, Side.SELL))
        ),
        ZERO,
    )
    signed = positions.get(PositionKey(symbol, PositionSide.BOTH), ZERO)
    for side in Side:
        one_way = [o for o in mine if o.position_side == PositionSide.BOTH and o.side == side]
        closing = (side is Side.SELL and signed > 0) or (side is Side.BUY and signed < 0)
        if not closing:
            orders += sum((notional(order) for order in one_way), ZERO)
            continue
        beyond = sum((order.quantity for order in one_way), ZERO) - abs(signed)
        if beyond > 0:
            orders += beyond * max(mark() if o.price is None else o.price for o in one_way)
    return _Exposure(held * mark() if held else ZERO, orders)


def _exchange_filters(intent: OrderIntent, context: GateContext) -> GateDecision | None:
    filters = context.filters
    if filters is None:  # refused as UNKNOWN_SYMBOL before
        return None
    market = intent.type is OrderType.MARKET
    mark = context.marks.get(intent.symbol)
    try:
        check_order(
            filters,
            side=intent.side,
            quantity=intent.quantity,
            price=intent.price,
            mark_price=mark,
            reduce_only=intent.reduce_only,
            market=market,
        )
    except FilterViolation as violation:
        return _refuse(_filter_refusal(violation, intent, filters), str(violation))
    if market and mark is None and not intent.reduce_only and filters.min_notional > 0:
        return _no_mark(intent.symbol, "check the exchange's min notional")
    return None


_BY_FILTER: Final = {
    "TRADING": Refusal.NOT_TRADING,
    "PERCENT_PRICE": Refusal.PERCENT_PRICE,
    "MIN_NOTIONAL": Refusal.MIN_NOTIONAL,
}


def _filter_refusal(
    violation: FilterViolation, intent: OrderIntent, filters: SymbolFilters
) -> Refusal:
    """Which of the filter's checks *violation* failed (``check_order`` names only the filter)."""
    if violation.filter in ("LOT_SIZE", "MARKET_LOT_SIZE"):
        market = violation.filter == "MARKET_LOT_SIZE"
        step = filters.market_step_size if market else filters.step_size
        min_qty = filters.market_min_qty if market else filters.min_qty
        if intent.quantity % step:
            return Refusal.STEP_SIZE
        return Refusal.MIN_QTY if intent.quantity < min_qty else Refusal.MAX_QTY
    if violation.filter == "PRICE_FILTER" and intent.price is not None:
        if intent.price % filters.tick_size:
            return Refusal.TICK_SIZE
        return Refusal.MIN_PRICE if intent.price < filters.min_price else Refusal.MAX_PRICE
    return _BY_FILTER[violation.filter]


def _passed_detail(intent: OrderIntent, context: GateContext, reducing: bool) -> str:
    price = intent.price if intent.price is not None else context.marks.get(intent.symbol)
    at = "" if intent.price is None else f" at {intent.price:f}"
    notional = "" if price is None else f", notional {_usdt(intent.quantity * price)} USDT"
    flags = ", reduce-only" if intent.reduce_only else ""
    return (
        f"{intent.side} {intent.quantity:f} {intent.symbol} {intent.type}{at} "
        f"({intent.position_side}{flags}): {'reducing' if reducing else 'opening'}{notional}"
    )
