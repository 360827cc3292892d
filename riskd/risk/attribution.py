"""Which robot an order, a fill or a cash flow belongs to.

An order is a robot's when its client order id starts with one of the robot's prefixes: the
gateway's ``rb-<name>-`` for the orders riskd places for it, and the ``client_id_prefixes``
configured for a robot that trades directly. The longest matching prefix wins (the config
refuses prefixes that could match two robots). Everything else is :data:`UNATTRIBUTED`.
Income rows carry no client id: a REALIZED_PNL or COMMISSION row is its trade's robot's, found
through the fill with the same symbol and trade id. Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

UNATTRIBUTED: Final = "unattributed"
"""The robot of an order no robot's prefix matches (opened outside riskd, or by riskd itself)."""


class Robot(Protocol):
    """What attribution reads of a robot (``riskd.trade.config.RobotConfig`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def account(self) -> str: ...

    @property
    def prefixes(self) -> tuple[str, ...]: ...


class Attribution:
    """The client-id prefixes of an account's robots, and the robot each one names."""

    __slots__ = ("_prefixes",)

    def __init__(self, prefixes: Iterable[tuple[str, str]]) -> None:
        """*prefixes*: (prefix, robot) pairs."""
        self._prefixes = tuple(sorted(prefixes, key=lambda pair: -len(pair[0])))

    @classmethod
    def of(cls, robots: Iterable[Robot], account: str) -> Attribution:
        """The attribution of *account*'s robots."""
        return cls(
            (prefix, robot.name)
            for robot in robots
            if robot.account == account
            for prefix in robot.prefixes
        )

    @property
    def robots(self) -> tuple[str, ...]:
        """The robots named, in order of name."""
        return tuple(sorted({robot for _, robot in self._prefixes}))

    def robot_of(self, client_order_id: str) -> str:
        """The robot whose prefix *client_order_id* starts with, or :data:`UNATTRIBUTED`."""
        for prefix, robot in self._prefixes:
            if client_order_id.startswith(prefix):
                return robot
        return UNATTRIBUTED


@dataclass(frozen=True, slots=True)
class FilledQuantity:
    """One fill, as positions per robot read it."""

    client_order_id: str
    symbol: str
    position_side: str  # BOTH (one-way mode), LONG or SHORT (hedge mode)
    side: str  # BUY or SELL
    qty: Decimal
    time_ms: int  # the transaction time

    @property
    def signed_qty(self) -> Decimal:
        """What the fill adds to its position: a BUY adds, a SELL takes away."""
        return self.qty if self.side == "BUY" else -self.qty


RobotPositionKey = tuple[str, str, str]  # (robot, symbol, position side)


def robot_positions(
    fills: Iterable[FilledQuantity], attribution: Attribution
) -> Mapping[RobotPositionKey, Decimal]:
    """Each robot's position per symbol and position side, as its fills built it (signed: a
    BUY adds, a SELL takes away); flat positions are left out. What a robot holds of a shared
    account: Binance nets the robots' positions of one symbol into one."""
    held: dict[RobotPositionKey, Decimal] = defaultdict(Decimal)
    for fill in fills:
        key = (attribution.robot_of(fill.client_order_id), fill.symbol, fill.position_side)
        held[key] += fill.signed_qty
    return {key: amount for key, amount in held.items() if amount != 0}


def position_holders(
    fills: Iterable[FilledQuantity],
    attribution: Attribution,
    sides: Iterable[tuple[int, str, str]],
) -> list[tuple[str, ...]]:
    """For each (time, symbol, ``long`` | ``short``) of *sides*: the robots that held that side
    of the symbol just before the time, as their fills (in time order) built their positions."""
    wanted = list(sides)
    answers: list[tuple[str, ...]] = [()] * len(wanted)
    held: dict[RobotPositionKey, Decimal] = defaultdict(Decimal)
    ordered = iter(fills)
    pending = next(ordered, None)
    for index in sorted(range(len(wanted)), key=lambda i: wanted[i][0]):
        at_ms, symbol, side = wanted[index]
        while pending is not None and pending.time_ms < at_ms:
            key = (attribution.robot_of(pending.client_order_id), pending.symbol)
            held[(*key, pending.position_side)] += pending.signed_qty
            pending = next(ordered, None)
        answers[index] = tuple(
            sorted(
                robot
                for (robot, held_symbol, position_side), amount in held.items()
                if held_symbol == symbol
                and robot != UNATTRIBUTED
                and _holds(side, position_side, amount)
            )
        )
    return answers


def _holds(side: str, position_side: str, amount: Decimal) -> bool:
    if side == "long":
        return position_side in ("BOTH", "LONG") and amount > 0
    return position_side in ("BOTH", "SHORT") and amount < 0
