"""Group commit for actors that store what many callers hand them, one item per call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class WriteQueue(Generic[T]):
    """Items put while a write runs go together in the next write, so a burst costs a few
    transactions, not one per item: a consumer that stored each call's item in a transaction
    of its own fell behind its producers, and the calls waiting for it grew without bound.

    One write runs at a time, in put order. A write that raises keeps its items, ahead of any
    put since, and the next write tries them again after *retry_s*: nothing is lost while the
    database is down. Each ``put`` returns once the write that took its item is over, stored
    or kept, so callers that answer only after storing (the Trader's robots) may rely on it.
    """

    def __init__(
        self, name: str, write: Callable[[list[T]], Awaitable[None]], *, retry_s: float
    ) -> None:
        self.name = name
        self.error: Exception | None = None
        """The last write's failure, until a write succeeds."""
        self._write = write
        self._retry_s = retry_s
        self._items: list[T] = []
        self._next: asyncio.Future[None] | None = None  # over when the next write is
        self._writer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Items not stored yet: queued, or kept after a failed write."""
        return len(self._items)

    async def put(self, item: T) -> None:
        """Queue *item* and return once a write that took it is over."""
        self._items.append(item)
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        written = self._next
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(written)

    async def _drain(self) -> None:
        while self._items:
            batch, self._items = self._items, []
            written, self._next = self._next, None
            try:
                await self._write(batch)
            except Exception as exc:  # kept for the next write
                if self.error is None:
                    log.exception(
                        "%s: %d not stored, kept for the next write", self.name, len(batch)
                    )
                self.error = exc
                self._items[:0] = batch
            else:
                self.error = None
            if written is not None:
                written.set_result(None)
            if self.error is not None:
                await asyncio.sleep(self._retry_s)
