"""The user-data stream: WebSocket connections per listenKey, fed by the exchange's events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from riskd.sim.sockets import CLOSE, SocketHub, StreamFault, next_item


@dataclass(eq=False, slots=True)
class StreamConnection:
    """One client socket and the events waiting to be written to it."""

    ws: web.WebSocketResponse
    account: str
    listen_key: str
    opened_ms: int
    remote_ip: str
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    fault: StreamFault = field(default_factory=StreamFault)


class UserStreamHub(SocketHub[StreamConnection]):
    """Routes each account's events to its open sockets, through their stream faults."""

    def __init__(self, clock: Callable[[], int], max_lifetime_ms: int) -> None:
        super().__init__(clock, max_lifetime_ms)

    def emit(self, account: str, event: dict) -> None:
        expired_key = event.get("listenKey") if event.get("e") == "listenKeyExpired" else None
        now = self.clock()
        for conn in list(self.connections):
            if conn.account != account or (expired_key and conn.listen_key != expired_key):
                continue
            self.deliver(conn, event, now)
            if expired_key:
                conn.queue.put_nowait(CLOSE)

    async def serve(
        self, request: web.Request, account: str, listen_key: str
    ) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = StreamConnection(ws, account, listen_key, self.clock(), request.remote or "")
        self.connections.add(conn)
        reader = asyncio.create_task(self._drain_incoming(ws))
        try:
            while (event := await next_item(conn, reader)) is not CLOSE:
                await ws.send_str(json.dumps(event, separators=(",", ":")))
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
