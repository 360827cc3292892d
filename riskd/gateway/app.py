"""The gateway's aiohttp app and its server: the routes of ``riskd.gateway.ops``,
``riskd.gateway.banlist``, ``riskd.gateway.channels``, ``riskd.gateway.market``,
``riskd.gateway.fmz``, ``riskd.gateway.orders``, ``riskd.gateway.pnl``,
``riskd.gateway.flatten``, ``riskd.gateway.positions_stream`` and the status page of
``riskd.gateway.page`` behind bearer auth, every error JSON, and the limits of
``[gateway.limits]`` (``riskd.gateway.config.GatewayLimitsConfig``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from aiohttp import web

from riskd.core.clock import Clock, wall_ms
from riskd.core.net import is_loopback
from riskd.gateway.auth import NO_ROBOTS, bearer_auth
from riskd.gateway.banlist import add_banlist_routes
from riskd.gateway.channel_hub import ChannelHub
from riskd.gateway.channels import add_channel_routes
from riskd.gateway.config import GatewayConfig
from riskd.gateway.errors import HTTP_LOG, QuietParseErrorsRunner, json_errors
from riskd.gateway.flatten import add_flatten_route
from riskd.gateway.fmz import add_fmz_route
from riskd.gateway.hub import BanListHub
from riskd.gateway.json_body import bounded_bodies
from riskd.gateway.limits import ConnectionSlots, limits_of, set_slots
from riskd.gateway.market import add_market_routes
from riskd.gateway.market_hub import MarketHub
from riskd.gateway.openapi import add_openapi_route
from riskd.gateway.ops import add_ops_routes
from riskd.gateway.orders import add_orders_route
from riskd.gateway.page import add_page_routes
from riskd.gateway.pnl import add_pnl_route
from riskd.gateway.ports import Backend
from riskd.gateway.positions_stream import add_positions_stream
from riskd.gateway.report import add_report_route
from riskd.gateway.robots import RobotTokens
from riskd.market.config import MarketConfig
from riskd.market.records import Record
from riskd.risk.banlist import BanList


def gateway_app(
    config: GatewayConfig,
    accounts: Sequence[str],
    backend: Backend,
    banlists: BanListHub,
    *,
    market: MarketHub | None = None,
    channels: ChannelHub | None = None,
    robots: RobotTokens = NO_ROBOTS,
    robot_accounts: Mapping[str, str] | None = None,
    clock: Clock = wall_ms,
    slots: ConnectionSlots | None = None,
) -> web.Application:
    """Every route for *accounts*, answered by *backend* and, for the ban list, *banlists*,
    the channels of *channels* (a new hub by default) written with *robots*' tokens, and with
    a *market* hub the market routes, ages counted on *clock*; the tokens of *config* asked
    for; within the limits of *config*, the connections held in *slots* (new ones by
    default)."""
    auth = bearer_auth(config.read_token, config.operator_token, robots)
    app = web.Application(
        middlewares=[json_errors, bounded_bodies, auth],
        client_max_size=config.limits.max_body_bytes,
    )
    set_slots(app, ConnectionSlots(config.limits) if slots is None else slots)
    add_page_routes(app)
    add_ops_routes(app, backend, accounts)
    add_positions_stream(app, backend, accounts)
    add_banlist_routes(app, banlists, accounts)
    add_channel_routes(app, ChannelHub(clock) if channels is None else channels)
    if market is not None:
        add_market_routes(app, market, backend, clock)
    add_fmz_route(app, backend, robots, robot_accounts or {}, market)
    add_orders_route(app, backend, accounts, robots)
    add_flatten_route(app, backend, accounts, robot_accounts or {})
    add_pnl_route(app, backend, accounts, robot_accounts or {})
    add_report_route(app, backend, accounts)
    add_openapi_route(app, accounts, None if market is None else market.config, config.limits)
    return app


def gateway_runner(app: web.Application) -> web.AppRunner:
    """The runner that serves *app* as the gateway does: its limits' head timeout and header
    sizes, aiohttp's errors logged on one line, bodies taken without a Content-Encoding (see
    ``riskd.gateway.json_body``)."""
    limits = limits_of(app)
    return QuietParseErrorsRunner(
        app,
        access_log=None,
        logger=HTTP_LOG,
        # aiohttp has no header timeout, but its keep-alive timer runs from the connection (or
        # the last response) until the next request's head is complete, whatever bytes arrive
        # meanwhile: a client that sends half a head is cut off then, as is an idle one.
        keepalive_timeout=limits.head_timeout_ms / 1000,
        max_line_size=limits.max_header_bytes,
        max_field_size=limits.max_header_bytes,
        auto_decompress=False,
    )


class GatewayServer:
    """The gateway: serves ``GET /v1/health``, positions, the operators' locks, trading state,
    alerts and silences, the ban lists it is given, the channels *robots* write and, with a
    *market* config, the market data it is given. Binds 127.0.0.1 unless configured
    otherwise, and then only with tokens. Every error is JSON ``{"error": ...}``."""

    def __init__(
        self,
        config: GatewayConfig,
        accounts: Sequence[str],
        backend: Backend,
        *,
        market: MarketConfig | None = None,
        robots: RobotTokens = NO_ROBOTS,
        robot_accounts: Mapping[str, str] | None = None,
        clock: Clock = wall_ms,
    ) -> None:
        if not is_loopback(config.host) and None in (config.read_token, config.operator_token):
            raise ValueError(
                f"gateway.host {config.host} is not loopback and lacks the read or operator token"
            )
        self.config = config
        self.accounts = tuple(accounts)
        self.backend = backend
        self.banlists = BanListHub()
        self.market_hub = None if market is None else MarketHub(market)
        self.channels = ChannelHub(clock)
        self.slots = ConnectionSlots(config.limits)
        self.robots = robots
        self.robot_accounts = dict(robot_accounts or {})
        self.clock = clock
        self._runner: web.AppRunner | None = None
        self._url = ""

    def publish_banlist(self, body: bytes) -> bool:
        """A new ban-list version, as an account's Ledger encoded it (served as it is);
        False when not newer."""
        return self.banlists.publish(BanList.from_json(body), body)

    def publish_market(self, records: Iterable[Record]) -> int:
        """Market records from the feed; how many were newer than what was held."""
        return self._market().publish(records)

    def set_market_symbols(self, symbols: Iterable[str]) -> None:
        """The symbols the feed carries: the market routes answer 404 for any other."""
        self._market().set_symbols(symbols)

    def _market(self) -> MarketHub:
        if self.market_hub is None:
            raise RuntimeError("this gateway serves no market data: it has no [market] config")
        return self.market_hub

    async def url(self) -> str:
        """Start serving (once) and return the base URL."""
        if self._runner is None:
            app = gateway_app(
                self.config,
                self.accounts,
                self.backend,
                self.banlists,
                market=self.market_hub,
                channels=self.channels,
                robots=self.robots,
                robot_accounts=self.robot_accounts,
                clock=self.clock,
                slots=self.slots,
            )
            runner = gateway_runner(app)
            await runner.setup()
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._runner, self._url = runner, f"http://{self.config.host}:{port}"
        return self._url

    async def routes(self) -> list[str]:
        """Every route served, as ``METHOD /path`` (what the ready line lists)."""
        await self.url()
        assert self._runner is not None
        return sorted(
            f"{route.method} {route.resource.canonical}"
            for route in self._runner.app.router.routes()
            if route.method != "HEAD" and route.resource is not None
        )

    async def stop(self) -> None:
        """Stop serving: long-polls end (304), streams (ban list, channels and market) close
        with 1001, then the listener."""
        if self._runner is not None:
            runner, self._runner, self._url = self._runner, None, ""
            await runner.cleanup()
