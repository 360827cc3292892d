"""The orders robots recently sent through riskd: what the gate's rate and duplicate checks read.

Clock-free: every call takes the time in epoch milliseconds. Only orders the gate passed are
recorded (the caller records them): a refused order does not count toward the rate, so a robot
that is refused for its rate is not kept refused by its own retries, and it does not make a
later order a duplicate, so a corrected retry of a refused order goes through.

Memory is bounded by time: an order is kept for ``horizon_ms`` (at least the rate's second and
the longest duplicate window the caller will ask about), and whatever is older is dropped as
new orders are recorded: nothing is held longer than twice the horizon.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from typing import Final, NamedTuple

from riskd.trade.intent import OrderIntent, Side

RATE_WINDOW_MS: Final = 1_000
"""The rate is counted over the last second: orders at times after ``now_ms - 1000``."""


class _Sent(NamedTuple):
    time_ms: int
    symbol: str
    side: Side
    quantity: Decimal


class RecentOrders:
    """The orders passed in the last ``horizon_ms``, per robot and per account.

    Times should not go backwards; an order recorded at an earlier time than the last one is
    kept as if sent at the last one, so that it still counts for as long as its neighbours.
    """

    def __init__(self, horizon_ms: int) -> None:
        if horizon_ms < RATE_WINDOW_MS:
            raise ValueError(f"horizon_ms: must be >= {RATE_WINDOW_MS}, not {horizon_ms}")
        self.horizon_ms = horizon_ms
        self._by_robot: dict[str, deque[_Sent]] = {}
        self._by_account: dict[str, deque[int]] = {}
        self._latest_ms: int | None = None
        self._sweep_at_ms: int | None = None

    def record(self, intent: OrderIntent, now_ms: int) -> None:
        """Count *intent*, which the gate passed at *now_ms*."""
        if self._latest_ms is not None:
            now_ms = max(now_ms, self._latest_ms)
        self._latest_ms = now_ms
        sent = _Sent(now_ms, intent.symbol, intent.side, intent.quantity)
        self._by_robot.setdefault(intent.robot, deque()).append(sent)
        self._by_account.setdefault(intent.account, deque()).append(now_ms)
        if self._sweep_at_ms is None or now_ms >= self._sweep_at_ms:
            self._sweep(now_ms)

    def rate(self, robot: str, now_ms: int) -> int:
        """How many of *robot*'s orders were passed in the second before *now_ms*."""
        return _count_since((sent.time_ms for sent in reversed(self._robot(robot))), now_ms)

    def account_rate(self, account: str, now_ms: int) -> int:
        """How many orders of every robot of *account* were passed in the second before
        *now_ms*."""
        return _count_since(reversed(self._by_account.get(account, ())), now_ms)

    def duplicate(
        self, robot: str, symbol: str, side: Side, quantity: Decimal, now_ms: int, window_ms: int
    ) -> bool:
        """Whether *robot* was passed an order of the same symbol, side and quantity at a time
        after ``now_ms - window_ms`` (0: never a duplicate)."""
        if window_ms > self.horizon_ms:
            raise ValueError(f"window_ms: {window_ms} is longer than the horizon {self.horizon_ms}")
        for sent in reversed(self._robot(robot)):
            if sent.time_ms <= now_ms - window_ms:
                return False
            if (sent.symbol, sent.side, sent.quantity) == (symbol, side, quantity):
                return True
        return False

    def __len__(self) -> int:
        """How many orders are held."""
        return sum(len(sent) for sent in self._by_robot.values())

    def _robot(self, robot: str) -> deque[_Sent]:
        return self._by_robot.get(robot, deque())

    def _sweep(self, now_ms: int) -> None:
        """Drop what is older than the horizon, and robots and accounts left with nothing;
        runs at most once per horizon, so the work is spread over the orders recorded."""
        oldest_ms = now_ms - self.horizon_ms
        for robot, sent in list(self._by_robot.items()):
            while sent and sent[0].time_ms <= oldest_ms:
                sent.popleft()
            if not sent:
                del self._by_robot[robot]
        for account, times in list(self._by_account.items()):
            while times and times[0] <= oldest_ms:
                times.popleft()
            if not times:
                del self._by_account[account]
        self._sweep_at_ms = now_ms + self.horizon_ms


def _count_since(newest_first: Iterable[int], now_ms: int) -> int:
    """How many of the times (newest first) are after ``now_ms - RATE_WINDOW_MS``."""
    count = 0
    for time_ms in newest_first:
        if time_ms <= now_ms - RATE_WINDOW_MS:
            break
        count += 1
    return count
