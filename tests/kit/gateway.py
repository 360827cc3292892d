"""The gateway without Ray: :class:`FakeBackend`, riskd's actors in memory (and the kline
store), robots' tokens (:func:`robot_tokens`), and the gateway serving from it
(:func:`serving`)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession
from multidict import CIMultiDictProxy
from yarl import URL

from riskd.core.clock import HOUR_MS, Clock, wall_ms
from riskd.core.secrets import Secret, SecretSources
from riskd.exchange.key_safety import ApiRestrictions, KeyCheck
from riskd.fmz.request import Method, Params
from riskd.gateway.app import GatewayServer
from riskd.gateway.auth import NO_ROBOTS
from riskd.gateway.config import GatewayConfig
from riskd.gateway.robots import RobotTokens
from riskd.health import JobStatus
from riskd.market.config import MarketConfig
from riskd.market.records import KlineRow
from riskd.notify.alerts import silence_request
from riskd.pnl.daily import DailyReport, DayFigures, first_day_ms
from riskd.pnl.report import PnlGrouping, PnlReport, PnlRow
from riskd.protect.flatten import FlattenRequest, UnknownSymbol
from riskd.risk.locks import operator_lock_request, operator_state_request, operator_unlock_request
from tests.kit.flatten import nothing_open_report

READ_TOKEN, OPERATOR_TOKEN = "read-token", "operator-token"
SAFE_KEY = ApiRestrictions(
    ip_restrict=True,
    enable_reading=True,
    enable_withdrawals=False,
    enable_futures=True,
    create_time_ms=1_700_000_000_000,
)
"""What a key riskd finds safe may do."""
READER = {"Authorization": f"Bearer {READ_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
JSON = {"Content-Type": "application/json"}


def robot_token(name: str) -> str:
    """Robot *name*'s token in tests."""
    return f"{name}-robot-token"


def robot_tokens(*names: str) -> RobotTokens:
    """The tokens of robots *names*, each its :func:`robot_token`."""
    return RobotTokens({name: Secret(robot_token(name)) for name in names})


def as_robot(name: str) -> dict[str, str]:
    """The ``Authorization`` header of robot *name*."""
    return {"Authorization": f"Bearer {robot_token(name)}"}


def lock_body(**fields: object) -> bytes:
    """An operator's lock as JSON: BTCUSDT by alice, but for *fields*."""
    return json.dumps(
        {"symbol": "BTCUSDT", "reason": "test", "operator": "alice"} | fields
    ).encode()


def state_body(**fields: object) -> bytes:
    """An operator's trading state as JSON: HALTED by alice, but for *fields*."""
    return json.dumps({"state": "HALTED", "operator": "alice", "reason": "test"} | fields).encode()


def silence_body(**fields: object) -> bytes:
    """A silence as JSON: of symbol=BTCUSDT for 5 minutes, but for *fields*."""
    body = {"matchers": ["symbol=BTCUSDT"], "minutes": 5, "created_by": "al", "comment": "c"}
    return json.dumps(body | fields).encode()


def raw_silence_body(minutes: str) -> bytes:
    """A silence whose minutes are *minutes* as written (Infinity is not JSON)."""
    return (
        b'{"matchers":["a=b"],"minutes":' + minutes.encode() + b',"created_by":"a","comment":"c"}'
    )


def bad_request(
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    error: str,
    headers: Mapping[str, str] | None = None,
) -> object:
    """A row of a table of bad requests: what is sent (as JSON unless *headers* say
    otherwise), the status and a part of the error the gateway answers."""
    return pytest.param(
        method, path, body, JSON | dict(headers or {}), status, error, id=f"{method} {error}"
    )


def gateway_config(
    read_token: str | None = None, operator_token: str | None = None, host: str = "127.0.0.1"
) -> GatewayConfig:
    """A gateway config on *host* (port 0) with these tokens, each from its env var."""
    env = {"READ": read_token, "OPERATOR": operator_token}
    fields = {f"{name.lower()}_token_env": name for name, token in env.items() if token}
    return GatewayConfig.model_validate(
        {"host": host, "port": 0, **fields},
        context=SecretSources(env={name: token for name, token in env.items() if token}),
    )


