"""HTTP and WebSocket routes that serve robots the market data of a :class:`MarketHub`.

``GET /v1/market/klines?symbol=S&interval=I[&limit=N][&startTime=MS][&endTime=MS]``
    ``{"symbol", "interval", "age_ms", "klines": [[Binance's 12 fields], ...]}``, oldest first,
    selected as Binance does: with ``startTime`` the first ``limit`` (default 500, at most
    1500) opened from it, else the last ``limit`` opened up to ``endTime`` (both inclusive,
    epoch ms). The cache serves its window; what lies before it comes from SQL, the cache
    winning for an open time both hold. ``age_ms`` counts from the newest cached kline's update.
``GET /v1/market/ticker?symbol=S``
    ``{"symbol", "age_ms", "bid", "bid_qty", "ask", "ask_qty", "last", "time"}``: the best bid
    and ask (``time`` and the age are the book's), and the last price of the 24 h ticker or
    the newest kline's close, whichever is newer (null before either).
``GET /v1/market/mark?symbol=S``
    ``{"symbol", "age_ms", "mark", "index", "funding_rate", "next_funding_ms"}``.
``GET /v1/market/stream?symbols=A,B`` (WebSocket)
    The current ticker, mark and newest kline of each interval of each symbol (at most 200),
    then every change, one JSON text message each: ``{"type": "ticker" | "mark", ...}`` with
    the fields of the GET, or ``{"type": "kline", "symbol", "interval", "kline", "closed"}``.
    A slow reader skips to the newest value of each. Messages from the client are ignored;
    streams close with 1001 on shutdown.
``GET /v1/market/stats``
    Requests answered per robot, and the age of each kind of data per symbol.

Every route takes ``robot=ID`` (letters, digits and ``_.:-``, at most 64), under which its
answered (2xx) requests and opened streams are counted; without it, under ``anonymous``.
Prices and quantities are Binance's decimal strings. A bad or unknown parameter is a 400
naming it, a symbol the feed does not carry 404, a known symbol with no data yet 503, and data
older than its kind's ``max_age`` 503 with its ``age_ms``: robots must not trade on it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from typing import Final

from aiohttp import web

from riskd.core.bodies import INT64_MAX, shown, whole_number
from riskd.core.clock import Clock
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.limits import ConnectionSlots, connection_slots
from riskd.gateway.market_hub import (
    ANONYMOUS,
    KlineWindow,
    MarketHub,
    Rendered,
    age_ms,
    row_json,
)
from riskd.gateway.ports import Backend
from riskd.gateway.push import PushStreams
from riskd.market.records import INTERVAL_MS, MAX_KLINES, SYMBOL_PATTERN, MarketKind

DEFAULT_LIMIT: Final = 500
MAX_STREAM_SYMBOLS: Final = 200
ROBOT_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

_KLINES: Final = frozenset({"symbol", "interval", "limit", "startTime", "endTime", "robot"})
_ONE_SYMBOL: Final = frozenset({"symbol", "robot"})
_STREAM: Final = frozenset({"symbols", "robot"})
_STATS: Final = frozenset({"robot"})


def checked_query(request: web.Request, allowed: frozenset[str]) -> Mapping[str, str]:
    """The request's parameters, each given at most once and each one of *allowed*."""
    counts = Counter(request.query.keys())
    unknown = sorted(set(counts) - allowed)
    if unknown:
        names = ", ".join(shown(name) for name in unknown)
        raise Refused(400, f"unknown parameters {names} (known: {', '.join(sorted(allowed))})")
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise Refused(400, f"{repeated[0]}: given more than once")
    return request.query


def _robot(query: Mapping[str, str]) -> str:
    robot = query.get("robot")
    if robot is None:
        return ANONYMOUS
    if not ROBOT_PATTERN.fullmatch(robot):
        raise Refused(400, f"robot: must be 1 to 64 letters, digits or '_.:-', not {shown(robot)}")
    return robot


