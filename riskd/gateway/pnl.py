"""``GET /v1/pnl[?account=NAME][&by=robot|symbol][&hours=N][&robot=NAME]``: an account's PnL
per robot (default) or per symbol over the last N hours (1 to 8760, default 24), of one robot
(or ``unattributed``) when named: ``{account, by, robot, start_ms, end_ms, rows: [{key,
asset, realized_pnl, commission, funding, total}]}``, amounts as decimal strings
(``riskd.pnl.report``).

``GET /v1/equity[?account=NAME][&hours=N]``: the account's equity (wallet + unrealized PnL
in the rules' assets) per minute the Ledger recorded over the last N hours: ``{account,
assets, start_ms, end_ms, points: [[minute_ms, "equity"], ...]}``, oldest first.

Read token when tokens are set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aiohttp import web

from riskd.core.bodies import choice, shown, whole_number
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.market import checked_query
from riskd.gateway.ports import Backend
from riskd.pnl.report import MAX_HOURS, PnlGrouping
from riskd.risk.attribution import UNATTRIBUTED

DEFAULT_HOURS: Final = 24
GROUPINGS: Final = tuple(grouping.value for grouping in PnlGrouping)
_PARAMETERS: Final = frozenset({"account", "by", "hours", "robot"})
_EQUITY_PARAMETERS: Final = frozenset({"account", "hours"})


def hours_of(query: Mapping[str, str]) -> int:
    """The query's ``hours``: 1 to MAX_HOURS, DEFAULT_HOURS when absent; else a 400."""
    with refusing((ValueError, 400)):
        return whole_number("hours", query.get("hours", str(DEFAULT_HOURS)), 1, MAX_HOURS)


def add_pnl_route(
    app: web.Application,
    backend: Backend,
    accounts: Sequence[str],
    robot_accounts: Mapping[str, str],
) -> None:
    """``GET /v1/pnl`` and ``GET /v1/equity`` for *accounts*; ``robot`` must name one of the
    account's robots (*robot_accounts*: each robot's account) or ``unattributed``."""
    names = Accounts(tuple(accounts))

    async def pnl(request: web.Request) -> web.Response:
        query = checked_query(request, _PARAMETERS)
        account = names.resolve(query.get("account"))
        with refusing((ValueError, 400)):
            by = choice("by", query.get("by", PnlGrouping.ROBOT.value), GROUPINGS)
        hours = hours_of(query)
        robot = query.get("robot")
        if robot is not None and robot != UNATTRIBUTED and robot_accounts.get(robot) != account:
            raise Refused(404, f"robot: no robot {shown(robot)} on account {shown(account)}")
        with refusing((LookupError, 404), (ValueError, 400)):
            report = await backend.pnl(account, by, hours, robot)
        return json_response(report)

    async def equity(request: web.Request) -> web.Response:
        query = checked_query(request, _EQUITY_PARAMETERS)
        account = names.resolve(query.get("account"))
        return json_response(await backend.equity(account, hours_of(query)))

    app.router.add_get("/v1/pnl", pnl)
    app.router.add_get("/v1/equity", equity)
