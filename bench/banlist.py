"""The ban list: fill → ``is_banned`` latency, GET throughput, and push to 1,000 subscribers.

Three parts, each printed as a table (``--part 1|2|3|all``):

**1. Fill → is_banned.** Each mode is its own deployment in its own fresh local Ray
(``ray.init(address="local", include_dashboard=False, ...)`` as ``bench/reaction.py`` does)
against a ``SimulatorThread`` in THIS process (127.0.0.1, free port, price walk off, no injected
latency or faults), with riskd's default jobs (user_stream, readers, order_reaper, stop_ladder,
ledger) and its SQLite database in a temporary folder. riskd's actors run at Ray's default
worker niceness (15), this process (simulator and client) at 0:

* ``stream``: user_stream on; the Ledger books each fill from the stream at once, re-evaluates
  the rules and publishes;
* ``polling``: user_stream disabled; the Ledger learns of fills only from its income poll
  (GET /fapi/v1/income) every ``[accounts.jobs.ledger] interval_ms`` (``--ledger-interval-ms``,
  default 10 000 ms, riskd's default; the ledger's weight budget is raised to an income page
  per interval when that needs more than riskd's default). Before each close the bench sleeps
  a random 0 to 1 interval (else every close would land just after the poll that published
  the previous ban, and every sample would wait a full interval): a sample waits half an
  interval on average.

A sample is a losing round trip from 127.0.0.9 (python-binance, its own IP), as
``tests/actors/test_ledger.py`` makes one: the mark is set (``POST /_sim/mark``) to the entry,
a MARKET BUY opens a long, the mark is set to the exit, ``--settle-ms`` later a MARKET SELL
closes it. The first sample starts as soon as the client holds a ban list after ready, with no
trade before it: its losing fill is riskd's first, reported on its own row, ``first after
ready``, and left out of the ``steady state`` row. Each leg is about 6 000 USDT of notional
closed 2.7 % lower: −160 USDT realized, about −166 with both fees. The samples go round
BTCUSDT, ETHUSDT, SOLUSDT and DOGEUSDT (the simulator's symbols), and each waits until the
client no longer bans its symbol.

Rules (``[[accounts.rules.rules]]``, replacing the default list): the default rules' locks last
4 h and 24 h, so four symbols would allow only four samples per deployment. The bench keeps
symbol_4h's kind and threshold (a symbol's PnL ≤ −150 USDT locks it) under the id
``symbol_bench`` with a short window (4 s with the stream, 3 ledger intervals when polling),
so each lock ends by itself and every sample creates a new one; and account_24h (24 h window,
so the Ledger still reads a day of entries) with its threshold raised from −3 000 to
−1 000 000 USDT, since the samples' losses add up to more than 3 000 and would lock ALL.

* t0 = the simulator emits the closing ORDER_TRADE_UPDATE (x=TRADE, X=FILLED) of the sample's
  SELL: the simulator's emitter is wrapped, ``time.perf_counter()`` inside the hook;
* t1 = ``AsyncBanListClient.is_banned(symbol, "long")`` (riskd.client, following the gateway's
  ``/v1/banlist/stream``, on this process's loop) first returns true: checked after each new
  version (``wait_for_version``), same clock. A ban that is only the fail-closed answer of an
  expired snapshot (no lock of the symbol) is counted as ``expired``, not as a sample.

Breakdown (stream mode, wall-clock milliseconds, read from riskd's SQL after the run):
fill → ``fills.booked_at_ms`` (the user stream and Ray delivering the event to the Ledger),
→ ``locks.created_ms`` (booking the fill in SQL; the Ledger's evaluation starts), → t1 (SQL
evaluation, reconcile and version, PositionBook freshness call, Ray to the gateway, WebSocket
push, client parse). The Ledger stamps with its ``ServerClock``: the simulator's time, here the
same wall clock to within the error of its offset estimate, up to half the round trip of one
/time call at its start (~1 ms on an idle host, tens of ms on a loaded one, which moves time
between the first and the last leg, even below zero). First after ready and steady state have
a row each.

**2. GET /v1/banlist throughput.** Each server in its own process (multiprocessing spawn,
127.0.0.1, free port) pinned to core 0, the load generator (this process) pinned to core 1:
an ``aiohttp.ClientSession`` with keep-alive, ``--http-workers`` (32) concurrent workers for
``--http-seconds`` (5) after a 1 s warm-up. The body: a ban list of 20 locks
(``build_banlist``), about 5 KB. Servers:

* ``bare aiohttp``: one handler returning the same bytes (``web.Response(body=...)``);
* ``riskd routes``: ``add_banlist_routes`` on a plain ``web.Application``;
* ``riskd gateway``: the real gateway app, built by ``actors.gateway.Gateway.url()`` (the actor
  class used without Ray, as ``riskd.gateway.app.GatewayServer`` over a Ray backend that the
  ban-list routes never call) with its auth middleware and a read
  token: every request sends ``Authorization: Bearer``; the list is published through
  ``Gateway.publish_banlist`` as the Ledger does;
* the same with ``If-None-Match`` naming the current ETag (304, no body);
* ``seed http.server``: as the seed's quote forwarder (seed 000) serves its data:
  ``http.server.HTTPServer`` (one thread, listen backlog 5) with a ``BaseHTTPRequestHandler``
  whose ``do_GET`` parses the query, counts requests per ``robotId`` and writes
  ``json.dumps(data)`` (encoded per request, default separators) under an RLock; HTTP/1.0, so
  every response closes its connection (the client reconnects), no Content-Length, and the
  default ``log_message`` line to stderr per request (stderr to /dev/null here).

Columns: req/s over the measured window, latency p50/p99 of the requests completed in it,
errors (non-2xx/304 or connection failures), and the server process's CPU use over the window
(100 % = one core busy) and per request (CPU s / requests: the server's cost, which holds
when other processes take CPU from the run), and the load generator's CPU use. With the
server below 100 %, the load generator, or another process on the host, is the limit.

**3. Push to 1,000 subscribers.** The gateway app (as in 2, with the token) in its own process
on core 0; ``--subscribers`` (1 000) aiohttp WebSocket clients on ``/v1/banlist/stream``, split
over ``--client-procs`` (2) processes on core 1. When all have their first snapshot, the server
publishes ``--versions`` (20) new versions, one every ``--publish-interval-ms`` (500), each
stamped ``time.time()`` just before ``Gateway.publish_banlist`` and sent back over a pipe;
clients stamp ``time.time()`` when a message is read (before parsing). Latency = receive −
publish per (subscriber, version) delivery; missed = deliveries expected but never received
(a slow subscriber skips to the newest version by design).

    python bench/banlist.py [--part 1|2|3|all] [--mode stream|polling|both] [--samples 30]
        [--polling-samples 10] [--ledger-interval-ms 10000] [--subscribers 1000]

Targets: 1. p99 ≤ 50 ms with the stream (steady state); 2. riskd ≥ 80 % of bare aiohttp's
req/s; 3. p99 ≤ 100 ms over all deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import math
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import aiohttp
from aiohttp import web
from binance import AsyncClient
from deployment import (
    ACCOUNT,
    ENV,
    FIRST,
    LATENCY_HEADERS,
    STEADY,
    EmitHook,
    bench_client,
    bench_simulator,
    by_row,
    deployment_toml,
    is_fill,
    latency_cells,
    local_deployment,
    loss_rules_toml,
    ms,
    pct,
    print_host,
    serve_subscribers,
    subscriber_processes,
    table,
)
from simproc import CLIENT_CPU, SERVER_CPU
from sqlalchemy import select

from actors.context import ConfigSource
from actors.gateway import Gateway
from riskd.client import AsyncBanListClient, BanListClientConfig
from riskd.core.clock import HOUR_MS, wall_ms
from riskd.exchange.weights import endpoint_weight
from riskd.gateway.banlist import add_banlist_routes
from riskd.gateway.hub import BanListHub
from riskd.plan import AccountJobsConfig
from riskd.risk.banlist import BanList, build_banlist
from riskd.risk.locks import Lock, TradingState, is_banned, rule_source
from riskd.sim import SimulatorThread
from riskd.store.engine import make_engine
from riskd.store.schema import fills, locks

TARGET_FILL_P99_MS = 50.0
TARGET_HTTP_RATIO = 0.80
TARGET_PUSH_P99_MS = 100.0
START_S = 60.0
RULE_ID = "symbol_bench"
ACCOUNT_THRESHOLD_USDT = -1_000_000
STREAM_WINDOW_MS = 4_000
READ_TOKEN_ENV, READ_TOKEN = "RISKD_BENCH_READ_TOKEN", "bench-read-token"
WARMUP_S = 1.0


# ---------------------------------------------------------------- shared


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def sample_banlist(version: int, now_ms: int, lock_count: int = 20) -> BanList:
    """A realistic list: *lock_count* rule locks with the rules' reason texts."""
    held = [
        Lock(
            id=index + 1,
            account=ACCOUNT,
            symbol=f"SYM{index:02d}USDT",
            side="both",
            reason_code="symbol_pnl",
            reason_text=f"SYM{index:02d}USDT PnL -{150 + index}.4213 USDT over 4h ≤ -150",
            source=rule_source("symbol_4h"),
            until_ms=now_ms + 4 * HOUR_MS,
            created_ms=now_ms - 60_000,
            active=True,
        )
        for index in range(lock_count)
    ]
    return build_banlist(ACCOUNT, version, now_ms, now_ms + 30_000, TradingState.ACTIVE, held)


