"""The gateway's robot paths: the pre-trade gate's added latency, the FMZ protocol's market
methods, and channel fan-out to 1,000 subscribers.

Three parts, each printed as a table (``--part 1|2|3|all``). Each part is its own deployment in
its own fresh local Ray (``bench/deployment.py`` ``local_deployment``) against a
``SimulatorThread`` in THIS process (127.0.0.1, free port, no injected latency or faults), with
SQLite in a temporary folder. riskd's actors run at Ray's worker niceness (15), this process at
0. The robots are ``[[robots]]`` ``b0``, ``b1``, … of account ``sim``, each with its own token.

**1. Pre-trade gate: added latency of a trade** (``--orders 500`` per route and concurrency,
``--concurrency 1,50``). The account runs the jobs the trade path needs: the Trader, the Ledger
(riskd's defaults: every 10 s; it publishes the ban list the gate judges by) and the
account_reader (the PositionBook must be fresh for the Ledger to vouch for its list);
user_stream, position_risk_reader, order_reaper and stop_ladder are disabled, no ``[market]``.
No exposure or rate limit is configured (the gate still checks the ban list, the filters, the
min notional at the mark and the duplicate guard). Every order is a MARKET order of DOGEUSDT,
BUY in one round and SELL in the next (the position stays near flat; the fills' fees and spread
stay far from the default rules' −150 USDT), its quantity the smallest over the min notional
plus one step per order of that robot (cycling over 300 steps, so no two orders of a robot
within the duplicate window are alike). Not resting LIMIT orders: cancelling them between
rounds trips the simulator's GTC cancellation-ratio rule (Binance's quantitative rules: ≥ 150
GTC orders in 10 min, ≥ 99 % cancelled → -4400, only reduce-only orders for 10 min), and
without cancelling the 200-per-symbol cap is soon reached. Two routes:

* ``riskd``: ``POST /fmz/bench`` with ``{"method": "trade", "params": {"symbol": "DOGE_USDT",
  "type": "buy"|"sell", "price": -1, "amount"}}`` and the robot's name and token, from a shared
  ``aiohttp.ClientSession`` (keep-alive): gateway → Ray → the Trader (gate) →
  ``BinanceAccess.place_order`` → the simulator, and back (the decision written to SQL first);
* ``direct``: the same order by python-binance's ``AsyncClient.futures_create_order`` (its
  HMAC signing, its aiohttp session) from 127.0.0.9 straight to the simulator.

Latency: ``perf_counter`` around the call, client side, the answer read and decoded. At
concurrency C, a round is C robots sending one order each at the same instant
(``asyncio.gather``); rounds alternate the two routes. Both routes share the account's order
limits (the simulator's: 300 per 10 s, 1,200 per minute, which riskd does not pace): the bench
admits a round only when it keeps the bench's orders within 90 % of both over any window, so
rounds are paced at about 18 orders/s. ``first after ready``: the first trade once the gateway
holds a valid ban list (its first call reaches the Trader), then the first direct order, each over a
new connection; ``first burst``: the first round at concurrency > 1 (new
connections). ``added`` = riskd − direct, percentile by percentile.

**2. FMZ market methods** (``--market-clients 32 --market-seconds 10``). The deployment carries
the simulator's 4 first symbols with ``[market]`` (riskd's default readers and the WebSocket on
the loopback egresses of ``bench/market.py``); the account's jobs are disabled. Once
``/v1/market/stats`` shows every symbol with klines, book and 24 h ticker younger than their
max age, each method is called once alone over a new connection (``first after ready``); then
N clients (asyncio tasks sharing one keep-alive session) call ``ticker``, ``records`` (period
1, no limit: the whole cached window) and ``depth`` in turn over the symbols, as fast as they
can, for S seconds after a 1 s warm-up. Errors: non-200 answers, ``{"error"}`` answers and
failed connections. CPU: the gateway's worker process, and this process's main thread (the
clients; the simulator runs in other threads of this process).

**3. Channel fan-out** (``--subscribers 1000 --client-procs 2 --publishes 100
--publish-hz 10``). A deployment with no job running (the channels live in the gateway actor).
The gateway's worker process (every thread) is pinned to core 0; the subscribers, in
``--client-procs`` processes (multiprocessing spawn), and this process (the publisher) to core
1. Each subscriber opens ``/v1/channels/bench/stream``; once all are connected, robot ``b0``
publishes with ``PUT /v1/channels/bench`` (its bearer token), at a steady rate, a small state
carrying ``time.time()`` taken just before the PUT is sent. A subscriber stamps ``time.time()``
when it reads a message (same host clock). Latency = receive − publish time, over every
(subscriber, version) delivery; the first publish (version 1, which creates the channel) has its
own row. A slow subscriber skips to the newest version by design: ``skipped`` counts the
deliveries of intermediate versions that never came, ``lost`` the subscribers that never got the
last version.

    python bench/gateway.py [--part 1|2|3|all] [--orders 500] [--concurrency 1,50]
        [--market-clients 32] [--market-seconds 10] [--subscribers 1000] [--client-procs 2]
        [--publishes 100] [--publish-hz 10]

Target: 1. the gate adds ≤ 2 ms at p99 (steady state), at every concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import itertools
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from binance import AsyncClient
from deployment import (
    ACCOUNT,
    ENV,
    FIRST,
    LATENCY_HEADERS,
    STEADY,
    actor_pid,
    bench_client,
    bench_simulator,
    by_row,
    deployment_toml,
    latency_cells,
    local_deployment,
    pct,
    print_host,
    serve_subscribers,
    subscriber_processes,
    table,
)
from market import FEED_EGRESS, account_jobs_off, market_toml, process_cpu_s, wait_served
from simproc import CLIENT_CPU, SERVER_CPU

from actors.context import GATEWAY_NAME, ConfigSource, trader_name
from riskd.exchange.filters import SymbolFilters, parse_exchange_info
from riskd.market.records import MarketKind

TARGET_ADDED_P99_MS = 2.0
LABEL = "bench"  # the exchange label in /fmz/{label}, and the channel's id
SYMBOL, FMZ_SYMBOL = "DOGEUSDT", "DOGE_USDT"
SIDES = ("BUY", "SELL")  # by turns, round by round: the position stays near flat
QUANTITY_STEPS = 300
ORDER_LIMITS = ((10.0, 300), (60.0, 1_200))  # the simulator's account limits: (window s, orders)
ORDER_MARGIN = 0.9
FIRST_BURST = "first burst"
BANLIST_WAIT_S = 30.0
NOT_YET = ("BANLIST_MISSING", "BANLIST_EXPIRED")  # the Trader's list lags the gateway's
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
MARKET_SYMBOLS = 4
MARKET_WALK_MS = 1_000
WARMUP_S = 1.0
METHODS = ("ticker", "records", "depth")
CONNECT_S = 60.0
SETTLE_S = 1.0


# ---------------------------------------------------------------- shared


def robot_token(index: int) -> tuple[str, str]:
    """Robot ``b<index>``'s token: (its env var, its value)."""
    return f"RISKD_BENCH_ROBOT_{index}", f"bench-robot-token-{index}"


