"""The fault matrix's harness (``bench/faults.py`` runs it): the workload that trades
through every fault, one fault's injection and recovery, the world most faults run in (one
deployment in a local Ray against the simulator, SQLite) and the table.

A fault that needs a world of its own (another database, a Ray cluster, a restart of the whole
daemon) is a :class:`Scenario`: it builds that world with :func:`faults_world` and runs
:func:`run_fault` in it, or measures its own way, and returns its :class:`Row`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp
import invariants
import ray
from binance import AsyncClient
from binance.exceptions import BinanceAPIException
from deployment import (
    ACCOUNT,
    actor_pid,
    bench_client,
    bench_simulator,
    deployment_toml,
    local_deployment,
    loss_rules_toml,
)
from deployment import table as text_table
from gateway import LABEL, deployment_env, fmz_body, robots_toml
from ray.actor import ActorHandle

from actors import launcher
from actors.context import CONTROLLER_NAME, ConfigSource
from riskd.exchange.access import INVALID_TIMESTAMP
from riskd.sim import SimulatorThread
from riskd.store.engine import make_engine

POLL_S = 0.25
ON_TIME_MS = 2_000  # a job this far past its interval (jitter, a slow pass) is still on time
HOLD_SYMBOL, REST_SYMBOL, ROBOT_SYMBOL, LOSS_SYMBOL = "BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"
RULE_WINDOW_MS = 6_000
HOLD_EVERY_S, ROBOT_EVERY_S, LOSS_EVERY_S = 2.0, 0.5, 8.0


@dataclass
class Context:
    """What a fault acts on: the simulator, the deployment's namespace and the HTTP session."""

    sim_url: str
    namespace: str
    http: aiohttp.ClientSession

    async def sim(self, method: str, path: str, body: dict | None = None) -> dict:
        async with self.http.request(method, self.sim_url + path, json=body) as response:
            answer = await response.json()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer

    def kill(self, name: str) -> None:
        """Kill actor *name* the way a crash would (Ray may restart it; the Controller
        recreates what Ray does not)."""
        ray.kill(ray.get_actor(name, namespace=self.namespace), no_restart=False)


async def nothing_left(_ctx: Context) -> list[str]:
    return []


async def no_note(_ctx: Context) -> str:
    return ""


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: how to inject it and how to clear it; *killed*, the actor it
    kills (recovery counts from its new process only); *lasts_s*, how long it lasts (None:
    ``--fault-s``); *left*, what else keeps it from being recovered once the invariants hold
    (a line each); *note*, what its row tells besides (what the exchange answered);
    *restarts*, its clearing starts riskd again: the recovery counts from the restart command,
    riskd's start-up included."""

    name: str
    what: str
    inject: Callable[[Context], Awaitable[object]]
    clear: Callable[[Context], Awaitable[object]]
    killed: str = ""
    lasts_s: float | None = None
    left: Callable[[Context], Awaitable[list[str]]] = nothing_left
    note: Callable[[Context], Awaitable[str]] = no_note
    restarts: bool = False


async def nothing(_ctx: Context) -> None:
    return None


# ---------------------------------------------------------------- the workload


