"""``POST /fmz/{label}``: the FMZ universal protocol (riskd as the docker's exchange service).

The docker posts ``{"access_key", "secret_key", "method", "nonce", "params"}``; the answer is
always HTTP 200 with ``{"data": …, "raw": …}`` or ``{"error": "…"}`` (parsing and shapes:
``riskd.fmz``). ``access_key`` is the robot's name and ``secret_key`` its token: a robot never
holds exchange keys. ``{label}`` is the exchange label the docker was configured with; any
label is accepted. Market methods answer from the gateway's market cache (never an exchange
read per robot): ``ticker``, ``records`` and ``depth`` (the best bid and ask: the feed carries
no deeper book); ``trades`` is refused, the feed carrying no trades. Account methods go to the
account's Trader, where every order passes the pre-trade gate. The body is read as every body
is (``riskd.gateway.json_body.read_body``): too large is 413, too slow 408.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from riskd.fmz import answers
from riskd.fmz.request import (
    MarketParams,
    Method,
    RecordsParams,
    RequestError,
    SymbolParams,
    parse_request,
)
from riskd.gateway.auth import authenticated_by_body
from riskd.gateway.errors import json_response
from riskd.gateway.json_body import read_body
from riskd.gateway.market_hub import MarketHub
from riskd.gateway.ports import Backend, BackendUnavailable
from riskd.gateway.robots import RobotTokens

log = logging.getLogger(__name__)
MARKET_METHODS = frozenset({Method.TICKER, Method.DEPTH, Method.TRADES, Method.RECORDS})


class _FmzRoute:
    def __init__(
        self,
        backend: Backend,
        robots: RobotTokens,
        robot_accounts: Mapping[str, str],
        market: MarketHub | None,
    ) -> None:
        self._backend = backend
        self._robots = robots
        self._accounts = robot_accounts
        self._market = market

    async def handle(self, request: web.Request) -> web.Response:
        return json_response(await self._answer(request))

    async def _answer(self, request: web.Request) -> dict[str, Any]:
        body = await read_body(request)
        try:
            call = parse_request(body, request.headers.get("Http-Method"))
        except RequestError as exc:
            return answers.error(str(exc))
        robot = self._robots.robot_for(call.token.reveal())
        if robot is None or robot != call.robot:
            return answers.error("access_key and secret_key do not name a robot of riskd")
        if call.method in MARKET_METHODS:
            return self._market_answer(call.method, call.params)
        account = self._accounts.get(robot)
        if account is None:
            return answers.error(f"robot {robot} trades on no account of this gateway")
        try:
            return await self._backend.fmz(account, robot, call.method, call.params)
        except BackendUnavailable as exc:
            return answers.error(str(exc))
        except Exception:  # the protocol answers 200 with an error, never a 500
            log.exception("FMZ %s for robot %s failed", call.method.value, robot)
            return answers.error(f"{call.method.value}: riskd failed to answer; see its log")

    def _market_answer(self, method: Method, params: object) -> dict[str, Any]:
        if self._market is None:
            return answers.error(f"{method.value}: riskd runs no market feed ([market])")
        if method is Method.TRADES:
            return answers.error("trades: riskd's market feed does not carry trades")
        assert isinstance(params, SymbolParams | MarketParams | RecordsParams)
        symbol = params.symbol
        cache = self._market.cache
        if symbol.binance not in self._market.symbols:
            return answers.error(f"params.symbol: riskd's feed does not carry {symbol.fmz}")
        match method:
            case Method.TICKER:
                book, stats = cache.book(symbol.binance), cache.ticker(symbol.binance)
                if book is None or stats is None:
                    return answers.error(f"ticker: no data yet for {symbol.fmz}")
                return answers.answer(answers.ticker(symbol, book, stats))
            case Method.DEPTH:
                book = cache.book(symbol.binance)
                if book is None:
                    return answers.error(f"depth: no data yet for {symbol.fmz}")
                top = {
                    "T": book.update_ms,
                    "bids": [[f"{book.bid:f}", f"{book.bid_qty:f}"]],
                    "asks": [[f"{book.ask:f}", f"{book.ask_qty:f}"]],
                }
                return answers.answer(answers.depth(top))
            case _:
                assert isinstance(params, RecordsParams)
                if params.interval not in self._market.config.intervals:
                    carried = ", ".join(self._market.config.intervals)
                    return answers.error(f"params.period: the feed carries {carried} only")
                rows = [kline.row for kline in cache.klines(symbol.binance, params.interval)]
                if params.limit:
                    rows = rows[-params.limit :]
                return answers.answer(answers.records(rows))


def add_fmz_route(
    app: web.Application,
    backend: Backend,
    robots: RobotTokens,
    robot_accounts: Mapping[str, str],
    market: MarketHub | None,
) -> None:
    """``POST /fmz/{label}``, for the robots of *robot_accounts* (robot → account)."""
    route = _FmzRoute(backend, robots, robot_accounts, market)
    authenticated_by_body(app, app.router.add_post("/fmz/{label}", route.handle))
