"""Gateway: the aiohttp server strategies and ops read: health, positions and the ban list."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable

import ray
from aiohttp import web
from ray.actor import ActorHandle
from ray.exceptions import RayActorError

from actors.context import (
    ALERTER_NAME,
    CONTROLLER_NAME,
    ConfigSource,
    ledger_name,
    position_book_name,
)
from riskd.banlist import BanList, BanListHub
from riskd.banlist_http import add_banlist_routes
from riskd.config import Secret, is_loopback
from riskd.exchange.clock import wall_ms
from riskd.health import JobStatus

ALERTER_TIMEOUT_S = 2.0


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


def _message(exc: Exception) -> str:
    """The message of an error raised in another actor, without Ray's traceback."""
    return str(getattr(exc, "cause", exc))


class Gateway:
    """Serves ``GET /v1/health`` (503 when riskd cannot vouch for its data),
    ``GET /v1/positions[?account=NAME]`` and the ban list each account's Ledger publishes
    (``riskd.banlist_http``: ``/v1/banlist``, long-poll, ``/v1/banlist/stream``). Binds
    127.0.0.1 unless configured otherwise, and then only with tokens."""

    def __init__(self, source: ConfigSource) -> None:
        config = source.load(secrets={"gateway"})
        self.config = config.gateway
        if not is_loopback(self.config.host) and self.config.read_token is None:
            raise ValueError(f"gateway.host {self.config.host} is not loopback and has no token")
        self.namespace = config.deployment.name
        self.accounts = [a.name for a in config.accounts]
        self._read_token: Secret | None = self.config.read_token
        self.banlists = BanListHub()
        self._runner: web.AppRunner | None = None
        self._url = ""

    async def publish_banlist(self, body: bytes) -> bool:
        """A new ban-list version from an account's Ledger; False when not newer."""
        return self.banlists.publish(BanList.from_json(body))

    async def url(self) -> str:
        """Start serving (once) and return the base URL."""
        if self._runner is None:
            app = web.Application(middlewares=[self._auth])
            app.router.add_get("/v1/health", self._health)
            app.router.add_get("/v1/positions", self._positions)
            app.router.add_get("/v1/locks", self._locks)
            app.router.add_post("/v1/locks", self._add_lock)
            app.router.add_delete("/v1/locks/{id}", self._unlock)
            app.router.add_get("/v1/state", self._state)
            app.router.add_post("/v1/state", self._set_state)
            app.router.add_get("/v1/alerts", self._alerts)
            app.router.add_get("/v1/silences", self._silences)
            app.router.add_post("/v1/silences", self._add_silence)
            app.router.add_delete("/v1/silences/{id}", self._expire_silence)
            add_banlist_routes(app, self.banlists, self.accounts)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.config.host, self.config.port)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._url = f"http://{self.config.host}:{port}"
        return self._url

    @web.middleware
    async def _auth(self, request: web.Request, handler) -> web.StreamResponse:
        """Reads need the read or the operator token, changes the operator token (when
        configured; without one the gateway is on loopback, where changes are allowed)."""
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").encode()
        operator = self.config.operator_token
        is_operator = operator is not None and hmac.compare_digest(
            given, operator.reveal().encode()
        )
        if request.method not in ("GET", "HEAD"):
            if operator is not None and not is_operator:
                return _json({"error": "changes need the operator's bearer token"}, 401)
        elif self._read_token is not None and not (
            is_operator or hmac.compare_digest(given, self._read_token.reveal().encode())
        ):
            return _json({"error": "missing or wrong bearer token"}, 401)
        return await handler(request)

    def _ledger(self, request: web.Request, account: str | None = None):
        """The Ledger of the request's account (``?account=``, or the only one)."""
        wanted = account or request.query.get("account")
        if wanted is None and len(self.accounts) == 1:
            wanted = self.accounts[0]
        if wanted not in self.accounts:
            error = {"error": f"unknown account {wanted!r}", "accounts": self.accounts}
            raise web.HTTPNotFound(text=json.dumps(error), content_type="application/json")
        return ray.get_actor(ledger_name(wanted), namespace=self.namespace)

    async def _locks(self, request: web.Request) -> web.Response:
        return _json({"locks": await self._ledger(request).active_locks.remote()})

    async def _add_lock(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "add_lock", 201)

    async def _state(self, request: web.Request) -> web.Response:
        return _json(await self._ledger(request).trading_state.remote())

    async def _set_state(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "set_trading_state", 200)

    async def _operator_change(
        self, request: web.Request, method: str, status: int, actor: ActorHandle | None = None
    ) -> web.Response:
        """POST a JSON body to *actor*'s *method* (the account's Ledger unless given); its
        ValueError is a 400."""
        try:
            body = await request.json()
        except ValueError:
            return _json({"error": "the body is not JSON"}, 400)
        if actor is None:
            account = body.get("account") if isinstance(body, dict) else None
            actor = self._ledger(request, account)
        try:
            result = await getattr(actor, method).remote(body)
        except ValueError as exc:
            return _json({"error": _message(exc)}, 400)
        return _json(result, status)

    def _alerter(self) -> ActorHandle:
        return ray.get_actor(ALERTER_NAME, namespace=self.namespace)

    async def _alerts(self, _request: web.Request) -> web.Response:
        return _json({"alerts": await self._alerter().alerts.remote()})

    async def _silences(self, _request: web.Request) -> web.Response:
        return _json({"silences": await self._alerter().silences.remote()})

    async def _add_silence(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "add_silence", 201, self._alerter())

    async def _expire_silence(self, request: web.Request) -> web.Response:
        operator = request.query.get("operator", "")
        return await self._end(
            request,
            "silence",
            lambda silence_id: self._alerter().expire_silence.remote(silence_id, operator),
        )

    async def _unlock(self, request: web.Request) -> web.Response:
        operator = request.query.get("operator", "")
        reason = request.query.get("reason", "")
        ledger = self._ledger(request)
        return await self._end(
            request, "lock", lambda lock_id: ledger.unlock.remote(lock_id, operator, reason)
        )

    @staticmethod
    async def _end(
        request: web.Request, what: str, call: Callable[[int], Awaitable[dict]]
    ) -> web.Response:
        """End the lock or silence the path's ``{id}`` names: 404 if there is none, 400 if
        the call refuses (already ended, no operator, ...)."""
        if not request.match_info["id"].isdigit():
            return _json({"error": f"{what} id {request.match_info['id']!r} is not a number"}, 400)
        try:
            ended = await call(int(request.match_info["id"]))
        except LookupError as exc:
            return _json({"error": _message(exc)}, 404)
        except ValueError as exc:
            return _json({"error": _message(exc)}, 400)
        return _json(ended)

    async def _health(self, _request: web.Request) -> web.Response:
        controller = ray.get_actor(CONTROLLER_NAME, namespace=self.namespace)
        rows: list[JobStatus] = await controller.status.remote()
        problems = [r.problem() for r in rows if not r.healthy()]
        for account in self.accounts:
            book = ray.get_actor(position_book_name(account), namespace=self.namespace)
            health = await book.health.remote()
            problems += [f"position book {account}: source {s} is silent" for s in health["silent"]]
            problems += [
                f"position book {account}: the user stream missed a change: {text}"
                for text in health["stream_missed"]
            ]
        body = {
            "ok": not problems,
            "time": wall_ms(),
            "problems": problems,
            "alerting": await self._alerting_health(),
            "jobs": [
                {
                    "job": r.job,
                    "account": r.account,
                    "state": r.state,
                    "restarts": r.restarts,
                    "health": r.health,
                }
                for r in rows
            ],
        }
        return _json(body, 200 if not problems else 503)

    async def _alerting_health(self) -> dict:
        """Whether alerts get out. Not a reason for 503: a Feishu outage does not make the
        data wrong, and the Alerter keeps every alert until it can send it."""
        try:
            health = await asyncio.wait_for(self._alerter().health.remote(), ALERTER_TIMEOUT_S)
        except (ValueError, TimeoutError, RayActorError) as exc:  # ValueError: no such actor
            return {
                "ok": False,
                "problems": [f"the alerter does not answer ({type(exc).__name__})"],
            }
        problems = [
            f"receiver {name} failed {state['failures']} times in a row: {state['last_error']}"
            for name, state in health["receivers"].items()
            if state["failures"]
        ]
        if health["last_error"]:
            problems.append(f"the alerter's last round failed: {health['last_error']}")
        return {"ok": not problems, "problems": problems, "last_round_ms": health["last_tick_ms"]}

    async def _positions(self, request: web.Request) -> web.Response:
        wanted = request.query.get("account")
        if wanted is not None and wanted not in self.accounts:
            return _json({"error": f"unknown account {wanted!r}", "accounts": self.accounts}, 404)
        views = []
        for account in [wanted] if wanted else self.accounts:
            book = ray.get_actor(position_book_name(account), namespace=self.namespace)
            views.append(await book.view.remote())
        return _json(views[0] if wanted else {"accounts": views})
