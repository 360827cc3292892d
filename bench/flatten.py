"""The emergency flatten: time to flat for 1, 10 and 50 open positions at the default order
budget.

One deployment in a fresh local Ray (``bench/deployment.py`` ``local_deployment``) against a
``SimulatorThread`` in THIS process (127.0.0.1, free port, price walk off, no injected latency
or faults) listing ``max(--sizes) + 4`` symbols (``[sim] symbols``: BTC, ETH, SOL, DOGE and
generated ones with varied filters), SQLite in a temporary folder. The account runs what a
flatten needs, at riskd's defaults: the Trader (its weight budget, 600/min, and its order
budget, 90 % of the account's 300/10 s and 1,200/min), the Ledger (the flatten halts the
account through it) and the account_reader (the book the Ledger vouches with). The StopLadder
is off: its five rungs per position would spend the account's order limit the flatten is
measured at (the flatten keeps the ladder's rungs: ``tests/actors/test_flatten.py``); so are
the user stream, the position-risk reader and the reaper.

A round opens N positions, one per symbol, BUY and SELL by turns, each the smallest MARKET
quantity above the symbol's min notional at the mark (python-binance from 127.0.0.9, ten at
once), then sends ``POST /v1/flatten`` for the account and times it client side until the
report arrives: HALTED, the open orders read (none), positionRisk read, the slices placed,
positionRisk read again to confirm flat. The simulator's state is then checked flat. Before a
round the bench waits until the Trader's last minute of weight leaves room for a flatten
(~90), so rounds measure the flatten, not a budget the previous ones spent. The first
flatten after ready (of ``--sizes``' first size) has its own row; then ``--rounds`` rounds of
each size, sizes by turns.

    python bench/flatten.py [--sizes 1,10,50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import aiohttp
from binance import AsyncClient
from deployment import (
    ACCOUNT,
    ENV,
    FIRST,
    LATENCY_HEADERS,
    STEADY,
    bench_client,
    bench_simulator,
    by_row,
    deployment_toml,
    latency_cells,
    local_deployment,
    pct,
    print_host,
    table,
)

from actors.context import ConfigSource
from riskd.exchange.filters import SymbolFilters, parse_exchange_info
from riskd.plan import AccountJobsConfig
from riskd.sim import SimulatorThread

JOBS_OFF = ("stop_ladder", "user_stream", "position_risk_reader", "order_reaper")
OPEN_AT_ONCE = 10
FLATTEN_WEIGHT = 100  # openOrders 40 + openAlgoOrders 40 + positionRisk 5 × 2, and spare
BUDGET_WAIT_S = 90.0
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120)
SYMBOLS_BESIDES = 4  # the simulator's real symbols, besides the generated ones


@dataclass(slots=True)
class Sample:
    seconds: float  # client side, POST → report
    riskd_ms: int  # the report's ended_ms − started_ms
    slices: int
    flat: bool


@dataclass(slots=True)
class Result:
    first: Sample | None = None
    samples: dict[int, list[Sample]] = field(default_factory=dict)
    budget_waits_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def sizes(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("sizes: positive integers, e.g. 1,10,50")
    return values


def quantity(filters: SymbolFilters, mark: Decimal) -> str:
    """The smallest MARKET quantity above the min notional at *mark* (5 % to spare)."""
    step = filters.market_step_size
    lots = (filters.min_notional * Decimal("1.05") / mark / step).to_integral_value(ROUND_CEILING)
    return filters.format_quantity(max(filters.market_min_qty, lots * step), market=True)


async def open_positions(binance: AsyncClient, symbols: Sequence[str], amounts: dict) -> None:
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def one(index: int, symbol: str) -> None:
        async with gate:
            await binance.futures_create_order(
                symbol=symbol,
                side=("BUY", "SELL")[index % 2],
                type="MARKET",
                quantity=amounts[symbol],
                newClientOrderId=f"bf-{index}-{time.time_ns()}",
            )

    await asyncio.gather(*(one(k, s) for k, s in enumerate(symbols)))


def open_count(simulator: SimulatorThread) -> int:
    return len(simulator.server.exchange.state()["accounts"][ACCOUNT]["positions"])


async def trader_weight(session: aiohttp.ClientSession, gateway: str) -> int:
    async with session.get(f"{gateway}/v1/health") as answer:
        body = await answer.json()
    for job in body["jobs"]:
        if job["job"] == "trader" and job["health"]:
            return int(job["health"]["weight_used_1m"])
    return 0


async def room_for_a_flatten(session: aiohttp.ClientSession, gateway: str, result: Result) -> None:
    """Until the Trader's last minute of weight leaves room for one flatten."""
    budget = AccountJobsConfig().trader.weight_per_minute
    began = time.monotonic()
    while await trader_weight(session, gateway) + FLATTEN_WEIGHT > budget:
        if time.monotonic() - began > BUDGET_WAIT_S:
            raise RuntimeError(f"the Trader's weight did not fall within {BUDGET_WAIT_S:g} s")
        await asyncio.sleep(0.5)
    result.budget_waits_s += time.monotonic() - began


