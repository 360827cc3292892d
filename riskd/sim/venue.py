"""What every part of the simulated exchange shares: its rules, market, ids, clock and stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from riskd.sim.config import SimConfig
from riskd.sim.ids import IdSource
from riskd.sim.market import Market

Emit = Callable[[str, dict], None]
"""How a part hands an event to an account's user-data stream: ``emit(account name, event)``."""


@dataclass(frozen=True, slots=True)
class Venue:
    """The shared context the facade builds once and hands to each part."""

    config: SimConfig
    market: Market
    ids: IdSource
    clock: Callable[[], int]
    emit: Emit


class VenuePart:
    """A part of the exchange: reads the venue's rules, market, ids and clock, emits events."""

    def __init__(self, venue: Venue) -> None:
        self._rules = venue.config.exchange
        self._market = venue.market
        self._ids = venue.ids
        self._clock = venue.clock
        self._emit = venue.emit
