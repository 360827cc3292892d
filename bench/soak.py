"""Soak: the whole of riskd on the simulator for a long time, every job at its budget: memory
and CPU per process, 429/418, the ban list's push, the ladder's reaction, the gate's latency,
and how many accounts one host protects.

One deployment in a fresh local Ray (``bench/deployment.py`` ``local_deployment``) against a
``SimulatorThread`` in THIS process: ``--accounts`` simulated accounts, each with its own keys,
``--symbols`` contracts (BTC, ETH, SOL and DOGE, then the generated ``SIM001USDT`` …),
Binance's limits (2,400 weight per IP and minute; 300 new orders per 10 s and 1,200 per minute
per account) and the price walk on (a step a second, as ``riskd run --sim``). The deployment is
``riskd run --sim``'s, built for N accounts as ``bench/footprint.py`` builds it: account ``sim``
as it is, ``sim2`` … copies with keys of their own and every job on a loopback IP of its own;
the market feed carries every symbol (``[market] symbols = "all"``), with SQLite in a temporary
folder or, with ``--database-url mysql+pymysql://…``, a fresh database on that MySQL/MariaDB
server (dropped afterwards). Changed:

* every job at its budget: the jobs whose pass is a fixed read (account_reader,
  position_risk_reader, order_reaper, ledger, heartbeat) run every
  ``ceil(60,000 × the pass's weight / weight_per_minute)`` ms without jitter, so that their
  reads spend their whole budget; the jobs that spend on events keep riskd's intervals and the
  rest of their budget for those events (stop_ladder: openAlgoOrders, 40, every 5 s and 1 per
  cancelled rung; the trader: the robots' orders; user_stream: reconnects). The Ledger's
  shorter interval (7.5 s) also shortens how late its income may be before it stops vouching
  for its ban list (``riskd.health.late_after_ms``: 3 intervals);
* ``--robots`` robots ``b0`` …, robot k on account k mod N, riskd's default limits (instead of
  ``sim-robot``); the gateway on a free port.

The workload (this process, asyncio; the subscribers in ``--client-procs`` processes):

* positions: each account first opens a long of DOGEUSDT, the robots' symbol, worth
  BASE_MULTIPLE times all its robots' trades (so they move it less than the ladder's 5 %
  re-ladder threshold); then every ``--change-s`` it opens a position of about 1,000 USDT on
  the next of the other symbols (a long on even-numbered symbols, a short on odd ones; a
  multiple of 5 lots, so that the 5 rungs split it evenly) or, once ``--open-positions`` are
  open, closes the oldest (reduce-only MARKET). The accounts start spread over the period, each
  at its own place in the symbol list; their orders are python-binance from 127.0.2.<k>, one IP
  per account;
* robots: each trades every ``--robot-period-s`` (spread evenly) through ``POST /fmz/bench``
  (``trade`` MARKET on DOGE_USDT, as ``bench/gateway.py`` does): BUY, then SELL of the same
  amount (the smallest over the min notional plus one step per pair, cycling), so they stay
  near flat;
* ban-list subscribers: ``--subscribers`` WebSocket clients of ``/v1/banlist/stream``, spread
  over the accounts, connected before the workload starts.

Measured, over the workload (``--minutes``):

1. RSS per process, every ``--sample-s`` from the workload's start to its end: every process of
   the Ray session (actors by name, Ray's own processes by role, idle workers summed) and this
   process (the bench and the simulator); read from ``/proc`` with ``bench/footprint.py``'s
   readers (psutil is not installed here). Warm-up = the first WARMUP_FRACTION (20 %) of the
   run; growth = the last sample against the first sample after the warm-up; ``grew`` when it
   is more than GROWTH_LIMIT_PCT (10 %), else ``flat``.
2. CPU per process: user + system seconds over the run / the run's length (100 % = one core);
   and the host's busy share of all its cores (``/proc/stat``).
3. Latency (all clocks of one host). Ladder reaction: the fill of an opening order → its full
   ladder acknowledged, as ``bench/reaction.py`` measures it (its ``Tracker``, in the
   simulator's emitter), for every position opened. Gate latency: a robot's trade through the
   gateway, sent → answer read (``perf_counter``). Ban-list push: the version's
   ``generated_at`` (the Ledger's clock: the simulator's time, to within its offset estimate,
   so a fast push can read a few ms below zero) → a subscriber reads it (``time.time()``, ms
   resolution), for every delivery but each subscriber's first (the state at connect): the
   Ledger storing the version (the transaction it decides in), Ray to the gateway, the
   WebSocket push. ``first after ready``: the first
   position opened (the earliest fill), the first robot trade, and, per account, the first
   version pushed after its subscribers connected (all its deliveries); ``steady state``: the
   rest. ``failed``: ladders never complete (the run waits up to CHANGE_TIMEOUT_S after the
   workload for the last ones; a ladder complete later than that after its fill still counts
   with its latency), trades answered with an error, subscribers whose connection failed or
   that never got a push.
4. 429 and 418: the simulator's limiter per source IP, grouped by the jobs on the IP, next to
   their budget: the heaviest fixed minute, and the mean of the complete minutes of the run;
   then the new orders refused with −1015, per account. Any 429 or 418 makes the bench exit 1.
5. Capacity: how many accounts one host protects before the ladder's p99 passes 100 ms. The
   soak is the round for ``--accounts``; the other counts of ``--capacity`` run rounds of
   ``--capacity-minutes``, each a fresh deployment with the same load per account (robots and
   subscribers scale with the accounts): up from ``--accounts`` if the soak passed, else up
   from the smallest, each until the first round whose steady-state p99 passes 100 ms. Each
   round prints its tables 3 and 4. Every run (the soak too) first waits, up to
   ``--quiet-wait-s``, until the host's 1-minute load is below its cores, so that a round does
   not start while the last one's processes still wind down.

    python bench/soak.py [--accounts 10] [--symbols 100] [--robots 50] [--subscribers 500]
        [--minutes 30] [--sample-s 60] [--capacity 1,2,4,8,10,12] [--capacity-minutes 2]
        [--quiet-wait-s 180] [--database-url mysql+pymysql://root@127.0.0.1:3306/test]

Targets: no RSS growth after warm-up; zero 429 and 418; ladder reaction p99 ≤ 100 ms and
ban-list push p99 ≤ 100 ms (steady state).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import functools
import itertools
import json
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from binance import AsyncClient
from deployment import (
    FIRST,
    LATENCY_HEADERS,
    STEADY,
    bench_client,
    bench_simulator,
    latency_cells,
    local_deployment,
    pct,
    print_host,
    scratch_database,
    serve_subscribers,
    subscriber_processes,
    table,
)
from footprint import (
    Proc,
    descendants,
    gcs_actors,
    host_context,
    mib,
    read_proc,
    sim_accounts,
    sim_deployment,
    sim_toml,
)
from gateway import Quantities, fmz_trade, robot_token, robots_toml, timed
from market import process_cpu_s
from reaction import Change, Tracker
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from actors.context import ConfigSource
from riskd.config import load_config_text
from riskd.exchange.filters import SymbolFilters, parse_exchange_info
from riskd.exchange.weights import endpoint_weight
from riskd.plan import JobKind
from riskd.protect.ladder import LadderConfig
from riskd.sim.config import MAX_SYMBOLS, SimAccountConfig

TARGET_LADDER_P99_MS = 100.0  # bench/reaction.py's
TARGET_PUSH_P99_MS = 100.0  # bench/banlist.py's (3)
WARMUP_FRACTION = 0.2
GROWTH_LIMIT_PCT = 10.0
TIME_COLUMNS = 6  # RSS samples shown, evenly spread, the first and the last among them
ROBOT_SYMBOL, ROBOT_FMZ_SYMBOL = "DOGEUSDT", "DOGE_USDT"
POSITION_NOTIONAL_USDT = Decimal(1000)
BASE_MULTIPLE = 40  # the robots' symbol's position: 40 × its robots' trades together
RUNGS = LadderConfig().rungs
SIDES = ("BUY", "SELL")
CHANGE_TIMEOUT_S = 10.0
CLIENT_NET = "127.0.2."  # the bench's orders: account k from 127.0.2.<k+1>
WALK_MS = 1_000  # the price walk's step, as riskd run --sim's simulator
CONNECT_S = 120.0
SETTLE_S = 1.0  # after the workload, before the subscribers are collected
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
MIN_SYMBOLS = 5  # DOGEUSDT (the 4th) and at least one other
# The pollers' passes, read by read (a fixed weight each): at their budget by their interval.
POLLS: dict[JobKind, tuple[tuple[str, str], ...]] = {
    JobKind.ACCOUNT_READER: (("GET", "/fapi/v3/account"),),
    JobKind.POSITION_RISK_READER: (("GET", "/fapi/v3/positionRisk"),),
    JobKind.ORDER_REAPER: (
        ("GET", "/fapi/v1/openOrders"),
        ("GET", "/fapi/v1/openAlgoOrders"),
        ("GET", "/fapi/v1/apiTradingStatus"),
    ),
    JobKind.LEDGER: (("GET", "/fapi/v1/income"),),
    JobKind.HEARTBEAT: (("GET", "/fapi/v1/openOrders"),),
}


# ---------------------------------------------------------------- the deployment


@dataclass(frozen=True, slots=True)
class Size:
    accounts: int
    robots: int
    subscribers: int
    minutes: float


def pass_weight(kind: JobKind) -> int:
    return sum(endpoint_weight(method, path, {}).ip_weight for method, path in POLLS[kind])


def soak_deployment(size: Size) -> tuple[dict, dict[str, str], tuple[SimAccountConfig, ...]]:
    """``bench/footprint.py``'s N accounts as data, the pollers at their budget and no robot
    (see ``soak_toml``); the environment with their keys and the robots' tokens; the
    simulated accounts."""
    data, env = sim_deployment(size.accounts)
    data["deployment"]["name"] = f"bench-soak-{uuid.uuid4().hex[:6]}"
    del data["robots"]
    plan = load_config_text(sim_toml(data, "http://127.0.0.1:1"), "soak", Path(), env=env).plan()
    tables = {account["name"]: account.setdefault("jobs", {}) for account in data["accounts"]}
    for job in plan.jobs:
        if job.kind in POLLS:
            interval_ms = math.ceil(60_000 * pass_weight(job.kind) / job.config.weight_per_minute)
            job_table = tables[job.account].setdefault(job.kind.value, {})
            job_table.update(interval_ms=interval_ms, jitter_ms=0)
    env.update(robot_token(k) for k in range(size.robots))
    return data, env, sim_accounts(data, env)


def soak_toml(data: dict, sim_url: str, robots: int) -> str:
    """*data* against the simulator at *sim_url*, with *robots* robots round its accounts."""
    names = [account["name"] for account in data["accounts"]]
    return sim_toml(data, sim_url) + robots_toml(robots, names)


def client_ip(index: int) -> str:
    """Where the bench's orders for account *index* (from 0) leave from."""
    return f"{CLIENT_NET}{index + 1}"