class FakeBackend:
    """:class:`riskd.gateway.ports.Backend` in memory. It checks operators' requests with the
    Ledger's and the Alerter's own validators; ``stored_klines[(symbol, interval)]`` holds the
    kline store's rows, ``pnl_rows[account]`` the rows of its PnL reports, ``daily_rows[account]``
    those of its daily reports; ``rungs``, ``equity_points`` and ``gate_counts[account]``
    what the StopLadder, the Ledger and the Trader answer for the status page, ``told`` the
    Alerter's recent notifications, ``keys[account]`` what its API key may do (SAFE_KEY by
    default); ``fail[method]`` is raised by that method, a method in ``hang`` never answers,
    ``calls`` records every call and ``writes`` every change carried out (a lock, an unlock,
    a trading state, a silence or its end, an FMZ account method, a flatten)."""

    def __init__(self, accounts: Sequence[str] = ("main",)) -> None:
        self.rows: list[JobStatus] = []
        self.books = {account: {"silent": [], "stream_missed": []} for account in accounts}
        self.alerter = {"last_tick_ms": 1, "last_error": "", "receivers": {}}
        self.views = {
            account: {"account": account, "now_ms": 0, "positions": [], "balances": [],
                      "sources": []}
            for account in accounts
        }  # fmt: skip
        self.keys: dict[str, ApiRestrictions] = {account: SAFE_KEY for account in accounts}
        self.rungs: dict[str, list[dict]] = {account: [] for account in accounts}
        self.equity_points: dict[str, list[list]] = {account: [] for account in accounts}
        self.gate_counts: dict[str, list[dict]] = {account: [] for account in accounts}
        self.active: dict[str, dict[int, dict]] = {account: {} for account in accounts}
        self.states = {
            account: {"state": "ACTIVE", "reason": "", "actor": "", "at_ms": 0}
            for account in accounts
        }
        self.firing: list[dict] = []
        self.told: list[dict] = []
        self.current_silences: dict[int, dict] = {}
        self.stored_klines: dict[tuple[str, str], list[KlineRow]] = {}
        self.decisions: dict[str, list[dict]] = {account: [] for account in accounts}
        self.pnl_rows: dict[str, list[PnlRow]] = {account: [] for account in accounts}
        self.daily_rows: dict[str, list[DayFigures]] = {account: [] for account in accounts}
        self.fail: dict[str, Exception] = {}
        self.hang: set[str] = set()
        self.calls: list[tuple[str, tuple]] = []
        self.writes: list[tuple[str, tuple]] = []
        self._ids = itertools.count(1)

    async def _called(self, method: str, *args: object) -> None:
        self.calls.append((method, args))
        if method in self.hang:
            await asyncio.Event().wait()
        if method in self.fail:
            raise self.fail[method]

    async def health_rows(self) -> list[JobStatus]:
        await self._called("health_rows")
        return self.rows

    async def book_health(self, account: str) -> dict:
        await self._called("book_health", account)
        return self.books[account]

    async def alerter_health(self) -> dict:
        await self._called("alerter_health")
        return self.alerter

    async def positions(self, account: str) -> dict:
        await self._called("positions", account)
        return self.views[account]

    async def check_key(self, account: str) -> dict:
        """The check of ``keys[account]``, read now."""
        await self._called("check_key", account)
        return KeyCheck(account).read(self.keys[account], wall_ms()).to_dict()

    async def ladder_rungs(self, account: str) -> list[dict]:
        await self._called("ladder_rungs", account)
        return self.rungs[account]

    async def equity(self, account: str, hours: int) -> dict:
        await self._called("equity", account, hours)
        end_ms = wall_ms()
        points = self.equity_points[account]
        return {"account": account, "assets": ["USDT"], "start_ms": end_ms - hours * HOUR_MS,
                "end_ms": end_ms, "points": points}  # fmt: skip

    async def order_summary(self, account: str, hours: int) -> dict:
        await self._called("order_summary", account, hours)
        since_ms = wall_ms() - hours * HOUR_MS
        return {"account": account, "since_ms": since_ms, "robots": self.gate_counts[account]}

    async def locks(self, account: str) -> list[dict]:
        await self._called("locks", account)
        return list(self.active[account].values())

    async def add_lock(self, account: str, body: object) -> dict:
        await self._called("add_lock", account, body)
        request = operator_lock_request(body)
        lock = {
            "id": next(self._ids),
            "account": account,
            "symbol": request.symbol,
            "side": request.side,
            "reason_code": request.reason_code,
            "reason_text": request.reason_text,
            "source": request.source,
            "until_ms": request.until_ms,
            "created_ms": wall_ms(),
            "active": True,
            "robot": request.robot,
        }
        self.active[account][lock["id"]] = lock
        self.writes.append(("add_lock", (account, body)))
        return lock

    async def unlock(self, account: str, lock_id: int, operator: str, reason: str) -> dict:
        await self._called("unlock", account, lock_id, operator, reason)
        request = operator_unlock_request(lock_id, operator, reason)
        if request.lock_id not in self.active[account]:
            raise LookupError(f"no lock {lock_id}")
        self.writes.append(("unlock", (account, lock_id, operator, reason)))
        return self.active[account].pop(request.lock_id) | {"active": False}

    async def trading_state(self, account: str) -> dict:
        await self._called("trading_state", account)
        return self.states[account]

    async def set_trading_state(self, account: str, body: object) -> dict:
        await self._called("set_trading_state", account, body)
        request = operator_state_request(body)
        self.states[account] = {
            "state": request.state.value,
            "reason": request.reason,
            "actor": request.actor,
            "at_ms": wall_ms(),
        }
        self.writes.append(("set_trading_state", (account, body)))
        return self.states[account]

    async def alerts(self) -> list[dict]:
        await self._called("alerts")
        return self.firing

    async def recent_alerts(self, hours: int, limit: int) -> list[dict]:
        await self._called("recent_alerts", hours, limit)
        return self.told[:limit]

    async def silences(self) -> list[dict]:
        await self._called("silences")
        return list(self.current_silences.values())

    async def add_silence(self, body: object) -> dict:
        await self._called("add_silence", body)
        matchers, starts_ms, ends_ms, created_by, comment = silence_request(body, wall_ms())
        silence = {
            "id": next(self._ids),
            "matchers": [str(matcher) for matcher in matchers],
            "starts_ms": starts_ms,
            "ends_ms": ends_ms,
            "created_by": created_by,
            "comment": comment,
        }
        self.current_silences[silence["id"]] = silence
        self.writes.append(("add_silence", (body,)))
        return silence

    async def expire_silence(self, silence_id: int, operator: str) -> dict:
        await self._called("expire_silence", silence_id, operator)
        if silence_id not in self.current_silences:
            raise LookupError(f"no silence {silence_id}")
        self.writes.append(("expire_silence", (silence_id, operator)))
        return self.current_silences.pop(silence_id)

    async def fmz(self, account: str, robot: str, method: Method, params: Params) -> dict:
        """Echoes what the Trader was asked: ``{"data": {account, robot, method}}``."""
        await self._called("fmz", account, robot, method, params)
        self.writes.append(("fmz", (account, robot, method, params)))
        return {"data": {"account": account, "robot": robot, "method": method.value}}

    async def orders(self, account: str, robot: str | None, limit: int) -> list[dict]:
        await self._called("orders", account, robot, limit)
        listed = [d for d in self.decisions[account] if robot in (None, d["robot"])]
        return listed[:limit]

    async def flatten(self, account: str, request: FlattenRequest) -> dict:
        """The report of a flatten that found nothing open; a symbol other than BTCUSDT and
        ETHUSDT is not listed (UnknownSymbol)."""
        await self._called("flatten", account, request)
        symbol = request.scope.symbol
        if symbol and symbol not in ("BTCUSDT", "ETHUSDT"):
            raise UnknownSymbol(f"symbol: the exchange does not list {symbol!r}")
        self.writes.append(("flatten", (account, request)))
        return nothing_open_report(account, request, wall_ms())

    async def pnl(self, account: str, by: str, hours: int, robot: str | None) -> dict:
        """A report of ``pnl_rows[account]`` over the *hours* up to now."""
        await self._called("pnl", account, by, hours, robot)
        end_ms = wall_ms()
        rows = tuple(self.pnl_rows[account])
        grouping = PnlGrouping(by)
        return PnlReport(account, grouping, robot, end_ms - hours * HOUR_MS, end_ms, rows).to_dict()

    async def daily_report(self, account: str, by: str | None, days: int) -> dict:
        """A report of ``daily_rows[account]`` over the *days* days up to now."""
        await self._called("daily_report", account, by, days)
        end_ms = wall_ms()
        grouping = None if by is None else PnlGrouping(by)
        rows = tuple(self.daily_rows[account])
        return DailyReport(
            account, grouping, days, first_day_ms(days, end_ms), end_ms, rows
        ).to_dict()

    async def kline_history(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list]:
        await self._called("kline_history", symbol, interval, start_ms, end_ms, limit)
        rows = sorted(
            list(row)
            for row in self.stored_klines.get((symbol, interval), [])
            if (start_ms is None or start_ms <= row[0]) and (end_ms is None or row[0] <= end_ms)
        )
        return rows[:limit] if start_ms is not None else rows[-limit:]


