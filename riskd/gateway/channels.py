"""HTTP and WebSocket routes through which robots share their latest state, from a
:class:`ChannelHub`.

``PUT /v1/channels/{id}``
    The body, any JSON value (``null`` too) sent as ``application/json``, becomes the
    channel's state; no history is kept. ``{"id", "version", "updated_ms"}``: version 1 for
    the first publish, then 2, 3, …. At most 1024 bytes as compact JSON (413 otherwise).
    With robots configured it takes a robot's token: the first publish makes that robot the
    channel's owner, and only the owner writes it after (another robot's token is 403). With
    no robot configured, it takes the operator's token like any change, or none on loopback.
``GET /v1/channels/{id}``
    ``{"id", "version", "updated_ms", "data"}``; 404 before the first publish.
``GET /v1/channels/{id}/stream`` (WebSocket)
    The current state (as soon as there is one), then every new version, each as one text
    message in the same JSON as the GET. A slow reader skips to the newest version. Messages
    from the client are ignored; streams close with 1001 on shutdown.

Reads take the read token (or the operator's) when one is configured. An ``id`` is 1 to 64
letters, digits or ``_.:-`` (else 400). A gateway holds at most MAX_CHANNELS channels: a new
one past that is 507. Every error is JSON ``{"error": "..."}``; nothing changes on an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Final

from aiohttp import web

from riskd.gateway.auth import robot_of, written_by_robots
from riskd.gateway.channel_hub import (
    ChannelHub,
    ChannelsFull,
    ChannelTooLarge,
    NotOwner,
    channel_id,
)
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.json_body import json_body
from riskd.gateway.limits import ConnectionSlots, connection_slots
from riskd.gateway.push import PushStreams

_PUBLISH_ERRORS: Final = ((ChannelTooLarge, 413), (NotOwner, 403), (ChannelsFull, 507))


def _id(request: web.Request) -> str:
    """The path's ``{id}``, a channel id (else 400)."""
    with refusing((ValueError, 400)):
        return channel_id(request.match_info["id"])


class _ChannelRoutes:
    def __init__(self, hub: ChannelHub, slots: ConnectionSlots) -> None:
        self._hub = hub
        self._streams = PushStreams(slots)

    async def put(self, request: web.Request) -> web.Response:
        id_ = _id(request)
        value = await json_body(request)
        with refusing(*_PUBLISH_ERRORS, (ValueError, 400)):
            channel = self._hub.publish(id_, value, robot_of(request))
        return json_response(channel.receipt())

    async def get(self, request: web.Request) -> web.Response:
        id_ = _id(request)
        channel = self._hub.latest(id_)
        if channel is None:
            raise Refused(404, f"id: channel {id_!r} has not been published yet")
        return web.Response(body=channel.message, content_type="application/json")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        id_ = _id(request)
        return await self._streams.serve(request, self._versions(id_))

    async def _versions(self, id_: str) -> AsyncIterator[bytes]:
        async with aclosing(self._hub.subscribe(id_)) as versions:
            async for channel in versions:
                yield channel.message

    async def shutdown(self, _app: web.Application) -> None:
        """Close the streams, so that shutdown does not wait for them."""
        await self._streams.close_all()


def add_channel_routes(app: web.Application, hub: ChannelHub) -> None:
    """Add ``PUT``/``GET /v1/channels/{id}`` and ``GET /v1/channels/{id}/stream``, served from
    *hub*; the PUT is written with robots' tokens (see ``riskd.gateway.auth``)."""
    routes = _ChannelRoutes(hub, connection_slots(app))
    written_by_robots(app, app.router.add_put("/v1/channels/{id}", routes.put))
    app.router.add_get("/v1/channels/{id}", routes.get)
    app.router.add_get("/v1/channels/{id}/stream", routes.stream)
    app.on_shutdown.append(routes.shutdown)