def robots_toml(count: int, accounts: Sequence[str] = (ACCOUNT,)) -> str:
    """``[[robots]]`` b0 … b<count-1>, robot k on ``accounts[k % len(accounts)]`` (the bench's
    account alone by default), riskd's default limits."""
    return "".join(
        f'\n[[robots]]\nname = "b{k}"\naccount = "{accounts[k % len(accounts)]}"\n'
        f'token_env = "{robot_token(k)[0]}"\n'
        for k in range(count)
    )


def deployment_env(robots: int) -> None:
    """The account's keys and the robots' tokens, before ``ray.init`` (the raylet passes the
    environment to the actors)."""
    os.environ.update(ENV)
    os.environ.update(dict(robot_token(k) for k in range(robots)))


def jobs_off(*jobs: str) -> str:
    """The account's tables disabling *jobs*."""
    return "".join(f"\n[accounts.jobs.{job}]\nenabled = false\n" for job in jobs)


def fmz_body(robot: int, method: str, params: dict[str, object]) -> dict[str, object]:
    """An FMZ universal-protocol request of robot ``b<robot>``."""
    return {
        "access_key": f"b{robot}",
        "secret_key": robot_token(robot)[1],
        "method": method,
        "nonce": time.time_ns(),
        "params": params,
    }


