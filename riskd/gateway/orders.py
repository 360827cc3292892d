"""``GET /v1/orders[?account=NAME][&robot=NAME][&limit=N]``: the pre-trade gate's decisions,
newest first: ``{"orders": [{robot, account, symbol, side, position_side, order_type,
quantity, price, reduce_only, passed, refusal, detail, client_order_id, order_id,
decided_ms, id}]}``. ``limit`` 1 to 1000 (default 100).

``GET /v1/orders/summary[?account=NAME][&hours=N]``: per robot of the account, how many
orders the gate passed and refused over the last N hours (default 24) and its latest refusal:
``{"account", "since_ms", "robots": [{robot, passed, refused, last_refusal,
last_refused_ms}]}``.

Read token when tokens are set."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from riskd.core.bodies import shown, whole_number
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.market import checked_query
from riskd.gateway.pnl import hours_of
from riskd.gateway.ports import Backend
from riskd.gateway.robots import RobotTokens
from riskd.trade.decision_store import MAX_LISTED

DEFAULT_LIMIT = 100


def add_orders_route(
    app: web.Application, backend: Backend, accounts: Sequence[str], robots: RobotTokens
) -> None:
    """``GET /v1/orders`` and its summary for *accounts*; ``robot`` must name one of
    *robots*."""
    names = Accounts(tuple(accounts))

    async def orders(request: web.Request) -> web.Response:
        query = checked_query(request, frozenset({"account", "robot", "limit"}))
        account = names.resolve(query.get("account"))
        robot = query.get("robot")
        if robot is not None and robot not in robots.names:
            raise Refused(404, f"robot: no robot {shown(robot)}")
        limit = DEFAULT_LIMIT
        if "limit" in query:
            with refusing((ValueError, 400)):
                limit = whole_number("limit", query["limit"], 1, MAX_LISTED)
        return json_response({"orders": await backend.orders(account, robot, limit)})

    async def summary(request: web.Request) -> web.Response:
        query = checked_query(request, frozenset({"account", "hours"}))
        account = names.resolve(query.get("account"))
        return json_response(await backend.order_summary(account, hours_of(query)))

    app.router.add_get("/v1/orders", orders)
    app.router.add_get("/v1/orders/summary", summary)
