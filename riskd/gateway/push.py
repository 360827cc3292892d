"""Push-only WebSocket streams: the gateway sends what a source yields until the client goes,
and every stream closes with 1001 when the gateway shuts down. Messages from clients are read
only to notice their close."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web

from riskd.gateway.auth import WS_PROTOCOL
from riskd.gateway.errors import Refused

WS_HEARTBEAT_S: Final = 20.0


class PushStreams:
    """The open streams of one route family."""

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def serve(
        self,
        request: web.Request,
        messages: AsyncIterator[str | bytes],
        on_open: Callable[[], None] = lambda: None,
    ) -> web.StreamResponse:
        """Upgrade *request* (426 if it asks for no WebSocket), call *on_open*, and send each
        of *messages*, a source closed when the stream ends. A slow reader is the source's
        to conflate."""
        socket = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S, protocols=(WS_PROTOCOL,))
        if not socket.can_prepare(request):
            message = "this route is a WebSocket: send 'Upgrade: websocket'"
            raise Refused(426, message, {"Upgrade": "websocket"})
        await socket.prepare(request)
        on_open()
        self._sockets.add(socket)
        pusher = asyncio.create_task(_push(socket, messages))
        try:
            async for _message in socket:
                pass  # the client has nothing to say; reading notices its close
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
