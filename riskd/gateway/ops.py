"""What ops read and operators change, each answered by the :class:`Backend`.

``GET /v1/health``
    The jobs, what the position books cannot vouch for, whether alerts get out and what each
    account's API key was last found to allow; 503 when riskd cannot vouch for its data.
``GET /v1/positions[?account=NAME]``
    One account's book, or every account's as ``{"accounts": [...]}``.
``GET /v1/locks``, ``POST /v1/locks`` (201), ``DELETE /v1/locks/{id}?operator=&reason=``
    An account's active locks; an operator's lock; ending one.
``GET /v1/state``, ``POST /v1/state``
    An account's trading state; an operator's.
``GET /v1/alerts``, ``GET /v1/alerts/recent[?hours=24][&limit=100]``, ``GET /v1/silences``,
``POST /v1/silences`` (201), ``DELETE /v1/silences/{id}?operator=``
    Firing alerts; what the Alerter told its first receiver lately (one row per alert of each
    notification, newest first); silences, a new one, ending one.
``POST /v1/keys/check[?account=NAME]``
    Read now what each account's API key may do (every account's, or the one named), each
    answered by its AccountReader; ``ok`` when every key is safe. A change, so the operator's
    token: each check spends weight of the account's budget, which a reader must not make
    riskd spend at will; what the keys were last found to allow is in ``GET /v1/health``.

The account is ``?account=`` (a POST's body may name it instead), and may be left out when
the gateway serves one. A bad request is a 400 naming what is wrong, an id that names nothing
404, a lock whose symbol riskd cannot check 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

from aiohttp import web

from riskd.core.bodies import INT64_MAX, text, whole_number
from riskd.core.clock import wall_ms
from riskd.exchange.key_safety import KeyCheck
from riskd.gateway.accounts import Accounts
from riskd.gateway.errors import json_response, refusing, summary
from riskd.gateway.json_body import json_body
from riskd.gateway.market import checked_query
from riskd.gateway.pnl import hours_of
from riskd.gateway.ports import Backend, BackendUnavailable
from riskd.health import JobStatus, key_checks
from riskd.risk.locks import OPERATOR_CHARS, SymbolListUnavailable

ALERTER_TIMEOUT_S: Final = 2.0
KEY_CHECK_TIMEOUT_S: Final = 25.0
"""How long an account's check may take: a read (10 s at most by default), and its budget."""
RECENT_ALERTS: Final = 100
MAX_RECENT: Final = 1_000
_CHANGE_ERRORS: Final = ((SymbolListUnavailable, 503), (ValueError, 400))
_END_ERRORS: Final = ((LookupError, 404), (ValueError, 400))


def _id(request: web.Request, what: str) -> int:
    """The path's ``{id}``: ASCII digits from 1 to INT64_MAX."""
    return whole_number(f"{what} id", request.match_info["id"], 1, INT64_MAX)