def ms2(values_s: Sequence[float], p: float) -> str:
    """The *p* percentile of *values_s* (seconds) in ms, to 0.01 ms (the target is 2 ms)."""
    return f"{pct(values_s, p) * 1000:.2f}"


def pin_threads(pid: int, cpu: int) -> None:
    """Pin every thread of process *pid* (``/proc/<pid>/task``) to *cpu*."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(int(task.name), {cpu})


# ---------------------------------------------------------------- part 1: the gate


class OrderPacer:
    """Admits the bench's new orders within ORDER_MARGIN of the account's order limits over
    any window (the simulator counts fixed windows; a sliding count bounds every one)."""

    def __init__(self) -> None:
        self.sent: deque[float] = deque()

    async def admit(self, count: int) -> None:
        while True:
            now = time.monotonic()
            while self.sent and self.sent[0] <= now - ORDER_LIMITS[-1][0]:
                self.sent.popleft()
            wait = 0.0
            for window_s, limit in ORDER_LIMITS:
                recent = [t for t in self.sent if t > now - window_s]
                over = len(recent) + count - int(limit * ORDER_MARGIN)
                if over > 0:
                    wait = max(wait, recent[over - 1] + window_s - now)
            if wait <= 0:
                self.sent.extend([now] * count)
                return
            await asyncio.sleep(wait)


@dataclass(slots=True)
class Route:
    """One route's samples at one concurrency: latencies (s) by row label, and errors."""

    name: str
    concurrency: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class GateResult:
    routes: list[Route] = field(default_factory=list)
    refused_first: int = 0  # NOT_YET answers before the first trade passed
    cpu_ms: dict[int, tuple[float, float]] = field(default_factory=dict)
    """By concurrency: CPU ms per riskd trade of the gateway's and the Trader's workers."""
    errors: list[str] = field(default_factory=list)

    def route(self, name: str, concurrency: int) -> Route:
        found = [r for r in self.routes if (r.name, r.concurrency) == (name, concurrency)]
        if found:
            return found[0]
        self.routes.append(Route(name, concurrency))
        return self.routes[-1]


class Quantities:
    """Each (route, robot)'s next MARKET quantity: the smallest over the min notional at the
    mark (with 5 % to spare), plus one market step per order, cycling over QUANTITY_STEPS."""

    def __init__(self, filters: SymbolFilters, mark: Decimal) -> None:
        self.filters = filters
        step = filters.market_step_size
        lots = (filters.min_notional * Decimal("1.05") / mark / step).to_integral_value(
            ROUND_CEILING
        )
        self.base = max(filters.market_min_qty, lots * step)
        self.counters: dict[tuple[str, int], itertools.count] = {}

    def next(self, route: str, robot: int) -> str:
        n = next(self.counters.setdefault((route, robot), itertools.count())) % QUANTITY_STEPS
        quantity = self.base + n * self.filters.market_step_size
        return self.filters.format_quantity(quantity, market=True)


async def timed(call: Awaitable[str | None]) -> tuple[float, str | None]:
    """(seconds, the error or None) of one call, timed from when it starts being awaited."""
    began = time.perf_counter()
    try:
        error = await call
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[:120]}"
    return time.perf_counter() - began, error


async def fmz_trade(
    session: aiohttp.ClientSession,
    gateway: str,
    robot: int,
    side: str,
    amount: str,
    symbol: str = FMZ_SYMBOL,
) -> str | None:
    """One MARKET trade (FMZ price -1) of robot ``b<robot>`` through riskd on *symbol* (FMZ's
    ``BASE_QUOTE``); the error, or None when placed."""
    params = {"symbol": symbol, "type": side.lower(), "price": -1, "amount": amount}
    async with session.post(f"{gateway}/fmz/{LABEL}", json=fmz_body(robot, "trade", params)) as r:
        answer = await r.json()
    return None if "data" in answer else str(answer.get("error", answer))[:160]


async def direct_order(binance: AsyncClient, robot: int, side: str, amount: str) -> str | None:
    """The same order straight to the simulator; raises on an error."""
    await binance.futures_create_order(
        symbol=SYMBOL,
        side=side,
        type="MARKET",
        quantity=amount,
        newClientOrderId=f"bd-{robot}-{time.time_ns()}",
    )
    return None


