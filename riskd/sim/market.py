"""Symbols, their exchangeInfo filters, and the prices the simulator trades against."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from riskd.core.display import plain
from riskd.sim import errors as err

ZERO = Decimal(0)
# Binance settles fees, funding and PnL to 8 decimals.
EIGHT_PLACES = Decimal("0.00000001")


def fixed(value: Decimal, places: int) -> str:
    """Format like Binance: a fixed number of decimals, never an exponent."""
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"


def decimals(step: Decimal) -> int:
    """Number of decimals in a tick or step size ("0.010" → 2, "1" → 0)."""
    return max(0, -step.normalize().as_tuple().exponent)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A perpetual contract and its trading filters, as exchangeInfo publishes them."""

    symbol: str
    base_asset: str
    initial_price: Decimal
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    min_price: Decimal
    max_price: Decimal
    price_precision: int
    quantity_precision: int
    maint_margin_rate: Decimal = Decimal("0.004")
    multiplier_up: Decimal = Decimal("1.0500")
    multiplier_down: Decimal = Decimal("0.9500")
    trigger_protect: Decimal = Decimal("0.0500")
    quote_asset: str = "USDT"
    # Leverage brackets (see ``brackets``): the first bracket's leverage and notional cap.
    max_leverage: int = 125
    first_bracket_cap: Decimal = Decimal(50_000)

    def floor_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_DOWN) * self.tick_size

    def trade_price(self, price: Decimal) -> Decimal:
        """*price* as the symbol trades it: floored to the tick, never below one tick."""
        return self.floor_price(max(self.tick_size, price))

    def check_price(self, price: Decimal) -> None:
        """PRICE_FILTER: precision, tick size, then the price range."""
        if decimals(price) > self.price_precision:
            raise err.BAD_PRECISION
        if price % self.tick_size:
            raise err.PRICE_TICK
        if price < self.min_price:
            raise err.PRICE_BELOW_MIN
        if price > self.max_price:
            raise err.PRICE_ABOVE_MAX

    def check_quantity(self, qty: Decimal, *, market: bool) -> None:
        """LOT_SIZE, or MARKET_LOT_SIZE's maximum for orders that execute at market."""
        if qty <= 0:
            raise err.QTY_NOT_POSITIVE
        if decimals(qty) > self.quantity_precision:
            raise err.BAD_PRECISION
        if qty % self.step_size:
            raise err.QTY_STEP
        if qty < self.min_qty:
            raise err.qty_below_min(plain(self.min_qty))
        max_qty = self.market_max_qty if market else self.max_qty
        if qty > max_qty:
            raise err.qty_above_max(plain(max_qty))

    def exchange_info(self, max_open_orders: int, max_algo_orders: int) -> dict:
        """This symbol's entry in GET /fapi/v1/exchangeInfo (real key names and order)."""
        return {
            "symbol": self.symbol,
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": self.base_asset,
            "quoteAsset": self.quote_asset,
            "marginAsset": self.quote_asset,
            "pricePrecision": self.price_precision,
            "quantityPrecision": self.quantity_precision,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "settlePlan": 0,
            "triggerProtect": fixed(self.trigger_protect, 4),
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "minPrice": plain(self.min_price),
                    "maxPrice": plain(self.max_price),
                    "filterType": "PRICE_FILTER",
                    "tickSize": plain(self.tick_size),
                },
                {
                    "stepSize": plain(self.step_size),
                    "filterType": "LOT_SIZE",
                    "maxQty": plain(self.max_qty),
                    "minQty": plain(self.min_qty),
                },
                {
                    "stepSize": plain(self.step_size),
                    "filterType": "MARKET_LOT_SIZE",
                    "maxQty": plain(self.market_max_qty),
                    "minQty": plain(self.min_qty),
                },
                {"limit": max_open_orders, "filterType": "MAX_NUM_ORDERS"},
                {"limit": max_algo_orders, "filterType": "MAX_NUM_ALGO_ORDERS"},
                {"notional": plain(self.min_notional), "filterType": "MIN_NOTIONAL"},
                {
                    "multiplierDown": fixed(self.multiplier_down, 4),
                    "multiplierUp": fixed(self.multiplier_up, 4),
                    "multiplierDecimal": "4",
                    "filterType": "PERCENT_PRICE",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }


def _spec(
    symbol: str,
    price: str,
    tick: str,
    step: str,
    min_notional: str,
    max_qty: str,
    market_max_qty: str,
    min_price: str,
    max_price: str,
    price_precision: int,
    quantity_precision: int,
    max_leverage: int,
    first_bracket_cap: int,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        initial_price=Decimal(price),
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(max_qty),
        market_max_qty=Decimal(market_max_qty),
        min_notional=Decimal(min_notional),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        price_precision=price_precision,
        quantity_precision=quantity_precision,
        max_leverage=max_leverage,
        first_bracket_cap=Decimal(first_bracket_cap),
    )


# Filters as Binance publishes them for these contracts: tick, step, minNotional, limits, then
# the maximum leverage and the first leverage bracket's notional cap.
# fmt: off
DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    _spec("BTCUSDT", "60000", "0.10", "0.001", "100", "1000", "120", "261.10", "809484", 2, 3,
          125, 50_000),
    _spec("ETHUSDT", "3000", "0.01", "0.001", "20", "10000", "2000", "39.86", "306177", 2, 3,
          125, 50_000),
    _spec("SOLUSDT", "150", "0.0100", "1", "5", "1000000", "5000", "0.4200", "6857", 4, 0,
          100, 5_000),
    _spec("DOGEUSDT", "0.15", "0.000010", "1", "5", "5e7", "3e7", "0.002440", "30", 6, 0,
          75, 5_000),
)
# fmt: on


