"""The order a robot asks riskd to place: its shape, checked on construction.

An :class:`OrderIntent` is what the pre-trade gate (:mod:`riskd.trade.gate`) judges. Only its
shape is checked here (a positive quantity, a limit price exactly for LIMIT orders, reduce-only
only in one-way mode); whether it may be sent is the gate's to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Side(StrEnum):
    """The order's side, as Binance names it."""

    BUY = "BUY"
    SELL = "SELL"


class PositionSide(StrEnum):
    """Binance's ``positionSide``: BOTH in one-way mode, LONG or SHORT in hedge mode."""

    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class OrderType(StrEnum):
    """The order types a robot may place through riskd."""

    LIMIT = "LIMIT"
    MARKET = "MARKET"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order *robot* asks riskd to place on *account*.

    ``price`` is the limit price (LIMIT only). ``reduce_only`` is Binance's flag, which it
    accepts only in one-way mode (BOTH); in hedge mode an order reduces by its sides (SELL on
    LONG, BUY on SHORT). ``intended_duplicate`` says the robot means to repeat an order it just
    sent, so the gate's duplicate guard lets it through. Enum fields accept their names as
    strings. A ValueError names the field that is wrong.
    """

    robot: str
    account: str
    symbol: str
    side: Side
    position_side: PositionSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None
    reduce_only: bool = False
    intended_duplicate: bool = False

    def __post_init__(self) -> None:
        for name in ("robot", "account", "symbol"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: must be a non-empty string")
        for name, kind in (("side", Side), ("position_side", PositionSide), ("type", OrderType)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, kind(value))
            except ValueError:
                choices = ", ".join(kind)
                raise ValueError(f"{name}: must be one of {choices}, not {value!r}") from None
        for name in ("reduce_only", "intended_duplicate"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false")
        if not _positive(self.quantity):
            raise ValueError(f"quantity: must be a positive Decimal, not {self.quantity!r}")
        if self.type is OrderType.LIMIT and not _positive(self.price):
            raise ValueError(f"price: a LIMIT order needs a positive Decimal, not {self.price!r}")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("price: a MARKET order has no price")
        if self.reduce_only and self.position_side is not PositionSide.BOTH:
            raise ValueError(
                "reduce_only: Binance accepts it only in one-way mode (BOTH); in hedge mode "
                "SELL on LONG or BUY on SHORT reduces"
            )


def _positive(value: object) -> bool:
    """Whether *value* is a finite Decimal above zero."""
    return isinstance(value, Decimal) and value.is_finite() and value > 0
