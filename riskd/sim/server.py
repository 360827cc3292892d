"""The simulator's aiohttp server: Binance's REST paths, the user stream and `/_sim/`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from urllib.parse import parse_qsl

from aiohttp import web

from riskd.exchange.weights import endpoint_weight
from riskd.sim import auth
from riskd.sim.accounts import Account
from riskd.sim.config import SimConfig
from riskd.sim.errors import BinanceError
from riskd.sim.exchange import SimExchange
from riskd.sim.faults import EXPIRE_LISTEN_KEYS, STREAM_FAULTS, Fault, FaultPlan, IpFault
from riskd.sim.limits import IpBanned, IpLimited, RateLimiter
from riskd.sim.market_stream import LEGACY_ROUTE, MarketStreamHub
from riskd.sim.stream import UserStreamHub
from riskd.sim.stream_events import MARKET_ROUTE, PUBLIC_ROUTE

log = logging.getLogger(__name__)

UNKNOWN_ERROR = BinanceError(
    -1000, "Unknown error, please check your request or try again later.", 503
)
HTML_503 = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


class SimClock:
    """Wall-clock milliseconds plus an offset that the control API can advance."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def advance(self, ms: int) -> None:
        self.offset_ms += ms


class Security(Enum):
    NONE = "NONE"
    USER_STREAM = "USER_STREAM"  # API key, no signature
    SIGNED = "SIGNED"


Handler = Callable[[SimExchange, Account | None, dict[str, str]], object]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    security: Security
    handler: Handler


def _market(fn: Callable[[SimExchange, dict[str, str]], object]) -> Handler:
    return lambda ex, _account, params: fn(ex, params)


def _account(fn: Callable[[SimExchange, Account], object]) -> Handler:
    return lambda ex, account, _params: fn(ex, account)


def _routes() -> list[Route]:
    none, key, signed = Security.NONE, Security.USER_STREAM, Security.SIGNED
    x = SimExchange
    return [
        Route("GET", "/fapi/v1/ping", none, lambda *_: {}),
        Route("GET", "/fapi/v1/time", none, lambda ex, *_: ex.server_time()),
        Route("GET", "/fapi/v1/exchangeInfo", none, lambda ex, *_: ex.exchange_info()),
        Route("GET", "/fapi/v1/klines", none, _market(x.klines)),
        Route("GET", "/fapi/v1/depth", none, _market(x.depth)),
        Route("GET", "/fapi/v1/ticker/bookTicker", none, _market(x.book_ticker)),
        Route("GET", "/fapi/v1/ticker/24hr", none, _market(x.ticker_24hr)),
        Route("GET", "/fapi/v1/premiumIndex", none, _market(x.premium_index)),
        Route("GET", "/fapi/v1/ticker/price", none, _market(x.ticker_price)),
        Route("GET", "/fapi/v2/ticker/price", none, _market(x.ticker_price)),
        Route("GET", "/fapi/v1/fundingRate", none, _market(x.funding_rate)),
        Route("GET", "/fapi/v2/account", signed, _account(x.account_v2)),
        Route("GET", "/fapi/v3/account", signed, _account(x.account_v3)),
        Route("GET", "/fapi/v2/positionRisk", signed, x.position_risk_v2),
        Route("GET", "/fapi/v3/positionRisk", signed, x.position_risk_v3),
        Route("GET", "/fapi/v1/income", signed, x.income),
        Route("GET", "/fapi/v1/openOrders", signed, x.open_orders),
        Route("GET", "/fapi/v1/openOrder", signed, x.query_open_order),
        Route("POST", "/fapi/v1/order", signed, x.new_order),
        Route("PUT", "/fapi/v1/order", signed, x.modify_order),
        Route("GET", "/fapi/v1/order", signed, x.query_order),
        Route("GET", "/fapi/v1/allOrders", signed, x.all_orders),
        Route("DELETE", "/fapi/v1/order", signed, x.cancel_order),
        Route("POST", "/fapi/v1/batchOrders", signed, x.batch_new),
        Route("DELETE", "/fapi/v1/batchOrders", signed, x.batch_cancel),
        Route("DELETE", "/fapi/v1/allOpenOrders", signed, x.cancel_all),
        Route("POST", "/fapi/v1/algoOrder", signed, x.new_algo_order),
        Route("GET", "/fapi/v1/algoOrder", signed, x.query_algo_order),
        Route("DELETE", "/fapi/v1/algoOrder", signed, x.cancel_algo_order),
        Route("GET", "/fapi/v1/openAlgoOrders", signed, x.open_algo_orders),
        Route("DELETE", "/fapi/v1/algoOpenOrders", signed, x.cancel_all_algo),
        Route("POST", "/fapi/v1/countdownCancelAll", signed, x.countdown_cancel_all),
        Route("POST", "/fapi/v1/listenKey", key, _account(x.create_listen_key)),
        Route("PUT", "/fapi/v1/listenKey", key, _account(x.keepalive_listen_key)),
        Route("DELETE", "/fapi/v1/listenKey", key, _account(x.close_listen_key)),
        Route("GET", "/fapi/v1/apiTradingStatus", signed, x.api_trading_status),
        Route("GET", "/fapi/v1/positionSide/dual", signed, _account(x.position_mode)),
        Route("POST", "/fapi/v1/positionSide/dual", signed, x.set_position_mode),
        Route("GET", "/fapi/v1/leverageBracket", signed, x.leverage_bracket),
        Route("POST", "/fapi/v1/leverage", signed, x.set_leverage),
        Route("POST", "/fapi/v1/marginType", signed, x.set_margin_type),
        Route("GET", "/fapi/v1/userTrades", signed, x.user_trades),
        Route("GET", "/sapi/v1/account/apiRestrictions", signed, _account(x.api_restrictions)),
    ]