async def first_trade(gateway: str, amount: str, result: GateResult) -> float:
    """The first trade once the gateway holds a ban list still valid (the Ledger's first list
    expires at once when the PositionBook was not yet fresh), over a new connection; a trade the
    Trader refuses for want of a valid list (it gets the list with the gateway) is sent again."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        deadline = time.monotonic() + BANLIST_WAIT_S
        while True:
            async with session.get(f"{gateway}/v1/banlist?account={ACCOUNT}") as answer:
                body = await answer.read()
                if answer.status == 200 and json.loads(body)["valid_until"] > time.time() * 1000:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the gateway held no valid ban list {BANLIST_WAIT_S:g} s after ready"
                )
            await asyncio.sleep(0.05)
    while True:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            took, error = await timed(fmz_trade(session, gateway, 0, "BUY", amount))
        if error is None:
            return took
        if not any(code in error for code in NOT_YET) or result.refused_first >= 20:
            raise RuntimeError(f"the first trade failed: {error}")
        result.refused_first += 1
        await asyncio.sleep(0.05)


async def drive_gate(
    sim_url: str, gateway: str, args: argparse.Namespace, result: GateResult
) -> None:
    binance = bench_client(sim_url)
    try:
        filters = parse_exchange_info(await binance.futures_exchange_info())[SYMBOL]
        mark = Decimal((await binance.futures_mark_price(symbol=SYMBOL))["markPrice"])
        quantities = Quantities(filters, mark)
        pacer = OrderPacer()
        await pacer.admit(2)
        first = await first_trade(gateway, quantities.next("riskd", 0), result)
        result.route("riskd", 1).samples[FIRST] = [first]
        amount = quantities.next("direct", 0)
        took, error = await timed(direct_order(binance, 0, "SELL", amount))
        if error is not None:
            raise RuntimeError(f"the first direct order failed: {error}")
        result.route("direct", 1).samples[FIRST] = [took]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, connector=connector) as session:
            routes: dict[str, Callable[[int, str], Awaitable[str | None]]] = {
                "direct": lambda k, side: direct_order(
                    binance, k, side, quantities.next("direct", k)
                ),
                "riskd": lambda k, side: fmz_trade(
                    session, gateway, k, side, quantities.next("riskd", k)
                ),
            }
            pids = actor_pid(GATEWAY_NAME), actor_pid(trader_name(ACCOUNT))
            for concurrency in args.concurrency:
                rounds = max(1, args.orders // concurrency)
                print(f"  concurrency {concurrency}: {rounds} rounds per route ...", flush=True)
                cpu_s = [process_cpu_s(pid) for pid in pids]  # the gateway's, the Trader's
                for index in range(rounds + (concurrency > 1)):
                    label = FIRST_BURST if index == 0 and concurrency > 1 else STEADY
                    side = SIDES[index % 2]
                    for name, send in routes.items():
                        await pacer.admit(concurrency)
                        done = await asyncio.gather(
                            *(timed(send(k, side)) for k in range(concurrency))
                        )
                        route = result.route(name, concurrency)
                        for took, error in done:
                            if error is None:
                                route.samples.setdefault(label, []).append(took)
                            else:
                                route.errors[error] += 1
                trades = (rounds + (concurrency > 1)) * concurrency
                gateway_ms, trader_ms = (
                    (process_cpu_s(pid) - before) * 1000 / trades
                    for pid, before in zip(pids, cpu_s, strict=True)
                )
                result.cpu_ms[concurrency] = (gateway_ms, trader_ms)
    finally:
        await binance.close_connection()


def run_gate(args: argparse.Namespace) -> GateResult:
    result = GateResult()
    robots = max(args.concurrency)
    deployment_env(robots)
    account = jobs_off("user_stream", "position_risk_reader", "order_reaper", "stop_ladder")
    try:
        with (
            bench_simulator() as simulator,
            tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder,
        ):
            url = simulator.server.url
            toml = deployment_toml(url, "gateway-gate", robots_toml(robots), account)
            source = ConfigSource(toml, "<gateway gate>", folder)
            with local_deployment(source, "gate", result.errors) as (_controller, info):
                asyncio.run(drive_gate(url, info["gateway"], args, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def report_gate(result: GateResult, args: argparse.Namespace) -> None:
    print(
        f"\n=== 1. MARKET orders of {SYMBOL}, BUY and SELL by turns: riskd (POST /fmz/{LABEL} "
        "trade) vs direct (python-binance → simulator), client-side ms ==="
    )
    headers = ["route", "concurrency", "sample", "n", "errors", *LATENCY_HEADERS, "target"]
    rows: list[list[object]] = []
    for concurrency in [1, *[c for c in args.concurrency if c > 1]]:
        first_label = FIRST if concurrency == 1 else FIRST_BURST
        pair = {name: result.route(name, concurrency) for name in ("direct", "riskd")}
        for name, route in pair.items():
            for label in (first_label, STEADY):
                samples = route.samples.get(label, [])
                errors = sum(route.errors.values()) if label == STEADY else 0
                cells = [ms2(samples, p) for p in (50, 90, 99, 100)]
                rows.append([name, concurrency, label, len(samples), errors, *cells, "-"])
        for label in (first_label, STEADY):
            direct, riskd = (pair[n].samples.get(label, []) for n in ("direct", "riskd"))
            added = [(pct(riskd, p) - pct(direct, p)) * 1000 for p in (50, 90, 99, 100)]
            verdict = "-"
            if label == STEADY:
                verdict = "ok" if direct and riskd and added[2] <= TARGET_ADDED_P99_MS else "MISS"
            rows.append(
                ["added", concurrency, label, "-", "-", *[f"{a:.2f}" for a in added], verdict]
            )
    print(table(headers, rows, left={0, 2}))
    print(
        f"target: riskd adds ≤ {TARGET_ADDED_P99_MS:g} ms at p99 (steady state). added = riskd − "
        f"direct per percentile. Orders paced within {ORDER_MARGIN:.0%} of the simulator's "
        "account limits (300/10 s, 1,200/min);\na round = C robots at once. "
        f"{FIRST}: the first trade once the gateway held a ban list (refused for want of one "
        f"before: {result.refused_first}), then the first direct order; {FIRST_BURST}: the first "
        "round of C."
    )
    cpu = "; ".join(
        f"concurrency {c}: gateway {g:.2f}, Trader {t:.2f}" for c, (g, t) in result.cpu_ms.items()
    )
    print(f"CPU ms per riskd trade (the workers' CPU over the rounds, both routes'): {cpu}.")
    for route in result.routes:
        for error, count in route.errors.most_common(5):
            print(f"errors ({route.name}, concurrency {route.concurrency}): {count} × {error}")
    for error in result.errors:
        print(f"ERROR (part 1): {error}")


# ---------------------------------------------------------------- part 2: market methods


@dataclass(slots=True)
class MarketResult:
    clients: int
    seconds: float
    first: dict[str, float] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)
    records_rows: int | None = None  # in the first records answer
    latencies: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METHODS})
    errors: Counter[str] = field(default_factory=Counter)
    error_texts: Counter[str] = field(default_factory=Counter)
    clients_cpu_s: float = float("nan")
    gateway_cpu_s: float = float("nan")
    failures: list[str] = field(default_factory=list)


def market_params(method: str, symbol: str) -> dict[str, object]:
    if method == "records":
        return {"symbol": symbol, "period": 1}
    return {"symbol": symbol}


async def call_method(
    session: aiohttp.ClientSession, url: str, method: str, symbol: str
) -> tuple[float, dict]:
    """One market-method call: (seconds, the answer: ``{"data"}``, or ``{"error"}`` also for a
    status other than 200 or a failed connection)."""
    body = fmz_body(0, method, market_params(method, symbol))
    began = time.perf_counter()
    try:
        async with session.post(url, json=body) as answer:
            data = await answer.json() if answer.status == 200 else {"error": answer.status}
    except (aiohttp.ClientError, TimeoutError) as exc:
        data = {"error": type(exc).__name__}
    return time.perf_counter() - began, data


def count(result: MarketResult, method: str, took: float, answer: dict) -> None:
    if "data" in answer:
        result.latencies[method].append(took)
    else:
        result.errors[method] += 1
        result.error_texts[str(answer.get("error"))[:100]] += 1


async def drive_market(gateway: str, symbols: list[str], result: MarketResult) -> None:
    url = f"{gateway}/fmz/{LABEL}"
    fmz_symbols = [f"{s.removesuffix('USDT')}_USDT" for s in symbols]
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        kinds = (MarketKind.KLINE, MarketKind.BOOK, MarketKind.TICKER)
        await wait_served(session, gateway, symbols, kinds)
    for method in METHODS:
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:  # a new connection
            took, answer = await call_method(session, url, method, fmz_symbols[0])
        if "data" not in answer:
            result.first_errors[method] = str(answer.get("error"))[:100]
            continue
        result.first[method] = took
        if method == "records":
            result.records_rows = len(answer["data"])
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + WARMUP_S
    end = measure_from + result.seconds
    cpu_at_start: list[float] = []
    pid = actor_pid(GATEWAY_NAME)

    async def client(session: aiohttp.ClientSession, offset: int) -> None:
        calls = itertools.count(offset)
        while (began := loop.time()) < end:
            if began >= measure_from and not cpu_at_start:
                cpu_at_start.extend((time.thread_time(), process_cpu_s(pid)))
            n = next(calls)
            method, symbol = METHODS[n % len(METHODS)], fmz_symbols[n // 3 % len(fmz_symbols)]
            took, answer = await call_method(session, url, method, symbol)
            if began >= measure_from and loop.time() <= end:
                count(result, method, took, answer)

    connector = aiohttp.TCPConnector(limit=result.clients)
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, connector=connector) as session:
        await asyncio.gather(*(client(session, k) for k in range(result.clients)))
    result.clients_cpu_s = time.thread_time() - cpu_at_start[0]
    result.gateway_cpu_s = process_cpu_s(pid) - cpu_at_start[1]


def run_market(args: argparse.Namespace) -> MarketResult:
    result = MarketResult(args.market_clients, args.market_seconds)
    deployment_env(1)
    sim = {"exchange": {"walk_interval_ms": MARKET_WALK_MS}}
    try:
        with (
            bench_simulator(**sim) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder,
        ):
            symbols = list(simulator.server.exchange.market.specs)[:MARKET_SYMBOLS]
            top = market_toml(symbols, websocket=True, readers={}) + robots_toml(1)
            toml = deployment_toml(simulator.server.url, "gateway-market", top, account_jobs_off())
            source = ConfigSource(toml, "<gateway market>", folder)
            with local_deployment(source, "market", result.failures) as (_controller, info):
                asyncio.run(drive_market(info["gateway"], symbols, result))
    except Exception as exc:
        result.failures.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def report_market(r: MarketResult) -> None:
    print(
        f"\n=== 2. POST /fmz/{LABEL} market methods: {r.clients} clients, one keep-alive "
        f"session, {r.seconds:g} s after {WARMUP_S:g} s warm-up, {MARKET_SYMBOLS} symbols "
        f"(feed egress {FEED_EGRESS}) ==="
    )
    headers = ["method", "sample", "n", "req/s", "errors", *LATENCY_HEADERS]
    rows: list[list[object]] = []
    for method in METHODS:
        for label, samples in by_row(r.first.get(method), r.latencies[method]):
            rate = f"{len(samples) / r.seconds:,.0f}" if label == STEADY else "-"
            errors = r.errors[method] if label == STEADY else int(method in r.first_errors)
            rows.append([method, label, len(samples), rate, errors, *latency_cells(samples)])
    every = [t for method in METHODS for t in r.latencies[method]]
    total = sum(r.errors.values())
    rows.append(
        ["all", STEADY, len(every), f"{len(every) / r.seconds:,.0f}", total, *latency_cells(every)]
    )
    print(table(headers, rows, left={0, 1}))
    print(
        "ticker: book + 24 h stats; records: period 1 (1m), no limit (the first answer held "
        f"{r.records_rows} klines); depth: the best bid and ask.\nCPU over the window "
        f"(100 % = one core): clients (this process's main thread) "
        f"{r.clients_cpu_s / r.seconds:.0%}, gateway worker {r.gateway_cpu_s / r.seconds:.0%}."
    )
    for method, text in r.first_errors.items():
        print(f"error (first {method}): {text}")
    for text, times in r.error_texts.most_common(5):
        print(f"errors: {times} × {text}")
    for failure in r.failures:
        print(f"ERROR (part 2): {failure}")


# ---------------------------------------------------------------- part 3: channel fan-out


async def _subscribers(url: str, count: int, conn: Connection) -> None:
    received: list[tuple[int, int, float, float]] = []  # (subscriber, version, sent, read)

    def on_text(index: int, text: str, at_s: float) -> None:
        channel = json.loads(text)
        received.append((index, channel["version"], channel["data"]["t"], at_s))

    failed = await serve_subscribers(count, lambda s: s.ws_connect(url), on_text, conn, CONNECT_S)
    conn.send((received, failed))


def subscribe(url: str, count: int, conn: Connection) -> None:
    """Child process on CLIENT_CPU: *count* subscribers of the channel stream at *url*."""
    os.sched_setaffinity(0, {CLIENT_CPU})
    asyncio.run(_subscribers(url, count, conn))


@dataclass(slots=True)
class FanoutResult:
    subscribers: int
    connected: int = 0
    failed: int = 0
    published: list[int] = field(default_factory=list)  # versions, in order
    put_s: list[float] = field(default_factory=list)  # the PUTs' latencies, publisher side
    latencies: dict[str, list[float]] = field(default_factory=dict)  # by row label
    skipped: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    errors: list[str] = field(default_factory=list)


async def publish(gateway: str, args: argparse.Namespace, result: FanoutResult) -> None:
    """Robot b0's publishes, one every 1/publish_hz s, each carrying its send time."""
    headers = {"Authorization": f"Bearer {robot_token(0)[1]}"}
    url = f"{gateway}/v1/channels/{LABEL}"
    period_s = 1 / args.publish_hz
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, headers=headers) as session:
        due = time.monotonic()
        for seq in range(args.publishes + 1):
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            state = {"seq": seq, "symbol": "BTCUSDT", "signal": "long", "qty": "0.010"}
            began = time.perf_counter()
            async with session.put(url, json={**state, "t": time.time()}) as answer:
                receipt = await answer.json()
                if answer.status != 200:
                    raise RuntimeError(f"PUT {url}: HTTP {answer.status} {receipt}")
            result.put_s.append(time.perf_counter() - began)
            result.published.append(receipt["version"])
            due += SETTLE_S if seq == 0 else period_s  # the first publish, then the steady rate