def position_quantity(filters: SymbolFilters, mark: Decimal, notional_usdt: Decimal) -> Decimal:
    """The fewest RUNGS lots worth *notional_usdt* at *mark* (and over the min notional)."""
    lot = filters.step_size * RUNGS
    worth = max(notional_usdt, filters.min_notional * Decimal("1.05"))
    return (worth / mark / lot).to_integral_value(ROUND_CEILING) * lot


# ---------------------------------------------------------------- memory and CPU


@dataclass(slots=True)
class Sample:
    at_s: float  # since the workload started
    host_jiffies: tuple[int, int]  # (busy, total) over every core
    rss_kib: dict[str, int] = field(default_factory=dict)  # by process label
    pids: dict[str, list[int]] = field(default_factory=dict)
    cpu_s: dict[int, float] = field(default_factory=dict)  # by pid, since it started
    groups: dict[str, int] = field(default_factory=dict)  # by label: RAY, ACTOR or BENCH


def host_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of every core since boot (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


RAY, ACTOR, BENCH = 0, 1, 2  # whose process: Ray's own, riskd's actors, the bench's


def process_label(proc: Proc, actors: dict[int, str]) -> tuple[int, str]:
    """(whose, what): an actor by its name, Ray's own processes by role, the bench's."""
    if proc.pid in actors:
        return ACTOR, actors[proc.pid]
    if proc.pid == os.getpid():
        return BENCH, "driver (bench + simulator)"
    if "spawn_main" in proc.cmdline:
        return BENCH, "bench: ban-list subscribers"
    if "resource_tracker" in proc.cmdline:
        return BENCH, "bench: multiprocessing's resource tracker"
    return RAY, proc.role


def take_sample(start_s: float) -> Sample:
    actors = {row.pid: row.name for row in gcs_actors() or []}
    sample = Sample(time.monotonic() - start_s, host_jiffies())
    for pid in sorted(descendants(os.getpid()) | {os.getpid()}):
        proc = read_proc(pid)
        if proc is None:  # it ended meanwhile
            continue
        group, name = process_label(proc, actors)
        sample.groups[name] = group
        sample.rss_kib[name] = sample.rss_kib.get(name, 0) + proc.rss_kib
        sample.pids.setdefault(name, []).append(pid)
        sample.cpu_s[pid] = process_cpu_s(pid)
    return sample


class Sampler:
    """Samples every process now, every *every_s* in a thread, and once more at ``stop``;
    prints *progress()* after each."""

    def __init__(self, every_s: float, progress: Callable[[], str]) -> None:
        self.every_s = every_s
        self.progress = progress
        self.samples: list[Sample] = []
        self._start_s = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def start(self) -> None:
        self._start_s = time.monotonic()
        self._sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def _sample(self) -> None:
        sample = take_sample(self._start_s)
        self.samples.append(sample)
        total = sum(sample.rss_kib.values())
        print(f"  {sample.at_s:5.0f} s: RSS {mib(total)} MiB; {self.progress()}", flush=True)


# ---------------------------------------------------------------- the ban-list subscribers


async def _follow(accounts: Sequence[str], url: str, count: int, conn: Connection) -> None:
    """*count* subscribers, each of the next account in turn. Sends the deliveries, as
    (account index, version, latency s) arrays, and how many subscribers got a push."""
    index_of = {name: k for k, name in enumerate(accounts)}
    cycle = itertools.cycle(accounts)
    deliveries = (array("i"), array("q"), array("d"))
    pushed: set[int] = set()

    def connect(session: aiohttp.ClientSession) -> Awaitable[aiohttp.ClientWebSocketResponse]:
        return session.ws_connect(url, params={"account": next(cycle)})

    def on_text(subscriber: int, text: str, at_s: float) -> None:
        banlist = json.loads(text)
        deliveries[0].append(index_of[banlist["account"]])
        deliveries[1].append(banlist["version"])
        deliveries[2].append(at_s - banlist["generated_at"] / 1000)
        pushed.add(subscriber)

    await serve_subscribers(count, connect, on_text, conn, CONNECT_S, skip_first=True)
    conn.send((deliveries, len(pushed)))


def follow(accounts: Sequence[str], url: str, count: int, conn: Connection) -> None:
    """Child process: *count* subscribers of the ban-list stream at *url*."""
    asyncio.run(_follow(accounts, url, count, conn))


Deliveries = tuple[array, array, array]


@dataclass(slots=True)
class PushResult:
    connected: int = 0
    failed: int = 0  # subscribers that never got a push (no connection, or nothing came)
    first_s: list[float] = field(default_factory=list)
    steady_s: list[float] = field(default_factory=list)


def push_latencies(
    collected: Sequence[tuple[Deliveries, int]], subscribers: int, result: PushResult
) -> None:
    """The processes' deliveries by row: each account's lowest version is its first push."""
    first_version: dict[int, int] = {}
    for (accounts, versions, _), _pushed in collected:
        for account, version in zip(accounts, versions, strict=True):
            first_version[account] = min(version, first_version.get(account, version))
    for (accounts, versions, latencies), _pushed in collected:
        for account, version, latency in zip(accounts, versions, latencies, strict=True):
            row = result.first_s if first_version[account] == version else result.steady_s
            row.append(latency)
    result.failed = subscribers - sum(pushed for _deliveries, pushed in collected)


# ---------------------------------------------------------------- the workload


@dataclass(slots=True)
class Trade:
    sent_s: float  # perf_counter
    took_s: float
    error: str | None


@dataclass(slots=True)
class RunResult:
    size: Size
    changes: list[Change] = field(default_factory=list)  # positions opened, orders accepted
    order_errors: Counter[str] = field(default_factory=Counter)
    trades: list[Trade] = field(default_factory=list)
    push: PushResult = field(default_factory=PushResult)
    samples: list[Sample] = field(default_factory=list)
    limits: dict = field(default_factory=dict)  # the simulator's rate_limits state
    egress: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # IP → (job, budget)
    window_ms: tuple[int, int] = (0, 0)  # the workload's wall-clock span
    errors: list[str] = field(default_factory=list)

    def progress(self) -> str:
        pending = sum(c.t0 is not None and not c.done.is_set() for c in self.changes)
        return (
            f"{len(self.changes)} positions opened ({pending} ladders not complete yet), "
            f"{len(self.trades)} robot trades"
        )


async def send_order(
    client: AsyncClient, symbol: str, side: str, quantity: Decimal, client_id: str, close: bool
) -> str | None:
    """A MARKET order; the error, or None."""
    extra = {"reduceOnly": "true"} if close else {}
    try:
        await client.futures_create_order(
            symbol=symbol,
            side=side,
            type="MARKET",
            quantity=f"{quantity:f}",
            newClientOrderId=client_id,
            **extra,
        )
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:160]
    return None


