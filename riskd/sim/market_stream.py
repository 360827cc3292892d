"""Market-data WebSocket streams: connections, subscriptions, and one fan-out per event.

Routes, as Binance serves them since it split its hosts (2026-04-23):

* ``/market/stream?streams=a/b`` and ``/market/ws/<stream>``: klines, mark price, tickers;
* ``/public/stream?streams=a/b`` and ``/public/ws/<stream>``: bookTicker and partial depth;
* the legacy ``/stream`` and ``/ws/<stream>``: the connection is accepted and nothing is pushed.

A stream on the wrong route, or naming an unknown symbol, is accepted and stays silent, as on
Binance. ``/…/stream`` wraps each event as ``{"stream": name, "data": event}``; ``/…/ws``
sends the bare event. Every socket answers SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
SET_PROPERTY and GET_PROPERTY.

One hub serves every socket: each due event is rendered once and its text queued on each
subscriber, and the hub is driven by the simulator's tick (no timer per socket or stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from riskd.sim.sockets import CLOSE, SocketHub, StreamFault, next_item
from riskd.sim.stream_events import StreamSpec, parse_stream

LEGACY_ROUTE = "legacy"
MAX_STREAMS_PER_CONNECTION = 1024
MAX_INCOMING_PER_SECOND = 10
_METHODS = "SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"

Render = Callable[[list[tuple[StreamSpec, int]]], list[dict | None]]
"""Renders events for (stream, at_ms) requests, in order (the exchange, under its lock)."""


@dataclass(eq=False, slots=True)
class MarketConnection:
    """One client socket: its route, its subscriptions and the text waiting to be sent."""

    ws: web.WebSocketResponse
    route: str
    combined: bool
    opened_ms: int
    remote_ip: str
    # Every subscribed name, in subscription order (silent ones included).
    streams: dict[str, None] = field(default_factory=dict)
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    fault: StreamFault = field(default_factory=StreamFault)
    incoming_ms: deque[int] = field(default_factory=deque)


class RequestError(Exception):
    """A bad SUBSCRIBE-style request: answered with Binance's ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class ConnectionLimit(RequestError):
    """A breach of a connection limit (streams, message rate): the socket is closed."""


