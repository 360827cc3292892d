"""``POST /v1/flatten``: an operator's emergency flatten (``riskd.protect.flatten``), with the
operator's token like every change.

The body is ``{"operator", "reason", "symbol"?, "robot"?, "account"?}`` (the account may be
``?account=`` instead, and left out when the gateway serves one). No symbol and no robot
halts the account and closes every position; a symbol locks it and closes its positions; a
robot locks that robot only (on the symbol, or ALL) and closes what its own fills built. The
answer, 200, is the flatten's report once it ended: ``outcome`` ``flat`` or ``incomplete``,
each step, every order cancelled, every slice with the exchange's code and message, and what
is ``left`` and why. A bad field is 400 naming it; an unknown account, a robot that does not
trade on the account or a symbol the exchange does not list 404; a flatten of the account
already running 409; the account's Trader not running 503.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aiohttp import web

from riskd.core.bodies import shown
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import Refused, json_response, refusing
from riskd.gateway.json_body import json_body
from riskd.gateway.ports import Backend
from riskd.protect.flatten import FlattenBusy, flatten_request

FLATTEN_PATH: Final = "/v1/flatten"
_ERRORS: Final = ((FlattenBusy, 409), (LookupError, 404), (ValueError, 400))


def add_flatten_route(
    app: web.Application,
    backend: Backend,
    accounts: Sequence[str],
    robot_accounts: Mapping[str, str],
) -> None:
    """``POST /v1/flatten`` for *accounts*; a robot must be one of *robot_accounts* (robot →
    its account) on the account flattened."""
    names = Accounts(tuple(accounts))

    async def flatten(request: web.Request) -> web.Response:
        body = await json_body(request)
        with refusing((ValueError, 400)):
            wanted = flatten_request(body)
        account = names.of_change(request.query.get("account"), body)
        robot = wanted.scope.robot
        if robot and robot_accounts.get(robot) != account:
            raise Refused(404, f"robot: no robot {shown(robot)} trades on account {account}")
        with refusing(*_ERRORS):
            report = await backend.flatten(account, wanted)
        return json_response(report)

    app.router.add_post(FLATTEN_PATH, flatten)
