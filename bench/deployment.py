"""Shared by the benchmarks that drive a whole riskd: the simulator in this process, a
deployment in a fresh local Ray, a Binance client for the bench, and the tables they print."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing
import os
import platform
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import TypeVar

import aiohttp
import ray
from binance import AsyncClient
from ray._private import state as ray_state
from ray.actor import ActorHandle
from sqlalchemy import make_url

from actors import launcher
from actors.context import ConfigSource
from riskd.health import JobStatus
from riskd.sim import SimConfig, SimulatorThread
from riskd.store.engine import make_engine

READY_S = 60.0
ACCOUNT = "sim"
API_KEY, API_SECRET = "bench-key", "bench-secret"
ENV = {"RISKD_BENCH_API_KEY": API_KEY, "RISKD_BENCH_API_SECRET": API_SECRET}
BENCH_IP = "127.0.0.9"
FIRST, STEADY = "first after ready", "steady state"
LATENCY_HEADERS = ["p50 ms", "p90 ms", "p99 ms", "max ms"]

T = TypeVar("T")


# ---------------------------------------------------------------- the simulator


@contextlib.contextmanager
def bench_simulator(**config: object) -> Iterator[SimulatorThread]:
    """The simulator in this process (127.0.0.1, free port, price walk off) with the bench's
    account; *config* adds SimConfig fields. Stopped on exit."""
    account = {"name": ACCOUNT, "api_key": API_KEY, "api_secret": API_SECRET}
    simulator = SimulatorThread(
        SimConfig.model_validate(
            {"port": 0, "accounts": [account], "exchange": {"walk_interval_ms": 0}, **config}
        )
    )
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


class EmitHook:
    """Wraps the simulator's emitter: ``see`` runs in the simulator's thread, under ``lock``,
    with the account's name and ``time.perf_counter()`` taken as the event is emitted, before
    it is passed on."""

    def __init__(self, simulator: SimulatorThread) -> None:
        self.lock = threading.Lock()
        exchange = simulator.server.exchange
        self._emit = exchange.emit
        exchange.emit = self._hook

    def _hook(self, account: str, event: dict) -> None:
        now = time.perf_counter()
        try:
            with self.lock:
                self.see(account, event, now)
        finally:
            self._emit(account, event)

    def see(self, account: str, event: dict, now: float) -> None:
        raise NotImplementedError


def is_fill(event: dict, client_id: str) -> bool:
    """Whether *event* is the ORDER_TRADE_UPDATE filling the order *client_id* in full."""
    if event.get("e") != "ORDER_TRADE_UPDATE":
        return False
    o = event["o"]
    return o.get("c") == client_id and o.get("x") == "TRADE" and o.get("X") == "FILLED"


def bench_client(
    url: str, api_key: str = API_KEY, api_secret: str = API_SECRET, ip: str = BENCH_IP
) -> AsyncClient:
    """As ``tests.kit.sim.binance_client``: signed python-binance from *ip* (BENCH_IP), with
    the bench's account's keys unless others are given."""
    connector = aiohttp.TCPConnector(local_addr=(ip, 0))
    client = AsyncClient(api_key, api_secret, session_params={"connector": connector})
    client.FUTURES_URL = f"{url}/fapi"
    client.API_URL = f"{url}/api"
    return client


# ---------------------------------------------------------------- the deployment


def deployment_toml(
    sim_url: str, bench: str, top: str = "", account: str = "", gateway_port: int = 0
) -> str:
    """One account (the bench's key, from ENV) against the simulator at *sim_url*, gateway on
    *gateway_port* (0: a free one); *top* adds top-level tables, *account* the account's own
    tables."""
    return f"""
[deployment]
name = "bench-{bench}-{uuid.uuid4().hex[:6]}"

[exchange]
network = "sim"
base_url = "{sim_url}"
request_timeout_ms = 2000

[gateway]
port = {gateway_port}
{top}
[[accounts]]
name = "{ACCOUNT}"
api_key_env = "RISKD_BENCH_API_KEY"
api_secret_env = "RISKD_BENCH_API_SECRET"
{account}"""


def loss_rules_toml(rule_id: str, window_ms: int, account_threshold_usdt: str) -> str:
    """The account's rules, replacing riskd's list: *rule_id*, a symbol's PnL ≤ −150 USDT over
    *window_ms* (short, so that each lock ends by itself), and account_24h with its threshold
    at *account_threshold_usdt* (out of reach, so the samples' losses never lock ALL)."""
    return f"""
[[accounts.rules.rules]]
id = "{rule_id}"
kind = "symbol_pnl"
window_ms = {window_ms}
threshold_usdt = "-150"

[[accounts.rules.rules]]
id = "account_24h"
kind = "account_pnl"
window_ms = 86400000
threshold_usdt = "{account_threshold_usdt}"
"""


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A fresh database on the MySQL/MariaDB server at *server_url* (``mysql+pymysql://…``),
    dropped on exit: its URL."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    server = make_engine(server_url)
    try:
        with server.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with server.begin() as connection:
                connection.exec_driver_sql(f"DROP DATABASE {name}")
    finally:
        server.dispose()


@contextlib.contextmanager
def local_deployment(
    source: ConfigSource,
    label: str,
    errors: list[str],
    ready_s: float = READY_S,
    address: str = "local",
) -> Iterator[tuple[ActorHandle, dict]]:
    """Start *source*'s deployment in its own local Ray (``address="local"``, no dashboard),
    or on the running cluster at *address*, and yield (controller, start info) once every job
    has succeeded once (within *ready_s* of the deployment's start). On exit the deployment
    is stopped and Ray shut down (a cluster: left running); a failure to stop is added to
    *errors*. If the body fails, every job's state and health extra is added to *errors*
    first."""
    ray.init(
        address=address,
        namespace=source.load().deployment.name,
        include_dashboard=False,
        logging_level=logging.WARNING,
        configure_logging=False,
    )
    controller: ActorHandle | None = None
    try:
        controller, info = launcher.start(source)
        rows = launcher.wait_ready(controller, ready_s)
        if problems := not_ready(rows):
            raise RuntimeError("not ready: " + "; ".join(problems))
        print(f"  {label}: ready, jobs {sorted(r.job for r in rows)}", flush=True)
        try:
            yield controller, info
        except Exception:
            with contextlib.suppress(Exception):
                for r in launcher.status(controller):
                    extra = r.health and r.health["extra"]
                    errors.append(f"  at the error: {r.job} {r.state} {extra}")
            raise
    finally:
        if controller is not None:
            try:
                launcher.stop(controller)
            except Exception as exc:
                errors.append(f"launcher.stop: {type(exc).__name__}: {exc}")
        ray.shutdown()


def not_ready(rows: Sequence[JobStatus]) -> list[str]:
    """Why each job of *rows* has not succeeded once yet."""
    unanswered = [f"{r.job} {r.state} {r.note}" for r in rows if not r.health]
    return unanswered + [
        f"{r.job}: no success" for r in rows if r.health and not r.health["last_success_ms"]
    ]


def actor_pid(name: str) -> int | None:
    """The pid of the worker process of the live actor named *name* (in any namespace of the
    connected Ray), from the GCS actor table; None if there is none."""
    for actor in ray_state.actors().values():
        if actor.get("Name") == name and actor.get("State") == "ALIVE":
            return actor.get("Pid")
    return None


# ---------------------------------------------------------------- tables


SUBSCRIBE_CONNECTS = 64
"""WebSocket connects in flight at once: stay under the server's listen backlog."""


async def serve_subscribers(
    count: int,
    connect: Callable[[aiohttp.ClientSession], Awaitable[aiohttp.ClientWebSocketResponse]],
    on_text: Callable[[int, str, float], None],
    conn: Connection,
    start_s: float,
    *,
    skip_first: bool = False,
) -> int:
    """*count* WebSocket subscribers in this (child) process: each opens its socket with
    *connect* and hands every text message to ``on_text(subscriber, text, wall_s)`` (after
    its first, the current state, when *skip_first*). Tells the parent over *conn* how many
    connected once all did (or after *start_s*), waits for its "collect", then stops them;
    returns how many failed."""
    ready = asyncio.Event()
    connected = 0
    gate = asyncio.Semaphore(SUBSCRIBE_CONNECTS)

    async def follow(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal connected
        async with gate:
            socket = await connect(session)
        async with socket:
            if skip_first:
                await socket.receive()
            connected += 1
            if connected == count:
                ready.set()
            while (message := await socket.receive()).type is aiohttp.WSMsgType.TEXT:
                on_text(index, message.data, time.time())

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(follow(session, index)) for index in range(count)]
        try:
            async with asyncio.timeout(start_s):
                await ready.wait()
        except TimeoutError:
            pass
        conn.send(connected)
        await asyncio.to_thread(conn.recv)  # "collect"
        failed = sum(t.done() and t.exception() is not None for t in tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return failed


@contextlib.contextmanager
def subscriber_processes(
    target: Callable[[str, int, Connection], None],
    url: str,
    total: int,
    processes: int,
    report_s: float,
) -> Iterator[tuple[list[tuple[int, Connection]], int]]:
    """*total* subscribers of *url* split over *processes* spawned processes, each running
    ``target(url, share, conn)`` (see :func:`serve_subscribers`). Yields each process's
    (share, connection) and how many subscribers connected, once every process reported;
    joins them at the end, terminating any that lingers."""
    spawn = multiprocessing.get_context("spawn")
    shares = [total // processes] * processes
    shares[0] += total - sum(shares)
    started: list[tuple[multiprocessing.process.BaseProcess, Connection, int]] = []
    try:
        for share in shares:
            ours, theirs = spawn.Pipe()
            process = spawn.Process(target=target, args=(url, share, theirs))
            process.start()
            started.append((process, ours, share))
        connected = 0
        for _process, ours, _share in started:
            if not ours.poll(report_s):
                raise RuntimeError("a subscriber process did not report")
            connected += ours.recv()
        yield [(share, ours) for _process, ours, share in started], connected
    finally:
        for process, _ours, _share in started:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)


def print_host() -> None:
    """The header line of a bench's output: the host's CPUs and load, and the versions."""
    print(
        f"host: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; Python "
        f"{platform.python_version()}; aiohttp {aiohttp.__version__}; ray {ray.__version__}"
    )


def by_row(first: T | None, steady: list[T]) -> list[tuple[str, list[T]]]:
    """(row label, its samples): the first after ready on its own, then the steady state."""
    return [(FIRST, [] if first is None else [first]), (STEADY, steady)]


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(values_s: Sequence[float], p: float) -> str:
    """The *p* percentile of *values_s* (seconds) in milliseconds."""
    return f"{pct(values_s, p) * 1000:.1f}"


def latency_cells(values_s: Sequence[float]) -> list[str]:
    """The LATENCY_HEADERS columns of *values_s* (seconds)."""
    return [ms(values_s, p) for p in (50, 90, 99, 100)]


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], left: Collection[int] = ()
) -> str:
    """A header, a rule and the rows, each column as wide as its widest cell; right-aligned
    but for the columns numbered in *left*."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])
