"""HTTP and WebSocket routes that publish the ban list from a :class:`BanListHub`.

``GET /v1/banlist[?account=NAME]``
    200 with the snapshot (``application/json``), ``ETag`` and ``Cache-Control: no-cache``.
    ``account`` may be left out only when the gateway serves one account (else 400); an unknown
    account is 404; no snapshot yet is 503. ``If-None-Match`` naming the current ETag (or ``*``)
    gives 304 with no body.
``GET /v1/banlist?version=N[&wait=S]``
    Long-poll: 200 with the snapshot as soon as its version exceeds N, waiting at most S seconds
    (0 ≤ S ≤ 60, default 0). If nothing newer arrives in time: 304 with no body and the current
    ETag (503 if there is still no snapshot at all). ``wait`` without ``version`` is 400. A
    client waits in at most ``long_polls_per_client`` long-polls at once (all clients in
    ``long_polls_total``, ``[gateway.limits]``): one more is 429.
``GET /v1/banlist/stream[?account=NAME]``
    WebSocket: the current snapshot first (as soon as there is one), then every new version, each
    as one text message in the same JSON as the GET. Messages from the client are ignored. A slow
    reader skips to the newest version. Its limits are those of every stream
    (``riskd.gateway.push``).

On shutdown, pending long-polls end at once as if nothing newer arrived (304) and streams close
with code 1001. Every error is JSON ``{"error": "..."}`` naming the bad parameter. Auth is the
gateway's middleware. Every response and message carries the bytes the hub holds for the version.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, nullcontext
from typing import Final

from aiohttp import web

from riskd.core.bodies import INT64_MAX, shown, whole_number
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused, refusing
from riskd.gateway.hub import BanListHub, Published
from riskd.gateway.limits import ConnectionSlots, Held, TooManyConnections, connection_slots
from riskd.gateway.push import PushStreams

MAX_WAIT_S: Final = 60.0
_CACHE_CONTROL: Final = "no-cache"
_SECONDS: Final = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/`` prefixes do not matter."""
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return any(tag in ("*", etag) for tag in candidates)


class _BanListRoutes:
    def __init__(self, hub: BanListHub, accounts: Accounts, slots: ConnectionSlots) -> None:
        self._hub = hub
        self._accounts = accounts
        self._slots = slots
        self._streams = PushStreams(slots)
        self._long_polls: set[asyncio.Future[Published | None]] = set()
        self._closing = False

    @staticmethod
    def _long_poll(request: web.Request) -> tuple[int, float] | None:
        """``(version, wait_s)`` when the request long-polls, else None."""
        raw_version = request.query.get("version")
        raw_wait = request.query.get("wait")
        if raw_version is None:
            if raw_wait is not None:
                raise Refused(400, "wait: needs version=N (the version you hold)")
            return None
        try:
            version = whole_number("version", raw_version, 0, INT64_MAX)
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        if raw_wait is None:
            return version, 0.0
        # ASCII digits only: float() also reads other scripts' digits, "1_0" and "inf".
        wait_s = float(raw_wait) if _SECONDS.fullmatch(raw_wait) else math.nan
        if not 0 <= wait_s <= MAX_WAIT_S:
            message = f"wait: must be seconds from 0 to {MAX_WAIT_S:g}, not {shown(raw_wait)}"
            raise Refused(400, message)
        return version, wait_s

    @staticmethod
    def _no_snapshot(account: str) -> web.Response:
        return Refused(503, f"no ban list for account {account!r} yet").response()

    @staticmethod
    def _snapshot(request: web.Request, published: Published) -> web.Response:
        etag = published.banlist.etag
        headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=published.body, headers=headers, content_type="application/json")

    async def get(self, request: web.Request) -> web.Response:
        try:
            account = self._accounts.resolve(request.query.get("account"))
            long_poll = self._long_poll(request)
        except Refused as refused:
            return refused.response()
        if long_poll is None:
            published = self._hub.latest(account)
            if published is None:
                return self._no_snapshot(account)
            return self._snapshot(request, published)
        version, wait_s = long_poll
        client = request.remote or ""
        waiting = self._slots.held(Held.LONG_POLL, client) if wait_s > 0 else nullcontext()
        with refusing((TooManyConnections, 429)), waiting:
            newer = await self._wait_newer(account, version, wait_s)
        if newer is not None:
            return self._snapshot(request, newer)
        current = self._hub.latest(account)
        if current is None:
            return self._no_snapshot(account)
        return web.Response(
            status=304, headers={"ETag": current.banlist.etag, "Cache-Control": _CACHE_CONTROL}
        )

    async def _wait_newer(self, account: str, version: int, wait_s: float) -> Published | None:
        """The hub's wait, cut short (None) when the app shuts down."""
        if self._closing:
            wait_s = 0.0
        waiter = asyncio.ensure_future(self._hub.wait_newer(account, version, wait_s))
        self._long_polls.add(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            handler = asyncio.current_task()
            if not self._closing or (handler is not None and handler.cancelling()):
                raise
            return None
        finally:
            self._long_polls.discard(waiter)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        try:
            account = self._accounts.resolve(request.query.get("account"))
        except Refused as refused:
            return refused.response()
        return await self._streams.serve(request, self._versions(account))

    async def _versions(self, account: str) -> AsyncIterator[bytes]:
        async with aclosing(self._hub.subscribe(account)) as versions:
            async for published in versions:
                yield published.body

    async def shutdown(self, _app: web.Application) -> None:
        """End long-polls (304) and close streams, so that shutdown does not wait for them."""
        self._closing = True
        for waiter in list(self._long_polls):
            waiter.cancel()
        await self._streams.close_all()


def add_banlist_routes(app: web.Application, hub: BanListHub, accounts: Sequence[str]) -> None:
    """Add ``GET /v1/banlist`` and ``GET /v1/banlist/stream`` for *accounts*, served from *hub*."""
    routes = _BanListRoutes(hub, Accounts(tuple(accounts)), connection_slots(app))
    app.router.add_get("/v1/banlist", routes.get)
    app.router.add_get("/v1/banlist/stream", routes.stream)
    app.on_shutdown.append(routes.shutdown)