@dataclass(slots=True)
class Quote:
    """Mark price (margin, PnL, MARK_PRICE triggers) and last price (fills, CONTRACT_PRICE)."""

    mark: Decimal
    last: Decimal
    funding_rate: Decimal
    history: list[tuple[int, Decimal]] = field(default_factory=list)


def _time_of(entry: tuple[int, Decimal]) -> int:
    return entry[0]


class Market:
    """Prices per symbol: a seeded random walk or values set through the control API."""

    def __init__(
        self,
        symbols: tuple[SymbolSpec, ...],
        seed: int,
        funding_rate: Decimal,
        walk_step_bps: int,
    ) -> None:
        self.specs = {s.symbol: s for s in symbols}
        self._rng = random.Random(seed)
        self._walk_step = Decimal(walk_step_bps) / Decimal(10_000)
        self.quotes = {
            s.symbol: Quote(s.initial_price, s.initial_price, funding_rate) for s in symbols
        }

    def spec(self, symbol: str | None) -> SymbolSpec:
        """The contract a request names; Binance's error if it names none or an unknown one."""
        if symbol is None:
            raise err.mandatory("symbol")
        try:
            return self.specs[symbol]
        except KeyError:
            raise err.INVALID_SYMBOL from None

    def optional_spec(self, symbol: str | None) -> SymbolSpec | None:
        """As ``spec``, for endpoints where no symbol means every symbol (None)."""
        return None if symbol is None else self.spec(symbol)

    def set_price(self, symbol: str, mark: Decimal, last: Decimal | None, now_ms: int) -> None:
        spec = self.specs[symbol]
        quote = self.quotes[symbol]
        quote.mark = mark
        quote.last = spec.trade_price(last if last is not None else mark)
        self._record(symbol, now_ms)

    def walk(self, now_ms: int) -> None:
        """One random-walk step for every symbol (deterministic for the seed)."""
        for symbol, quote in self.quotes.items():
            spec = self.specs[symbol]
            move = Decimal(self._rng.choice((-1, 0, 1))) * self._walk_step
            mark = max(spec.tick_size, quote.mark * (1 + move))
            quote.mark = mark.quantize(EIGHT_PLACES)
            quote.last = spec.trade_price(quote.mark)
            self._record(symbol, now_ms)

    def _record(self, symbol: str, now_ms: int) -> None:
        history = self.quotes[symbol].history
        history.append((now_ms, self.quotes[symbol].last))
        if len(history) > 20_000:
            del history[:10_000]

    def book(self, symbol: str, spread_ticks: int) -> tuple[Decimal, Decimal]:
        """Best bid and ask around the last price."""
        spec = self.specs[symbol]
        last = self.quotes[symbol].last
        half = spec.tick_size * spread_ticks
        return max(spec.tick_size, last - half), last + half

    def depth(self, symbol: str, limit: int, spread_ticks: int) -> tuple[list, list]:
        spec = self.specs[symbol]
        bid, ask = self.book(symbol, spread_ticks)
        rng = random.Random(f"{symbol}:{bid}")
        levels = []
        for i in range(limit):
            qty = spec.min_qty * rng.randint(1, 500)
            levels.append((i, qty))

        def level(price: Decimal, qty: Decimal) -> list[str]:
            return [fixed(price, spec.price_precision), fixed(qty, spec.quantity_precision)]

        bids = [level(max(spec.tick_size, bid - i * spec.tick_size), q) for i, q in levels]
        asks = [level(ask + i * spec.tick_size, q) for i, q in levels]
        return bids, asks

    def klines(self, symbol: str, interval_ms: int, limit: int, end_ms: int) -> list[list]:
        """OHLC rows ending with the interval containing end_ms; history before the
        simulator started is synthesised deterministically from the symbol and open time."""
        spec = self.specs[symbol]
        history = self.quotes[symbol].history
        current_open = end_ms - end_ms % interval_ms
        rows = []
        for k in range(limit - 1, -1, -1):
            open_ms = current_open - k * interval_ms
            close_ms = open_ms + interval_ms - 1
            # The history is in time order: the clock never goes back.
            first = bisect_left(history, open_ms, key=_time_of)
            prices = [p for _, p in history[first : bisect_right(history, close_ms, key=_time_of)]]
            if not prices:
                rng = random.Random(f"{symbol}:{open_ms}")
                base = self.quotes[symbol].last * (1 + Decimal(rng.randint(-50, 50)) / 10_000)
                prices = [
                    spec.trade_price(base * (1 + Decimal(rng.randint(-10, 10)) / 10_000))
                    for _ in range(4)
                ]
            volume = spec.min_qty * (len(prices) * 7 % 97 + 1)
            quote_volume = volume * prices[-1]
            rows.append(
                [
                    open_ms,
                    fixed(prices[0], spec.price_precision),
                    fixed(max(prices), spec.price_precision),
                    fixed(min(prices), spec.price_precision),
                    fixed(prices[-1], spec.price_precision),
                    fixed(volume, spec.quantity_precision),
                    close_ms,
                    fixed(quote_volume, 5),
                    len(prices),
                    fixed(volume / 2, spec.quantity_precision),
                    fixed(quote_volume / 2, 5),
                    "0",
                ]
            )
        return rows