def fan_out(gateway: str, args: argparse.Namespace, result: FanoutResult) -> None:
    stream_url = gateway.replace("http://", "ws://") + f"/v1/channels/{LABEL}/stream"
    received: list[tuple[int, int, float, float]] = []
    with subscriber_processes(
        subscribe, stream_url, args.subscribers, args.client_procs, CONNECT_S + 30
    ) as (clients, connected):
        result.connected = connected
        print(f"  {result.connected} subscribers connected; publishing ...", flush=True)
        asyncio.run(publish(gateway, args, result))
        time.sleep(SETTLE_S)
        offset = 0
        for share, ours in clients:
            ours.send("collect")
            rows, failed = ours.recv()
            result.failed += failed
            received += [(offset + s, v, sent, at) for s, v, sent, at in rows]
            offset += share
    first, last = result.published[0], result.published[-1]
    for label, versions in ((FIRST, {first}), (STEADY, set(result.published[1:]))):
        got = [(s, v, at - sent) for s, v, sent, at in received if v in versions]
        result.latencies[label] = [latency for _s, _v, latency in got]
        result.skipped[label] = len(versions) * result.connected - len(got)
    holders = {s for s, v, _sent, _at in received if v == last}
    result.lost = result.connected - len(holders)
    result.skipped[STEADY] -= result.lost  # the last version's misses are losses, not skips