# ---------------------------------------------------------------- part 1: fill → is_banned


@dataclass(frozen=True, slots=True)
class Leg:
    """A round trip losing 160 USDT before fees: *qty* bought at *entry*, sold at *exit*."""

    symbol: str
    qty: str
    entry: str
    exit: str


LEGS = (
    Leg("BTCUSDT", "0.100", "60000", "58400"),
    Leg("ETHUSDT", "2.000", "3000", "2920"),
    Leg("SOLUSDT", "40", "150", "146"),
    Leg("DOGEUSDT", "40000", "0.15", "0.146"),
)


@dataclass(slots=True)
class Sample:
    symbol: str
    client_id: str
    t0_s: float | None = None  # perf_counter: the losing fill emitted
    t0_wall_ms: float | None = None
    t1_s: float | None = None  # perf_counter: is_banned first true
    t1_wall_ms: float | None = None
    locked: bool = False  # the banning snapshot holds a live lock of the symbol


def banned(samples: list[Sample]) -> list[Sample]:
    """The samples the client banned for a live lock of their symbol."""
    return [s for s in samples if s.t1_s is not None and s.locked]


class FillHook(EmitHook):
    """Stamps the watched sample's closing fill."""

    def __init__(self, simulator: SimulatorThread) -> None:
        super().__init__(simulator)
        self.sample: Sample | None = None

    def see(self, account: str, event: dict, now: float) -> None:
        sample = self.sample
        if sample is not None and sample.t0_s is None and is_fill(event, sample.client_id):
            sample.t0_s, sample.t0_wall_ms = now, time.time() * 1000

    def watch(self, sample: Sample | None) -> None:
        with self.lock:
            self.sample = sample


