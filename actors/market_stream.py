"""MarketStream: the feed's WebSocket reader, on Binance's ``/market`` and ``/public`` combined
streams (decides: riskd.market.streams, .parse, .silence).

A legacy stream URL accepts the connection and pushes nothing, and a connection can go quiet
while it looks open: every connection has a silence watchdog. One pass of ``step`` is the
life of one set of connections; when any of them is silent for ``silence_ms`` (or closes, or
the symbol list changes) they are all closed, the silence is reported, and the next pass
reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp

from actors.base import Job
from actors.context import GATEWAY_NAME, KLINE_STORE_NAME, MARKET_HUB_NAME, ConfigSource
from riskd.core.clock import wall_ms
from riskd.exchange.client import base_url
from riskd.exchange.errors import ExchangeError, MalformedResponse
from riskd.market import parse
from riskd.market.records import Kline, MarketKind, Record
from riskd.market.silence import SilenceWatch
from riskd.market.streams import StreamRoute, connection_urls, stream_names, ws_base_url
from riskd.notify.events import stream_silent_alert
from riskd.plan import JobSpec

PUBLISH_EVERY_S = 0.05
"""Records are batched this long before they go to the gateway (one Ray call per batch)."""
SYMBOLS_CHECK_EVERY_S = 30.0


RECOVERED_AFTER_MS = 30_000
"""A silence alert resolves once the connections that replaced it delivered this long."""


class StreamSilent(ExchangeError):
    """A connection pushed nothing for the watchdog's limit."""

    def __init__(self, route: StreamRoute, silent_ms: int) -> None:
        super().__init__(f"WS /{route}/stream", f"pushed nothing for {silent_ms} ms: reconnecting")
        self.route = route
        self.silent_ms = silent_ms


class MarketStream(Job):
    """Keeps one connection per ≤200 streams open on each route and publishes every event."""

    def __init__(self, spec: JobSpec, source: ConfigSource) -> None:
        super().__init__(spec, source)
        assert self.config.market is not None
        self.market = self.config.market
        self.ws_base = ws_base_url(base_url(self.config.exchange))
        self.gateway = self.peer(GATEWAY_NAME)
        self.hub = self.peer(MARKET_HUB_NAME)
        self.kline_store = self.peer(KLINE_STORE_NAME) if self.market.store_klines else None
        self.pending: list[Record] = []
        self.events = 0
        self.reconnects = -1
        self.silent_route: StreamRoute | None = None  # reported silent, not yet resolved
        self.connected_ms = 0

    async def step(self) -> None:
        symbols = await self.hub.call("symbols")
        if not symbols:
            return  # the hub has not read exchangeInfo yet
        self.reconnects += 1
        self.connected_ms = wall_ms()
        names = stream_names(symbols, self.market.intervals, set(MarketKind))
        urls = [
            (route, url)
            for route, streams in names.items()
            for url in connection_urls(self.ws_base, route, streams)
        ]
        tasks = [asyncio.create_task(self._connection(route, url)) for route, url in urls]
        tasks.append(asyncio.create_task(self._publisher()))
        tasks.append(asyncio.create_task(self._symbols_unchanged(symbols)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # StreamSilent, a transport error: this pass failed
        except StreamSilent as silent:
            self.silent_route = silent.route
            self.report(
                [stream_silent_alert(silent.route, silent.silent_ms, wall_ms(), firing=True)]
            )
            raise
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._flush()

    async def _connection(self, route: StreamRoute, url: str) -> None:
        """Receive until the connection ends or goes silent."""
        watch = SilenceWatch(self.market.silence_ms, wall_ms)
        async with self.access.client.session.ws_connect(url, heartbeat=10.0) as ws:
            while True:
                left_ms = self.market.silence_ms - watch.silent_ms()
                try:
                    message = await ws.receive(timeout=max(left_ms, 1) / 1000)
                except TimeoutError:
                    if watch.is_silent():
                        raise StreamSilent(route, watch.silent_ms()) from None
                    continue
                if message.type != aiohttp.WSMsgType.TEXT:
                    return  # closed or failed: reconnect
                watch.heard()
                self._receive(message.data)

    def _receive(self, text: str) -> None:
        try:
            record = parse.stream_event(json.loads(text))
        except (ValueError, MalformedResponse) as exc:
            self.health.failed(str(exc), wall_ms())
            return
        if record is None:
            return
        self.events += 1
        self.health.succeeded(wall_ms())
        self.pending.append(record)
        now_ms = wall_ms()
        if self.silent_route is not None and now_ms - self.connected_ms >= RECOVERED_AFTER_MS:
            self.report([stream_silent_alert(self.silent_route, 0, now_ms, firing=False)])
            self.silent_route = None

    async def _publisher(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_EVERY_S)
            self._flush()

    def _flush(self) -> None:
        records, self.pending = self.pending, []
        if not records:
            return
        self.gateway.notify("publish_market", records)
        closed = [r for r in records if isinstance(r, Kline) and r.closed]
        if closed and self.kline_store is not None:
            self.kline_store.notify("store_klines", closed)

    async def _symbols_unchanged(self, symbols: tuple[str, ...]) -> None:
        """Returns (ending the pass, so it reconnects) when the feed's symbols change."""
        while True:
            await asyncio.sleep(SYMBOLS_CHECK_EVERY_S)
            if tuple(await self.hub.call("symbols")) != tuple(symbols):
                return

    async def health_report(self) -> dict:
        self.health.extra = {"events": self.events, "reconnects": max(self.reconnects, 0)}
        return await super().health_report()
