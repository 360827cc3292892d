"""Gateway: the aiohttp server strategies and ops read (health, positions, the ban list) and
operators act through (locks, trading state, silences)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

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
from riskd.config import is_loopback
from riskd.core.bodies import (
    INT64_MAX,
    MAX_BODY_BYTES,
    parse_json,
    same_ascii_word,
    shown,
    text,
    whole_number,
)
from riskd.core.clock import wall_ms
from riskd.core.secrets import Secret
from riskd.gateway.banlist import add_banlist_routes
from riskd.gateway.hub import BanListHub
from riskd.health import JobStatus
from riskd.risk.banlist import BanList
from riskd.risk.locks import OPERATOR_CHARS, SymbolListUnavailable

ALERTER_TIMEOUT_S = 2.0
# aiohttp has no header timeout, but its keep-alive timer runs from the connection (or the
# last response) until the next request's head is complete, whatever bytes arrive meanwhile:
# a client that sends half a head is cut off this long after, and so is an idle connection.
HEAD_AND_IDLE_TIMEOUT_S = 5.0
BODY_TIMEOUT_S = 10.0
_ERROR_CHARS = 300

log = logging.getLogger(__name__)


def _summary(exc: BaseException) -> str:
    """``Type: message`` on one line, cut short (an actor's error without Ray's traceback)."""
    message = " ".join(str(getattr(exc, "cause", exc)).split())[:_ERROR_CHARS]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class _OneLine(logging.Filter):
    """aiohttp logs a request it cannot parse with its traceback: one line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {_summary(record.exc_info[1])}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


_HTTP_LOG = logging.getLogger(f"{__name__}.http")  # aiohttp's own: requests it cannot parse
_HTTP_LOG.addFilter(_OneLine())


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def _message(exc: Exception) -> str:
    """The message of an error raised in another actor, without Ray's traceback."""
    return str(getattr(exc, "cause", exc))


class Refused(Exception):
    """A request the gateway refuses: the status, riskd's words for the JSON error and any
    *extra* fields for it."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        return _json({"error": str(self), **self.extra}, self.status, self.headers)


_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON ``{"error": ...}``: a :class:`Refused` request, aiohttp's own (no
    route, method not allowed), and, as the last line of defence, an unexpected exception: a
    500 and one log line, no traceback."""
    try:
        return await handler(request)
    except Refused as refused:
        return refused.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        error = f"{exc.reason}: {request.method} {shown(request.path)}"
        return _json({"error": error}, exc.status, allow)
    except RayActorError as exc:
        log.warning(
            "%s %s: an actor is down: %s", request.method, shown(request.path), _summary(exc)
        )
        return _json({"error": "a riskd actor this needs is not running; try again"}, 503)
    except Exception as exc:
        log.error("%s %s failed: %s", request.method, shown(request.path), _summary(exc))
        return _json({"error": f"the gateway failed ({type(exc).__name__}); see its log"}, 500)


def gateway_runner(app: web.Application) -> web.AppRunner:
    """The runner that serves *app* as the gateway does: timeouts, aiohttp's errors logged
    on one line, bodies taken without a Content-Encoding (see :func:`json_body`)."""
    return web.AppRunner(
        app,
        access_log=None,
        logger=_HTTP_LOG,
        keepalive_timeout=HEAD_AND_IDLE_TIMEOUT_S,
        auto_decompress=False,
    )


async def json_body(request: web.Request) -> object:
    """The request's body, JSON as :func:`riskd.core.bodies.parse_json` reads it: sent as
    ``application/json`` (UTF-8), without a Content-Encoding, within BODY_TIMEOUT_S and at
    most MAX_BODY_BYTES (the app's ``client_max_size``). :class:`Refused` says what is wrong."""
    if request.content_type != "application/json":
        raise Refused(
            415, f"Content-Type: must be application/json, not {shown(request.content_type)}"
        )
    if request.charset is not None and not same_ascii_word(request.charset, "utf-8"):
        raise Refused(415, f"Content-Type: charset must be utf-8, not {shown(request.charset)}")
    encoding = request.headers.get("Content-Encoding", "identity")
    if not same_ascii_word(encoding, "identity"):
        raise Refused(415, f"Content-Encoding: send the JSON as it is, not {shown(encoding)}")
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            raw = await request.read()
    except TimeoutError:
        raise Refused(408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"the body is larger than {request.client_max_size} bytes") from None
    except web.RequestPayloadError:
        raise Refused(400, "the body is cut short or malformed") from None
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise Refused(400, str(exc)) from None


def _bearer(header: str) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``, the scheme in any case (RFC 9110);
    None without that scheme."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip(" ")
    if not same_ascii_word(scheme, "Bearer") or not token:
        return None
    return token.encode("utf-8", "surrogateescape")  # the bytes the client sent