@dataclass(slots=True)
class ModeResult:
    mode: str
    window_ms: int
    first: Sample | None = None  # the first losing fill after ready
    samples: list[Sample] = field(default_factory=list)  # the steady state
    legs_ms: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def ledger_budget(interval_ms: int) -> int:
    """Enough weight/min for an income page every *interval_ms*; riskd's default at least."""
    page = endpoint_weight("GET", "/fapi/v1/income", {}).ip_weight
    default = AccountJobsConfig().ledger.weight_per_minute
    return max(default, math.ceil(page * 60_000 / interval_ms))


def account_toml(mode: str, ledger_interval_ms: int, window_ms: int) -> str:
    """The account's rules and jobs: riskd's defaults but for the ledger (and the stream)."""
    user_stream = "" if mode == "stream" else "\n[accounts.jobs.user_stream]\nenabled = false\n"
    # No robot and no flatten here: the Trader's 600 weight/min would not fit the default IP
    # beside a Ledger paging income every 2 s.
    user_stream += "\n[accounts.jobs.trader]\nenabled = false\n"
    return (
        loss_rules_toml(RULE_ID, window_ms, ACCOUNT_THRESHOLD_USDT)
        + f"""
[accounts.jobs.ledger]
interval_ms = {ledger_interval_ms}
weight_per_minute = {ledger_budget(ledger_interval_ms)}
{user_stream}"""
    )


async def set_mark(control: aiohttp.ClientSession, symbol: str, price: str) -> None:
    async with control.post("/_sim/mark", json={"symbol": symbol, "price": price}) as response:
        response.raise_for_status()


async def open_leg(binance: AsyncClient, control: aiohttp.ClientSession, leg: Leg) -> None:
    """Buy *leg* at its entry, then move the mark to its exit."""
    await set_mark(control, leg.symbol, leg.entry)
    await binance.futures_create_order(
        symbol=leg.symbol, side="BUY", type="MARKET", quantity=leg.qty
    )
    await set_mark(control, leg.symbol, leg.exit)


async def first_ban(
    bans: AsyncBanListClient, symbol: str, timeout_s: float
) -> tuple[float, float] | None:
    """(perf_counter s, wall ms) when ``is_banned(symbol, "long")`` first holds, checked on
    every new version; None after *timeout_s*."""
    deadline_s = time.perf_counter() + timeout_s
    while not bans.is_banned(symbol, "long"):
        held = bans.snapshot.version if bans.snapshot is not None else 0
        if not await bans.wait_for_version(held + 1, deadline_s - time.perf_counter()):
            return None
    return time.perf_counter(), time.time() * 1000


