"""Time slots: N readers share a period without talking, each reading in its own slot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SlotSchedule:
    """Reader *index* of *readers* reads once in ``[k·P/N, (k+1)·P/N)`` of every period P.

    Periods are aligned to epoch ms 0, so readers on different hosts agree on their slots.
    Bounds are rounded down, so the slots tile each period exactly even when N does not
    divide P.
    """

    index: int
    readers: int
    period_ms: int

    def __post_init__(self) -> None:
        if self.readers < 1:
            raise ValueError(f"readers must be at least 1, not {self.readers}")
        if not 0 <= self.index < self.readers:
            raise ValueError(f"index must be in 0..{self.readers - 1}, not {self.index}")
        if self.period_ms < self.readers:
            raise ValueError(
                f"period_ms ({self.period_ms}) must be at least readers ({self.readers}), "
                "or some slots would be empty"
            )

    def slot(self, now_ms: int) -> tuple[int, int]:
        """The bounds ``[start, end)`` of this reader's slot in the period holding *now_ms*."""
        period_start = now_ms - now_ms % self.period_ms
        return (
            period_start + self.index * self.period_ms // self.readers,
            period_start + (self.index + 1) * self.period_ms // self.readers,
        )

    def next_read_ms(self, now_ms: int, last_read_ms: int | None) -> int:
        """The earliest time ≥ *now_ms* in a slot of this reader's that it has not read in:
        *now_ms* itself while in an unread slot, else the start of the next unread one."""
        start, end = self.slot(now_ms)
        read_in_slot = last_read_ms is not None and last_read_ms >= start
        if now_ms >= end or read_in_slot:
            return start + self.period_ms
        return max(now_ms, start)
