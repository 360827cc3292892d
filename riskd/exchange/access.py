"""The one way riskd jobs reach Binance: budgets before, reconciliation after, typed errors.

Every call goes through :meth:`BinanceAccess.read` or :meth:`BinanceAccess.write`:

1. the IP guard (paused after a 429, banned after a 418) and the job's weight budget (and the
   account's order budget for new orders) are checked *before* sending; the call waits until
   all of them admit it, and never exceeds them;
2. after the answer, ``X-MBX-USED-WEIGHT-1M`` and ``X-MBX-ORDER-COUNT-*`` reconcile the guard
   and the order budget with what Binance counted for every client on the IP and account;
3. failures become :mod:`riskd.exchange.errors`. Reads retry with jittered back-off; writes
   never retry blindly: an unknown outcome is resolved by querying the client order id.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException

from riskd.exchange.budget import OrderBudget, WeightBudget
from riskd.exchange.client import ResponseMeta, capture_response, stop_capture
from riskd.exchange.clock import ServerClock
from riskd.exchange.errors import (
    ExchangeError,
    IpBanned,
    MalformedResponse,
    RateLimited,
    Rejected,
    ServerError,
    StatusUnknown,
    TransportError,
    http_detail,
)
from riskd.exchange.guard import IpGuard
from riskd.exchange.weights import EndpointWeight, endpoint_weight

T = TypeVar("T")
Call = Callable[[], Awaitable[T]]

CONDITIONAL_ORDER_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
INVALID_TIMESTAMP = -1021
NO_SUCH_ORDER = -2013
_BANNED_UNTIL = re.compile(r"banned until (\d+)")


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How reads retry, and how long a call may wait for a 429 pause to end."""

    read_attempts: int = 4
    base_backoff_ms: int = 200
    max_backoff_ms: int = 5_000
    max_pause_wait_ms: int = 65_000
    # After a write's outcome is unknown and a lookup finds nothing, look once more after this.
    unknown_recheck_ms: int = 1_000
    # A read is retried only from spare budget: while this share of the job's budget stays
    # unspent after it. A job whose calls keep failing then never spends the budget its
    # first passes after the recovery need (the job's loop retries at its own pace).
    retry_reserve_fraction: float = 0.25


@dataclass(slots=True)
class CallStats:
    """Counters for a job's health and metrics."""

    calls: int = 0
    errors: int = 0
    retries: int = 0
    weight_spent: int = 0
    last_used_weight_header: int | None = None


