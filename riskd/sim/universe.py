"""The listed contracts: Binance's four defaults, then generated ones (``[sim] symbols = N``).

A generated contract gets filters of the kinds Binance publishes: a power-of-ten tick (printed
with one extra decimal for some, like BTCUSDT's "0.10"), a step worth a few cents to tens of
dollars at its price, a MIN_NOTIONAL of 5 to 100 USDT, a price range around the price and a
leverage ladder of 20x to 75x. Everything is drawn from one generator seeded with the
simulator's seed, so a seed always lists the same contracts.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_CEILING, Decimal

from riskd.sim.market import DEFAULT_SYMBOLS, SymbolSpec, decimals

_MIN_NOTIONALS = (5, 5, 5, 10, 20, 100)
_MAX_LEVERAGES = (20, 25, 50, 75, 75)
_FIRST_BRACKET_CAPS = (5_000, 10_000, 25_000)
_PERCENT_PRICE = ((Decimal("1.0500"), Decimal("0.9500")), (Decimal("1.1000"), Decimal("0.9000")))


def build_universe(count: int, seed: int) -> tuple[SymbolSpec, ...]:
    """The first *count* contracts: the defaults, then SIM001USDT, SIM002USDT, …"""
    rng = random.Random(f"riskd-sim-universe:{seed}")
    generated = [_generate(index, rng) for index in range(1, count - len(DEFAULT_SYMBOLS) + 1)]
    return DEFAULT_SYMBOLS[:count] + tuple(generated)


def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


def _ceil_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(ROUND_CEILING) * step


def _generate(index: int, rng: random.Random) -> SymbolSpec:
    base = f"SIM{index:03d}"
    # Prices from 0.0001 to 50 000 USDT, evenly spread in log scale.
    raw_price = Decimal(str(10 ** rng.uniform(-4, math.log10(50_000))))
    magnitude = math.floor(math.log10(raw_price))
    tick = _power_of_ten(magnitude - rng.choice((3, 4)))
    # Some contracts print one decimal more than their tick ("0.10"), as BTCUSDT does.
    price_precision = decimals(tick) + rng.choice((0, 0, 1))
    price = max(tick, (raw_price / tick).to_integral_value() * tick)
    # One step is worth 0.01 to 100 USDT at the price.
    step_exponent = round(math.log10(10 ** rng.uniform(-2, 2) / float(price)))
    step = _power_of_ten(min(3, max(-3, step_exponent)))
    quantity_precision = decimals(step)
    min_notional = Decimal(rng.choice(_MIN_NOTIONALS))
    market_max_qty = _ceil_to(Decimal(rng.randrange(200_000, 2_000_000)) / price, step)
    market_max_qty = max(market_max_qty, _ceil_to(min_notional * 10 / price, step))
    min_price = max(tick, (price / rng.choice((20, 50, 100)) / tick).to_integral_value() * tick)
    max_price = _ceil_to(price * rng.choice((10, 20, 50)), tick)
    up, down = rng.choice(_PERCENT_PRICE)
    max_leverage = rng.choice(_MAX_LEVERAGES)
    return SymbolSpec(
        symbol=f"{base}USDT",
        base_asset=base,
        initial_price=price,
        tick_size=tick,
        step_size=step,
        min_qty=step,
        max_qty=market_max_qty * 10,
        market_max_qty=market_max_qty,
        min_notional=min_notional,
        min_price=min_price,
        max_price=max_price,
        price_precision=price_precision,
        quantity_precision=quantity_precision,
        maint_margin_rate=(Decimal(1) / (2 * max_leverage)).quantize(Decimal("0.0001")),
        multiplier_up=up,
        multiplier_down=down,
        max_leverage=max_leverage,
        first_bracket_cap=Decimal(rng.choice(_FIRST_BRACKET_CAPS)),
    )