async def open_position(
    tracker: Tracker,
    client: AsyncClient,
    account: str,
    symbol: str,
    side: str,
    quantity: Decimal,
    result: RunResult,
) -> Change | None:
    """Open a position, its ladder watched; the change, or None if the order failed."""
    change = Change(account, symbol, f"soak{uuid.uuid4().hex[:20]}", quantity)
    tracker.expect(change)
    error = await send_order(client, symbol, side, quantity, change.client_id, close=False)
    if error is not None:
        tracker.forget(change)
        result.order_errors[error] += 1
        return None
    result.changes.append(change)
    return change


@dataclass(frozen=True)
class Every:
    """A schedule on the event loop's clock: ticks from *first_s*, one each *period_s*,
    before *end_s*."""

    first_s: float
    end_s: float
    period_s: float

    async def ticks(self) -> AsyncIterator[int]:
        """Sleep until each tick and yield its number (0, 1, …); late ticks come at once."""
        loop = asyncio.get_running_loop()
        due_s = self.first_s
        for n in itertools.count():
            if due_s >= self.end_s:
                return
            await asyncio.sleep(max(0.0, due_s - loop.time()))
            yield n
            due_s += self.period_s


async def churn(
    tracker: Tracker,
    client: AsyncClient,
    account: str,
    positions: Sequence[tuple[str, str, Decimal]],
    most_open: int,
    every: Every,
    result: RunResult,
) -> None:
    """At each tick of *every* open the next of *positions* (symbol, side, quantity) or, with
    *most_open* open, close the oldest."""
    held: deque[tuple[str, str, Decimal]] = deque()
    upcoming = itertools.cycle(positions)
    async for _tick in every.ticks():
        if len(held) < most_open:
            symbol, side, quantity = position = next(upcoming)
            if await open_position(tracker, client, account, symbol, side, quantity, result):
                held.append(position)
        else:
            symbol, side, quantity = held.popleft()
            closing = SIDES[1 - SIDES.index(side)]
            client_id = f"soakc{uuid.uuid4().hex[:20]}"
            error = await send_order(client, symbol, closing, quantity, client_id, close=True)
            if error is not None:
                result.order_errors[error] += 1


