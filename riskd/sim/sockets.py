"""What every simulated WebSocket hub shares: its open connections, the drop and stall faults,
and Binance's 24 h limit on a connection's life."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, Generic, Protocol, TypeVar

CLOSE: Final = object()
"""Put on a connection's queue: its writer closes the socket."""


class Connection(Protocol):
    """A client socket as a hub sees it."""

    queue: asyncio.Queue
    opened_ms: int
    stalled_until_ms: int


C = TypeVar("C", bound=Connection)


class SocketHub(Generic[C]):
    """Open connections, counted events, and the faults the control API injects."""

    def __init__(self, clock: Callable[[], int], max_lifetime_ms: int) -> None:
        self.clock = clock
        self.max_lifetime_ms = max_lifetime_ms
        self.connections: set[C] = set()
        self.events_sent = 0
        self.events_dropped = 0

    def drop_all(self) -> int:
        """Close every socket abruptly (fault ``drop_ws``); returns how many were open."""
        for conn in self.connections:
            conn.queue.put_nowait(CLOSE)
        return len(self.connections)

    def stall_all(self, ms: int) -> int:
        """Push nothing to any socket for ``ms``; events in that time are lost."""
        until = self.clock() + ms
        for conn in self.connections:
            conn.stalled_until_ms = until
        return len(self.connections)

    def expire_old(self) -> None:
        """Binance closes a connection after 24 hours."""
        deadline = self.clock() - self.max_lifetime_ms
        for conn in self.connections:
            if conn.opened_ms <= deadline:
                conn.queue.put_nowait(CLOSE)

    async def close(self) -> None:
        self.drop_all()
        await asyncio.sleep(0)


async def next_item(conn: Connection, reader: asyncio.Task) -> object:
    """The next item queued for *conn*; CLOSE once its *reader* ended (the client went)."""
    getter = asyncio.ensure_future(conn.queue.get())
    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if getter not in done:
        getter.cancel()
        return CLOSE
    return getter.result()