@dataclass
class Workload:
    """The trading that goes on during every fault, and what it counts."""

    sim_url: str
    gateway: str
    http: aiohttp.ClientSession
    steps: dict[str, Decimal] = field(default_factory=dict)
    gate_answers: int = 0  # robot requests the Trader answered (placed or refused)
    errors: list[str] = field(default_factory=list)

    async def run(self) -> None:
        client = bench_client(self.sim_url)
        try:
            await self._open(client)
            await asyncio.gather(self._hold(client), self._robot(), self._lose(client))
        finally:
            await client.close_connection()

    async def _open(self, client) -> None:
        await client.futures_create_order(
            symbol=HOLD_SYMBOL, side="BUY", type="MARKET", quantity="0.050"
        )
        book = await client.futures_orderbook_ticker(symbol=REST_SYMBOL)
        far = (Decimal(book["bidPrice"]) * Decimal("0.8")).quantize(Decimal("0.01"))
        await client.futures_create_order(
            symbol=REST_SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.100", price=str(far),
        )  # fmt: skip

    async def _safely(
        self, what: str, call: Awaitable[object], client: AsyncClient | None = None
    ) -> None:
        """*call*, its failure (the fault's doing) noted, not raised; after a −1021, *client*
        signs by the exchange's clock again, as any client of Binance must."""
        try:
            await call
        except Exception as exc:
            self.errors.append(f"{what}: {type(exc).__name__}: {str(exc)[:100]}")
            del self.errors[:-20]
            if isinstance(exc, BinanceAPIException) and exc.code == INVALID_TIMESTAMP and client:
                await self._safely("clock", _sync_clock(client))

    async def _hold(self, client) -> None:
        side = "BUY"
        while True:
            await asyncio.sleep(HOLD_EVERY_S)
            await self._safely(
                "hold",
                client.futures_create_order(
                    symbol=HOLD_SYMBOL, side=side, type="MARKET", quantity="0.010"
                ),
                client,
            )
            side = "SELL" if side == "BUY" else "BUY"

    async def _robot(self) -> None:
        side = "buy"
        while True:
            await asyncio.sleep(ROBOT_EVERY_S)
            params = {"symbol": "SOL_USDT", "type": side, "price": -1, "amount": "1"}
            await self._safely("robot", self._fmz(params))
            side = "sell" if side == "buy" else "buy"

    async def _fmz(self, params: dict) -> None:
        body = fmz_body(0, "trade", params)
        async with self.http.post(f"{self.gateway}/fmz/{LABEL}", json=body) as response:
            answer = await response.json()
        if response.status == 200 and ("data" in answer or _gate_refusal(answer)):
            self.gate_answers += 1

    async def _lose(self, client) -> None:
        while True:
            await asyncio.sleep(LOSS_EVERY_S)
            await self._safely("loss", self._round_trip(client), client)

    async def _round_trip(self, client) -> None:
        """About −170 USDT on DOGEUSDT: past the bench's rule."""
        state = await (await self.http.get(f"{self.sim_url}/_sim/state")).json()
        price = Decimal(state["prices"][LOSS_SYMBOL]["mark"])
        qty = str(int(Decimal(6000) / price))
        await client.futures_create_order(
            symbol=LOSS_SYMBOL, side="BUY", type="MARKET", quantity=qty
        )
        lower = {"symbol": LOSS_SYMBOL, "price": str(price * Decimal("0.97"))}
        async with self.http.post(f"{self.sim_url}/_sim/mark", json=lower) as response:
            response.raise_for_status()
        await client.futures_create_order(
            symbol=LOSS_SYMBOL, side="SELL", type="MARKET", quantity=qty, reduceOnly="true"
        )
        back = {"symbol": LOSS_SYMBOL, "price": str(price)}
        async with self.http.post(f"{self.sim_url}/_sim/mark", json=back) as response:
            response.raise_for_status()


async def _sync_clock(client: AsyncClient) -> None:
    """Sign *client*'s requests by the exchange's clock (the midpoint of a round trip)."""
    sent_ms = time.time() * 1000
    server_ms = (await client.futures_time())["serverTime"]
    client.timestamp_offset = int(server_ms - (sent_ms + time.time() * 1000) / 2)


def _gate_refusal(answer: dict) -> bool:
    """Whether an FMZ error answer is the gate's refusal (a decision was stored) rather than
    riskd being unreachable (no decision)."""
    error = str(answer.get("error", ""))
    unreachable = ("not running", "try again", "failed to answer")
    return bool(error) and not any(words in error for words in unreachable)


# ---------------------------------------------------------------- one fault, the matrix


@dataclass
class Row:
    """One fault's outcome; *skipped*, why it could not run here (then it proves nothing and
    fails nothing); *note*, the fault's own (``Fault.note``)."""

    name: str
    recovered: bool
    recover_ms: float | None
    findings: invariants.Findings | None
    unhealthy: list[str]
    skipped: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.recovered or bool(self.skipped)


def jobs_behind(controller) -> list[str]:
    """Why each job is not back on schedule: not healthy (its state, lag, error), its last
    pass failed, or it is behind by more than ON_TIME_MS (not late yet, but not recovered)."""
    try:
        rows = launcher.status(controller)
    except Exception as exc:  # the Controller itself is down: everything is in doubt
        return [f"controller: {type(exc).__name__}"]
    behind = []
    for row in rows:
        if not row.healthy():
            behind.append(row.problem())
        elif row.health["last_error"]:
            behind.append(f"{row.job}:{row.account} last pass failed: {row.health['last_error']}")
        elif row.health["lag_ms"] > ON_TIME_MS:
            behind.append(f"{row.job}:{row.account} behind by {row.health['lag_ms']} ms")
    return behind


async def run_fault(
    fault: Fault, ctx: Context, controller_of: Callable[[], object], probe, args
) -> Row:
    """Inject *fault*, let it last, clear it and wait for the recovery: every job healthy and
    nothing wrong in the evidence *probe* captures (given when the recovery began)."""
    killed_pid = await asyncio.to_thread(actor_pid, fault.killed) if fault.killed else None
    await fault.inject(ctx)
    if not fault.killed:  # a kill is over at once: its recovery counts from it
        await asyncio.sleep(args.fault_s if fault.lasts_s is None else fault.lasts_s)
    began = time.monotonic(), int(time.time() * 1000)
    await fault.clear(ctx)
    if not fault.restarts:
        began = time.monotonic(), int(time.time() * 1000)
    cleared, cleared_ms = began
    findings, unhealthy = None, ["not checked yet"]
    while time.monotonic() - cleared < args.recover_s:
        await asyncio.sleep(POLL_S)
        if fault.killed:
            pid = await asyncio.to_thread(actor_pid, fault.killed)
            if pid is None or pid == killed_pid:
                unhealthy = [f"{fault.killed}: not back yet"]
                continue
        unhealthy = await asyncio.to_thread(jobs_behind, controller_of())
        if unhealthy:
            continue
        findings = invariants.check(await probe(cleared_ms))
        unhealthy = await fault.left(ctx)  # shown before the findings: it lasts, they may not
        if findings.ok and not unhealthy:
            recover_ms = (time.monotonic() - cleared) * 1000
            return Row(fault.name, True, recover_ms, findings, [], note=await fault.note(ctx))
    return Row(fault.name, False, None, findings, unhealthy, note=await fault.note(ctx))