async def wait_unbanned(bans: AsyncBanListClient, symbol: str, timeout_s: float) -> None:
    deadline_s = time.perf_counter() + timeout_s
    while bans.is_banned(symbol, "long"):
        if time.perf_counter() > deadline_s:
            raise RuntimeError(f"{symbol} still banned after {timeout_s:g} s")
        await asyncio.sleep(0.05)


def holds_lock(banlist: BanList | None, symbol: str) -> bool:
    now_ms = wall_ms()
    if banlist is None or banlist.expired(now_ms):
        return False
    source = rule_source(RULE_ID)
    held = [lock for lock in banlist.locks if lock.symbol == symbol and lock.source == source]
    return is_banned(held, symbol, "long", now_ms)


async def drive(
    hook: FillHook,
    sim_url: str,
    gateway_url: str,
    args: argparse.Namespace,
    sample_count: int,
    result: ModeResult,
) -> None:
    """The first round trip right after ready (its own row), then *sample_count* more."""
    timeout_s = args.timeout if result.mode == "stream" else args.ledger_interval_ms / 1000 * 2
    binance = bench_client(sim_url)
    bans = AsyncBanListClient(BanListClientConfig(url=gateway_url, account=ACCOUNT))
    await bans.start()
    try:
        async with aiohttp.ClientSession(base_url=sim_url) as control:
            if not await bans.wait_for_version(1, 30.0):
                raise RuntimeError("the client got no ban list in 30 s")
            for index in range(sample_count + 1):
                leg = LEGS[index % len(LEGS)]
                await wait_unbanned(bans, leg.symbol, result.window_ms / 1000 + 30)
                await open_leg(binance, control, leg)
                await asyncio.sleep(args.settle_ms / 1000)
                if result.mode == "polling":  # else every close lands just after a poll
                    await asyncio.sleep(random.uniform(0, args.ledger_interval_ms / 1000))
                sample = Sample(leg.symbol, f"bench{uuid.uuid4().hex[:20]}")
                if index == 0:
                    result.first = sample
                else:
                    result.samples.append(sample)
                hook.watch(sample)
                watcher = asyncio.create_task(first_ban(bans, leg.symbol, timeout_s))
                await binance.futures_create_order(
                    symbol=leg.symbol,
                    side="SELL",
                    type="MARKET",
                    quantity=leg.qty,
                    newClientOrderId=sample.client_id,
                )
                ban = await watcher
                hook.watch(None)
                if ban is not None:
                    sample.t1_s, sample.t1_wall_ms = ban
                    sample.locked = holds_lock(bans.snapshot, leg.symbol)
                if index and index % 10 == 0:
                    timeouts = sum(s.t1_s is None for s in result.samples)
                    print(f"    {index} samples, {timeouts} timeouts", flush=True)
    finally:
        hook.watch(None)
        await bans.close()
        await binance.close_connection()


def sql_breakdown(database: Path, result: ModeResult) -> None:
    """Per banned sample: fill → booked, booked → lock created, lock created → client (wall
    ms), by row label."""
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            query = select(fills.c.client_order_id, fills.c.booked_at_ms)
            booked = {client_id: at_ms for client_id, at_ms in connection.execute(query)}
            created = connection.execute(
                select(locks.c.symbol, locks.c.created_ms).where(
                    locks.c.source == rule_source(RULE_ID)
                )
            ).all()
    finally:
        engine.dispose()
    for label, samples in by_row(result.first, result.samples):
        legs = result.legs_ms.setdefault(label, [])
        for sample in banned(samples):
            assert sample.t0_wall_ms is not None and sample.t1_wall_ms is not None
            booked_ms = booked.get(sample.client_id)
            created_ms = min(
                (c for s, c in created if s == sample.symbol and c >= (booked_ms or 0)),
                default=None,
            )
            if booked_ms is None or created_ms is None:
                continue
            legs.append(
                (
                    booked_ms - sample.t0_wall_ms,
                    created_ms - booked_ms,
                    sample.t1_wall_ms - created_ms,
                )
            )


