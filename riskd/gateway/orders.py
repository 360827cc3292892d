"""``GET /v1/orders[?account=NAME][&robot=NAME][&limit=N]``: the pre-trade gate's decisions,
newest first: ``{"orders": [{robot, account, symbol, side, position_side, order_type,
quantity, price, reduce_only, passed, refusal, detail, client_order_id, order_id,
decided_ms, id}]}``. ``limit`` 1 to 1000 (default 100). Read token when tokens are set."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from riskd.core.bodies import shown, whole_number
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.ports import Backend
from riskd.gateway.robots import RobotTokens
from riskd.trade.decision_store import MAX_LISTED

DEFAULT_LIMIT = 100


def add_orders_route(
    app: web.Application, backend: Backend, accounts: Sequence[str], robots: RobotTokens
) -> None:
    """``GET /v1/orders`` for *accounts*; ``robot`` must name one of *robots*."""
    names = Accounts(tuple(accounts))

    async def orders(request: web.Request) -> web.Response:
        query = request.query
        unknown = sorted(set(query) - {"account", "robot", "limit"})
        if unknown:
            raise Refused(400, f"unknown parameters {', '.join(unknown)}")
        account = names.resolve(query.get("account"))
        robot = query.get("robot")
        if robot is not None and robot not in robots.names:
            raise Refused(404, f"robot: no robot {shown(robot)}")
        limit = DEFAULT_LIMIT
        if "limit" in query:
            with refusing((ValueError, 400)):
                limit = whole_number("limit", query["limit"], 1, MAX_LISTED)
        return json_response({"orders": await backend.orders(account, robot, limit)})

    app.router.add_get("/v1/orders", orders)