async def flatten_round(
    session: aiohttp.ClientSession,
    binance: AsyncClient,
    gateway: str,
    simulator: SimulatorThread,
    symbols: Sequence[str],
    amounts: dict,
    result: Result,
) -> Sample:
    await room_for_a_flatten(session, gateway, result)
    await open_positions(binance, symbols, amounts)
    if open_count(simulator) != len(symbols):
        raise RuntimeError(f"{open_count(simulator)} positions open, not {len(symbols)}")
    body = {"account": ACCOUNT, "operator": "bench", "reason": f"{len(symbols)} positions"}
    began = time.perf_counter()
    async with session.post(f"{gateway}/v1/flatten", json=body) as answer:
        report = await answer.json()
        took = time.perf_counter() - began
    if answer.status != 200:
        raise RuntimeError(f"POST /v1/flatten: {answer.status} {report}")
    flat = report["outcome"] == "flat" and open_count(simulator) == 0
    if not flat:
        result.errors.append(f"{len(symbols)} positions: {report['outcome']}, {report['left']}")
    return Sample(took, report["ended_ms"] - report["started_ms"], len(report["slices"]), flat)


async def drive(sim_url: str, gateway: str, simulator: SimulatorThread, args, result) -> None:
    binance = bench_client(sim_url)
    try:
        filters = parse_exchange_info(await binance.futures_exchange_info())
        marks = {m["symbol"]: Decimal(m["markPrice"]) for m in await binance.futures_mark_price()}
        symbols = sorted(filters)
        amounts = {s: quantity(filters[s], marks[s]) for s in symbols}
        async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
            first = args.sizes[0]
            result.first = await flatten_round(
                session, binance, gateway, simulator, symbols[:first], amounts, result
            )
            for _ in range(args.rounds):
                for size in args.sizes:
                    sample = await flatten_round(
                        session, binance, gateway, simulator, symbols[:size], amounts, result
                    )
                    result.samples.setdefault(size, []).append(sample)
    finally:
        await binance.close_connection()


def run(args: argparse.Namespace) -> Result:
    result = Result()
    os.environ.update(ENV)  # before ray.init: the raylet passes it to the actors
    account = "".join(f"\n[accounts.jobs.{job}]\nenabled = false\n" for job in JOBS_OFF)
    try:
        with (
            bench_simulator(symbols=max(args.sizes) + SYMBOLS_BESIDES) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-flatten-") as folder,
        ):
            url = simulator.server.url
            source = ConfigSource(deployment_toml(url, "flatten", "", account), "<flatten>", folder)
            with local_deployment(source, "flatten", result.errors) as (_controller, info):
                asyncio.run(drive(url, info["gateway"], simulator, args, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def report(result: Result, args: argparse.Namespace) -> None:
    print(
        "\n=== POST /v1/flatten of the account: HALTED, orders read, positions closed at "
        "market and confirmed flat; client-side ms until the report ==="
    )
    headers = ["positions", "sample", "n", "slices", *LATENCY_HEADERS, "riskd p50 ms", "flat"]
    rows: list[list[object]] = []
    for size in args.sizes:
        first = result.first if size == args.sizes[0] else None
        for label, samples in by_row(first, result.samples.get(size, [])):
            if label == FIRST and size != args.sizes[0]:
                continue
            riskd = [s.riskd_ms / 1000 for s in samples]
            slices = f"{pct([s.slices for s in samples], 50):.0f}" if samples else "nan"
            flat = f"{sum(s.flat for s in samples)}/{len(samples)}"
            cells = latency_cells([s.seconds for s in samples])
            rows.append(
                [size, label, len(samples), slices, *cells, f"{pct(riskd, 50) * 1000:.1f}", flat]
            )
    print(table(headers, rows, left={1}))
    print(
        f"{FIRST}: the first flatten once every job had succeeded once ({args.sizes[0]} "
        f"position(s)); {STEADY}: {args.rounds} round(s) of each size. riskd p50 ms: the "
        "report's ended − started (in the Trader). The bench waited "
        f"{result.budget_waits_s:.1f} s in all for the Trader's weight budget between rounds."
    )
    for error in result.errors:
        print(f"ERROR: {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes, default=[1, 10, 50], help="e.g. 1,10,50")
    parser.add_argument("--rounds", type=int, default=3, help="of each size, after the first")
    args = parser.parse_args()
    if args.rounds < 1 or max(args.sizes) > 996:
        parser.error("--rounds must be ≥ 1 and each size at most 996 (the simulator's symbols)")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print_host()
    faulthandler.dump_traceback_later(300 + 60 * args.rounds * len(args.sizes), exit=True)
    print(f"flatten: sizes {args.sizes}, {args.rounds} round(s) each ...", flush=True)
    result = run(args)
    faulthandler.cancel_dump_traceback_later()
    report(result, args)
    failed = bool(result.errors) or result.first is None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
