"""Time as riskd counts it: integer epoch milliseconds, read from an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS

Clock = Callable[[], int]
"""A source of the current time in epoch milliseconds; tests pass a manual one."""


def wall_ms() -> int:
    """The local wall clock in epoch milliseconds."""
    return int(time.time() * 1000)