class MarketStreamHub(SocketHub[MarketConnection]):
    """Market-stream sockets and what they subscribe; pushes due events on ``publish``."""

    def __init__(
        self,
        clock: Callable[[], int],
        max_lifetime_ms: int,
        symbols: Callable[[], Collection[str]],
        render: Render,
    ) -> None:
        super().__init__(clock, max_lifetime_ms)
        self._symbols = symbols
        self._render = render
        # Live streams (known symbol, right route) and their subscribers.
        self._subscribers: dict[str, set[MarketConnection]] = {}
        self._specs: dict[str, StreamSpec] = {}
        self._by_cadence: dict[int, set[str]] = {}
        self._next_due_ms: dict[int, int] = {}
        # Price versions per symbol, and the version each stream last pushed.
        self._versions: dict[str, int] = {}
        self._pushed_version: dict[str, int] = {}
        self._kline_open_ms: dict[str, int] = {}
        self._changed: set[str] = set()

    # ------------------------------------------------------------ driven by the simulator

    def price_changed(self, symbol: str) -> None:
        """A symbol's price moved: its bookTicker goes out on the next publish."""
        self._versions[symbol] = self._versions.get(symbol, 0) + 1
        self._changed.add(symbol)

    def publish(self) -> None:
        """Push every event that is due now, rendered once per stream."""
        if not self._subscribers:
            self._changed.clear()
            return
        now = self.clock()
        requests: list[tuple[StreamSpec, int]] = []
        changed, self._changed = self._changed, set()
        for symbol in changed:
            spec = self._specs.get(f"{symbol.lower()}@bookTicker")
            if spec is not None:
                requests.append((spec, now))
        for cadence, names in self._by_cadence.items():
            if now < self._next_due_ms.get(cadence, 0):
                continue
            self._next_due_ms[cadence] = now - now % cadence + cadence
            for name in names:
                requests.extend(self._due(self._specs[name], now))
        if requests:
            self._fan_out(requests, self._render(requests), now)

    def _due(self, spec: StreamSpec, now: int) -> list[tuple[StreamSpec, int]]:
        """What a periodic stream pushes at this cadence tick: the mark price and tickers
        always; a depth or kline only if its symbol's price moved (a kline also closes, once,
        with ``x: true`` when its interval has ended)."""
        if spec.kind in ("markPrice", "ticker"):
            return [(spec, now)]
        version = self._versions.get(spec.symbol, 0)
        due: list[tuple[StreamSpec, int]] = []
        if spec.kind == "kline":
            current_open = now - now % spec.interval_ms
            open_ms = self._kline_open_ms.get(spec.name)
            if open_ms is not None and open_ms != current_open:
                due.append((spec, open_ms))
            elif self._pushed_version.get(spec.name) == version:
                return due
            self._kline_open_ms[spec.name] = current_open
        elif self._pushed_version.get(spec.name) == version:
            return due
        self._pushed_version[spec.name] = version
        due.append((spec, now))
        return due

    def _fan_out(
        self, requests: list[tuple[StreamSpec, int]], events: list[dict | None], now: int
    ) -> None:
        for (spec, _at), event in zip(requests, events, strict=True):
            subscribers = self._subscribers.get(spec.name)
            if event is None or not subscribers:
                continue
            raw = json.dumps(event, separators=(",", ":"))
            wrapped = None
            for conn in subscribers:
                if conn.combined:
                    wrapped = wrapped or f'{{"stream":"{spec.name}","data":{raw}}}'
                self.deliver(conn, wrapped if conn.combined else raw, now)

    @property
    def live_streams(self) -> int:
        """Streams with at least one subscriber that receives events."""
        return len(self._subscribers)

    # ------------------------------------------------------------ subscriptions

    def _subscribe(self, conn: MarketConnection, names: list[str]) -> None:
        specs = [(name, parse_stream(name)) for name in names]
        canonical = [spec.name if spec else name for name, spec in specs]
        if len(conn.streams.keys() | set(canonical)) > MAX_STREAMS_PER_CONNECTION:
            raise ConnectionLimit(
                2, f"Invalid request: more than {MAX_STREAMS_PER_CONNECTION} streams"
            )
        symbols = self._symbols()
        for name, spec in zip(canonical, (s for _, s in specs), strict=True):
            if name in conn.streams:
                continue
            conn.streams[name] = None
            if spec is None or spec.route != conn.route or spec.symbol not in symbols:
                continue
            subscribers = self._subscribers.setdefault(name, set())
            if not subscribers:
                self._specs[name] = spec
                if spec.cadence_ms:
                    self._by_cadence.setdefault(spec.cadence_ms, set()).add(name)
            subscribers.add(conn)
            # Push the stream's current state on its next tick, for the newcomer.
            self._pushed_version.pop(name, None)

    def _unsubscribe(self, conn: MarketConnection, names: list[str]) -> None:
        for name in names:
            spec = parse_stream(name)
            canonical = spec.name if spec else name
            conn.streams.pop(canonical, None)
            subscribers = self._subscribers.get(canonical)
            if subscribers is None or conn not in subscribers:
                continue
            subscribers.discard(conn)
            if not subscribers:
                del self._subscribers[canonical]
                gone = self._specs.pop(canonical)
                self._by_cadence.get(gone.cadence_ms, set()).discard(canonical)
                self._pushed_version.pop(canonical, None)
                self._kline_open_ms.pop(canonical, None)

    # ------------------------------------------------------------ sockets

    async def serve(
        self, request: web.Request, route: str, names: list[str], *, combined: bool
    ) -> web.WebSocketResponse:
        """Accept a socket on *route* subscribed to *names* and serve it until it closes."""
        ws = web.WebSocketResponse(heartbeat=None, autoping=True)
        await ws.prepare(request)
        conn = MarketConnection(ws, route, combined, self.clock(), request.remote or "")
        self.connections.add(conn)
        reader = asyncio.create_task(self._read(conn))
        close_code, close_message = WSCloseCode.GOING_AWAY, b""
        try:
            self._subscribe(conn, names)
            while (text := await next_item(conn, reader)) is not CLOSE:
                if isinstance(text, ConnectionLimit):
                    close_code, close_message = WSCloseCode.POLICY_VIOLATION, text.msg.encode()
                    break
                await ws.send_str(text)
        except ConnectionLimit as exc:
            close_code, close_message = WSCloseCode.POLICY_VIOLATION, exc.msg.encode()
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            self._unsubscribe(conn, list(conn.streams))
            self.connections.discard(conn)
            reader.cancel()
            with contextlib.suppress(Exception):
                await ws.close(code=close_code, message=close_message)
        return ws

    async def _read(self, conn: MarketConnection) -> None:
        """Answer the client's requests; more than 10 a second closes the socket."""
        async for message in conn.ws:
            if message.type != WSMsgType.TEXT:
                continue
            now = self.clock()
            conn.incoming_ms.append(now)
            while conn.incoming_ms[0] <= now - 1000:
                conn.incoming_ms.popleft()
            if len(conn.incoming_ms) > MAX_INCOMING_PER_SECOND:
                conn.queue.put_nowait(
                    ConnectionLimit(2, f"more than {MAX_INCOMING_PER_SECOND} messages a second")
                )
                return
            reply = self._answer(conn, message.data)
            if isinstance(reply, ConnectionLimit):
                conn.queue.put_nowait(reply)
                return
            conn.queue.put_nowait(json.dumps(reply, separators=(",", ":")))

    def _answer(self, conn: MarketConnection, text: str) -> dict | ConnectionLimit:
        """The reply to one request, or the limit it breached (the socket then closes)."""
        try:
            body = json.loads(text)
        except ValueError as exc:
            return {"code": 3, "msg": f"Invalid JSON: {exc}"}
        if not isinstance(body, dict):
            return {"code": 2, "msg": "Invalid request: request must be a JSON object"}
        request_id = body.get("id")
        try:
            result = self._execute(conn, body)
        except ConnectionLimit as exc:
            return exc
        except RequestError as exc:
            return {"code": exc.code, "msg": exc.msg, "id": request_id}
        return {"result": result, "id": request_id}

    def _execute(self, conn: MarketConnection, body: dict) -> object:
        request_id = body.get("id")
        if request_id is not None and not (
            isinstance(request_id, str)
            or (
                isinstance(request_id, int) and not isinstance(request_id, bool) and request_id >= 0
            )
        ):
            raise RequestError(2, "Invalid request: request ID must be an unsigned integer")
        method = body.get("method")
        if method is None:
            raise RequestError(2, "Invalid request: missing field `method`")
        params = body.get("params", [])
        if not isinstance(params, list):
            raise RequestError(1, "Invalid value type: expected array")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not all(isinstance(p, str) for p in params):
                raise RequestError(1, "Invalid value type: expected string")
            if method == "SUBSCRIBE":
                self._subscribe(conn, params)
            else:
                self._unsubscribe(conn, params)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            return list(conn.streams)
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(conn, method, params)
        raise RequestError(
            2, f"Invalid request: unknown variant `{method}`, expected one of {_METHODS}"
        )

    @staticmethod
    def _property(conn: MarketConnection, method: str, params: list) -> object:
        """The one property Binance has: ``combined`` (wrap events with their stream name)."""
        if not params or params[0] != "combined":
            raise RequestError(0, "Unknown property")
        if method == "GET_PROPERTY":
            return conn.combined
        if len(params) != 2 or not isinstance(params[1], bool):
            raise RequestError(1, "Invalid value type: expected Boolean")
        conn.combined = params[1]
        return None
