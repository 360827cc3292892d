"""How fast, how much at once and how often again messages go out to one receiver.

Feishu allows a bot about 5 messages a second and 100 a minute. The limiter keeps under both
with sliding windows; when more notifications wait than the minute has room for, they are
coalesced into digest messages instead of dropped or delayed for long. A failed message is
retried with exponential back-off, never sooner than the receiver asked. Pure: the caller
passes the time in epoch milliseconds.
"""

from __future__ import annotations

import math
from collections import deque

from pydantic import Field, model_validator

from riskd.core.clock import MINUTE_MS, SECOND_MS
from riskd.core.frozen import FrozenModel


class OutboundConfig(FrozenModel):
    """One receiver's outbound limits and retry policy."""

    messages_per_second: int = Field(4, ge=1)  # Feishu: about 5
    messages_per_minute: int = Field(90, ge=1)  # Feishu: about 100
    max_notifications_per_message: int = Field(20, ge=1)
    retry_initial_ms: int = Field(1_000, gt=0)
    # A receiver back from an outage gets its backlog within this; a retry every 30 s costs 2
    # of Feishu's 100 messages a minute.
    retry_max_ms: int = Field(30_000, gt=0)

    @model_validator(mode="after")
    def _minute_holds_a_second(self) -> OutboundConfig:
        if self.messages_per_minute < self.messages_per_second:
            raise ValueError("messages_per_minute must be at least messages_per_second")
        if self.retry_max_ms < self.retry_initial_ms:
            raise ValueError("retry_max_ms must be at least retry_initial_ms")
        return self


class OutboundLimiter:
    """Sliding one-second and one-minute windows of the messages sent."""

    def __init__(self, config: OutboundConfig) -> None:
        self.config = config
        self._sent_ms: deque[int] = deque()

    def _expire(self, now_ms: int) -> None:
        while self._sent_ms and self._sent_ms[0] <= now_ms - MINUTE_MS:
            self._sent_ms.popleft()

    def wait_ms(self, now_ms: int) -> int:
        """How long until one more message may go out (0: now)."""
        self._expire(now_ms)
        waits = [0]
        if len(self._sent_ms) >= self.config.messages_per_minute:
            waits.append(self._sent_ms[-self.config.messages_per_minute] + MINUTE_MS - now_ms)
        in_second = sum(1 for at_ms in self._sent_ms if at_ms > now_ms - SECOND_MS)
        if in_second >= self.config.messages_per_second:
            nth = self._sent_ms[-self.config.messages_per_second]
            waits.append(nth + SECOND_MS - now_ms)
        return max(waits)

    def free_this_minute(self, now_ms: int) -> int:
        """How many more messages the minute window has room for."""
        self._expire(now_ms)
        return max(0, self.config.messages_per_minute - len(self._sent_ms))

    def record(self, now_ms: int) -> None:
        """A message went out at *now_ms*."""
        self._sent_ms.append(now_ms)

    def batch_size(self, pending: int, now_ms: int) -> int:
        """How many of *pending* notifications the next message carries: one each while the
        minute has room for all, else enough per message that the room suffices."""
        if pending <= 0:
            return 0
        free = max(1, self.free_this_minute(now_ms))
        size = 1 if pending <= free else math.ceil(pending / free)
        return min(size, self.config.max_notifications_per_message, pending)


def retry_delay_ms(attempts: int, config: OutboundConfig, retry_after_ms: int | None) -> int:
    """The wait before attempt ``attempts + 1``: doubling from ``retry_initial_ms`` up to
    ``retry_max_ms``, and at least what the receiver asked for."""
    backoff_ms = min(config.retry_max_ms, config.retry_initial_ms * 2 ** max(0, attempts - 1))
    return max(backoff_ms, retry_after_ms or 0)
