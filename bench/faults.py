"""The fault matrix: what riskd keeps when things go wrong, fault by fault.

One deployment with every job (the Trader and a robot too) in its own local Ray, against the
simulator in this process (``bench/deployment.py``), its SQLite database in a temporary
folder. A workload runs throughout:

- a long BTCUSDT position held by hand (no riskd prefix) whose size changes every 2 s, so the
  stop ladder keeps being rebuilt;
- a resting LIMIT buy on ETHUSDT far below the market;
- robot ``b0`` trading SOLUSDT through the gateway's FMZ endpoint every 0.5 s: every request
  the Trader answers must leave a gate decision in SQL;
- a losing round trip on DOGEUSDT every 8 s: the bench's rule (−150 USDT over 6 s) locks the
  symbol and the lock ends by itself.

Each fault of the matrix in turn is injected, lasts ``--fault-s`` while the workload runs, and
is cleared (a kill is over at once). From then on (for a kill, once the actor runs in a new
process) the evidence is captured every 250 ms until every job is back on schedule and
``bench/invariants.py`` finds nothing wrong (the fault is *recovered*; the time is from the
clearing), or ``--recover-s`` passes (it is not, and the row says what was left). The checks:
no income row lost or duplicated, no duplicate or orphan stop, every position fully laddered,
the ban list correct or expired, every alert delivered once, no gate decision lost.

    python bench/faults.py [--faults all|NAME,...] [--fault-s 5] [--recover-s 60] [--list]

Target (issue 18): every row recovered, with nothing lost, duplicated or orphaned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp
import invariants
import ray
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

from actors import launcher
from actors.context import (
    ALERTER_NAME,
    CONTROLLER_NAME,
    GATEWAY_NAME,
    ConfigSource,
    ledger_name,
    position_book_name,
    stop_ladder_name,
    trader_name,
)
from riskd.store import make_engine

POLL_S = 0.25
ON_TIME_MS = 2_000  # a job this far past its interval (jitter, a slow pass) is still on time
HOLD_SYMBOL, REST_SYMBOL, ROBOT_SYMBOL, LOSS_SYMBOL = "BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"
RULE_WINDOW_MS = 6_000
HOLD_EVERY_S, ROBOT_EVERY_S, LOSS_EVERY_S = 2.0, 0.5, 8.0
REQUEST_TIMEOUT_MS = 2_000  # the deployment's; a "timeout" fault holds answers longer
EVERY_REQUEST = 1_000_000  # a request fault's count: it lasts until it is cleared
STALL_MS = 6_000  # a stalled source's answers: past the request timeout
ACCOUNT_PATH, POSITION_RISK = "/fapi/v3/account", "/fapi/v3/positionRisk"


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


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: how to inject it and how to clear it; *killed*, the actor it
    kills (recovery counts from its new process only)."""

    name: str
    what: str
    inject: Callable[[Context], Awaitable[object]]
    clear: Callable[[Context], Awaitable[object]]
    killed: str = ""


async def _nothing(_ctx: Context) -> None:
    return None


def _request_fault(name: str, what: str, kind: str, path: str = "*", ms: int = 0) -> Fault:
    body = {"path": path, "kind": kind, "count": EVERY_REQUEST} | ({"ms": ms} if ms else {})

    async def inject(ctx: Context) -> dict:
        return await ctx.sim("POST", "/_sim/fault", body)

    async def clear(ctx: Context) -> dict:
        return await ctx.sim("DELETE", "/_sim/fault")

    return Fault(name, what, inject, clear)


def _stream_fault(name: str, what: str, kind: str, ms: int = 0) -> Fault:
    body = {"path": "*", "kind": kind} | ({"ms": ms} if ms else {})

    async def inject(ctx: Context) -> dict:
        return await ctx.sim("POST", "/_sim/fault", body)

    return Fault(name, what, inject, _nothing)


