"""The user-data stream: WebSocket connections per listenKey, fed by the exchange's events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web


@dataclass(eq=False, slots=True)
class StreamConnection:
    """One client socket and the events waiting to be written to it."""

    ws: web.WebSocketResponse
    account: str
    listen_key: str
    opened_ms: int
    remote_ip: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    stalled_until_ms: int = 0


_CLOSE = object()


class UserStreamHub:
    """Routes each account's events to its open sockets; applies drop/stall faults."""

    def __init__(self, clock: Callable[[], int], max_lifetime_ms: int) -> None:
        self.clock = clock
        self.max_lifetime_ms = max_lifetime_ms
        self.connections: set[StreamConnection] = set()
        self.events_sent = 0
        self.events_dropped = 0

    def emit(self, account: str, event: dict) -> None:
        expired_key = event.get("listenKey") if event.get("e") == "listenKeyExpired" else None
        for conn in list(self.connections):
            if conn.account != account or (expired_key and conn.listen_key != expired_key):
                continue
            conn.queue.put_nowait(event)
            if expired_key:
                conn.queue.put_nowait(_CLOSE)

    def drop_all(self) -> int:
        """Close every socket abruptly (fault ``drop_ws``); returns how many were open."""
        for conn in self.connections:
            conn.queue.put_nowait(_CLOSE)
        return len(self.connections)

    def stall_all(self, ms: int) -> int:
        """Stop writing to every socket for ``ms``; events in that time are lost."""
        until = self.clock() + ms
        for conn in self.connections:
            conn.stalled_until_ms = until
        return len(self.connections)

    def expire_old(self) -> None:
        """Binance closes a user-stream connection after 24 hours."""
        deadline = self.clock() - self.max_lifetime_ms
        for conn in self.connections:
            if conn.opened_ms <= deadline:
                conn.queue.put_nowait(_CLOSE)

    async def serve(
        self, request: web.Request, account: str, listen_key: str
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = StreamConnection(ws, account, listen_key, self.clock(), request.remote or "")
        self.connections.add(conn)
        reader = asyncio.create_task(self._drain_incoming(ws))
        try:
            while True:
                getter = asyncio.ensure_future(conn.queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event is _CLOSE:
                    break
                if conn.stalled_until_ms > self.clock():
                    self.events_dropped += 1
                    continue
                await ws.send_str(json.dumps(event, separators=(",", ":")))
                self.events_sent += 1
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            self.connections.discard(conn)
            reader.cancel()
            with contextlib.suppress(Exception):
                await ws.close(code=WSCloseCode.GOING_AWAY)
        return ws

    @staticmethod
    async def _drain_incoming(ws: web.WebSocketResponse) -> None:
        """Read (and ignore) client frames so pings are answered and closes are seen."""
        async for _ in ws:
            pass

    async def close(self) -> None:
        self.drop_all()
        await asyncio.sleep(0)
