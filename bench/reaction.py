"""Reaction time: from a position change on the exchange to its full new ladder acknowledged.

Each mode is its own deployment in its own fresh local Ray (``ray.init(address="local",
include_dashboard=False, ...)`` as ``bench/footprint.py`` does), against a ``SimulatorThread``
in THIS process (127.0.0.1, free port, price walk off, no injected latency or faults):

* ``stream``: user_stream on (interval 500 ms); account_reader and position_risk_reader slowed
  to 60 s so the stream drives the PositionBook; stop_ladder on its own loopback IP.
* ``rest``: user_stream disabled; position_risk_reader and account_reader every 500 ms.

Budgets are lifted so the bench measures reaction, not budgets: it changes the position about
four times a second, far faster than a desk would, and each change places five rungs and
cancels five (DELETE /fapi/v1/algoOrder, weight 1 each: ~1,200 weight/min, twice
stop_ladder's default 600). So the simulator's REQUEST_WEIGHT and ORDERS limits
(``SimConfig.limits``), the plan's ``[budgets] ip_weight_limit_per_minute`` and stop_ladder's
``weight_per_minute`` are raised far above what a run uses. (stop_ladder reads openAlgoOrders,
weight 40, once per interval and acts on every wake-up from what it learnt since.)

A change: a signed python-binance MARKET order from 127.0.0.9 (its own IP). The first, sent as
soon as the deployment reported ready (every job succeeded once) with no trade before it,
opens a BTCUSDT long of 0.100 (the first ladder); it is reported on its own row, ``first
after ready``, and left out of the ``steady state`` row. The others alternately BUY 0.020 /
SELL 0.020, moving the long between 0.100 and 0.120 (+20 % / −16.7 %, beyond the 5 %
re-ladder threshold). The simulator's emitter is wrapped (same process, same clock:
``time.perf_counter()`` inside the hook, before the event is passed on):

* t0 = the ORDER_TRADE_UPDATE with x=TRADE, X=FILLED of the bench's order (the fill);
* t1 = the ALGO_UPDATE NEW after which the open NEW rungs of one generation newer than any
  generation open at t0 sum exactly to the new position size (the full ladder is
  acknowledged by the exchange). Generations come from riskd's clientAlgoId.

Intermediate stamps, for the breakdown: the first ACCOUNT_UPDATE of the symbol after t0 (the
exchange's position change) and the first ALGO_UPDATE NEW of the new generation. The next
change starts when the ladder is complete (or after ``--timeout``) plus ``--gap-ms``; the old
generation's cancels may still be in flight.

    python bench/reaction.py [--changes 200] [--mode stream|rest|both]

Target: p99 ≤ 100 ms with the stream on the simulator with no injected latency (steady state).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import ray
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
    ms,
    pct,
    table,
)

from actors.context import ConfigSource
from riskd.protect.ladder import parse_rung_client_id
from riskd.sim import SimulatorThread

TARGET = "p99 ≤ 100 ms with the stream on the simulator with no injected latency"
TARGET_P99_MS = 100.0
SYMBOL = "BTCUSDT"
LOW, HIGH = Decimal("0.100"), Decimal("0.120")
BIG = 10_000_000  # weight/min and orders: far beyond any run

JOBS = {
    "stream": """
[accounts.jobs.account_reader]
interval_ms = 60000
weight_per_minute = 300
egress = "127.0.0.2"

[accounts.jobs.position_risk_reader]
interval_ms = 60000
weight_per_minute = 300
egress = "127.0.0.3"

[accounts.jobs.user_stream]
interval_ms = 500
weight_per_minute = 60
egress = "127.0.0.4"
""",
    "rest": """
[accounts.jobs.account_reader]
interval_ms = 500
weight_per_minute = 1200
egress = "127.0.0.2"

[accounts.jobs.position_risk_reader]
interval_ms = 500
weight_per_minute = 1200
egress = "127.0.0.3"

[accounts.jobs.user_stream]
enabled = false
egress = "127.0.0.4"
""",
}
COMMON_JOBS = f"""
[accounts.jobs.order_reaper]
egress = "127.0.0.5"