def _stalled(name: str, what: str, paths: tuple[str, ...], streams_ms: int = 0) -> Fault:
    """Answers to *paths* held past their timeout and, with *streams_ms*, every stream silent
    for that long."""

    async def inject(ctx: Context) -> None:
        for path in paths:
            body = {"path": path, "kind": "delay", "ms": STALL_MS, "count": EVERY_REQUEST}
            await ctx.sim("POST", "/_sim/fault", body)
        if streams_ms:
            await ctx.sim(
                "POST", "/_sim/fault", {"path": "*", "kind": "stall_ws", "ms": streams_ms}
            )

    async def clear(ctx: Context) -> dict:
        return await ctx.sim("DELETE", "/_sim/fault")

    return Fault(name, what, inject, clear)


async def _by_hand(ctx: Context) -> None:
    """The held position doubled by hand on the exchange (its ladder must follow)."""
    client = bench_client(ctx.sim_url)
    try:
        await client.futures_create_order(
            symbol=HOLD_SYMBOL, side="BUY", type="MARKET", quantity="0.050"
        )
    finally:
        await client.close_connection()


def _kill(name: str, actor: str) -> Fault:
    async def inject(ctx: Context) -> None:
        ctx.kill(actor)

    return Fault(name, f"ray.kill of {actor}", inject, _nothing, killed=actor)


