"""``GET /v1/report/daily[?account=NAME][&days=N][&by=robot|symbol]``: an account's figures per
UTC day over the last N days, today included (1 to 366, default 30), with rows per robot or
per symbol under each day's total when ``by`` is given: ``{account, by, days, start_ms,
end_ms, rows: [{day, key, asset, realized_pnl, commission, funding, net, trades, wins, losses,
win_rate, worst_symbol}]}``, amounts and win rates as decimal strings (``riskd.pnl.daily``).
Read token when tokens are set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aiohttp import web

from riskd.core.bodies import choice, whole_number
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import json_response, refusing
from riskd.gateway.market import checked_query
from riskd.gateway.pnl import GROUPINGS
from riskd.gateway.ports import Backend
from riskd.pnl.daily import DEFAULT_DAYS, MAX_DAYS

_PARAMETERS: Final = frozenset({"account", "by", "days"})


def add_report_route(app: web.Application, backend: Backend, accounts: Sequence[str]) -> None:
    """``GET /v1/report/daily`` for *accounts*."""
    names = Accounts(tuple(accounts))

    async def daily(request: web.Request) -> web.Response:
        query = checked_query(request, _PARAMETERS)
        account = names.resolve(query.get("account"))
        with refusing((ValueError, 400)):
            by = query.get("by")
            by = None if by is None else choice("by", by, GROUPINGS)
            days = whole_number("days", query.get("days", str(DEFAULT_DAYS)), 1, MAX_DAYS)
        with refusing((LookupError, 404), (ValueError, 400)):
            report = await backend.daily_report(account, by, days)
        return json_response(report)

    app.router.add_get("/v1/report/daily", daily)