@dataclass(frozen=True, slots=True)
class Served:
    """A gateway serving on 127.0.0.1 as the actor serves it, on a :class:`FakeBackend`."""

    server: GatewayServer
    backend: FakeBackend
    url: str
    http: ClientSession

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, CIMultiDictProxy[str], Any]:
        """One request, its *path* sent as written: the status, headers and decoded JSON
        (None without a body)."""
        url = URL(self.url + path, encoded=True)
        async with self.http.request(method, url, data=body, headers=headers) as response:
            raw = await response.read()
            return response.status, response.headers, json.loads(raw) if raw else None


@asynccontextmanager
async def serving(
    backend: FakeBackend | None = None,
    config: GatewayConfig | None = None,
    accounts: Sequence[str] = ("main",),
    *,
    market: MarketConfig | None = None,
    robots: RobotTokens = NO_ROBOTS,
    robot_accounts: Mapping[str, str] | None = None,
    clock: Clock = wall_ms,
) -> AsyncIterator[Served]:
    """The gateway for *accounts* on *backend* (a new FakeBackend by default), configured
    as *config* (by default: loopback, no tokens), with *market* data aged on *clock* and
    channels written with *robots*' tokens, serving until the block ends."""
    backend = backend or FakeBackend(accounts)
    server = GatewayServer(
        config or gateway_config(),
        accounts,
        backend,
        market=market,
        robots=robots,
        robot_accounts=robot_accounts,
        clock=clock,
    )
    try:
        url = await server.url()
        async with ClientSession() as http:
            yield Served(server, backend, url, http)
    finally:
        await server.stop()
