"""Push-only WebSocket streams: the gateway sends what a source yields until the client goes,
and every stream closes with 1001 when the gateway shuts down. Messages from clients are read
only to notice their close, within ``[gateway.limits]``: a client holds at most
``websockets_per_client`` streams (``websockets_total`` all together), else its handshake is
429; a message over ``max_message_bytes`` closes its stream with 1009, and more than
``messages_per_s`` within a second with 1008 (policy violation), the close's reason naming
the limit."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web

from riskd.core.clock import Clock
from riskd.gateway.auth import WS_PROTOCOL
from riskd.gateway.errors import Refused, refusing
from riskd.gateway.limits import (
    ConnectionSlots,
    Held,
    MessageRate,
    TooManyConnections,
    monotonic_ms,
)

WS_HEARTBEAT_S: Final = 20.0
_DATA: Final = frozenset({WSMsgType.TEXT, WSMsgType.BINARY})


class PushStreams:
    """The open streams of one route family, each holding one of *slots*' WebSockets; the
    rate of clients' messages counted on *clock* (ms)."""

    def __init__(self, slots: ConnectionSlots, clock: Clock = monotonic_ms) -> None:
        self._slots = slots
        self._clock = clock
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def serve(
        self,
        request: web.Request,
        messages: AsyncIterator[str | bytes],
        on_open: Callable[[], None] = lambda: None,
    ) -> web.StreamResponse:
        """Upgrade *request* (426 if it asks for no WebSocket, 429 past a limit), call
        *on_open*, and send each of *messages*, a source closed when the stream ends. A slow
        reader is the source's to conflate."""
        limits = self._slots.config
        socket = web.WebSocketResponse(
            heartbeat=WS_HEARTBEAT_S,
            protocols=(WS_PROTOCOL,),
            max_msg_size=limits.max_message_bytes,
        )
        if not socket.can_prepare(request):
            message = "this route is a WebSocket: send 'Upgrade: websocket'"
            raise Refused(426, message, {"Upgrade": "websocket"})
        with (
            refusing((TooManyConnections, 429)),
            self._slots.held(Held.WEBSOCKET, request.remote or ""),
        ):
            await socket.prepare(request)
            on_open()
            self._sockets.add(socket)
            pusher = asyncio.create_task(_push(socket, messages))
            rate = MessageRate(limits.messages_per_s, self._clock)
            try:
                async for message in socket:  # the client has nothing to say: read its close
                    if message.type in _DATA and not rate.admit():
                        reason = f"messages_per_s: more than {limits.messages_per_s} in a second"
                        await socket.close(
                            code=WSCloseCode.POLICY_VIOLATION, message=reason.encode()
                        )
            finally:
                pusher.cancel()
        return socket

    async def close_all(self) -> None:
        """Close every stream (shutdown), so that the gateway does not wait for them."""
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"gateway shutting down")


async def _push(socket: web.WebSocketResponse, messages: AsyncIterator[str | bytes]) -> None:
    """Send every message until the socket closes (the reader then ends the handler)."""
    async with aclosing(messages) as source:  # type: ignore[type-var]
        async for message in source:
            if socket.closed:
                return
            data = message.encode() if isinstance(message, str) else message
            try:
                await socket.send_frame(data, WSMsgType.TEXT)
            except ConnectionResetError:
                return