def matrix(fault_s: float) -> dict[str, Fault]:
    """Every fault of the matrix this bench runs, by name."""
    stall_ms = int(fault_s * 1000)
    faults = [
        _request_fault("http5xx", "every REST answer a 502 (HTML)", "http5xx"),
        _request_fault("html503", "every REST answer an HTML 503", "html503"),
        _request_fault("malformed", "every REST answer cut in half", "malformed"),
        _request_fault("timeouts", "every REST answer held past its timeout", "delay", ms=6_000),
        _request_fault(
            "unknown503_algo",
            "stops placed and cancelled, answered 503 Unknown error",
            "unknown503",
            "/fapi/v1/algoOrder",
        ),
        _request_fault(
            "unknown503_order",
            "orders placed and cancelled, answered 503 Unknown error",
            "unknown503",
            "/fapi/v1/order",
        ),
        _stream_fault("ws_drop", "every user and market stream dropped", "drop_ws"),
        _stream_fault("ws_stall", "every stream silent but connected", "stall_ws", stall_ms),
        _stalled("rest_source_stalled", "GET /fapi/v3/positionRisk stalled", (POSITION_RISK,)),
        _stalled(
            "all_sources_stalled",
            "both REST sources stalled and the streams silent",
            (ACCOUNT_PATH, POSITION_RISK),
            stall_ms,
        ),
        Fault("position_by_hand", "the held position doubled by hand", _by_hand, _nothing),
    ]
    jobs = ("account_reader", "position_risk_reader", "user_stream", "order_reaper")
    faults += [_kill(f"kill_{job}", f"{job}:{ACCOUNT}") for job in jobs]
    faults += [
        _kill("kill_position_book", position_book_name(ACCOUNT)),
        _kill("kill_stop_ladder", stop_ladder_name(ACCOUNT)),
        _kill("kill_ledger", ledger_name(ACCOUNT)),
        _kill("kill_trader", trader_name(ACCOUNT)),
        _kill("kill_gateway", GATEWAY_NAME),
        _kill("kill_alerter", ALERTER_NAME),
        _kill("kill_controller", CONTROLLER_NAME),
    ]
    return {fault.name: fault for fault in faults}


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

    async def _safely(self, what: str, call: Awaitable[object]) -> None:
        """*call*, its failure (the fault's doing) noted, not raised."""
        try:
            await call
        except Exception as exc:
            self.errors.append(f"{what}: {type(exc).__name__}: {str(exc)[:100]}")
            del self.errors[:-20]

    async def _hold(self, client) -> None:
        side = "BUY"
        while True:
            await asyncio.sleep(HOLD_EVERY_S)
            await self._safely(
                "hold",
                client.futures_create_order(
                    symbol=HOLD_SYMBOL, side=side, type="MARKET", quantity="0.010"
                ),
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
            await self._safely("loss", self._round_trip(client))

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


def _gate_refusal(answer: dict) -> bool:
    """Whether an FMZ error answer is the gate's refusal (a decision was stored) rather than
    riskd being unreachable (no decision)."""
    error = str(answer.get("error", ""))
    unreachable = ("not running", "try again", "failed to answer")
    return bool(error) and not any(words in error for words in unreachable)


# ---------------------------------------------------------------- one fault, the matrix


@dataclass
class Row:
    """One fault's outcome."""

    fault: Fault
    recovered: bool
    recover_ms: float | None
    findings: invariants.Findings | None
    unhealthy: list[str]


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
        await asyncio.sleep(args.fault_s)
    await fault.clear(ctx)
    cleared, cleared_ms = time.monotonic(), int(time.time() * 1000)
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
        if findings.ok:
            return Row(fault, True, (time.monotonic() - cleared) * 1000, findings, [])
    return Row(fault, False, None, findings, unhealthy)


def report(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        found = row.findings
        lines.append(
            [
                row.fault.name,
                "yes" if row.recovered else "NO",
                "-" if row.recover_ms is None else f"{row.recover_ms:.0f}",
                *(["-"] * 5 if found is None else [
                    found.lost, found.duplicates, found.orphans, found.bare, found.stale]),
                "" if row.recovered else "; ".join(row.unhealthy or found.describe())[:400],
            ]
        )  # fmt: skip
    headers = ["fault", "recovered", "ms to recover", "lost", "duplicates", "orphans"]
    headers += ["bare", "stale", "left"]
    return text_table(headers, lines, {0, 8})


async def drive(
    faults: list[Fault], simulator, namespace: str, gateway: str, engine, args
) -> list[Row]:
    rows = []
    async with aiohttp.ClientSession() as http:
        workload = Workload(simulator.server.url, gateway, http)
        trading = asyncio.create_task(workload.run())
        ctx = Context(simulator.server.url, namespace, http)

        def controller_of():
            return ray.get_actor(CONTROLLER_NAME, namespace=namespace)

        async def probe(recovery_began_ms: int) -> invariants.Evidence:
            return await asyncio.to_thread(
                functools.partial(
                    invariants.capture, simulator.server, gateway, engine, ACCOUNT,
                    workload.gate_answers, recovery_began_ms=recovery_began_ms,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default="all", help="all, or names apart by commas")
    parser.add_argument("--fault-s", type=float, default=5.0, help="how long each fault lasts")
    parser.add_argument("--recover-s", type=float, default=60.0, help="the longest recovery")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    args = parser.parse_args()
    catalog = matrix(args.fault_s)
    if args.list:
        print(text_table(["fault", "what"], [[f.name, f.what] for f in catalog.values()], {0, 1}))
        return 0
    names = list(catalog) if args.faults == "all" else args.faults.split(",")
    unknown = [name for name in names if name not in catalog]
    if unknown:
        parser.error(f"--faults: unknown {', '.join(unknown)} (see --list)")
    if args.fault_s <= 0 or args.recover_s <= 0:
        parser.error("--fault-s and --recover-s must be positive")
    logging.basicConfig(level=logging.WARNING)
    deployment_env(1)
    with tempfile.TemporaryDirectory(prefix="riskd-faults-") as folder, bench_simulator() as sim:
        top = robots_toml(1)
        rules = loss_rules_toml("symbol_fault", RULE_WINDOW_MS, "-1000000")
        toml = deployment_toml(sim.server.url, "faults", top=top, account=rules)
        source = ConfigSource(toml, "<faults>", folder)
        errors: list[str] = []
        engine = make_engine(f"sqlite:///{Path(folder) / 'riskd.db'}")
        namespace = source.load().deployment.name
        with local_deployment(source, "faults", errors) as (_controller, info):
            faults = [catalog[name] for name in names]
            rows = asyncio.run(drive(faults, sim, namespace, info["gateway"], engine, args))
        engine.dispose()
    print(report(rows))
    for error in errors:
        print(error, file=sys.stderr)
    return 0 if all(row.recovered for row in rows) and not errors else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main())