def run_fanout(args: argparse.Namespace) -> FanoutResult:
    result = FanoutResult(args.subscribers)
    deployment_env(1)
    affinity = os.sched_getaffinity(0)
    try:
        with (
            bench_simulator() as simulator,
            tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder,
        ):
            url = simulator.server.url
            toml = deployment_toml(url, "gateway-channels", robots_toml(1), account_jobs_off())
            source = ConfigSource(toml, "<gateway channels>", folder)
            with local_deployment(source, "channels", result.errors) as (_controller, info):
                pid = actor_pid(GATEWAY_NAME)
                if pid is None:
                    raise RuntimeError("no gateway worker process found")
                pin_threads(pid, SERVER_CPU)
                os.sched_setaffinity(0, {CLIENT_CPU})
                fan_out(info["gateway"], args, result)
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    finally:
        os.sched_setaffinity(0, affinity)
    return result


def report_fanout(r: FanoutResult, args: argparse.Namespace) -> None:
    print(
        f"\n=== 3. channel fan-out: PUT /v1/channels/{LABEL} → {r.subscribers} WebSocket "
        f"subscribers ({args.client_procs} processes, core {CLIENT_CPU}; gateway worker on core "
        f"{SERVER_CPU}), {args.publishes} publishes at {args.publish_hz:g} Hz after the first ==="
    )
    headers = ["sample", "publishes", "subscribed", "deliveries", "skipped", *LATENCY_HEADERS]
    rows = []
    for label in (FIRST, STEADY):
        lat = r.latencies.get(label, [])
        publishes = min(1, len(r.published)) if label == FIRST else max(0, len(r.published) - 1)
        rows.append(
            [label, publishes, r.connected, len(lat), r.skipped.get(label, 0), *latency_cells(lat)]
        )
    print(table(headers, rows, left={0}))
    print(
        f"latency: the subscriber reads the message − the publisher's time.time() before the PUT "
        f"(one host clock).\nlost (never got the last version): {r.lost}; failed subscribers: "
        f"{r.failed}; PUT answered in p50 {ms2(r.put_s, 50)} ms, p99 {ms2(r.put_s, 99)} ms."
    )
    for error in r.errors:
        print(f"ERROR (part 3): {error}")


