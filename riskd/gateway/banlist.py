"""HTTP and WebSocket routes that publish the ban list from a :class:`BanListHub`.

``GET /v1/banlist[?account=NAME]``
    200 with the snapshot (``application/json``), ``ETag`` and ``Cache-Control: no-cache``.
    ``account`` may be left out only when the gateway serves one account (else 400); an unknown
    account is 404; no snapshot yet is 503. ``If-None-Match`` naming the current ETag (or ``*``)
    gives 304 with no body.
``GET /v1/banlist?version=N[&wait=S]``
    Long-poll: 200 with the snapshot as soon as its version exceeds N, waiting at most S seconds
    (0 ≤ S ≤ 60, default 0). If nothing newer arrives in time: 304 with no body and the current
    ETag (503 if there is still no snapshot at all). ``wait`` without ``version`` is 400.
``GET /v1/banlist/stream[?account=NAME]``
    WebSocket: the current snapshot first (as soon as there is one), then every new version, each
    as one text message in the same JSON as the GET. Messages from the client are ignored. A slow
    reader skips to the newest version.

On shutdown, pending long-polls end at once as if nothing newer arrived (304) and streams close
with code 1001. Every error is JSON ``{"error": "..."}`` naming the bad parameter. Auth is the
gateway's middleware. Each version is encoded once and its bytes reused by every response.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import weakref
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Final

from aiohttp import WSCloseCode, web

from riskd.core.bodies import INT64_MAX, shown, whole_number
from riskd.gateway.hub import BanListHub
from riskd.risk.banlist import BanList

MAX_WAIT_S: Final = 60.0
WS_HEARTBEAT_S: Final = 20.0
_CACHE_CONTROL: Final = "no-cache"
_SECONDS: Final = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")


def _error(message: str, status: int, **extra: object) -> web.Response:
    body = json.dumps({"error": message, **extra}, separators=(",", ":"))
    return web.Response(text=body, status=status, content_type="application/json")


class _BadRequest(Exception):
    """A request the routes refuse; carries the ready response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


@dataclass(frozen=True, slots=True)
class _Encoded:
    banlist: BanList
    body: bytes
    text: str


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses the weak comparison: ``W/`` prefixes do not matter."""
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return any(tag in ("*", etag) for tag in candidates)


class _BanListRoutes:
    def __init__(self, hub: BanListHub, accounts: Sequence[str]) -> None:
        self._hub = hub
        self._accounts = tuple(accounts)
        self._encoded: dict[str, _Encoded] = {}
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._long_polls: set[asyncio.Future[BanList | None]] = set()
        self._closing = False

    def _encode(self, banlist: BanList) -> _Encoded:
        cached = self._encoded.get(banlist.account)
        if cached is not None and cached.banlist is banlist:
            return cached
        body = banlist.to_json()
        encoded = _Encoded(banlist, body, body.decode())
        if cached is None or banlist.version >= cached.banlist.version:
            self._encoded[banlist.account] = encoded
        return encoded

    def _account(self, request: web.Request) -> str:
        wanted = request.query.get("account")
        if wanted is None:
            if len(self._accounts) == 1:
                return self._accounts[0]
            raise _BadRequest(
                _error(
                    "account: required, this gateway serves several", 400, accounts=self._accounts
                )
            )
        if wanted not in self._accounts:
            raise _BadRequest(
                _error(f"account: unknown account {shown(wanted)}", 404, accounts=self._accounts)
            )
        return wanted

    @staticmethod
    def _long_poll(request: web.Request) -> tuple[int, float] | None:
        """``(version, wait_s)`` when the request long-polls, else None."""
        raw_version = request.query.get("version")
        raw_wait = request.query.get("wait")
        if raw_version is None:
            if raw_wait is not None:
                raise _BadRequest(_error("wait: needs version=N (the version you hold)", 400))
            return None
        try:
            version = whole_number("version", raw_version, 0, INT64_MAX)
        except ValueError as exc:
            raise _BadRequest(_error(str(exc), 400)) from None
        if raw_wait is None:
            return version, 0.0
        # ASCII digits only: float() also reads other scripts' digits, "1_0" and "inf".
        wait_s = float(raw_wait) if _SECONDS.fullmatch(raw_wait) else math.nan
        if not 0 <= wait_s <= MAX_WAIT_S:
            message = f"wait: must be seconds from 0 to {MAX_WAIT_S:g}, not {shown(raw_wait)}"
            raise _BadRequest(_error(message, 400))
        return version, wait_s

    @staticmethod
    def _no_snapshot(account: str) -> web.Response:
        return _error(f"no ban list for account {account!r} yet", 503)

    def _snapshot(self, request: web.Request, banlist: BanList) -> web.Response:
        headers = {"ETag": banlist.etag, "Cache-Control": _CACHE_CONTROL}
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and _etag_matches(if_none_match, banlist.etag):
            return web.Response(status=304, headers=headers)
        body = self._encode(banlist).body
        return web.Response(body=body, headers=headers, content_type="application/json")

    async def get(self, request: web.Request) -> web.Response:
        try:
            account = self._account(request)
            long_poll = self._long_poll(request)
        except _BadRequest as bad:
            return bad.response
        if long_poll is None:
            banlist = self._hub.latest(account)
            return (
                self._no_snapshot(account) if banlist is None else self._snapshot(request, banlist)
            )
        version, wait_s = long_poll
        newer = await self._wait_newer(account, version, wait_s)
        if newer is not None:
            return self._snapshot(request, newer)
        current = self._hub.latest(account)
        if current is None:
            return self._no_snapshot(account)
        return web.Response(
            status=304, headers={"ETag": current.etag, "Cache-Control": _CACHE_CONTROL}
        )

    async def _wait_newer(self, account: str, version: int, wait_s: float) -> BanList | None:
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
            account = self._account(request)
        except _BadRequest as bad:
            return bad.response
        socket = web.WebSocketResponse(heartbeat=WS_HEARTBEAT_S)
        await socket.prepare(request)
        self._sockets.add(socket)
        pusher = asyncio.create_task(self._push(socket, account))
        try:
            async for _message in socket:
                pass  # the client has nothing to say; reading notices its close
        finally:
            pusher.cancel()
        return socket

    async def _push(self, socket: web.WebSocketResponse, account: str) -> None:
        """Send every version until the socket closes (the reader then ends the handler)."""
        async with aclosing(self._hub.subscribe(account)) as versions:
            async for banlist in versions:
                if socket.closed:
                    return
                try:
                    await socket.send_str(self._encode(banlist).text)
                except ConnectionResetError:
                    return

    async def shutdown(self, _app: web.Application) -> None:
        """End long-polls (304) and close streams, so that shutdown does not wait for them."""
        self._closing = True
        for waiter in list(self._long_polls):
            waiter.cancel()
        for socket in list(self._sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"gateway shutting down")


def add_banlist_routes(app: web.Application, hub: BanListHub, accounts: Sequence[str]) -> None:
    """Add ``GET /v1/banlist`` and ``GET /v1/banlist/stream`` for *accounts*, served from *hub*."""
    if not accounts:
        raise ValueError("accounts: the ban list needs at least one account")
    routes = _BanListRoutes(hub, accounts)
    app.router.add_get("/v1/banlist", routes.get)
    app.router.add_get("/v1/banlist/stream", routes.stream)
    app.on_shutdown.append(routes.shutdown)
