"""The dead-man's switch: which symbols to keep countdownCancelAll armed on, and for how long."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from riskd.core.frozen import FrozenModel
from riskd.orders import OpenOrder


class HeartbeatConfig(FrozenModel):
    """If riskd (or its host) dies, Binance cancels resting orders after ``countdown_ms``.

    The Heartbeat job re-arms every symbol with open orders each pass; its interval must leave
    room for two missed passes before the countdown fires.
    """

    countdown_ms: int = Field(120_000, ge=10_000)

    def check_interval(self, interval_ms: int) -> None:
        """ValueError unless a job run every *interval_ms* re-arms at least three times per
        countdown."""
        if interval_ms * 3 > self.countdown_ms:
            raise ValueError(
                f"heartbeat interval {interval_ms} ms must be at most a third of "
                f"countdown_ms {self.countdown_ms}"
            )


def symbols_to_arm(open_orders: Iterable[OpenOrder]) -> tuple[str, ...]:
    """Every symbol with a resting order, sorted."""
    return tuple(sorted({order.symbol for order in open_orders}))
