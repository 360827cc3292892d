"""Notional and leverage brackets (GET /fapi/v1/leverageBracket), derived from a contract.

The ladder follows Binance's: each bracket halves the leverage roughly, its maintenance margin
ratio is 1 / (2 × leverage) (125x → 0.4 %, 20x → 2.5 %, 1x → 50 %) except the first, which is
the rate the simulator charges (``SymbolSpec.maint_margin_rate``), and ``cum`` is the
maintenance amount that makes the brackets continuous.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from riskd.sim.market import SymbolSpec

_LADDER = (100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1)
# Each bracket's notional cap as a multiple of the first bracket's.
_CAP_MULTIPLES = (1, 10, 100, 500, 1000, 1600, 2000, 2400, 4000, 6000, 10_000, 20_000)
_RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Bracket:
    """One notional bracket: up to ``notional_cap`` a position may use ``initial_leverage``."""

    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal

    def render(self) -> dict:
        """Binance sends these as JSON numbers."""
        return {
            "bracket": self.bracket,
            "initialLeverage": self.initial_leverage,
            "notionalCap": int(self.notional_cap),
            "notionalFloor": int(self.notional_floor),
            "maintMarginRatio": float(self.maint_margin_ratio),
            "cum": float(self.cum),
        }


@cache
def brackets(spec: SymbolSpec) -> tuple[Bracket, ...]:
    """The contract's brackets, from its maximum leverage down to 1x."""
    leverages = [spec.max_leverage, *(x for x in _LADDER if x < spec.max_leverage)]
    result: list[Bracket] = []
    floor = cum = Decimal(0)
    previous_ratio = Decimal(0)
    for index, leverage in enumerate(leverages):
        ratio = (
            spec.maint_margin_rate
            if index == 0
            else max(previous_ratio, (Decimal(1) / (2 * leverage)).quantize(_RATIO_PLACES))
        )
        cum += floor * (ratio - previous_ratio)
        cap = spec.first_bracket_cap * _CAP_MULTIPLES[index]
        result.append(Bracket(index + 1, leverage, cap, floor, ratio, cum))
        floor, previous_ratio = cap, ratio
    return tuple(result)


def max_notional(spec: SymbolSpec, leverage: int) -> Decimal:
    """The largest position notional allowed at *leverage* (the maxNotionalValue)."""
    return max(b.notional_cap for b in brackets(spec) if b.initial_leverage >= leverage)


def render_symbol(spec: SymbolSpec) -> dict:
    """One symbol's entry of GET /fapi/v1/leverageBracket."""
    return {"symbol": spec.symbol, "brackets": [b.render() for b in brackets(spec)]}