# ---------------------------------------------------------------- main


def concurrencies(text: str) -> list[int]:
    values = [int(part) for part in text.split(",")]
    if not values or min(values) < 1 or values[0] != 1:
        raise argparse.ArgumentTypeError("a comma-separated list of concurrencies, 1 first")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "3", "all"), default="all")
    parser.add_argument("--orders", type=int, default=500, help="per route and concurrency")
    parser.add_argument("--concurrency", type=concurrencies, default=[1, 50], help="e.g. 1,50")
    parser.add_argument("--market-clients", type=int, default=32)
    parser.add_argument("--market-seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--publishes", type=int, default=100, help="after the first")
    parser.add_argument("--publish-hz", type=float, default=10.0)
    args = parser.parse_args()
    if min(args.orders, args.market_clients, args.subscribers, args.client_procs) < 1:
        parser.error("--orders, --market-clients, --subscribers and --client-procs must be ≥ 1")
    if args.publishes < 1 or args.publish_hz <= 0 or args.market_seconds <= 0:
        parser.error("--publishes must be ≥ 1, --publish-hz and --market-seconds > 0")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print_host()
    failed = False
    if args.part in ("1", "all"):
        orders = args.orders * 2 * len(args.concurrency)
        faulthandler.dump_traceback_later(300 + orders / 10, exit=True)
        print(f"part 1: the pre-trade gate, {args.orders} orders per route and concurrency ...")
        gate = run_gate(args)
        faulthandler.cancel_dump_traceback_later()
        report_gate(gate, args)
        failed |= bool(gate.errors) or any(
            r.errors or not r.samples.get(STEADY) for r in gate.routes
        )
    if args.part in ("2", "all"):
        faulthandler.dump_traceback_later(300 + args.market_seconds * 2, exit=True)
        print("\npart 2: FMZ market methods ...", flush=True)
        market = run_market(args)
        faulthandler.cancel_dump_traceback_later()
        report_market(market)
        failed |= bool(market.failures) or not any(market.latencies.values())
    if args.part in ("3", "all"):
        faulthandler.dump_traceback_later(300 + args.publishes / args.publish_hz * 2, exit=True)
        print("\npart 3: channel fan-out ...", flush=True)
        fanout = run_fanout(args)
        faulthandler.cancel_dump_traceback_later()
        report_fanout(fanout, args)
        failed |= bool(fanout.errors) or not fanout.latencies.get(STEADY)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