def report(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        found = row.findings
        lines.append(
            [
                row.name,
                "-" if row.skipped else "yes" if row.recovered else "NO",
                "-" if row.recover_ms is None else f"{row.recover_ms:.0f}",
                *(["-"] * 5 if found is None else [
                    found.lost, found.duplicates, found.orphans, found.bare, found.stale]),
                row.note,
                "" if row.recovered else
                f"skipped: {row.skipped}" if row.skipped else
                "; ".join(row.unhealthy or found.describe())[:400],
            ]
        )  # fmt: skip
    headers = ["fault", "recovered", "ms to recover", "lost", "duplicates", "orphans"]
    headers += ["bare", "stale", "notes", "left"]
    return text_table(headers, lines, {0, 8, 9})


async def drive(faults: list[Fault], world: World, args: argparse.Namespace) -> list[Row]:
    """Run *faults* one after the other in *world* while the workload trades."""
    url = world.simulator.server.url
    rows = []
    async with aiohttp.ClientSession() as http:
        workload = Workload(url, world.gateway, http)
        trading = asyncio.create_task(workload.run())
        ctx = Context(url, world.namespace, http)

        def controller_of():
            return ray.get_actor(CONTROLLER_NAME, namespace=world.namespace)

        async def probe(recovery_began_ms: int) -> invariants.Evidence:
            return await asyncio.to_thread(
                functools.partial(
                    invariants.capture, world.simulator.server, world.gateway, world.engine,
                    ACCOUNT, workload.gate_answers, recovery_began_ms=recovery_began_ms,
                )
            )  # fmt: skip

        try:
            await asyncio.sleep(args.fault_s)  # the workload's first positions and trades
            for fault in faults:
                print(f"  {fault.name}: {fault.what} ...", flush=True)
                rows.append(await run_fault(fault, ctx, controller_of, probe, args))
        finally:
            trading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trading
    return rows


@dataclass(frozen=True)
class Scenario:
    """A fault that needs a world of its own: *run* builds it, injects the fault and returns
    the row."""

    name: str
    what: str
    run: Callable[[argparse.Namespace], Row]


Deploy = Callable[[ConfigSource, str, list[str]], AbstractContextManager[tuple[ActorHandle, dict]]]
"""Runs a deployment as ``local_deployment`` does: (source, label, errors) → (controller, start
info) once it is ready."""


@dataclass(frozen=True)
class World:
    """Where faults run: the simulator, the deployment's namespace, its gateway and its
    database (the bench's own engine on it), and the errors stopping it met."""

    simulator: SimulatorThread
    namespace: str
    gateway: str
    engine: object
    errors: list[str]


@contextlib.contextmanager
def faults_world(
    database_url: str | None = None,
    account_toml: str = "",
    top_toml: str = "",
    *,
    deploy: Deploy = local_deployment,
    gateway_port: int = 0,
) -> Iterator[World]:
    """The matrix's deployment (every job, the Trader, robot b0, the bench's loss rule) in a
    local Ray against a fresh simulator; SQLite in a temporary folder unless *database_url*;
    *account_toml* adds account tables, *top_toml* top-level ones; the gateway on
    *gateway_port* (0: a free one). Stopped, with Ray, on exit. *deploy* runs it (the
    environment set first): ``local_deployment``, or a scenario's own (a cluster, a process)."""
    deployment_env(1)
    with tempfile.TemporaryDirectory(prefix="riskd-faults-") as folder, bench_simulator() as sim:
        url = database_url or f"sqlite:///{Path(folder) / 'riskd.db'}"
        rules = loss_rules_toml("symbol_fault", RULE_WINDOW_MS, "-1000000")
        database = f'\n[database]\nurl = "{url}"\n' if database_url else ""
        toml = deployment_toml(
            sim.server.url,
            "faults",
            top=robots_toml(1) + database + top_toml,
            account=rules + account_toml,
            gateway_port=gateway_port,
        )
        source = ConfigSource(toml, "<faults>", folder)
        errors: list[str] = []
        engine = make_engine(url)
        try:
            with deploy(source, "faults", errors) as (_controller, info):
                namespace = source.load().deployment.name
                yield World(sim, namespace, info["gateway"], engine, errors)
        finally:
            engine.dispose()
