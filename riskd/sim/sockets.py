"""What every simulated WebSocket hub shares: its open connections, the stream faults
(``riskd.sim.faults.STREAM_FAULTS``) and Binance's 24 h limit on a connection's life."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

CLOSE: Final = object()
"""Put on a connection's queue: its writer closes the socket."""


@dataclass(slots=True)
class StreamFault:
    """A fault on one connection's events until ``until_ms``: ``stall_ws`` loses them,
    ``duplicate_ws`` sends each twice, ``reorder_ws`` holds one back (``held``) until the next
    is sent, then sends it."""

    kind: str = ""
    until_ms: int = 0
    held: object | None = None


class Connection(Protocol):
    """A client socket as a hub sees it."""

    queue: asyncio.Queue
    opened_ms: int
    fault: StreamFault


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

    def impair_all(self, kind: str, ms: int) -> int:
        """Fault *kind* (``stall_ws``, ``duplicate_ws``, ``reorder_ws``) on every open socket
        for ``ms``; returns how many were open."""
        until = self.clock() + ms
        for conn in self.connections:
            self._release(conn)
            conn.fault = StreamFault(kind, until)
        return len(self.connections)

    def deliver(self, conn: C, item: object, now_ms: int) -> None:
        """Queue the event *item* for *conn* as its fault at *now_ms* has it: lost, twice, or
        after the next one."""
        fault = conn.fault
        kind = fault.kind if fault.until_ms > now_ms else ""
        if kind == "stall_ws":
            self.events_dropped += 1
            return
        if kind == "reorder_ws" and fault.held is None:
            fault.held = item
            return
        self._put(conn, item)
        if kind == "duplicate_ws":
            self._put(conn, item)
        if fault.held is not None:
            self._release(conn)

    def release_held(self) -> None:
        """Send each event held back by a reorder fault that ended before a next one came."""
        now = self.clock()
        for conn in self.connections:
            if conn.fault.until_ms <= now:
                self._release(conn)

    def _release(self, conn: C) -> None:
        held, conn.fault.held = conn.fault.held, None
        if held is not None:
            self._put(conn, held)

    def _put(self, conn: C, item: object) -> None:
        conn.queue.put_nowait(item)
        self.events_sent += 1

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