def _weight_header(path: str) -> str:
    """The header an answer says the IP's used weight in: spot's ``/sapi`` has its own."""
    return "X-SAPI-USED-IP-WEIGHT-1M" if path.startswith("/sapi/") else "X-MBX-USED-WEIGHT-1M"


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class SimServer:
    """The simulator: owns the exchange, the limiter, the faults and the stream hub."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = SimClock()
        lifetime_ms = self.config.exchange.ws_max_lifetime_ms
        self.hub = UserStreamHub(self.clock.now_ms, lifetime_ms)
        self.market_hub = MarketStreamHub(
            self.clock.now_ms,
            lifetime_ms,
            lambda: self.exchange.market.specs,
            lambda requests: self.exchange.stream_events(requests),
        )
        self.faults = FaultPlan()
        # Binance's error answers to REST requests, by code (429s and 418s included).
        self.errors_by_code: Counter[int] = Counter()
        self._build_state()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self.port: int | None = None

    def _build_state(self) -> None:
        self.exchange = SimExchange(self.config, self.clock.now_ms, self.hub.emit)
        self.exchange.on_price_change = self.market_hub.price_changed
        self.limiter = RateLimiter(self.config.limits, self.clock.now_ms)

    @property
    def url(self) -> str:
        """Base URL (``http://host:port``); python-binance's FUTURES_URL is this + ``/fapi``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1024**2)
        for route in _routes():
            app.router.add_route(route.method, route.path, self._rest_handler(route))
        app.router.add_get("/api/v3/ping", self._spot_ping)
        app.router.add_get("/api/v3/time", self._spot_time)
        app.router.add_get("/private/ws", self._user_stream)
        app.router.add_get("/ws/{listen_key}", self._user_stream)
        for route in (MARKET_ROUTE, PUBLIC_ROUTE):
            app.router.add_get(f"/{route}/stream", self._combined_stream(route))
            app.router.add_get(f"/{route}/ws", self._raw_stream(route))
            app.router.add_get(f"/{route}/ws/{{streams:.+}}", self._raw_stream(route))
        app.router.add_get("/stream", self._combined_stream(LEGACY_ROUTE))
        app.router.add_post("/_sim/mark", self._control_mark)
        app.router.add_post("/_sim/fault", self._control_fault)
        app.router.add_delete("/_sim/fault", self._control_clear_faults)
        app.router.add_post("/_sim/ip", self._control_ip)
        app.router.add_get("/_sim/state", self._control_state)
        app.router.add_post("/_sim/reset", self._control_reset)
        app.router.add_post("/_sim/clock", self._control_clock)
        app.router.add_post("/_sim/api_restrictions", self._control_api_restrictions)
        return app

    async def start(self) -> None:
        """Bind and serve; with port 0 the OS picks a free port (see ``self.port``)."""
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.hub.close()
        await self.market_hub.close()
        if self._runner:
            await self._runner.cleanup()

    async def _tick_forever(self) -> None:
        interval_s = self.config.tick_interval_ms / 1000
        while True:
            await asyncio.sleep(interval_s)
            try:
                self._advance()
            except Exception:  # keep the exchange running; the bug is in the log
                log.exception("simulator tick failed")

    def _advance(self) -> None:
        """Bring the exchange and the streams up to the clock."""
        self.exchange.tick()
        for hub in (self.hub, self.market_hub):
            hub.expire_old()
            hub.release_held()
        self.market_hub.publish()

    # ------------------------------------------------------------ REST

    def _rest_handler(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._serve_rest(route, request)

        return handle

    async def _serve_rest(self, route: Route, request: web.Request) -> web.Response:
        query = request.query_string
        body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        fault = self.faults.take(route.path)
        if fault and fault.kind == "delay":
            await asyncio.sleep(fault.ms / 1000)
        elif fault and fault.kind == "html503":
            return web.Response(text=HTML_503, status=503, content_type="text/html")
        elif fault and fault.kind == "http5xx":
            return web.Response(text=HTML_502, status=502, content_type="text/html")
        ip = request.remote or "unknown"
        cost = endpoint_weight(route.method, route.path, params)
        headers: dict[str, str] = {}
        used_weight = _weight_header(route.path)
        try:
            headers[used_weight] = str(self.limiter.charge_ip(ip, cost.ip_weight))
            account = self._authenticate(route, request, query, body, params)
            if cost.order_count and account is not None:
                count_10s, count_1m = self.limiter.charge_orders(account.name, cost.order_count)
                headers["X-MBX-ORDER-COUNT-10S"] = str(count_10s)
                headers["X-MBX-ORDER-COUNT-1M"] = str(count_1m)
            result = route.handler(self.exchange, account, params)
        except BinanceError as exc:
            self.errors_by_code[exc.code] += 1
            if isinstance(exc, (IpLimited, IpBanned)):
                headers[used_weight] = str(self.limiter.used_weight(ip))
                headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
            return _json(exc.body(), exc.http_status, headers)
        if fault and fault.kind == "unknown503":
            # The request was executed; the client cannot know. Binance does this.
            return _json(UNKNOWN_ERROR.body(), UNKNOWN_ERROR.http_status, headers)
        if fault and fault.kind == "malformed":
            text = json.dumps(result, separators=(",", ":"))
            return web.Response(
                text=text[: max(1, len(text) // 2)],
                status=200,
                content_type="application/json",
                headers=headers,
            )
        return _json(result, headers=headers)

    def _authenticate(
        self, route: Route, request: web.Request, query: str, body: str, params: dict[str, str]
    ) -> Account | None:
        if route.security is Security.NONE:
            return None
        api_key = auth.check_api_key_format(request.headers.get("X-MBX-APIKEY"))
        account = self.exchange.account_by_key(api_key)
        if account is None:
            raise auth.invalid_key()
        if route.security is Security.SIGNED:
            auth.verify_signature(account.api_secret, query, body)
            auth.check_timestamp(params, self.clock.now_ms())
        return account

    async def _spot_ping(self, _request: web.Request) -> web.Response:
        return _json({})

    async def _spot_time(self, _request: web.Request) -> web.Response:
        return _json({"serverTime": self.clock.now_ms()})

    # ------------------------------------------------------------ user-data stream

    async def _user_stream(self, request: web.Request) -> web.StreamResponse:
        listen_key = request.match_info.get("listen_key") or request.query.get("listenKey", "")
        account = self.exchange.listen_key_account(listen_key)
        if account is None:
            if "@" in listen_key or listen_key.startswith("!"):
                # A market stream on the legacy /ws/<stream>: accepted, never fed.
                return await self.market_hub.serve(
                    request, LEGACY_ROUTE, [listen_key], combined=False
                )
            return _json({"code": -1125, "msg": "Invalid listenKey."}, 400)
        return await self.hub.serve(request, account, listen_key)

    # ------------------------------------------------------------ market streams

    def _combined_stream(
        self, route: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            names = [n for n in request.query.get("streams", "").split("/") if n]
            return await self.market_hub.serve(request, route, names, combined=True)

        return serve

    def _raw_stream(self, route: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            names = [n for n in request.match_info.get("streams", "").split("/") if n]
            return await self.market_hub.serve(request, route, names, combined=False)

        return serve

    # ------------------------------------------------------------ control API

    @staticmethod
    async def _control_body(request: web.Request) -> dict:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be a JSON object"}),
                content_type="application/json",
            )
        return body

    async def _control_mark(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        symbol = body.get("symbol")
        try:
            mark = Decimal(str(body["price"]))
            last = Decimal(str(body["last"])) if body.get("last") is not None else None
            if mark <= 0 or (last is not None and last <= 0):
                raise ValueError
        except (KeyError, InvalidOperation, ValueError):
            return _json({"error": "price (and optional last) must be positive numbers"}, 400)
        try:
            self.exchange.set_price(str(symbol), mark, last)
        except BinanceError:
            return _json({"error": f"unknown symbol {symbol!r}"}, 400)
        self.market_hub.publish()
        return _json(self.exchange.state()["prices"][symbol])

    async def _control_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.parse(await self._control_body(request))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        if fault.kind == EXPIRE_LISTEN_KEYS:
            return _json({"kind": fault.kind, "listen_keys": self.exchange.expire_listen_keys()})
        if fault.kind in STREAM_FAULTS:
            hubs = (self.hub, self.market_hub)
            affected = sum(
                hub.drop_all() if fault.kind == "drop_ws" else hub.impair_all(fault.kind, fault.ms)
                for hub in hubs
            )
            return _json({"kind": fault.kind, "connections": affected})
        self.faults.add(fault)
        return _json({"kind": fault.kind, "path": fault.path, "count": fault.count})

    async def _control_ip(self, request: web.Request) -> web.Response:
        """What Binance's limiter does to one source IP: its weight used up, or a ban."""
        try:
            fault = IpFault.parse(await self._control_body(request))
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        until_ms = self.clock.now_ms() + fault.ms
        if fault.kind == "ban":
            self.limiter.ban(fault.ip, until_ms)
        else:
            self.limiter.use_up(fault.ip, until_ms)
        return _json({"ip": fault.ip, "kind": fault.kind, "until": until_ms})

    async def _control_api_restrictions(self, request: web.Request) -> web.Response:
        """Change what an account's API key may do: ``{"api_key", <field>: <value>, …}``
        with the fields of ``[sim.accounts.api_restrictions]``. The answer names the account,
        never the key."""
        changes = await self._control_body(request)
        api_key = changes.pop("api_key", None)
        if not isinstance(api_key, str) or not api_key:
            return _json({"error": "api_key must be the account's API key"}, 400)
        try:
            account = self.exchange.set_api_restrictions(api_key, changes)
        except LookupError as exc:
            return _json({"error": str(exc)}, 404)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        return _json(
            {"account": account.name, "api_restrictions": self.exchange.api_restrictions(account)}
        )

    async def _control_clear_faults(self, _request: web.Request) -> web.Response:
        """Drop the request faults still pending (streams are not touched)."""
        return _json({"cleared": self.faults.drop_pending()})

    async def _control_state(self, _request: web.Request) -> web.Response:
        state = self.exchange.state()
        state["rate_limits"] = self.limiter.state()
        state["errors_by_code"] = {str(code): n for code, n in sorted(self.errors_by_code.items())}
        state["faults"] = {
            "pending": [asdict(f) for f in self.faults.pending],
            "applied": dict(self.faults.applied),
        }
        state["user_stream"] = {
            "connections": len(self.hub.connections),
            "connection_ips": sorted(c.remote_ip for c in self.hub.connections),
            "events_sent": self.hub.events_sent,
            "events_dropped": self.hub.events_dropped,
        }
        state["market_stream"] = {
            "connections": len(self.market_hub.connections),
            "live_streams": self.market_hub.live_streams,
            "events_sent": self.market_hub.events_sent,
            "events_dropped": self.market_hub.events_dropped,
        }
        return _json(state)

    async def _control_reset(self, _request: web.Request) -> web.Response:
        self.hub.drop_all()
        self.market_hub.drop_all()
        self.faults.clear()
        self.errors_by_code.clear()
        self.clock.offset_ms = 0
        self._build_state()
        return _json({"reset": True})

    async def _control_clock(self, request: web.Request) -> web.Response:
        body = await self._control_body(request)
        advance = body.get("advance_ms")
        if not isinstance(advance, int) or isinstance(advance, bool) or advance < 0:
            return _json({"error": "advance_ms must be a non-negative integer"}, 400)
        self.clock.advance(advance)
        self._advance()
        return _json({"time": self.clock.now_ms()})


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread (for ``riskd run --sim``)."""

    def __init__(self, config: SimConfig) -> None:
        self.server = SimServer(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="riskd-sim", daemon=True
        )

    def start(self) -> SimServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result()
        return self.server

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


async def serve_forever(config: SimConfig, on_ready: Callable[[SimServer], None]) -> None:
    """Run the simulator until cancelled."""
    server = SimServer(config)
    await server.start()
    on_ready(server)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