def run_mode(mode: str, args: argparse.Namespace) -> ModeResult:
    window_ms = STREAM_WINDOW_MS if mode == "stream" else 3 * args.ledger_interval_ms
    sample_count = args.samples if mode == "stream" else args.polling_samples
    result = ModeResult(mode, window_ms)
    os.environ.update(ENV)  # before ray.init: the raylet passes it to the job actors
    with tempfile.TemporaryDirectory(prefix="bench-banlist-") as folder:
        try:
            with bench_simulator() as simulator:
                hook = FillHook(simulator)
                url = simulator.server.url
                account = account_toml(mode, args.ledger_interval_ms, window_ms)
                source = ConfigSource(
                    deployment_toml(url, f"banlist-{mode}", account=account),
                    f"<banlist {mode}>",
                    folder,
                )
                with local_deployment(source, mode, result.errors) as (_, info):
                    asyncio.run(drive(hook, url, info["gateway"], args, sample_count, result))
        except Exception as exc:
            result.errors.insert(0, f"{type(exc).__name__}: {exc}")
        if mode == "stream" and any(
            banned(samples) for _, samples in by_row(result.first, result.samples)
        ):
            sql_breakdown(Path(folder) / "riskd.db", result)
    return result


def report_fills(results: list[ModeResult], args: argparse.Namespace) -> None:
    print("\n=== 1. losing fill → AsyncBanListClient.is_banned true (ms) ===")
    rows = []
    for r in results:
        source = (
            "user stream, at once"
            if r.mode == "stream"
            else f"income poll every {args.ledger_interval_ms} ms"
        )
        for label, samples in by_row(r.first, r.samples):
            lat = [s.t1_s - s.t0_s for s in banned(samples) if s.t0_s is not None]  # type: ignore[operator]
            timeouts = sum(s.t1_s is None for s in samples)
            verdict = "-"
            if r.mode == "stream" and label == STEADY:
                ok = lat and timeouts == 0 and pct(lat, 99) * 1000 <= TARGET_FILL_P99_MS
                verdict = "ok" if ok else "MISS"
            rows.append(
                [
                    r.mode,
                    label,
                    source,
                    f"{r.window_ms / 1000:g} s",
                    len(samples),
                    len(lat),
                    timeouts,
                    len(samples) - len(banned(samples)) - timeouts,
                    *latency_cells(lat),
                    verdict,
                ]
            )
    headers = ["mode", "sample", "the Ledger learns of a fill from", "rule window", "samples"]
    headers += ["banned", "timeouts", "expired", *LATENCY_HEADERS, "target"]
    print(table(headers, rows, left={0, 1, 2}))
    print(
        f"target: p99 ≤ {TARGET_FILL_P99_MS:g} ms with the stream (steady state). {FIRST}: "
        "the first losing round trip, started as soon as\nthe client held a ban list; "
        f"{STEADY}: every later round trip.\nLoss per sample ≈ −166 "
        f"USDT; rules: {RULE_ID} (symbol PnL ≤ −150 over the window), account_24h raised to "
        f"{ACCOUNT_THRESHOLD_USDT}."
    )
    for r in results:
        if not any(r.legs_ms.values()):
            continue
        print(f"\n{r.mode} breakdown (wall ms, 1 ms resolution), p50 / p99 / max:")
        names = ["sample", "fill → Ledger books it", "booked → evaluation starts"]
        rows = []
        for label, legs_ms in r.legs_ms.items():
            if legs_ms:
                legs = [list(v) for v in zip(*legs_ms, strict=True)]
                cells = [f"{pct(v, 50):.1f} / {pct(v, 99):.1f} / {max(v):.1f}" for v in legs]
                rows.append([label, *cells])
        print(table([*names, "evaluation → is_banned"], rows, left={0}))
    for r in results:
        for error in r.errors:
            print(f"ERROR ({r.mode}): {error}")


# ---------------------------------------------------------------- servers (own processes)

GATEWAY_TOML = f"""
[deployment]
name = "bench-banlist-gateway"

[gateway]
host = "127.0.0.1"
port = 0
read_token_env = "{READ_TOKEN_ENV}"

[[accounts]]
name = "{ACCOUNT}"
api_key_env = "RISKD_BENCH_API_KEY"
api_secret_env = "RISKD_BENCH_API_SECRET"
"""


class SeedProvider(BaseHTTPRequestHandler):
    """Seed 000's ``Provider``: count the robot's request, write ``json.dumps`` of the data."""

    data: object = None
    lock = threading.RLock()
    counter: ClassVar[dict[str, dict[str, int]]] = {}

    def do_GET(self) -> None:
        with self.lock:
            self.send_response(200)
            self.send_header("Content-type", "application/json")
            self.end_headers()
            query = parse_qs(urlparse(self.path).query)
            robot = {key: values[0] for key, values in query.items()}["robotId"]
            self.counter.setdefault(robot, {"NumberOfRequests": 0})["NumberOfRequests"] += 1
            self.wfile.write(json.dumps(self.data).encode())