class _OpsRoutes:
    def __init__(self, backend: Backend, accounts: Accounts) -> None:
        self._backend = backend
        self._accounts = accounts

    def _queried(self, request: web.Request) -> str:
        return self._accounts.resolve(request.query.get("account"))

    def _named(self, request: web.Request, body: object) -> str:
        """The account the body names, else the query's."""
        return self._accounts.of_change(request.query.get("account"), body)

    async def health(self, _request: web.Request) -> web.Response:
        rows = await self._backend.health_rows()
        problems = [row.problem() for row in rows if not row.healthy()]
        for account in self._accounts.names:
            book = await self._backend.book_health(account)
            problems += [f"position book {account}: source {s} is silent" for s in book["silent"]]
            problems += [
                f"position book {account}: the user stream missed a change: {missed}"
                for missed in book["stream_missed"]
            ]
        body = {
            "ok": not problems,
            "time": wall_ms(),
            "problems": problems,
            "alerting": await self._alerting(),
            "keys": self._keys(rows),
            "jobs": [
                {
                    "job": row.job,
                    "account": row.account,
                    "state": row.state,
                    "restarts": row.restarts,
                    "health": row.health,
                }
                for row in rows
            ],
        }
        return json_response(body, 200 if not problems else 503)

    async def _alerting(self) -> dict:
        """Whether alerts get out. Not a reason for 503: a Feishu outage does not make the
        data wrong, and the Alerter keeps every alert until it can send it."""
        try:
            health = await asyncio.wait_for(self._backend.alerter_health(), ALERTER_TIMEOUT_S)
        except (BackendUnavailable, TimeoutError) as exc:
            return {"ok": False, "problems": [f"the alerter does not answer ({summary(exc)})"]}
        problems = [
            f"receiver {name} failed {state['failures']} times in a row: {state['last_error']}"
            for name, state in health["receivers"].items()
            if state["failures"]
        ]
        if health["last_error"]:
            problems.append(f"the alerter's last round failed: {health['last_error']}")
        return {"ok": not problems, "problems": problems, "last_round_ms": health["last_tick_ms"]}

    @staticmethod
    def _keys(rows: Sequence[JobStatus]) -> dict:
        """What each account's API key may do, as last read. Not a reason for 503 either:
        the data riskd vouches for is right; the unsafe key's alert is what pages."""
        checks = key_checks(rows)
        problems = [
            f"API key of {check['account']}: {check['summary']}"
            for check in checks
            if not check["ok"]
        ]
        return {"ok": not problems, "problems": problems, "accounts": checks}

    async def check_keys(self, request: web.Request) -> web.Response:
        wanted = checked_query(request, frozenset({"account"})).get("account")
        accounts = self._accounts.names if wanted is None else (self._accounts.resolve(wanted),)
        checks = await asyncio.gather(*(self._check_key(account) for account in accounts))
        return json_response({"ok": all(check["ok"] for check in checks), "accounts": checks})

    async def _check_key(self, account: str) -> dict:
        try:
            return await asyncio.wait_for(self._backend.check_key(account), KEY_CHECK_TIMEOUT_S)
        except (BackendUnavailable, TimeoutError) as exc:
            error = f"the account's account_reader does not answer ({summary(exc)})"
            return KeyCheck(account).failed(error, wall_ms()).to_dict()

    async def positions(self, request: web.Request) -> web.Response:
        wanted = request.query.get("account")
        accounts = self._accounts.names if wanted is None else [self._accounts.resolve(wanted)]
        views = [await self._backend.positions(account) for account in accounts]
        return json_response(views[0] if wanted is not None else {"accounts": views})

    async def locks(self, request: web.Request) -> web.Response:
        return json_response({"locks": await self._backend.locks(self._queried(request))})

    async def add_lock(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        with refusing(*_CHANGE_ERRORS):
            lock = await self._backend.add_lock(self._named(request, body), body)
        return json_response(lock, 201)

    async def unlock(self, request: web.Request) -> web.Response:
        account = self._queried(request)
        operator = request.query.get("operator", "")
        reason = request.query.get("reason", "")
        with refusing(*_END_ERRORS):
            lock = await self._backend.unlock(account, _id(request, "lock"), operator, reason)
        return json_response(lock)

    async def state(self, request: web.Request) -> web.Response:
        return json_response(await self._backend.trading_state(self._queried(request)))

    async def set_state(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        with refusing(*_CHANGE_ERRORS):
            state = await self._backend.set_trading_state(self._named(request, body), body)
        return json_response(state)

    async def alerts(self, _request: web.Request) -> web.Response:
        return json_response({"alerts": await self._backend.alerts()})

    async def recent_alerts(self, request: web.Request) -> web.Response:
        query = checked_query(request, frozenset({"hours", "limit"}))
        with refusing((ValueError, 400)):
            limit = whole_number("limit", query.get("limit", str(RECENT_ALERTS)), 1, MAX_RECENT)
        hours = hours_of(query)
        return json_response({"alerts": await self._backend.recent_alerts(hours, limit)})

    async def silences(self, _request: web.Request) -> web.Response:
        return json_response({"silences": await self._backend.silences()})

    async def add_silence(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        with refusing(*_CHANGE_ERRORS):
            silence = await self._backend.add_silence(body)
        return json_response(silence, 201)

    async def expire_silence(self, request: web.Request) -> web.Response:
        with refusing(*_END_ERRORS):
            silence_id = _id(request, "silence")
            operator = text("operator", request.query.get("operator"), OPERATOR_CHARS)
            silence = await self._backend.expire_silence(silence_id, operator)
        return json_response(silence)


def add_ops_routes(app: web.Application, backend: Backend, accounts: Sequence[str]) -> None:
    """Add the health, positions, locks, state, alerts, silences and key-check routes for
    *accounts*, answered by *backend*."""
    routes = _OpsRoutes(backend, Accounts(tuple(accounts)))
    app.router.add_get("/v1/health", routes.health)
    app.router.add_get("/v1/positions", routes.positions)
    app.router.add_get("/v1/locks", routes.locks)
    app.router.add_post("/v1/locks", routes.add_lock)
    app.router.add_delete("/v1/locks/{id}", routes.unlock)
    app.router.add_get("/v1/state", routes.state)
    app.router.add_post("/v1/state", routes.set_state)
    app.router.add_get("/v1/alerts", routes.alerts)
    app.router.add_get("/v1/alerts/recent", routes.recent_alerts)
    app.router.add_get("/v1/silences", routes.silences)
    app.router.add_post("/v1/silences", routes.add_silence)
    app.router.add_delete("/v1/silences/{id}", routes.expire_silence)
    app.router.add_post("/v1/keys/check", routes.check_keys)