[accounts.jobs.stop_ladder]
weight_per_minute = {BIG // 10}
egress = "127.0.0.7"
"""
BUDGETS = f"""
[budgets]
ip_weight_limit_per_minute = {BIG}
"""


# ---------------------------------------------------------------- the hook


@dataclass(slots=True)
class Change:
    account: str
    symbol: str
    client_id: str
    target: Decimal  # the position size after the fill
    done: threading.Event = field(default_factory=threading.Event)
    gen_before: int = 0
    t0: float | None = None  # fill
    t_account: float | None = None  # first ACCOUNT_UPDATE of the symbol after the fill
    t_first_new: float | None = None  # first ALGO_UPDATE NEW of the new generation
    t1: float | None = None  # the new generation's NEW rungs sum to target


Key = tuple[str, str]  # (account, symbol)


class Tracker(EmitHook):
    """Stamps each expected change's fill, account update and new generation's rungs. Changes
    of different (account, symbol) may be under way at once; one per (account, symbol). The
    new generation is one newer than any open at the fill (riskd numbers a ladder one above
    the highest open, so a position opened again after a close starts over)."""

    def __init__(self, simulator: SimulatorThread) -> None:
        super().__init__(simulator)
        self.open: dict[Key, dict[int, tuple[int, Decimal]]] = {}  # algoId → (gen, quantity)
        self.expected: dict[str, Change] = {}  # by the bench order's client id, until it fills
        self.filled: dict[Key, Change] = {}  # filled, until its full ladder is acknowledged

    def see(self, account: str, event: dict, now: float) -> None:
        kind = event.get("e")
        if kind == "ORDER_TRADE_UPDATE":
            change = self.expected.get(event["o"].get("c"))
            if change is not None and is_fill(event, change.client_id):
                del self.expected[change.client_id]
                change.t0 = now
                open_rungs = self.open.get((account, change.symbol), {}).values()
                change.gen_before = max((g for g, _ in open_rungs), default=0)
                self.filled[(account, change.symbol)] = change
        elif kind == "ACCOUNT_UPDATE":
            for position in event["a"]["P"]:
                change = self.filled.get((account, position["s"]))
                if change is not None and change.t_account is None:
                    change.t_account = now
        elif kind == "ALGO_UPDATE":
            o = event["o"]
            rung = parse_rung_client_id(o.get("caid", ""))
            if rung is None:
                return
            key = (account, o["s"])
            open_rungs = self.open.setdefault(key, {})
            if o["X"] != "NEW":
                open_rungs.pop(o["aid"], None)
                return
            open_rungs[o["aid"]] = (rung.generation, Decimal(o["q"]))
            change = self.filled.get(key)
            if change is None or rung.generation <= change.gen_before:
                return
            if change.t_first_new is None:
                change.t_first_new = now
            total = sum((q for g, q in open_rungs.values() if g == rung.generation), Decimal(0))
            if total == change.target:
                change.t1 = now
                del self.filled[key]
                change.done.set()

    def expect(self, change: Change) -> None:
        """Watch *change*: its order is about to be sent."""
        with self.lock:
            self.expected[change.client_id] = change

    def forget(self, change: Change) -> None:
        """Stop watching *change* (it timed out)."""
        with self.lock:
            self.expected.pop(change.client_id, None)
            if self.filled.get((change.account, change.symbol)) is change:
                del self.filled[(change.account, change.symbol)]


# ---------------------------------------------------------------- one mode


@dataclass(slots=True)
class ModeResult:
    mode: str
    first: Change | None = None  # the first change after ready
    changes: list[Change] = field(default_factory=list)  # the steady state
    errors: list[str] = field(default_factory=list)


async def drive(
    tracker: Tracker, url: str, changes: int, timeout_s: float, gap_s: float, result: ModeResult
) -> None:
    """The first change (flat → LOW) at once, then *changes* between LOW and HIGH."""
    client = bench_client(url)
    try:
        position = Decimal(0)
        for index in range(changes + 1):
            if position == LOW:
                side, target = "BUY", HIGH
            elif position == HIGH:
                side, target = "SELL", LOW
            else:
                side, target = "BUY", LOW
            change = Change(ACCOUNT, SYMBOL, f"bench{uuid.uuid4().hex[:20]}", target)
            if index == 0:
                result.first = change
            else:
                result.changes.append(change)
            tracker.expect(change)
            await client.futures_create_order(
                symbol=SYMBOL,
                side=side,
                type="MARKET",
                quantity=f"{abs(target - position):f}",
                newClientOrderId=change.client_id,
            )
            position = target
            if not await asyncio.to_thread(change.done.wait, timeout_s):
                tracker.forget(change)
            if index and index % 50 == 0:
                timeouts = sum(c.t1 is None for c in result.changes)
                print(f"    {index} changes, {timeouts} timeouts", flush=True)
            await asyncio.sleep(gap_s)
    finally:
        await client.close_connection()


def run_mode(mode: str, changes: int, timeout_s: float, gap_s: float) -> ModeResult:
    result = ModeResult(mode)
    os.environ.update(ENV)  # before ray.init: the raylet passes it to the job actors
    limits = {"weight_per_minute": BIG, "orders_per_10s": BIG, "orders_per_minute": BIG}
    try:
        with (
            bench_simulator(limits=limits) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-reaction-") as folder,  # its SQLite
        ):
            tracker = Tracker(simulator)
            url = simulator.server.url
            toml = deployment_toml(url, f"reaction-{mode}", BUDGETS, JOBS[mode] + COMMON_JOBS)
            source = ConfigSource(toml, f"<reaction {mode}>", folder)
            with local_deployment(source, mode, result.errors):
                asyncio.run(drive(tracker, url, changes, timeout_s, gap_s, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


# ---------------------------------------------------------------- report


def report(results: list[ModeResult], args: argparse.Namespace) -> None:
    print(
        f"\n=== reaction: fill → full new ladder acknowledged (ms), "
        f"timeout {args.timeout:g} s, gap {args.gap_ms:g} ms ==="
    )
    rows = []
    for r in results:
        for label, changes in by_row(r.first, r.changes):
            lat = [c.t1 - c.t0 for c in changes if c.t1 is not None]  # type: ignore[operator]
            verdict = "-"
            if r.mode == "stream" and label == STEADY:
                ok = lat and len(lat) == len(changes) and pct(lat, 99) * 1000 <= TARGET_P99_MS
                verdict = "ok" if ok else "MISS"
            rows.append(
                [
                    r.mode,
                    label,
                    len(changes),
                    len(lat),
                    len(changes) - len(lat),
                    *latency_cells(lat),
                    verdict,
                ]
            )
    headers = ["mode", "sample", "changes", "completed", "timeouts", *LATENCY_HEADERS, "target"]
    print(table(headers, rows, left={0, 1}))
    print(f"target: {TARGET} (steady state)")
    print(
        f"{FIRST}: the first change, sent as soon as every job had succeeded once, opening the "
        f"position\n(the first ladder); {STEADY}: every later change. Budgets lifted (measure "
        f"reaction, not budgets):\nsimulator REQUEST_WEIGHT and ORDERS limits {BIG}, [budgets] "
        f"ip_weight_limit_per_minute = {BIG},\nstop_ladder weight_per_minute = {BIG // 10}."
    )

    print("\n=== breakdown of completed changes (ms): p50 / p99 / max ===")
    rows = []
    for r in results:
        for label, changes in by_row(r.first, r.changes):
            done = [c for c in changes if c.t1 is not None]
            legs = [
                [c.t_account - c.t0 for c in done if c.t_account],  # type: ignore[operator]
                [c.t_first_new - c.t_account for c in done if c.t_account and c.t_first_new],  # type: ignore[operator]
                [c.t1 - c.t_first_new for c in done if c.t_first_new],  # type: ignore[operator]
            ]
            rows.append(
                [r.mode, label, *(f"{ms(v, 50)} / {ms(v, 99)} / {ms(v, 100)}" for v in legs)]
            )
    headers = ["mode", "sample", "fill→ACCOUNT_UPDATE", "ACCOUNT_UPDATE→first NEW"]
    print(table([*headers, "first→last NEW"], rows, left={0, 1}))
    print(
        "ACCOUNT_UPDATE→first NEW: riskd learning of the change (stream or REST poll), the "
        "PositionBook\nwaking stop_ladder, its pass and the first "
        "placement; first→last NEW: the\nother rungs' placements (sent concurrently)."
    )
    for r in results:
        for error in r.errors:
            print(f"ERROR ({r.mode}): {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200, help="steady-state changes")
    parser.add_argument("--mode", choices=("stream", "rest", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=10.0, help="s per change")
    parser.add_argument("--gap-ms", type=float, default=200.0, help="pause after each ladder")
    args = parser.parse_args()
    if args.changes < 1:
        parser.error("--changes must be ≥ 1")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print(f"host: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; ray {ray.__version__}")
    modes = ("stream", "rest") if args.mode == "both" else (args.mode,)
    results = []
    for mode in modes:
        # Last resort if something hangs: dump the stacks and exit.
        budget_s = 180 + (args.changes + 1) * (args.timeout + args.gap_ms / 1000 + 1)
        faulthandler.dump_traceback_later(budget_s, exit=True)
        print(f"run: {mode}, {args.changes} changes after the first ...", flush=True)
        results.append(run_mode(mode, args.changes, args.timeout, args.gap_ms / 1000))
        faulthandler.cancel_dump_traceback_later()
    report(results, args)
    failed = any(r.errors or all(c.t1 is None for c in r.changes) for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