def serve_seed(body: bytes, conn: Connection) -> None:
    """Child process: the seed's single-threaded HTTPServer until terminated."""
    pin(SERVER_CPU)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the default log_message writes a line per request to stderr
    SeedProvider.data = json.loads(body)
    server = HTTPServer(("127.0.0.1", 0), SeedProvider)
    conn.send(f"http://127.0.0.1:{server.server_address[1]}")
    server.serve_forever()


async def _serve_aiohttp(kind: str, conn: Connection) -> None:
    banlist = sample_banlist(1, wall_ms())
    runner: web.AppRunner | None = None
    gateway: Gateway | None = None
    if kind == "gateway":
        os.environ.update({**ENV, READ_TOKEN_ENV: READ_TOKEN})
        with tempfile.TemporaryDirectory() as folder:
            gateway = Gateway(ConfigSource(GATEWAY_TOML, "<bench gateway>", folder))
            url = await gateway.url()
        await gateway.publish_banlist(banlist.to_json())
    else:
        app = web.Application()
        if kind == "routes":
            hub = BanListHub()
            hub.publish(banlist)
            add_banlist_routes(app, hub, [ACCOUNT])
        else:
            body = banlist.to_json()

            async def bare(_request: web.Request) -> web.Response:
                return web.Response(body=body, content_type="application/json")

            app.router.add_get("/v1/banlist", bare)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    conn.send(url)
    while (command := await asyncio.to_thread(conn.recv))[0] != "stop":
        _, versions, interval_s = command  # "publish": K new versions, one per interval
        assert gateway is not None, "only the gateway publishes"
        published: dict[int, float] = {}
        for version in range(2, versions + 2):
            await asyncio.sleep(interval_s)
            body = sample_banlist(version, wall_ms()).to_json()
            published[version] = time.time()
            await gateway.publish_banlist(body)
        conn.send(published)
    if runner is not None:
        await runner.cleanup()


def serve_aiohttp(kind: str, conn: Connection) -> None:
    """Child process: ``bare``, ``routes`` or ``gateway`` until told to stop."""
    pin(SERVER_CPU)
    asyncio.run(_serve_aiohttp(kind, conn))


@contextmanager
def server_process(
    target: Callable[..., None], *args: object
) -> Iterator[tuple[str, Connection, multiprocessing.Process]]:
    """Start *target* in a spawned child; yields (its URL, the command pipe, the process)."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=target, args=(*args, theirs))
    process.start()
    try:
        if not ours.poll(START_S):
            raise RuntimeError(f"{target.__name__} did not start in {START_S:g} s")
        yield ours.recv(), ours, process
    finally:
        if process.is_alive() and target is serve_aiohttp:
            ours.send(("stop",))
            process.join(10)
        if process.is_alive():
            process.terminate()
        process.join(10)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process *pid* (``/proc/<pid>/stat``)."""
    fields_after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_after_name[11]) + int(fields_after_name[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- part 2: GET throughput


@dataclass(slots=True)
class LoadResult:
    name: str
    requests: int = 0
    errors: int = 0
    duration_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    server_cpu: float = 0.0  # fractions of one core
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


async def load(
    name: str, url: str, headers: dict[str, str], pid: int, args: argparse.Namespace
) -> LoadResult:
    result = LoadResult(name)
    loop = asyncio.get_running_loop()
    start_s = loop.time()
    measure_from_s, end_s = start_s + WARMUP_S, start_s + WARMUP_S + args.http_seconds
    cpu_at_start_s: list[float] = []  # the server's, then this process's

    async def worker(session: aiohttp.ClientSession) -> None:
        while (begun_s := loop.time()) < end_s:
            if begun_s >= measure_from_s and not cpu_at_start_s:
                cpu_at_start_s.extend((cpu_s(pid), time.process_time()))
            try:
                async with session.get(url, headers=headers) as response:
                    await response.read()
                    ok = response.status in (200, 304)
            except aiohttp.ClientError:
                ok = False
            done_s = loop.time()
            if measure_from_s <= begun_s and done_s <= end_s:
                result.requests += ok
                result.errors += not ok
                if ok:
                    result.latencies_s.append(done_s - begun_s)

    connector = aiohttp.TCPConnector(limit=args.http_workers)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.http_workers)))
    result.duration_s = args.http_seconds
    result.server_cpu = (cpu_s(pid) - cpu_at_start_s[0]) / args.http_seconds
    result.client_cpu = (time.process_time() - cpu_at_start_s[1]) / args.http_seconds
    return result


