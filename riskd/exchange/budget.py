"""Hard budgets: at most N units in any span of a window, decided before each call."""

from __future__ import annotations

from collections import deque

from riskd.core.clock import MINUTE_MS

TEN_SECONDS_MS = 10_000
# Binance counts in fixed windows of its own clock. A limit that holds for *every* span of
# window + skew also holds for each of Binance's windows, despite clock offset and latency.
DEFAULT_SKEW_MS = 1_000


class SlidingWindowLimit:
    """At most ``limit`` units in any ``window_ms + skew_ms`` span (pure; time is passed in)."""

    def __init__(self, limit: int, window_ms: int, skew_ms: int = DEFAULT_SKEW_MS) -> None:
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        self.limit = limit
        self.span_ms = window_ms + skew_ms
        self._entries: deque[tuple[int, int]] = deque()
        self._used = 0

    def _expire(self, now_ms: int) -> None:
        while self._entries and self._entries[0][0] <= now_ms - self.span_ms:
            self._used -= self._entries.popleft()[1]

    def used(self, now_ms: int) -> int:
        self._expire(now_ms)
        return self._used

    def wait_ms(self, amount: int, now_ms: int) -> int:
        """0 if ``amount`` fits now, else how long until it will (nothing is recorded)."""
        if amount > self.limit:
            raise ValueError(f"{amount} can never fit a limit of {self.limit}")
        self._expire(now_ms)
        excess = self._used + amount - self.limit
        if excess <= 0:
            return 0
        freed = 0
        for at_ms, units in self._entries:
            freed += units
            if freed >= excess:
                return at_ms + self.span_ms - now_ms
        raise AssertionError("unreachable: the entries sum to more than the excess")

    def record(self, amount: int, now_ms: int) -> None:
        if amount:
            self._entries.append((now_ms, amount))
            self._used += amount

    def observe(self, used_elsewhere: int, now_ms: int) -> None:
        """Account for units spent outside this limiter (e.g. a header's count is higher)."""
        missing = used_elsewhere - self.used(now_ms)
        if missing > 0:
            self.record(missing, now_ms)


class WeightBudget:
    """A job's REQUEST_WEIGHT budget per minute."""

    def __init__(self, weight_per_minute: int) -> None:
        self.weight_per_minute = weight_per_minute
        self.window = SlidingWindowLimit(weight_per_minute, MINUTE_MS)
        self.spent_total = 0

    def wait_ms(self, weight: int, now_ms: int) -> int:
        return self.window.wait_ms(weight, now_ms)

    def record(self, weight: int, now_ms: int) -> None:
        self.window.record(weight, now_ms)
        self.spent_total += weight

    def used(self, now_ms: int) -> int:
        return self.window.used(now_ms)


class OrderBudget:
    """An account's new-order budget per 10 s and per minute, shared by its jobs.

    Reconciled with ``X-MBX-ORDER-COUNT-10S``/``-1M``, which count every client of the account.
    """

    def __init__(self, orders_per_10s: int, orders_per_minute: int) -> None:
        self.windows = (
            SlidingWindowLimit(orders_per_10s, TEN_SECONDS_MS),
            SlidingWindowLimit(orders_per_minute, MINUTE_MS),
        )

    def wait_ms(self, orders: int, now_ms: int) -> int:
        return max(w.wait_ms(orders, now_ms) for w in self.windows)

    def record(self, orders: int, now_ms: int) -> None:
        for window in self.windows:
            window.record(orders, now_ms)

    def observe(self, count_10s: int | None, count_1m: int | None, now_ms: int) -> None:
        for window, count in zip(self.windows, (count_10s, count_1m), strict=True):
            if count is not None:
                window.observe(count, now_ms)