class Gateway:
    """Serves ``GET /v1/health`` (503 when riskd cannot vouch for its data),
    ``GET /v1/positions[?account=NAME]``, the operators' locks, trading state, alerts and
    silences, and the ban list each account's Ledger publishes (``riskd.gateway.banlist``:
    ``/v1/banlist``, long-poll, ``/v1/banlist/stream``). Binds 127.0.0.1 unless configured
    otherwise, and then only with tokens. Every error is JSON ``{"error": ...}``."""

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
            app = web.Application(
                middlewares=[json_errors, self._auth], client_max_size=MAX_BODY_BYTES
            )
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
            self._runner = gateway_runner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.config.host, self.config.port)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._url = f"http://{self.config.host}:{port}"
        return self._url

    async def routes(self) -> list[str]:
        """Every route served, as ``METHOD /path`` (what the ready line lists)."""
        await self.url()
        return sorted(
            f"{route.method} {route.resource.canonical}"
            for route in self._runner.app.router.routes()  # type: ignore[union-attr]
            if route.method != "HEAD" and route.resource is not None
        )

    @web.middleware
    async def _auth(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Reads (GET, HEAD) need the read or the operator token, changes the operator token,
        sent as ``Authorization: Bearer <token>`` (the scheme in any case). A kind of request
        with no token configured is open: the gateway is then on loopback."""
        change = request.method not in ("GET", "HEAD")
        operator = self.config.operator_token
        accepted = [operator] if change else [self._read_token, operator]
        if accepted[0] is None:
            return await handler(request)
        given = _bearer(request.headers.get("Authorization", ""))
        if given is None:
            raise Refused(401, "Authorization: send 'Bearer <token>'", headers=_CHALLENGE)
        if not any(
            token is not None and hmac.compare_digest(given, token.reveal().encode())
            for token in accepted
        ):
            wrong = "changes need the operator's token" if change else "wrong bearer token"
            raise Refused(401, wrong, headers=_CHALLENGE)
        return await handler(request)

    def _actor(self, name: str) -> ActorHandle:
        """The deployment's actor *name*; 503 when it does not exist (yet, or any more)."""
        try:
            return ray.get_actor(name, namespace=self.namespace)
        except ValueError:
            raise Refused(503, f"{name} is not running") from None

    def _account(self, given: object) -> str:
        """The account a request names (*given*), or the only one when it names none."""
        if given is None:
            if len(self.accounts) == 1:
                return self.accounts[0]
            raise Refused(
                400, "account: required, this gateway serves several", accounts=self.accounts
            )
        if not isinstance(given, str) or given not in self.accounts:
            raise Refused(404, f"account: unknown account {shown(given)}", accounts=self.accounts)
        return given

    def _ledger(self, account: object) -> ActorHandle:
        return self._actor(ledger_name(self._account(account)))

    def _alerter(self) -> ActorHandle:
        return self._actor(ALERTER_NAME)

    async def _locks(self, request: web.Request) -> web.Response:
        ledger = self._ledger(request.query.get("account"))
        return _json({"locks": await ledger.active_locks.remote()})

    async def _add_lock(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "add_lock", 201)

    async def _state(self, request: web.Request) -> web.Response:
        return _json(await self._ledger(request.query.get("account")).trading_state.remote())

    async def _set_state(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "set_trading_state", 200)

    async def _operator_change(
        self, request: web.Request, method: str, status: int, actor: ActorHandle | None = None
    ) -> web.Response:
        """POST the JSON body to *actor*'s *method* (unless given, the Ledger of the body's
        account, else the query's); its ValueError is a 400, SymbolListUnavailable a 503."""
        body = await json_body(request)
        if actor is None:
            named = body.get("account") if isinstance(body, dict) else None
            actor = self._ledger(request.query.get("account") if named is None else named)
        try:
            result = await getattr(actor, method).remote(body)
        except SymbolListUnavailable as exc:
            raise Refused(503, _message(exc)) from None
        except ValueError as exc:
            raise Refused(400, _message(exc)) from None
        return _json(result, status)

    async def _alerts(self, _request: web.Request) -> web.Response:
        return _json({"alerts": await self._alerter().alerts.remote()})

    async def _silences(self, _request: web.Request) -> web.Response:
        return _json({"silences": await self._alerter().silences.remote()})

    async def _add_silence(self, request: web.Request) -> web.Response:
        return await self._operator_change(request, "add_silence", 201, self._alerter())

    async def _expire_silence(self, request: web.Request) -> web.Response:
        alerter = self._alerter()

        async def expire(silence_id: int) -> dict:
            operator = text("operator", request.query.get("operator"), OPERATOR_CHARS)
            return await alerter.expire_silence.remote(silence_id, operator)

        return await self._end(request, "silence", expire)

    async def _unlock(self, request: web.Request) -> web.Response:
        ledger = self._ledger(request.query.get("account"))
        operator = request.query.get("operator", "")
        reason = request.query.get("reason", "")
        return await self._end(
            request, "lock", lambda lock_id: ledger.unlock.remote(lock_id, operator, reason)
        )

    @staticmethod
    async def _end(
        request: web.Request, what: str, end: Callable[[int], Awaitable[dict]]
    ) -> web.Response:
        """End the lock or silence the path's ``{id}`` names: 404 if there is none, 400 if
        the id or what the call needs is wrong, or it ended already."""
        try:
            ended = await end(whole_number(f"{what} id", request.match_info["id"], 1, INT64_MAX))
        except LookupError as exc:
            raise Refused(404, _message(exc)) from None
        except ValueError as exc:
            raise Refused(400, _message(exc)) from None
        return _json(ended)

    async def _health(self, _request: web.Request) -> web.Response:
        rows: list[JobStatus] = await self._actor(CONTROLLER_NAME).status.remote()
        problems = [r.problem() for r in rows if not r.healthy()]
        for account in self.accounts:
            health = await self._actor(position_book_name(account)).health.remote()
            problems += [f"position book {account}: source {s} is silent" for s in health["silent"]]
            problems += [
                f"position book {account}: the user stream missed a change: {missed}"
                for missed in health["stream_missed"]
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
        except (Refused, TimeoutError, RayActorError) as exc:
            return {"ok": False, "problems": [f"the alerter does not answer ({_summary(exc)})"]}
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
        accounts = self.accounts if wanted is None else [self._account(wanted)]
        views = [await self._actor(position_book_name(a)).view.remote() for a in accounts]
        return _json(views[0] if wanted is not None else {"accounts": views})