def run_http(args: argparse.Namespace) -> list[LoadResult]:
    """Every server started once; the rounds interleave them; each row is its median round."""
    body = sample_banlist(1, wall_ms()).to_json()
    auth = {"Authorization": f"Bearer {READ_TOKEN}"}
    conditional = {**auth, "If-None-Match": sample_banlist(1, 0).etag}
    servers: list[tuple[str, Callable[..., None], tuple[object, ...]]] = [
        ("bare", serve_aiohttp, ("bare",)),
        ("routes", serve_aiohttp, ("routes",)),
        ("gateway", serve_aiohttp, ("gateway",)),
        ("seed", serve_seed, (body,)),
    ]
    cases = [  # (row, server, path, headers)
        ("bare aiohttp", "bare", "/v1/banlist", {}),
        ("riskd routes", "routes", "/v1/banlist", {}),
        ("riskd gateway", "gateway", "/v1/banlist", auth),
        ("riskd gateway 304", "gateway", "/v1/banlist", conditional),
        ("seed http.server", "seed", "/?robotId=bench", {}),
    ]
    rounds: dict[str, list[LoadResult]] = {name: [] for name, *_ in cases}
    affinity = os.sched_getaffinity(0)
    pin(CLIENT_CPU)
    try:
        with ExitStack() as stack:
            running = {}
            for kind, target, target_args in servers:
                url, _conn, process = stack.enter_context(server_process(target, *target_args))
                running[kind] = (url, process.pid)
            for index in range(args.http_rounds):
                print(f"  round {index + 1}/{args.http_rounds} ...", flush=True)
                for name, kind, path, headers in cases:
                    url, pid = running[kind]
                    rounds[name].append(asyncio.run(load(name, url + path, headers, pid, args)))
    finally:
        os.sched_setaffinity(0, affinity)
    return [sorted(r, key=lambda r: r.rate)[len(r) // 2] for r in rounds.values()]


def report_http(results: list[LoadResult], args: argparse.Namespace) -> None:
    print(
        f"\n=== 2. GET /v1/banlist: {args.http_workers} keep-alive workers, "
        f"{args.http_seconds:g} s after {WARMUP_S:g} s warm-up, median of {args.http_rounds} "
        f"interleaved rounds, body "
        f"{len(sample_banlist(1, wall_ms()).to_json())} B (20 locks) ==="
    )
    bare = next(r for r in results if r.name == "bare aiohttp")
    rows = []
    for r in results:
        ratio = r.rate / bare.rate if bare.rate else float("nan")
        verdict = "-"
        if r.name in ("riskd routes", "riskd gateway"):
            verdict = "ok" if ratio >= TARGET_HTTP_RATIO else "MISS"
        rows.append(
            [
                r.name,
                f"{r.rate:,.0f}",
                f"{ratio:.0%}",
                ms(r.latencies_s, 50),
                ms(r.latencies_s, 99),
                r.errors,
                f"{r.server_cpu:.0%}",
                f"{r.server_cpu / r.rate * 1e6:.0f}" if r.rate else "-",
                f"{r.client_cpu:.0%}",
                verdict,
            ]
        )
    headers = [
        "server",
        "req/s",
        "of bare",
        "p50 ms",
        "p99 ms",
        "errors",
        "server CPU",
        "server µs/req",
        "client CPU",
    ]
    print(table([*headers, "target"], rows))
    print(
        f"target: riskd ≥ {TARGET_HTTP_RATIO:.0%} of bare aiohttp's req/s. Gateway rows: auth "
        "middleware + read token. Seed: HTTPServer, HTTP/1.0 (a connection per request)."
    )


# ---------------------------------------------------------------- part 3: WebSocket push


async def _subscribers(url: str, count: int, conn: Connection) -> None:
    received: list[tuple[int, float]] = []  # (version, receive wall s)
    headers = {"Authorization": f"Bearer {READ_TOKEN}"}

    def connect(session: aiohttp.ClientSession) -> Awaitable[aiohttp.ClientWebSocketResponse]:
        return session.ws_connect(url, params={"account": ACCOUNT}, headers=headers)

    def on_text(_index: int, text: str, at_s: float) -> None:
        start = text.index('"version":') + 10
        received.append((int(text[start : text.index(",", start)]), at_s))

    failed = await serve_subscribers(count, connect, on_text, conn, START_S, skip_first=True)
    conn.send((received, failed))


def subscribe(url: str, count: int, conn: Connection) -> None:
    """Child process: *count* WebSocket subscribers; reports when all hold a first snapshot."""
    pin(CLIENT_CPU)
    asyncio.run(_subscribers(url, count, conn))


@dataclass(slots=True)
class PushResult:
    subscribers: int = 0
    connected: int = 0
    failed: int = 0
    versions: int = 0
    latencies_s: list[float] = field(default_factory=list)
    spreads_s: list[float] = field(default_factory=list)  # per version: last − first receipt
    missed: int = 0


def run_push(args: argparse.Namespace) -> PushResult:
    result = PushResult(subscribers=args.subscribers, versions=args.versions)
    with server_process(serve_aiohttp, "gateway") as (url, server, _process):
        stream_url = url.replace("http://", "ws://") + "/v1/banlist/stream"
        with subscriber_processes(
            subscribe, stream_url, args.subscribers, args.client_procs, START_S + 30
        ) as (clients, connected):
            result.connected = connected
            print(f"  {result.connected} subscribers hold a snapshot; publishing ...", flush=True)
            server.send(("publish", args.versions, args.publish_interval_ms / 1000))
            published: dict[int, float] = server.recv()
            time.sleep(1.0)
            deliveries: dict[int, list[float]] = {v: [] for v in published}
            for _share, ours in clients:
                ours.send("collect")
                received, failed = ours.recv()
                result.failed += failed
                for version, at_s in received:
                    if version in deliveries:
                        deliveries[version].append(at_s)
    for version, times in deliveries.items():
        result.latencies_s += [at_s - published[version] for at_s in times]
        if times:
            result.spreads_s.append(max(times) - min(times))
        result.missed += result.connected - len(times)
    return result


def report_push(result: PushResult, args: argparse.Namespace) -> None:
    print(
        f"\n=== 3. push to {result.subscribers} WebSocket subscribers: {result.versions} versions, "
        f"one per {args.publish_interval_ms} ms; {args.client_procs} client processes on core "
        f"{CLIENT_CPU}, the gateway on core {SERVER_CPU} ==="
    )
    lat = result.latencies_s
    ok = lat and result.missed == 0 and pct(lat, 99) * 1000 <= TARGET_PUSH_P99_MS
    row = [
        result.connected,
        result.failed,
        len(lat),
        result.missed,
        ms(lat, 50),
        ms(lat, 99),
        ms(lat, 100),
        ms(result.spreads_s, 50),
        "ok" if ok else "MISS",
    ]
    headers = ["subscribed", "failed", "deliveries", "missed", "p50 ms", "p99 ms", "max ms"]
    print(table([*headers, "first→last p50 ms", "target"], [row]))
    print(
        f"target: p99 ≤ {TARGET_PUSH_P99_MS:g} ms. Latency: the subscriber reads the message − "
        "the gateway's publish_banlist is called (time.time(), one host). first→last: per "
        "version, the last subscriber's receipt − the first's."
    )


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "3", "all"), default="all")
    parser.add_argument("--mode", choices=("stream", "polling", "both"), default="both")
    parser.add_argument("--samples", type=int, default=30, help="stream, after the first")
    parser.add_argument("--polling-samples", type=int, default=10, help="after the first")
    parser.add_argument("--ledger-interval-ms", type=int, default=10_000)
    parser.add_argument("--settle-ms", type=float, default=200.0, help="open → close")
    parser.add_argument("--timeout", type=float, default=5.0, help="s per stream sample")
    parser.add_argument("--http-workers", type=int, default=32)
    parser.add_argument("--http-seconds", type=float, default=5.0, help="per round")
    parser.add_argument("--http-rounds", type=int, default=3, help="median round reported")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--publish-interval-ms", type=int, default=500)
    args = parser.parse_args()
    if min(args.samples, args.polling_samples, args.subscribers, args.versions) < 1:
        parser.error("--samples, --polling-samples, --subscribers and --versions must be ≥ 1")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print_host()
    failed = False
    if args.part in ("1", "all"):
        results = []
        for mode in ("stream", "polling") if args.mode == "both" else (args.mode,):
            count = args.samples if mode == "stream" else args.polling_samples
            faulthandler.dump_traceback_later(300 + (count + 1) * 40, exit=True)
            print(f"part 1: {mode}, {count} samples after the first ...", flush=True)
            results.append(run_mode(mode, args))
            faulthandler.cancel_dump_traceback_later()
        report_fills(results, args)
        failed |= any(r.errors or not banned(r.samples) for r in results)
    if args.part in ("2", "all"):
        faulthandler.dump_traceback_later(600, exit=True)
        print("\npart 2: GET /v1/banlist ...", flush=True)
        report_http(run_http(args), args)
        faulthandler.cancel_dump_traceback_later()
    if args.part in ("3", "all"):
        faulthandler.dump_traceback_later(300 + args.versions * args.publish_interval_ms / 1000)
        print("\npart 3: WebSocket push ...", flush=True)
        push = run_push(args)
        report_push(push, args)
        failed |= push.connected == 0
        faulthandler.cancel_dump_traceback_later()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