def _number(query: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    digits = query.get(name)
    if digits is None:
        return None
    with refusing((ValueError, 400)):
        return whole_number(name, digits, low, high)


def _json(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/json")


class _MarketRoutes:
    def __init__(
        self, hub: MarketHub, backend: Backend, clock: Clock, slots: ConnectionSlots
    ) -> None:
        self._hub = hub
        self._backend = backend
        self._clock = clock
        self._streams = PushStreams(slots)

    def _symbol(self, name: str, symbol: str | None) -> str:
        """*symbol*, well formed and carried by the feed."""
        if not symbol:
            raise Refused(400, f"{name}: required")
        if not SYMBOL_PATTERN.fullmatch(symbol):
            raise Refused(
                400, f"{name}: must be 1 to 20 upper-case letters or digits, not {shown(symbol)}"
            )
        if not self._hub.symbols:
            raise Refused(503, "the feed has not named its symbols yet; try again")
        if symbol not in self._hub.symbols:
            raise Refused(404, f"{name}: unknown symbol {shown(symbol)}")
        return symbol

    def _interval(self, interval: str | None) -> str:
        intervals = self._hub.config.intervals
        if interval not in intervals:
            given = "required" if interval is None else f"not {shown(interval)}"
            raise Refused(400, f"interval: must be one of {', '.join(intervals)}; {given}")
        return interval

    def _age_ms(self, symbol: str, kind: MarketKind, update_ms: int, now_ms: int) -> int:
        """The data's age; 503 when it is older than its kind may be served."""
        age = age_ms(update_ms, now_ms)
        max_age_ms = self._hub.config.max_age.of(kind)
        if age > max_age_ms:
            message = f"{symbol}'s {kind} data is {age} ms old (served up to {max_age_ms} ms)"
            raise Refused(503, message, age_ms=age)
        return age

    def _latest(self, request: web.Request, view: Callable[[str], Rendered | None]) -> web.Response:
        """A symbol's ticker or mark, as *view* renders it."""
        query = checked_query(request, _ONE_SYMBOL)
        robot = _robot(query)
        symbol = self._symbol("symbol", query.get("symbol"))
        rendered = view(symbol)
        if rendered is None:
            raise Refused(503, f"no data yet for {symbol}")
        now_ms = self._clock()
        self._age_ms(symbol, rendered.kind, rendered.update_ms, now_ms)
        self._hub.count(robot)
        return _json(rendered.json(now_ms))

    async def ticker(self, request: web.Request) -> web.Response:
        return self._latest(request, self._hub.ticker)

    async def mark(self, request: web.Request) -> web.Response:
        return self._latest(request, self._hub.mark)

    async def klines(self, request: web.Request) -> web.Response:
        query = checked_query(request, _KLINES)
        robot = _robot(query)
        symbol = self._symbol("symbol", query.get("symbol"))
        interval = self._interval(query.get("interval"))
        limit = _number(query, "limit", 1, MAX_KLINES) or DEFAULT_LIMIT
        start_ms = _number(query, "startTime", 0, INT64_MAX)
        end_ms = _number(query, "endTime", 0, INT64_MAX)
        if start_ms is not None and end_ms is not None and start_ms > end_ms:
            raise Refused(400, f"startTime: must not be after endTime, not {start_ms} > {end_ms}")
        window = self._hub.klines(symbol, interval)
        if window is None:
            raise Refused(503, f"no data yet for {symbol} {interval}")
        age = self._age_ms(symbol, MarketKind.KLINE, window.update_ms, self._clock())
        rows = await self._kline_rows(symbol, interval, window, limit, start_ms, end_ms)
        self._hub.count(robot)
        return _json(
            f'{{"symbol":"{symbol}","interval":"{interval}","age_ms":{age},'
            f'"klines":[{",".join(rows)}]}}'
        )

    async def _kline_rows(
        self,
        symbol: str,
        interval: str,
        window: KlineWindow,
        limit: int,
        start_ms: int | None,
        end_ms: int | None,
    ) -> list[str]:
        """The JSON rows Binance would select: from the cache, and from SQL what the request
        reaches before the cache's oldest kline."""
        lo, hi = window.span(start_ms, end_ms)
        if start_ms is None:
            lo = max(lo, hi - limit)
            wanted = limit - (hi - lo)  # from before the window
        else:
            hi = min(hi, lo + limit)
            # Opens are an interval apart: none fits between start_ms and the oldest held.
            wanted = limit if start_ms <= window.opens[0] - INTERVAL_MS[interval] else 0
        if not wanted:
            return window.rows[lo:hi]
        before_ms = window.opens[0] - 1
        if end_ms is not None:
            before_ms = min(before_ms, end_ms)
        history = await self._backend.kline_history(symbol, interval, start_ms, before_ms, wanted)
        merged = {int(row[0]): row_json(row) for row in history}
        merged.update(zip(window.opens[lo:hi], window.rows[lo:hi], strict=True))
        rows = [merged[open_ms] for open_ms in sorted(merged)]
        return rows[:limit] if start_ms is not None else rows[-limit:]

    async def stats(self, request: web.Request) -> web.Response:
        query = checked_query(request, _STATS)
        self._hub.count(_robot(query))
        return json_response(self._hub.stats(self._clock()))

    def _stream_symbols(self, given: str | None) -> tuple[str, ...]:
        if not given:
            raise Refused(400, "symbols: required, as symbols=BTCUSDT,ETHUSDT")
        names = tuple(dict.fromkeys(given.split(",")))
        if len(names) > MAX_STREAM_SYMBOLS:
            raise Refused(
                400, f"symbols: at most {MAX_STREAM_SYMBOLS} per connection, not {len(names)}"
            )
        return tuple(self._symbol("symbols", name) for name in names)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        query = checked_query(request, _STREAM)
        robot = _robot(query)
        symbols = self._stream_symbols(query.get("symbols"))
        opened = lambda: self._hub.count(robot)  # noqa: E731
        return await self._streams.serve(request, self._changes(symbols), opened)

    async def _changes(self, symbols: tuple[str, ...]) -> AsyncIterator[str]:
        async with aclosing(self._hub.subscribe(symbols)) as batches:
            async for changes in batches:
                for change in changes:
                    message = self._hub.message(change, self._clock())
                    if message is not None:
                        yield message

    async def shutdown(self, _app: web.Application) -> None:
        """Close the streams, so that shutdown does not wait for them."""
        await self._streams.close_all()


def add_market_routes(app: web.Application, hub: MarketHub, backend: Backend, clock: Clock) -> None:
    """Add the ``/v1/market/`` routes, served from *hub* and, for klines before its window,
    *backend*; ages and staleness counted on *clock*."""
    routes = _MarketRoutes(hub, backend, clock, connection_slots(app))
    app.router.add_get("/v1/market/klines", routes.klines)
    app.router.add_get("/v1/market/ticker", routes.ticker)
    app.router.add_get("/v1/market/mark", routes.mark)
    app.router.add_get("/v1/market/stream", routes.stream)
    app.router.add_get("/v1/market/stats", routes.stats)
    app.on_shutdown.append(routes.shutdown)
