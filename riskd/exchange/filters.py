"""Symbol filters from GET /fapi/v1/exchangeInfo: exact Decimal rounding and order checks.

Every job that places orders rounds prices and quantities here and checks the order before
sending it, so that what riskd sends is what Binance accepts. The simulator enforces the same
rules from the exchange's side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

ZERO: Final = Decimal(0)
SIDES: Final = ("BUY", "SELL")


class ExchangeInfoError(ValueError):
    """An exchangeInfo body riskd cannot trade from; the message names the symbol and field."""


class FilterViolation(ValueError):
    """An order that Binance would reject. ``filter`` names the exchangeInfo filter it breaks."""

    def __init__(self, symbol: str, filter_type: str, detail: str) -> None:
        super().__init__(f"{symbol} {filter_type}: {detail}")
        self.symbol = symbol
        self.filter = filter_type
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SymbolFilters:
    """One symbol's trading rules, with rounding onto its price and quantity grids.

    Prices snap to multiples of ``tick_size`` counted from zero, the check Binance applies
    (``price % tickSize == 0``); listed contracts have ``min_price`` on that grid. Results
    carry exactly the decimals of the tick or step: tick 0.10 gives ``Decimal("60000.1")``.
    ``multiplier_up``/``multiplier_down`` are None when the symbol has no PERCENT_PRICE filter.
    """

    symbol: str
    status: str
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    multiplier_up: Decimal | None
    multiplier_down: Decimal | None
    price_precision: int
    quantity_precision: int

    def floor_price(self, price: Decimal) -> Decimal:
        """The highest price on the tick grid at or below *price*."""
        return _snap(price, self.tick_size, ROUND_FLOOR)

    def ceil_price(self, price: Decimal) -> Decimal:
        """The lowest price on the tick grid at or above *price*."""
        return _snap(price, self.tick_size, ROUND_CEILING)

    def round_price(self, price: Decimal) -> Decimal:
        """The nearest price on the tick grid; a price halfway between two ticks goes up."""
        return _snap(price, self.tick_size, ROUND_HALF_UP)

    def floor_quantity(self, quantity: Decimal, *, market: bool = False) -> Decimal:
        """*quantity* rounded toward zero onto the LOT_SIZE (or MARKET_LOT_SIZE) step.

        Quantities never round up: an order sized from a position must not exceed it.
        """
        return _snap(quantity, self._lot(market)[0], ROUND_DOWN)

    def format_price(self, price: Decimal) -> str:
        """*price* as the string to send: the tick's decimals, never an exponent.

        Raises ValueError if *price* is off the tick grid; round it first, in the direction
        the caller needs.
        """
        return self._format("price", price, self.tick_size)

    def format_quantity(self, quantity: Decimal, *, market: bool = False) -> str:
        """*quantity* as the string to send; raises ValueError if it is off the step grid."""
        return self._format("quantity", quantity, self._lot(market)[0])

    def _lot(self, market: bool) -> tuple[Decimal, Decimal, Decimal]:
        """(step, min, max) of MARKET_LOT_SIZE if *market*, else of LOT_SIZE."""
        if market:
            return self.market_step_size, self.market_min_qty, self.market_max_qty
        return self.step_size, self.min_qty, self.max_qty

    def _format(self, what: str, value: Decimal, step: Decimal) -> str:
        if value % step:
            raise ValueError(f"{self.symbol}: {what} {value:f} is not a multiple of {step:f}")
        return f"{value.quantize(_quantum(step)):f}"


def _quantum(step: Decimal) -> Decimal:
    """The unit of the last significant decimal of *step*: 0.10 → 0.1, 5 → 1."""
    return Decimal(1).scaleb(min(0, int(step.normalize().as_tuple().exponent)))


def _snap(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """*value* rounded onto the multiples of *step*; exact, or InvalidOperation if too big."""
    # divmod truncates, so whole and rest share value's sign, and rounding the fraction
    # rest/step (between -1 and 1) rounds the whole quotient.
    whole, rest = divmod(value, step)
    steps = whole + (rest / step).to_integral_value(rounding=rounding)
    return (steps * step).quantize(_quantum(step))


def check_order(
    filters: SymbolFilters,
    *,
    side: str,
    quantity: Decimal,
    price: Decimal | None,
    mark_price: Decimal | None,
    reduce_only: bool,
    market: bool,
    trigger_price: Decimal | None = None,
) -> None:
    """Raise FilterViolation if Binance would reject this order by the symbol's filters.

    *price* is the limit price (None for orders that fill at market), *trigger_price* the
    trigger of a conditional order, and *market* selects MARKET_LOT_SIZE. The notional is
    priced at the limit price, else the trigger, else *mark_price*; reduce-only orders are
    exempt from MIN_NOTIONAL, as on Binance. PERCENT_PRICE applies to limit prices and is
    skipped without a mark price; checks with no price to judge by are skipped.
    """
    if side not in SIDES:
        raise ValueError(f"side must be BUY or SELL, got {side!r}")
    if market and price is not None:
        raise ValueError("an order that fills at market has no limit price")
    symbol = filters.symbol
    if filters.status != "TRADING":
        raise FilterViolation(symbol, "TRADING", f"status is {filters.status}, not TRADING")
    _check_quantity(filters, quantity, market=market)
    for name, value in (("price", price), ("triggerPrice", trigger_price)):
        if value is not None:
            _check_price(filters, name, value)
    if price is not None and mark_price is not None:
        _check_percent_price(filters, side, price, mark_price)
    reference = next((p for p in (price, trigger_price, mark_price) if p is not None), None)
    if reduce_only or reference is None:
        return
    notional = quantity * reference
    if notional < filters.min_notional:
        raise FilterViolation(
            symbol,
            "MIN_NOTIONAL",
            f"notional {notional:f} ({quantity:f} × {reference:f}) < {filters.min_notional:f}; "
            "only reduce-only orders are exempt",
        )


def _check_quantity(filters: SymbolFilters, quantity: Decimal, *, market: bool) -> None:
    lot = "MARKET_LOT_SIZE" if market else "LOT_SIZE"
    step, min_qty, max_qty = filters._lot(market)
    problem = None
    if quantity <= 0:
        problem = f"quantity {quantity:f} must be > 0"
    elif quantity % step:
        problem = f"quantity {quantity:f} is not a multiple of stepSize {step:f}"
    elif quantity < min_qty:
        problem = f"quantity {quantity:f} < minQty {min_qty:f}"
    elif quantity > max_qty:
        problem = f"quantity {quantity:f} > maxQty {max_qty:f}"
    if problem:
        raise FilterViolation(filters.symbol, lot, problem)


def _check_price(filters: SymbolFilters, name: str, price: Decimal) -> None:
    problem = None
    if price <= 0:
        problem = f"{name} {price:f} must be > 0"
    elif price % filters.tick_size:
        problem = f"{name} {price:f} is not a multiple of tickSize {filters.tick_size:f}"
    elif price < filters.min_price:
        problem = f"{name} {price:f} < minPrice {filters.min_price:f}"
    elif price > filters.max_price:
        problem = f"{name} {price:f} > maxPrice {filters.max_price:f}"
    if problem:
        raise FilterViolation(filters.symbol, "PRICE_FILTER", problem)


def _check_percent_price(filters: SymbolFilters, side: str, price: Decimal, mark: Decimal) -> None:
    up, down = filters.multiplier_up, filters.multiplier_down
    if up is None or down is None:
        return
    problem = None
    if side == "BUY" and price > mark * up:
        problem = f"BUY price {price:f} > mark {mark:f} × multiplierUp {up:f} = {mark * up:f}"
    elif side == "SELL" and price < mark * down:
        problem = (
            f"SELL price {price:f} < mark {mark:f} × multiplierDown {down:f} = {mark * down:f}"
        )
    if problem:
        raise FilterViolation(filters.symbol, "PERCENT_PRICE", problem)


def parse_exchange_info(body: Mapping[str, Any]) -> dict[str, SymbolFilters]:
    """The filters of every symbol in a GET /fapi/v1/exchangeInfo body, by symbol.

    Numbers may be JSON strings or numbers, and filters come in any order. Missing optional
    filters fall back: MARKET_LOT_SIZE to LOT_SIZE, MIN_NOTIONAL to 0, PERCENT_PRICE to no
    check. Raises ExchangeInfoError naming the symbol and field of the first problem.
    """
    symbols = body.get("symbols") if isinstance(body, Mapping) else None
    if not isinstance(symbols, list):
        raise ExchangeInfoError("exchangeInfo: symbols is missing or not a list")
    parsed: dict[str, SymbolFilters] = {}
    for index, entry in enumerate(symbols):
        filters = _parse_symbol(entry, index)
        if filters.symbol in parsed:
            raise ExchangeInfoError(f"exchangeInfo {filters.symbol}: listed twice")
        parsed[filters.symbol] = filters
    return parsed


def _parse_symbol(entry: object, index: int) -> SymbolFilters:
    symbol = entry.get("symbol") if isinstance(entry, Mapping) else None
    if not isinstance(entry, Mapping) or not isinstance(symbol, str) or not symbol:
        raise ExchangeInfoError(f"exchangeInfo symbols[{index}]: symbol is missing")
    context = f"exchangeInfo {symbol}"
    by_type = _filters_by_type(entry.get("filters"), context)

    def number(filter_type: str, key: str, *, positive: bool = False) -> Decimal:
        if filter_type not in by_type:
            raise ExchangeInfoError(f"{context}: {filter_type} is missing")
        return _decimal(
            by_type[filter_type], key, f"{context}: {filter_type}.{key}", positive=positive
        )

    market_lot = "MARKET_LOT_SIZE" if "MARKET_LOT_SIZE" in by_type else "LOT_SIZE"
    has_percent = "PERCENT_PRICE" in by_type
    status = entry.get("status")
    if not isinstance(status, str) or not status:
        raise ExchangeInfoError(f"{context}: status is missing")
    return SymbolFilters(
        symbol=symbol,
        status=status,
        tick_size=number("PRICE_FILTER", "tickSize", positive=True),
        min_price=number("PRICE_FILTER", "minPrice"),
        max_price=number("PRICE_FILTER", "maxPrice"),
        step_size=number("LOT_SIZE", "stepSize", positive=True),
        min_qty=number("LOT_SIZE", "minQty"),
        max_qty=number("LOT_SIZE", "maxQty"),
        market_step_size=number(market_lot, "stepSize", positive=True),
        market_min_qty=number(market_lot, "minQty"),
        market_max_qty=number(market_lot, "maxQty"),
        min_notional=number("MIN_NOTIONAL", "notional") if "MIN_NOTIONAL" in by_type else ZERO,
        multiplier_up=number("PERCENT_PRICE", "multiplierUp") if has_percent else None,
        multiplier_down=number("PERCENT_PRICE", "multiplierDown") if has_percent else None,
        price_precision=_count(entry, "pricePrecision", f"{context}: pricePrecision"),
        quantity_precision=_count(entry, "quantityPrecision", f"{context}: quantityPrecision"),
    )


def _filters_by_type(raw: object, context: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(raw, list):
        raise ExchangeInfoError(f"{context}: filters is missing or not a list")
    by_type: dict[str, Mapping[str, Any]] = {}
    for index, item in enumerate(raw):
        filter_type = item.get("filterType") if isinstance(item, Mapping) else None
        if not isinstance(item, Mapping) or not isinstance(filter_type, str):
            raise ExchangeInfoError(f"{context}: filters[{index}].filterType is missing")
        if filter_type in by_type:
            raise ExchangeInfoError(f"{context}: {filter_type} is listed twice")
        by_type[filter_type] = item
    return by_type


def _decimal(source: Mapping[str, Any], key: str, where: str, *, positive: bool = False) -> Decimal:
    """``source[key]`` as a finite Decimal ≥ 0 (> 0 if *positive*); *where* names it in errors."""
    if key not in source:
        raise ExchangeInfoError(f"{where} is missing")
    raw = source[key]
    value = None
    if isinstance(raw, str | int | float | Decimal) and not isinstance(raw, bool):
        try:
            # str() of a float parsed from JSON is its shortest repr: 0.1 reads as "0.1".
            value = Decimal(str(raw) if isinstance(raw, float) else raw)
        except InvalidOperation:
            value = None
    if value is None or not value.is_finite():
        raise ExchangeInfoError(f"{where}: {raw!r} is not a number")
    if value < 0 or (positive and value == 0):
        raise ExchangeInfoError(f"{where}: {raw!r} must be {'> 0' if positive else '≥ 0'}")
    return value


def _count(source: Mapping[str, Any], key: str, where: str) -> int:
    value = _decimal(source, key, where)
    if value != value.to_integral_value():
        raise ExchangeInfoError(f"{where}: {source[key]!r} is not a whole number")
    return int(value)
