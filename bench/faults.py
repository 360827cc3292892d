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

The harness (workload, recovery, table) is ``bench/fault_kit.py``; the faults that need a
world of their own (scenarios) come from ``SCENARIOS`` and run after the others, each in its own.

    python bench/faults.py [--faults all|NAME,...] [--fault-s 5] [--recover-s 60] [--list]

Target (issue 18): every row recovered, with nothing lost, duplicated or orphaned.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from deployment import ACCOUNT, bench_client
from deployment import table as text_table
from fault_kit import (
    HOLD_SYMBOL,
    Context,
    Fault,
    Row,
    Scenario,
    drive,
    faults_world,
    nothing,
    report,
)

from actors.context import (
    ALERTER_NAME,
    CONTROLLER_NAME,
    GATEWAY_NAME,
    ledger_name,
    position_book_name,
    stop_ladder_name,
    trader_name,
)

REQUEST_TIMEOUT_MS = 2_000  # the deployment's; a "timeout" fault holds answers longer
EVERY_REQUEST = 1_000_000  # a request fault's count: it lasts until it is cleared
STALL_MS = 6_000  # a stalled source's answers: past the request timeout
ACCOUNT_PATH, POSITION_RISK = "/fapi/v3/account", "/fapi/v3/positionRisk"


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

    return Fault(name, what, inject, nothing)


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

    return Fault(name, f"ray.kill of {actor}", inject, nothing, killed=actor)


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
        Fault("position_by_hand", "the held position doubled by hand", _by_hand, nothing),
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


SCENARIOS: dict[str, Scenario] = {}
"""The faults that need a world of their own, by name."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default="all", help="all, or names apart by commas")
    parser.add_argument("--fault-s", type=float, default=5.0, help="how long each fault lasts")
    parser.add_argument("--recover-s", type=float, default=60.0, help="the longest recovery")
    parser.add_argument("--list", action="store_true", help="list the faults and exit")
    args = parser.parse_args()
    catalog = matrix(args.fault_s)
    if args.list:
        every = [*catalog.values(), *SCENARIOS.values()]
        print(text_table(["fault", "what"], [[f.name, f.what] for f in every], {0, 1}))
        return 0
    names = [*catalog, *SCENARIOS] if args.faults == "all" else args.faults.split(",")
    unknown = [name for name in names if name not in catalog and name not in SCENARIOS]
    if unknown:
        parser.error(f"--faults: unknown {', '.join(unknown)} (see --list)")
    if args.fault_s <= 0 or args.recover_s <= 0:
        parser.error("--fault-s and --recover-s must be positive")
    logging.basicConfig(level=logging.WARNING)
    rows: list[Row] = []
    errors: list[str] = []
    shared = [catalog[name] for name in names if name in catalog]
    if shared:
        with faults_world() as world:
            rows += asyncio.run(drive(shared, world, args))
        errors += world.errors
    for name in names:
        if name in SCENARIOS:
            print(f"  {name}: {SCENARIOS[name].what} ...", flush=True)
            rows.append(SCENARIOS[name].run(args))
    print(report(rows))
    for error in errors:
        print(error, file=sys.stderr)
    return 0 if all(row.recovered for row in rows) and not errors else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main())
