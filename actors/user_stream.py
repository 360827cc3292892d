"""UserStream: the account's user-data WebSocket, kept open, resynced, and routed.

The connection is plain aiohttp (``ws_connect`` on the job's own session, so it leaves from the
job's egress address); the listenKey calls go through the job's BinanceAccess and budget. Each
message is parsed once (``riskd.exchange.userstream.parse_user_event``) and its typed event sent
on: ACCOUNT_UPDATE to the PositionBook, ORDER_TRADE_UPDATE to the StopLadder and the Ledger,
ALGO_UPDATE to the StopLadder.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from actors.base import Job
from actors.context import ConfigSource
from riskd.core.clock import wall_ms
from riskd.exchange.client import user_stream_url
from riskd.exchange.errors import Rejected
from riskd.exchange.parse import PayloadError, parse_account
from riskd.exchange.parse_orders import AlgoUpdate, OrderUpdate
from riskd.exchange.userstream import (
    ListenKeyExpired,
    UserEvent,
    UserStreamConfig,
    parse_user_event,
)
from riskd.plan import JobKind, JobSpec
from riskd.positions import SourceSnapshot

INVALID_LISTEN_KEY = -1125


class UserStream(Job):
    """One pass of ``step`` is one connection's life: key, REST resync, then events until the
    connection ends (closed, listenKeyExpired, −1125, or its 24 h limit); then it reconnects."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        self.stream = UserStreamConfig()
        self.events_received = 0
        self.reconnects = -1
        self._key_invalid = asyncio.Event()
        self.stop_ladder = self.account_peer(JobKind.STOP_LADDER)
        self.ledger = self.account_peer(JobKind.LEDGER)

    async def step(self) -> None:
        listen_key = await self._create_listen_key()
        await self._resync()
        self.reconnects += 1
        self._key_invalid.clear()
        url = user_stream_url(self.config.exchange, listen_key)
        async with self.access.client.session.ws_connect(
            url, heartbeat=self.stream.heartbeat_s
        ) as ws:
            keepalive = asyncio.get_running_loop().create_task(self._keepalive(listen_key))
            try:
                await self._consume(ws)
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive

    async def _consume(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        opened = wall_ms()
        poll_s = self.spec.config.interval_ms / 1000
        while wall_ms() - opened < self.stream.max_connection_ms:
            if self._key_invalid.is_set():
                return
            try:
                message = await ws.receive(timeout=poll_s)
            except TimeoutError:
                self.health.succeeded(wall_ms())  # quiet account, live connection
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                return  # closed, closing or error: reconnect
            self.health.succeeded(wall_ms())
            if isinstance(await self._route(message.data), ListenKeyExpired):
                return

    async def _route(self, text: str) -> UserEvent | None:
        """Parse one message and send its event on; the event, None if there was none."""
        self.events_received += 1
        try:
            event = parse_user_event(text)
        except PayloadError as exc:
            self.health.failed(str(exc), wall_ms())
            return None
        match event:
            case SourceSnapshot():
                await self.position_book.apply.remote(event)
            case OrderUpdate():
                if self.stop_ladder is not None:
                    self.stop_ladder.notify("on_order_update", event)
                if self.ledger is not None:
                    self.ledger.notify("on_order_update", event)
            case AlgoUpdate() if self.stop_ladder is not None:
                self.stop_ladder.notify("on_algo_update", event)
        return event

    async def _create_listen_key(self) -> str:
        return await self.access.read(
            "POST", "/fapi/v1/listenKey", self.access.client.futures_stream_get_listen_key
        )

    async def _resync(self) -> None:
        """REST truth for the PositionBook: covers whatever the stream missed while down."""
        taken_at = self.clock.now_ms()
        body = await self.access.read(
            "GET", "/fapi/v3/account", lambda: self.access.client.futures_account(version=3)
        )
        await self.position_book.apply.remote(parse_account(body, taken_at))

    async def _keepalive(self, listen_key: str) -> None:
        while True:
            await asyncio.sleep(self.stream.next_keepalive_ms(self._rng) / 1000)
            try:
                await self.access.read(
                    "PUT",
                    "/fapi/v1/listenKey",
                    lambda: self.access.client.futures_stream_keepalive(listenKey=listen_key),
                )
            except Rejected as exc:
                if exc.code == INVALID_LISTEN_KEY:
                    self._key_invalid.set()  # a new key and a new connection
                    return
                raise

    async def health_report(self) -> dict:
        self.health.extra = {"events": self.events_received, "reconnects": max(self.reconnects, 0)}
        return await super().health_report()