class BinanceAccess:
    """One job's access to one account, from one egress IP."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        job: str,
        guard: IpGuard,
        budget: WeightBudget,
        clock: ServerClock,
        orders: OrderBudget | None = None,
        retry: RetryConfig = RetryConfig(),
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.job = job
        self.guard = guard
        self.budget = budget
        self.orders = orders
        self.clock = clock
        self.retry = retry
        self.stats = CallStats()
        self._rng = rng or random.Random()

    # ------------------------------------------------------------ the two kinds of call

    async def read(
        self,
        method: str,
        path: str,
        call: Call[T],
        params: Mapping[str, Any] | None = None,
        *,
        once: bool = False,
    ) -> T:
        """A call without side effects: retried on transport, 5xx and malformed answers (and
        after −1021, once the clock is resynced), unless it is to be sent only *once*."""
        if once:
            return await self._send(method, path, params or {}, call)
        attempt = 0
        resynced = False
        while True:
            try:
                return await self._send(method, path, params or {}, call)
            except Rejected as exc:
                if exc.code != INVALID_TIMESTAMP or resynced:
                    raise
                resynced = True
                await self.sync_time()
            except RateLimited as exc:
                if exc.retry_after_ms > self.retry.max_pause_wait_ms:
                    raise
                # The guard now holds every call on this IP until the pause ends.
            except (TransportError, ServerError, MalformedResponse, StatusUnknown):
                attempt += 1
                cost = _cost(method, path, params or {}).ip_weight
                if attempt >= self.retry.read_attempts or not self.spare(cost):
                    raise
                self.stats.retries += 1
                await asyncio.sleep(self._backoff_ms(attempt) / 1000)

    async def write(
        self, method: str, path: str, call: Call[T], params: Mapping[str, Any] | None = None
    ) -> T:
        """A call with side effects: sent once (again only after −1021, which executes nothing).

        Raises StatusUnknown when the outcome cannot be known from the answer.
        """
        try:
            return await self._send(method, path, params or {}, call, write=True)
        except Rejected as exc:
            if exc.code != INVALID_TIMESTAMP:
                raise
        await self.sync_time()
        return await self._send(method, path, params or {}, call, write=True)

    def spare(self, weight: int = 0) -> bool:
        """Whether the job's budget can pay *weight* more and keep its retry reserve."""
        reserve = self.budget.weight_per_minute * self.retry.retry_reserve_fraction
        used = self.budget.used(self.clock.now_ms())
        return used + weight <= self.budget.weight_per_minute - reserve

    def _backoff_ms(self, attempt: int) -> float:
        ceiling = min(self.retry.max_backoff_ms, self.retry.base_backoff_ms * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    # ------------------------------------------------------------ sending

    async def _admit(self, weight: int, orders: int, endpoint: str) -> None:
        """Wait until the IP guard, the job budget and the order budget all admit the call."""
        while True:
            now = self.clock.now_ms()
            wait = max(
                self.guard.wait_ms(weight, now, endpoint),
                self.budget.wait_ms(weight, now),
                self.orders.wait_ms(orders, now) if self.orders and orders else 0,
            )
            if wait <= 0:
                self.guard.record(weight, now)
                self.budget.record(weight, now)
                if self.orders and orders:
                    self.orders.record(orders, now)
                self.stats.weight_spent += weight
                return
            await asyncio.sleep(wait / 1000)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        call: Call[T],
        *,
        write: bool = False,
    ) -> T:
        endpoint = f"{method} {path}"
        cost = _cost(method, path, params)
        await self._admit(cost.ip_weight, cost.order_count, endpoint)
        self.stats.calls += 1
        sent_ms = self.clock.now_ms()
        meta, token = capture_response()
        try:
            result = await call()
        except BinanceAPIException as exc:
            self.stats.errors += 1
            self._reconcile(meta, sent_ms)
            raise self._api_error(exc, endpoint, write, sent_ms) from None
        except (BinanceRequestException, aiohttp.ContentTypeError):
            self.stats.errors += 1
            self._reconcile(meta, sent_ms)
            detail = f"HTTP {meta.status}: the body is not the JSON promised"
            if write:
                raise StatusUnknown(endpoint, f"outcome unknown after {detail}") from None
            raise MalformedResponse(endpoint, detail) from None
        except aiohttp.ClientConnectorError as exc:
            self.stats.errors += 1
            raise TransportError(endpoint, f"cannot connect: {exc.os_error}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.errors += 1
            detail = f"no complete answer: {type(exc).__name__}"
            raise (StatusUnknown if write else TransportError)(endpoint, detail) from None
        finally:
            stop_capture(token)
        self._reconcile(meta, sent_ms)
        return result

    def _reconcile(self, meta: ResponseMeta, sent_ms: int) -> None:
        now = self.clock.now_ms()
        used = meta.header_int("X-MBX-USED-WEIGHT-1M")
        if used is not None:
            self.stats.last_used_weight_header = used
            self.guard.observe_used_weight(used, sent_ms, now)
        if self.orders is not None:
            self.orders.observe(
                meta.header_int("X-MBX-ORDER-COUNT-10S"),
                meta.header_int("X-MBX-ORDER-COUNT-1M"),
                now,
            )

    def _api_error(
        self, exc: BinanceAPIException, endpoint: str, write: bool, sent_ms: int
    ) -> ExchangeError:
        status = exc.status_code
        now = self.clock.now_ms()
        retry_after = exc.response.headers.get("Retry-After", "") if exc.response else ""
        retry_after_ms = int(retry_after) * 1000 if retry_after.isdigit() else None
        code, message = _binance_error(exc)
        if status == 418:
            match = _BANNED_UNTIL.search(message)
            until = int(match.group(1)) if match else now + (retry_after_ms or 120_000)
            self.guard.on_banned(until, now, endpoint)
            return IpBanned(endpoint, self.guard.ip, until)
        if status == 429 and code == -1003:
            until = self.guard.on_rate_limited(retry_after_ms, sent_ms, now, endpoint)
            return RateLimited(endpoint, self.guard.ip, until - now)
        if status >= 500:
            if code == -1000 or "Unknown error" in message or write:
                detail = http_detail(status, code, message)
                return StatusUnknown(endpoint, f"outcome unknown after {detail}")
            return ServerError(endpoint, status, code, message)
        if code is None:
            return MalformedResponse(endpoint, http_detail(status, None))
        return Rejected(endpoint, status, code, message)

    # ------------------------------------------------------------ time

    async def sync_time(self) -> int:
        """Measure the server clock offset and sign with it from now on."""
        sent = self.clock.local_ms()
        answer = await self._send("GET", "/fapi/v1/time", {}, self.client.futures_time)
        received = self.clock.local_ms()
        try:
            server_ms = int(answer["serverTime"])
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse("GET /fapi/v1/time", "no serverTime") from None
        offset = self.clock.update(server_ms, sent, received)
        self.client.timestamp_offset = offset
        return offset

    # ------------------------------------------------------------ orders with unknown outcome

    async def place_order(self, params: Mapping[str, Any]) -> dict:
        """POST /fapi/v1/order, idempotent by ``newClientOrderId`` (required)."""
        client_id = _required(params, "newClientOrderId")
        symbol = _required(params, "symbol")
        if str(params.get("type", "")).upper() in CONDITIONAL_ORDER_TYPES:
            raise ValueError("conditional orders go to place_algo_order (/fapi/v1/algoOrder)")

        async def lookup() -> dict:
            return await self.client.futures_get_order(symbol=symbol, origClientOrderId=client_id)

        return await self._place_once(
            "/fapi/v1/order",
            params,
            lambda: self.client.futures_create_order(**dict(params)),
            "GET",
            "/fapi/v1/order",
            lookup,
            {"symbol": symbol},
        )

    async def place_algo_order(self, params: Mapping[str, Any]) -> dict:
        """POST /fapi/v1/algoOrder, idempotent by ``clientAlgoId`` (required)."""
        client_id = _required(params, "clientAlgoId")

        async def lookup() -> dict:
            return await self.client.futures_get_algo_order(clientAlgoId=client_id)

        return await self._place_once(
            "/fapi/v1/algoOrder",
            params,
            lambda: self.client.futures_create_algo_order(**dict(params)),
            "GET",
            "/fapi/v1/algoOrder",
            lookup,
            {},
        )

    async def _place_once(
        self,
        path: str,
        params: Mapping[str, Any],
        place: Call[dict],
        lookup_method: str,
        lookup_path: str,
        lookup: Call[dict],
        lookup_params: Mapping[str, Any],
    ) -> dict:
        """Place; if the outcome is unknown, find the order by its client id before any retry.

        Only when two lookups (``unknown_recheck_ms`` apart) find nothing is it placed again,
        with the same client id, so the exchange itself rejects a duplicate.
        """
        try:
            return await self.write("POST", path, place, params)
        except StatusUnknown:
            pass
        for delay_ms in (0, self.retry.unknown_recheck_ms):
            await asyncio.sleep(delay_ms / 1000)
            try:
                return await self.read(lookup_method, lookup_path, lookup, lookup_params)
            except Rejected as exc:
                if exc.code != NO_SUCH_ORDER:
                    raise
        return await self.write("POST", path, place, params)


def _cost(method: str, path: str, params: Mapping[str, Any]) -> EndpointWeight:
    """What a call costs (weight, orders), by the endpoint table."""
    return endpoint_weight(method, path, {k: str(v) for k, v in params.items()})


def _binance_error(exc: BinanceAPIException) -> tuple[int | None, str]:
    """The ``code`` and ``msg`` of Binance's JSON error body; (None, "") for any other body,
    whose text python-binance puts in its message (with the request URL and signature)."""
    code = exc.code
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        return None, ""
    return code, exc.message if isinstance(exc.message, str) else ""


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ValueError(f"{name} is required: riskd's orders are idempotent by client id")
    return str(value)