async def robot(
    session: aiohttp.ClientSession,
    gateway: str,
    index: int,
    quantities: Quantities,
    every: Every,
    result: RunResult,
) -> None:
    """Robot ``b<index>``: a trade at each tick of *every*, BUY then SELL of the same amount."""
    amount = ""
    async for n in every.ticks():
        if n % 2 == 0:
            amount = quantities.next("soak", index)
        trade = fmz_trade(session, gateway, index, SIDES[n % 2], amount, ROBOT_FMZ_SYMBOL)
        sent_s = time.perf_counter()
        took_s, error = await timed(trade)
        result.trades.append(Trade(sent_s, took_s, error))


async def settle(changes: Sequence[Change], timeout_s: float) -> None:
    """Until every change's ladder is complete, or *timeout_s*."""
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s and not all(c.done.is_set() for c in changes):
        await asyncio.sleep(0.05)


async def drive(
    tracker: Tracker,
    sim_url: str,
    gateway: str,
    accounts: Sequence[SimAccountConfig],
    args: argparse.Namespace,
    result: RunResult,
) -> None:
    """The robots' symbol's positions first, then the churn and the robots until the end."""
    size = result.size
    clients = [
        bench_client(sim_url, a.api_key, a.api_secret, client_ip(k)) for k, a in enumerate(accounts)
    ]
    try:
        filters = parse_exchange_info(await clients[0].futures_exchange_info())
        marks = {
            m["symbol"]: Decimal(m["markPrice"]) for m in await clients[0].futures_mark_price()
        }
        quantities = Quantities(filters[ROBOT_SYMBOL], marks[ROBOT_SYMBOL])
        trade_usdt = quantities.base * marks[ROBOT_SYMBOL]
        robots_of = Counter(k % size.accounts for k in range(size.robots))
        bases = await asyncio.gather(
            *(
                open_position(
                    tracker,
                    client,
                    account.name,
                    ROBOT_SYMBOL,
                    "BUY",
                    position_quantity(
                        filters[ROBOT_SYMBOL],
                        marks[ROBOT_SYMBOL],
                        max(POSITION_NOTIONAL_USDT, trade_usdt * robots_of[k] * BASE_MULTIPLE),
                    ),
                    result,
                )
                for k, (account, client) in enumerate(zip(accounts, clients, strict=True))
            )
        )
        await settle([b for b in bases if b is not None], CHANGE_TIMEOUT_S)
        others = [s for s in filters if s != ROBOT_SYMBOL]
        positions = [
            (
                symbol,
                SIDES[index % 2],
                position_quantity(filters[symbol], marks[symbol], POSITION_NOTIONAL_USDT),
            )
            for index, symbol in enumerate(others)
        ]
        most_open = max(1, min(args.open_positions, len(positions) - 1))
        loop = asyncio.get_running_loop()
        start_s = loop.time()
        end_s = start_s + size.minutes * 60
        result.window_ms = (int(time.time() * 1000), int((time.time() + size.minutes * 60) * 1000))
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT, connector=connector) as session:
            await asyncio.gather(
                *(
                    churn(
                        tracker,
                        client,
                        account.name,
                        positions[k * len(positions) // size.accounts :]
                        + positions[: k * len(positions) // size.accounts],
                        most_open,
                        Every(start_s + args.change_s * k / size.accounts, end_s, args.change_s),
                        result,
                    )
                    for k, (account, client) in enumerate(zip(accounts, clients, strict=True))
                ),
                *(
                    robot(
                        session,
                        gateway,
                        k,
                        quantities,
                        Every(
                            start_s + args.robot_period_s * k / size.robots,
                            end_s,
                            args.robot_period_s,
                        ),
                        result,
                    )
                    for k in range(size.robots)
                ),
            )
        await settle(result.changes, CHANGE_TIMEOUT_S)
    finally:
        for client in clients:
            await client.close_connection()


async def sim_state(sim_url: str) -> dict:
    async with (
        aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session,
        session.get(f"{sim_url}/_sim/state") as answer,
    ):
        return await answer.json()


def run_once(size: Size, args: argparse.Namespace, sample_s: float) -> RunResult:
    """One deployment of *size*: its workload, measured (RSS and CPU every *sample_s*)."""
    result = RunResult(size)
    started_s = time.monotonic()
    data, env, accounts = soak_deployment(size)
    os.environ.update(env)  # before ray.init: the raylet passes it to the actors
    try:
        with (
            bench_simulator(
                accounts=accounts, symbols=args.symbols, exchange={"walk_interval_ms": WALK_MS}
            ) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-soak-") as folder,
            scratch_database(args.database_url)
            if args.database_url
            else contextlib.nullcontext(None) as database_url,
        ):
            if database_url is not None:
                data["database"]["url"] = database_url
            tracker = Tracker(simulator)
            url = simulator.server.url
            source = ConfigSource(soak_toml(data, url, size.robots), "<soak>", folder)
            plan = source.load(secrets=()).plan()
            for job in plan.jobs:  # the default route to the simulator leaves from 127.0.0.1
                ip = job.local_addr or "127.0.0.1"
                result.egress.setdefault(ip, []).append(
                    (job_label(job.kind, job.account), job.config.weight_per_minute)
                )
            label = f"{size.accounts} account(s)"
            with local_deployment(source, label, result.errors, args.ready_timeout) as (_, info):
                gateway = info["gateway"]
                stream_url = gateway.replace("http://", "ws://") + "/v1/banlist/stream"
                target = functools.partial(follow, tuple(a.name for a in accounts))
                with subscriber_processes(
                    target, stream_url, size.subscribers, args.client_procs, CONNECT_S + 30
                ) as (subscribers, connected):
                    result.push.connected = connected
                    print(
                        f"  {connected} ban-list subscribers connected, "
                        f"{time.monotonic() - started_s:.0f} s after the start",
                        flush=True,
                    )
                    sampler = Sampler(sample_s, result.progress)
                    sampler.start()
                    try:
                        asyncio.run(drive(tracker, url, gateway, accounts, args, result))
                    finally:
                        sampler.stop()
                        result.samples = sampler.samples
                    time.sleep(SETTLE_S)
                    collected = []
                    for _share, conn in subscribers:
                        conn.send("collect")
                        collected.append(conn.recv())
                    push_latencies(collected, size.subscribers, result.push)
                result.limits = asyncio.run(sim_state(url))["rate_limits"]
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def job_label(kind: JobKind, account: str) -> str:
    """A job as the 429 table groups it: an account's job by its kind, the feed's by name."""
    return kind.value if kind.per_account else f"{kind.value}:{account}"


# ---------------------------------------------------------------- report


def after_warmup(samples: Sequence[Sample]) -> int | None:
    """The index of the first sample after the warm-up; None if that is the last one."""
    warm_s = WARMUP_FRACTION * samples[-1].at_s
    index = next((i for i, s in enumerate(samples) if s.at_s >= warm_s and s.at_s > 0), None)
    return index if index is not None and index < len(samples) - 1 else None


def growth_cells(base_kib: int | None, last_kib: int | None) -> list[str]:
    """The growth from the first sample after warm-up to the last, and its verdict."""
    if not base_kib or last_kib is None:
        return ["n/a", "n/a"]
    growth_pct = (last_kib - base_kib) / base_kib * 100
    return [f"{growth_pct:+.1f} %", "grew" if growth_pct > GROWTH_LIMIT_PCT else "flat"]


def shown(samples: Sequence[Sample]) -> list[int]:
    """The samples given a column: all, or TIME_COLUMNS evenly spread."""
    if len(samples) <= TIME_COLUMNS:
        return list(range(len(samples)))
    return [round(i * (len(samples) - 1) / (TIME_COLUMNS - 1)) for i in range(TIME_COLUMNS)]


def process_labels(samples: Sequence[Sample]) -> list[str]:
    """Every process label seen: Ray's own, then the actors, then the bench's, by name."""
    groups = {name: group for s in samples for name, group in s.groups.items()}
    return sorted(groups, key=lambda name: (groups[name], name))


def report_rss(result: RunResult, sample_s: float) -> None:
    samples = result.samples
    warm = after_warmup(samples)
    warm_text = f"{samples[warm].at_s:.0f} s" if warm is not None else "none: too few samples"
    print(
        f"\n=== 1. RSS MiB per process over the workload: {len(samples)} samples, every "
        f"{sample_s:g} s and at the end ==="
    )
    columns = shown(samples)
    headers = ["process", "pids", *[f"{samples[i].at_s:.0f} s" for i in columns]]
    rows: list[list[object]] = []
    grew: list[str] = []

    def add(name: str, series: list[int | None], pids: str) -> None:
        base = series[warm] if warm is not None else None
        cells = growth_cells(base, series[-1])
        if cells[1] == "grew" and not name.startswith(("=", "driver", "bench")):
            grew.append(name)
        rows.append([name, pids, *[mib(series[i]) for i in columns], *cells])

    for name in process_labels(samples):
        pids = samples[-1].pids.get(name, [])
        count = "gone" if not pids else str(pids[0]) if len(pids) == 1 else f"{len(pids)} pids"
        add(name, [s.rss_kib.get(name) for s in samples], count)
    for title, groups in (("= Ray processes", (RAY, ACTOR)), ("= all", (RAY, ACTOR, BENCH))):
        series: list[int | None] = [
            sum(kib for name, kib in s.rss_kib.items() if s.groups[name] in groups) for s in samples
        ]
        add(title, series, "")
    print(table([*headers, "growth", "verdict"], rows, left={0}))
    print(
        f"warm-up: the first {WARMUP_FRACTION * 100:g} % of the run; growth: the last sample "
        f"against the first after warm-up ({warm_text}); grew: more than {GROWTH_LIMIT_PCT:g} %.\n"
        f"riskd's processes that grew after warm-up: {len(grew)}"
        + (f" ({', '.join(grew)})" if grew else "")
        + ". MiB = 1024² bytes; idle workers and the subscribers' processes are summed."
    )


def report_cpu(result: RunResult) -> None:
    first, last = result.samples[0], result.samples[-1]
    span_s = last.at_s - first.at_s
    print(f"\n=== 2. CPU per process over the workload ({span_s:.0f} s; 100 % = one core) ===")
    cpu_s: dict[str, float] = {}
    for name, pids in last.pids.items():
        used = [last.cpu_s[pid] - first.cpu_s.get(pid, 0.0) for pid in pids]
        cpu_s[name] = sum(u for u in used if not math.isnan(u))
    rows: list[list[object]] = [
        [name, f"{cpu_s[name]:.1f}", f"{cpu_s[name] / span_s:.1%}" if span_s else "n/a"]
        for name in sorted(cpu_s, key=lambda name: -cpu_s[name])
    ]
    for title, groups in (("= Ray processes", (RAY, ACTOR)), ("= all", (RAY, ACTOR, BENCH))):
        used_s = sum(cpu for name, cpu in cpu_s.items() if last.groups[name] in groups)
        rows.append([title, f"{used_s:.1f}", f"{used_s / span_s:.1%}" if span_s else "n/a"])
    print(table(["process", "CPU s", "CPU %"], rows, left={0}))
    busy = last.host_jiffies[0] - first.host_jiffies[0]
    total = last.host_jiffies[1] - first.host_jiffies[1]
    print(
        f"host: {busy / total:.0%} busy of its {os.cpu_count()} cores over the workload "
        "(/proc/stat); a process that ended before the last sample is left out."
        if total
        else "host: no time elapsed"
    )


def ladder_rows(changes: Sequence[Change]) -> list[tuple[str, list[Change]]]:
    """The first position opened (the earliest fill) on its own, then the rest."""
    filled = [c for c in changes if c.t0 is not None]
    first = min(filled, key=lambda c: c.t0 or 0.0, default=None)
    return [(FIRST, [first] if first else []), (STEADY, [c for c in changes if c is not first])]


def ladder_latencies(changes: Sequence[Change]) -> list[float]:
    return [c.t1 - c.t0 for c in changes if c.t1 is not None and c.t0 is not None]


def ladder_ok(result: RunResult) -> bool:
    """The steady state's ladders all complete, p99 ≤ the target."""
    steady = ladder_rows(result.changes)[1][1]
    latencies = ladder_latencies(steady)
    return (
        not result.errors
        and bool(latencies)
        and len(latencies) == len(steady)
        and pct(latencies, 99) * 1000 <= TARGET_LADDER_P99_MS
    )


def verdict(latencies: Sequence[float], failed: int, target_ms: float) -> str:
    return "ok" if latencies and not failed and pct(latencies, 99) * 1000 <= target_ms else "MISS"


def report_latency(result: RunResult) -> None:
    print(
        "\n=== 3. latency (ms): ladder reaction (fill → full ladder acknowledged), gate "
        "(a robot's trade through the gateway), ban-list push (generated → a subscriber reads) ==="
    )
    rows: list[list[object]] = []
    for label, changes in ladder_rows(result.changes):
        latencies = ladder_latencies(changes)
        failed = len(changes) - len(latencies)
        target = verdict(latencies, failed, TARGET_LADDER_P99_MS) if label == STEADY else "-"
        rows.append(
            ["ladder reaction", label, len(changes), failed, *latency_cells(latencies), target]
        )
    trades = sorted(result.trades, key=lambda t: t.sent_s)
    for label, sample in ((FIRST, trades[:1]), (STEADY, trades[1:])):
        latencies = [t.took_s for t in sample if t.error is None]
        failed = len(sample) - len(latencies)
        rows.append(["gate latency", label, len(sample), failed, *latency_cells(latencies), "-"])
    push = result.push
    for label, latencies, failed_ in ((FIRST, push.first_s, "-"), (STEADY, push.steady_s, "")):
        target = "-"
        if label == STEADY:
            failed_ = str(push.failed)
            target = verdict(latencies, push.failed, TARGET_PUSH_P99_MS)
        rows.append(
            ["ban-list push", label, len(latencies), failed_, *latency_cells(latencies), target]
        )
    headers = ["measure", "sample", "n", "failed", *LATENCY_HEADERS, "target"]
    print(table(headers, rows, left={0, 1}))
    print(
        f"targets: ladder p99 ≤ {TARGET_LADDER_P99_MS:g} ms, push p99 ≤ {TARGET_PUSH_P99_MS:g} "
        f"ms (steady state). {FIRST}: the first position opened, the first robot trade, each "
        "account's first push\nafter its subscribers connected. failed: ladders never complete "
        f"(waited for up to {CHANGE_TIMEOUT_S:g} s after the workload), trades answered with an "
        f"error, subscribers never pushed to ({push.connected} connected)."
    )
    late = [c for c in result.changes if c.t1 is None]
    if late:
        unfilled = sum(c.t0 is None for c in late)
        partial = sum(c.t_first_new is not None for c in late)
        print(
            f"ladders failed: {len(late)}: {unfilled} fills never seen, {partial} with rungs of "
            "a new generation never summing to the position, "
            f"{len(late) - unfilled - partial} with no rung of a new generation"
        )
    for what, errors in (
        ("order", result.order_errors),
        ("trade", Counter(t.error for t in trades)),
    ):
        kinds: Counter[str] = Counter()
        for text, count in errors.items():
            if text:
                kinds[re.sub(r"\d+", "N", text)] += count  # alike but for their figures
        for text, count in kinds.most_common(5):
            print(f"{what} errors: {count} × {text}")


def complete_minutes(window_ms: tuple[int, int]) -> list[int]:
    """The starts of the fixed minutes (the simulator's windows) wholly inside *window_ms*."""
    first = -(-window_ms[0] // 60_000) * 60_000
    return list(range(first, window_ms[1] - 60_000 + 1, 60_000))


def refusals(result: RunResult) -> int:
    """Every 429 and 418 the simulator answered."""
    limits = result.limits
    orders = sum(limits.get("order_responses_429", {}).values())
    return limits.get("responses_429", 0) + limits.get("responses_418", 0) + orders


def report_limits(result: RunResult) -> None:
    limits = result.limits
    minutes = complete_minutes(result.window_ms)
    print(
        f"\n=== 4. the simulator's 429 and 418, per source IP grouped by its jobs; weight per "
        f"fixed minute ({len(minutes)} complete minutes in the workload) ==="
    )
    groups: dict[str, list[tuple[str, dict]]] = {}
    for ip, usage in sorted(limits.get("ips", {}).items()):
        if ip in result.egress:
            name = " + ".join(sorted({job for job, _ in result.egress[ip]}))
        elif ip.startswith(CLIENT_NET):
            name = "bench: position changes"
        else:
            name = f"other: {ip}"
        groups.setdefault(name, []).append((ip, usage))
    rows: list[list[object]] = []
    for name, members in groups.items():
        budget = max(sum(b for _, b in result.egress.get(ip, [])) for ip, _ in members)
        heaviest = max(u["max_weight_per_minute"] for _, u in members)
        used = [u["weight_history"].get(str(m), 0) for _, u in members for m in minutes]
        mean = sum(used) / len(used) if used else None
        rows.append(
            [
                name,
                len(members),
                budget or "-",
                heaviest,
                "-" if mean is None else f"{mean:.0f}",
                f"{mean / budget:.0%}" if mean is not None and budget else "-",
                sum(u["responses_429"] for _, u in members),
                sum(u["responses_418"] for _, u in members),
            ]
        )
    orders = sum(limits.get("order_responses_429", {}).values())
    accounts = len(limits.get("order_counts", {}))
    rows.append(["new orders (−1015), per account", accounts, "-", "-", "-", "-", orders, "-"])
    ips = sum(len(m) for m in groups.values())
    total_429, total_418 = limits.get("responses_429", 0) + orders, limits.get("responses_418", 0)
    rows.append(["= all", ips, "", "", "", "", total_429, total_418])
    total = refusals(result)
    headers = ["IPs of", "n", "budget/min", "heaviest min", "mean min", "of budget"]
    print(table([*headers, "429", "418"], rows, left={0}))
    print(
        f"429 + 418: {total} (target 0: {'ok' if total == 0 else 'MISS'}). n: the IPs (the "
        "accounts for new orders); budget: the weight_per_minute of the jobs on one IP;\nmean: "
        "over the complete minutes, a minute without weight as 0; of budget: mean / budget."
    )


def report_measures(result: RunResult) -> None:
    """Tables 3 and 4 of a run, and its errors."""
    report_latency(result)
    report_limits(result)
    for error in result.errors:
        print(f"ERROR ({result.size.accounts} accounts): {error}")


def report_capacity(rounds: Sequence[RunResult]) -> None:
    print(
        "\n=== 5. capacity: accounts one host protects before the ladder's p99 passes "
        f"{TARGET_LADDER_P99_MS:g} ms (steady state) ==="
    )
    rows: list[list[object]] = []
    capacity: int | None = None
    missed = False
    for r in sorted(rounds, key=lambda r: r.size.accounts):
        steady = ladder_rows(r.changes)[1][1]
        latencies = ladder_latencies(steady)
        ok = ladder_ok(r)
        if ok and not missed:
            capacity = r.size.accounts
        missed |= not ok
        rows.append(
            [
                r.size.accounts,
                "soak" if r is rounds[0] else "round",
                f"{r.size.minutes:g}",
                len(steady),
                len(steady) - len(latencies),
                *[f"{pct(latencies, p) * 1000:.1f}" for p in (50, 99, 100)],
                refusals(r),
                "ok" if ok else "MISS" + (" (error)" if r.errors else ""),
            ]
        )
    headers = ["accounts", "run", "minutes", "changes", "failed", "p50 ms", "p99 ms", "max ms"]
    print(table([*headers, "429+418", f"≤ {TARGET_LADDER_P99_MS:g} ms"], rows, left={1}))
    most = max(r.size.accounts for r in rounds)
    if capacity is None:
        answer, note = f"fewer than {min(r.size.accounts for r in rounds)}", ""
    elif not missed and capacity == most:
        answer, note = f"at least {capacity}", " (no count tried missed)"
    else:
        answer, note = str(capacity), ""
    print(f"capacity: {answer} account(s) on this {os.cpu_count()}-core host{note}.")


# ---------------------------------------------------------------- main


def scaled(args: argparse.Namespace, accounts: int) -> Size:
    """*accounts* with the soak's robots and subscribers per account."""
    per = accounts / args.accounts
    robots, subscribers = (max(1, round(n * per)) for n in (args.robots, args.subscribers))
    return Size(accounts, robots, subscribers, args.capacity_minutes)


def wait_for_quiet(max_s: float) -> None:
    """Wait, up to *max_s*, until the host's 1-minute load is below its cores: a round
    must not start while the last one's processes still wind down."""
    deadline = time.monotonic() + max_s
    while os.getloadavg()[0] >= (os.cpu_count() or 1) and time.monotonic() < deadline:
        time.sleep(5)


def run_bounded(size: Size, args: argparse.Namespace) -> RunResult:
    """``run_once`` on a quiet host, with a last resort should it hang: dump the stacks and
    exit."""
    wait_for_quiet(args.quiet_wait_s)
    faulthandler.dump_traceback_later(
        args.ready_timeout + size.minutes * 60 + CONNECT_S + 300, exit=True
    )
    print(
        f"\nrun: {size.accounts} account(s), {args.symbols} symbols, {size.robots} robots, "
        f"{size.subscribers} subscribers, {size.minutes:g} min ({host_context()}) ...",
        flush=True,
    )
    started_s = time.monotonic()
    try:
        return run_once(size, args, args.sample_s)
    finally:
        faulthandler.cancel_dump_traceback_later()
        elapsed_s = time.monotonic() - started_s
        print(f"  done in {elapsed_s:.0f} s ({host_context()} at the end)", flush=True)


def capacity_rounds(soak: RunResult, args: argparse.Namespace) -> list[RunResult]:
    """The soak, then rounds up from it while they pass (or, if it missed, up from the
    smallest count while they pass)."""
    rounds = [soak]
    passed = ladder_ok(soak)
    counts = [n for n in args.capacity if (n > args.accounts if passed else n < args.accounts)]
    for accounts in counts:
        result = run_bounded(scaled(args, accounts), args)
        report_measures(result)
        rounds.append(result)
        if not ladder_ok(result):
            break
    return rounds


def counts(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",")})
    except ValueError:
        values = []
    if not values or values[0] < 1 or values[-1] > 100:
        raise argparse.ArgumentTypeError("a comma-separated list of account counts, 1 to 100")
    return values


def server_url(text: str) -> str:
    """A MySQL/MariaDB server's SQLAlchemy URL, for argparse."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise argparse.ArgumentTypeError("not a SQLAlchemy database URL") from None
    if url.get_backend_name() not in ("mysql", "mariadb"):
        raise argparse.ArgumentTypeError("a MySQL/MariaDB URL (mysql+pymysql://…)")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=60.0, help="RSS and CPU every …")
    parser.add_argument("--capacity", type=counts, default=[1, 2, 4, 8, 10, 12], help="1,2,4")
    parser.add_argument("--capacity-minutes", type=float, default=2.0, help="per round")
    parser.add_argument("--change-s", type=float, default=2.0, help="per account")
    parser.add_argument("--open-positions", type=int, default=10, help="per account")
    parser.add_argument("--robot-period-s", type=float, default=5.0, help="per robot")
    parser.add_argument("--client-procs", type=int, default=2, help="for the subscribers")
    parser.add_argument("--ready-timeout", type=float, default=600.0, help="s")
    parser.add_argument(
        "--quiet-wait-s", type=float, default=180.0, help="at most, for a quiet host per run"
    )
    parser.add_argument(
        "--database-url",
        type=server_url,
        help="mysql+pymysql://USER@HOST:PORT/DB: riskd's database on that server (default: SQLite)",
    )
    args = parser.parse_args()
    if not 1 <= args.accounts <= 100:
        parser.error("--accounts must be between 1 and 100")
    if not MIN_SYMBOLS <= args.symbols <= MAX_SYMBOLS:
        parser.error(f"--symbols must be between {MIN_SYMBOLS} and {MAX_SYMBOLS}")
    for flag in ("robots", "subscribers", "open_positions", "client_procs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be ≥ 1")
    for flag in ("minutes", "sample_s", "capacity_minutes", "change_s", "robot_period_s"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')} must be > 0")
    if args.ready_timeout <= 0:
        parser.error("--ready-timeout must be > 0")
    if args.quiet_wait_s < 0:
        parser.error("--quiet-wait-s must be ≥ 0")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print_host()
    where = make_url(args.database_url).render_as_string() if args.database_url else "SQLite"
    print(f"riskd's database: {where} (a fresh one per deployment)")
    soak = run_bounded(Size(args.accounts, args.robots, args.subscribers, args.minutes), args)
    if soak.samples:
        report_rss(soak, args.sample_s)
        report_cpu(soak)
    report_measures(soak)
    rounds = capacity_rounds(soak, args)
    report_capacity(rounds)
    failed = bool(soak.errors) or any(refusals(r) for r in rounds)
    return 1 if failed or not ladder_latencies(soak.changes) else 0


if __name__ == "__main__":
    sys.exit(main())
