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

A change: a signed python-binance MARKET order from 127.0.0.9 (its own IP), alternately
BUY 0.020 / SELL 0.020, moving the BTCUSDT long between 0.100 and 0.120 (+20 % / −16.7 %,
beyond the 5 % re-ladder threshold). The simulator's emitter is wrapped (same process, same
clock: ``time.perf_counter()`` inside the hook, before the event is passed on):

* t0 = the ORDER_TRADE_UPDATE with x=TRADE, X=FILLED of the bench's order (the fill);
* t1 = the ALGO_UPDATE NEW after which the open NEW rungs of one generation newer than any
  generation seen before t0 sum exactly to the new position size (the full ladder is
  acknowledged by the exchange). Generations come from riskd's clientAlgoId.

Intermediate stamps, for the breakdown: the first ACCOUNT_UPDATE after t0 (the exchange's
position change) and the first ALGO_UPDATE NEW of the new generation. The next change starts
when the ladder is complete (or after ``--timeout``) plus ``--gap-ms``; the old generation's
cancels may still be in flight. The first 0.100 BUY (no ladder yet) is a warm-up, not counted.

    python bench/reaction.py [--changes 200] [--mode stream|rest|both]

Target: p99 ≤ 100 ms with the stream on the simulator with no injected latency.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import aiohttp
import ray
from binance import AsyncClient
from deployment import local_deployment

from actors import launcher
from actors.context import ConfigSource
from riskd.ladder import parse_rung_client_id
from riskd.sim import SimConfig, SimulatorThread

TARGET = "p99 ≤ 100 ms with the stream on the simulator with no injected latency"
TARGET_P99_MS = 100.0
SYMBOL = "BTCUSDT"
LOW, HIGH = Decimal("0.100"), Decimal("0.120")
STEP = HIGH - LOW
API_KEY, API_SECRET = "bench-key", "bench-secret"
ENV = {"RISKD_BENCH_API_KEY": API_KEY, "RISKD_BENCH_API_SECRET": API_SECRET}
BENCH_IP = "127.0.0.9"
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


def deployment_toml(sim_url: str, mode: str) -> str:
    return f"""
[deployment]
name = "bench-reaction-{mode}-{uuid.uuid4().hex[:6]}"

[exchange]
network = "sim"
base_url = "{sim_url}"
request_timeout_ms = 2000

[budgets]
ip_weight_limit_per_minute = {BIG}

[gateway]
port = 0

[[accounts]]
name = "sim"
api_key_env = "RISKD_BENCH_API_KEY"
api_secret_env = "RISKD_BENCH_API_SECRET"
{JOBS[mode]}{COMMON_JOBS}"""


# ---------------------------------------------------------------- the hook


@dataclass(slots=True)
class Change:
    client_id: str
    target: Decimal  # the position size after the fill
    done: threading.Event = field(default_factory=threading.Event)
    gen_before: int = 0
    t0: float | None = None  # fill
    t_account: float | None = None  # first ACCOUNT_UPDATE after the fill
    t_first_new: float | None = None  # first ALGO_UPDATE NEW of the new generation
    t1: float | None = None  # the new generation's NEW rungs sum to target


class Tracker:
    """Wraps the simulator's emitter: runs in the simulator's thread, stamps perf_counter."""

    def __init__(self, simulator: SimulatorThread) -> None:
        self.lock = threading.Lock()
        self.open: dict[int, tuple[int, Decimal]] = {}  # algoId → (generation, quantity)
        self.max_gen = 0
        self.change: Change | None = None
        exchange = simulator.server.exchange
        self._emit = exchange.emit
        exchange.emit = self._hook

    def _hook(self, account: str, event: dict) -> None:
        now = time.perf_counter()
        try:
            with self.lock:
                self._see(event, now)
        finally:
            self._emit(account, event)

    def _see(self, event: dict, now: float) -> None:
        kind, change = event.get("e"), self.change
        if kind == "ORDER_TRADE_UPDATE" and change is not None and change.t0 is None:
            o = event["o"]
            if o.get("c") == change.client_id and o.get("x") == "TRADE" and o.get("X") == "FILLED":
                change.t0 = now
                change.gen_before = self.max_gen
        elif kind == "ACCOUNT_UPDATE" and change is not None and change.t0 is not None:
            if change.t_account is None:
                change.t_account = now
        elif kind == "ALGO_UPDATE":
            o = event["o"]
            rung = parse_rung_client_id(o.get("caid", ""))
            if rung is None:
                return
            self.max_gen = max(self.max_gen, rung.generation)
            if o["X"] != "NEW":
                self.open.pop(o["aid"], None)
                return
            self.open[o["aid"]] = (rung.generation, Decimal(o["q"]))
            if change is None or change.t0 is None or change.t1 is not None:
                return
            if rung.generation <= change.gen_before:
                return
            if change.t_first_new is None:
                change.t_first_new = now
            total = sum((q for g, q in self.open.values() if g == rung.generation), Decimal(0))
            if total == change.target:
                change.t1 = now
                change.done.set()

    def begin(self, change: Change | None) -> None:
        with self.lock:
            self.change = change


# ---------------------------------------------------------------- one mode


@dataclass(slots=True)
class ModeResult:
    mode: str
    changes: int = 0
    done: list[Change] = field(default_factory=list)
    timeouts: int = 0
    errors: list[str] = field(default_factory=list)


def bench_client(url: str) -> AsyncClient:
    """As ``tests.sim_fixtures.binance_client``: signed python-binance aimed at the simulator."""
    connector = aiohttp.TCPConnector(local_addr=(BENCH_IP, 0))
    client = AsyncClient(API_KEY, API_SECRET, session_params={"connector": connector})
    client.FUTURES_URL = f"{url}/fapi"
    client.API_URL = f"{url}/api"
    return client


async def drive(
    tracker: Tracker, url: str, changes: int, timeout_s: float, gap_s: float, result: ModeResult
) -> None:
    client = bench_client(url)
    try:
        position = Decimal(0)
        for index in range(changes + 1):  # index 0: the warm-up 0.100 BUY
            if index == 0:
                side, qty, target = "BUY", LOW, LOW
            elif position == LOW:
                side, qty, target = "BUY", STEP, HIGH
            else:
                side, qty, target = "SELL", STEP, LOW
            change = Change(client_id=f"bench{uuid.uuid4().hex[:20]}", target=target)
            tracker.begin(change)
            await client.futures_create_order(
                symbol=SYMBOL,
                side=side,
                type="MARKET",
                quantity=f"{qty:f}",
                newClientOrderId=change.client_id,
            )
            position = target
            wait_s = 30.0 if index == 0 else timeout_s
            ok = await asyncio.to_thread(change.done.wait, wait_s)
            if index == 0:
                if not ok:
                    raise RuntimeError("the warm-up position got no full ladder in 30 s")
            else:
                result.changes += 1
                if ok:
                    result.done.append(change)
                else:
                    result.timeouts += 1
                if index % 50 == 0:
                    print(f"    {index} changes, {result.timeouts} timeouts", flush=True)
            await asyncio.sleep(gap_s)
    finally:
        tracker.begin(None)
        await client.close_connection()


def wait_ladder_armed(controller: object, timeout_s: float = 90.0) -> float:
    """Wait until stop_ladder stops "waiting for a complete position snapshot"; seconds waited.

    StopLadder acts only once a complete snapshot (account or positionRisk) arrived after its
    own start. When every complete snapshot of the start (readers' first passes, user_stream's
    resync) came before that, it waits for the next REST reader pass: up to 60 s in "stream".
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        rows = {r.job: r for r in launcher.status(controller)}
        health = rows["stop_ladder"].health
        if health and health["last_success_ms"] and "waiting" not in health["extra"]:
            return time.monotonic() - start
        time.sleep(0.2)
    raise RuntimeError(f"stop_ladder still waiting for a complete snapshot after {timeout_s} s")


def run_mode(mode: str, changes: int, timeout_s: float, gap_s: float) -> ModeResult:
    result = ModeResult(mode)
    os.environ.update(ENV)  # before ray.init: the raylet passes it to the job actors
    limits = {
        "weight_per_minute": BIG,
        "orders_per_10s": BIG,
        "orders_per_minute": BIG,
    }
    simulator = SimulatorThread(
        SimConfig(
            port=0,
            accounts=({"name": "sim", "api_key": API_KEY, "api_secret": API_SECRET},),
            limits=limits,
            exchange={"walk_interval_ms": 0},
        )
    )
    server = simulator.start()
    tracker = Tracker(simulator)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-reaction-") as folder:  # its SQLite
            source = ConfigSource(deployment_toml(server.url, mode), f"<reaction {mode}>", folder)
            with local_deployment(source, mode, result.errors) as (controller, _):
                waited = wait_ladder_armed(controller)
                print(f"  {mode}: stop_ladder armed {waited:.1f} s after ready", flush=True)
                asyncio.run(drive(tracker, server.url, changes, timeout_s, gap_s, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    finally:
        simulator.stop()
    return result


# ---------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ms(values: list[float], p: float) -> str:
    return f"{pct(values, p) * 1000:.1f}"


def report(results: list[ModeResult], args: argparse.Namespace) -> None:
    print(
        f"\n=== reaction: fill → full new ladder acknowledged (ms), "
        f"timeout {args.timeout:g} s, gap {args.gap_ms:g} ms ==="
    )
    rows = []
    for r in results:
        lat = [c.t1 - c.t0 for c in r.done]  # type: ignore[operator]
        verdict = "-"
        if r.mode == "stream":
            ok = r.done and r.timeouts == 0 and pct(lat, 99) * 1000 <= TARGET_P99_MS
            verdict = "ok" if ok else "MISS"
        rows.append(
            [
                r.mode,
                r.changes,
                len(r.done),
                r.timeouts,
                ms(lat, 50),
                ms(lat, 90),
                ms(lat, 99),
                ms(lat, 100),
                verdict,
            ]
        )
    headers = ["mode", "changes", "completed", "timeouts", "p50 ms", "p90 ms", "p99 ms", "max ms"]
    print(table([*headers, "target"], rows))
    print(f"target: {TARGET}")
    print(
        "budgets lifted (measure reaction, not budgets): simulator REQUEST_WEIGHT and ORDERS "
        f"limits {BIG}, [budgets] ip_weight_limit_per_minute = {BIG}, stop_ladder "
        f"weight_per_minute = {BIG // 10}."
    )

    print("\n=== breakdown of completed changes (ms): p50 / p99 / max ===")
    rows = []
    for r in results:
        done = r.done
        legs = [
            [c.t_account - c.t0 for c in done if c.t_account],  # type: ignore[operator]
            [c.t_first_new - c.t_account for c in done if c.t_account and c.t_first_new],  # type: ignore[operator]
            [c.t1 - c.t_first_new for c in done if c.t_first_new],  # type: ignore[operator]
        ]
        rows.append([r.mode, *(f"{ms(v, 50)} / {ms(v, 99)} / {ms(v, 100)}" for v in legs)])
    print(
        table(["mode", "fill→ACCOUNT_UPDATE", "ACCOUNT_UPDATE→first NEW", "first→last NEW"], rows)
    )
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
    parser.add_argument("--changes", type=int, default=200)
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
        budget_s = 180 + args.changes * (args.timeout + args.gap_ms / 1000 + 1)
        faulthandler.dump_traceback_later(budget_s, exit=True)
        print(f"run: {mode}, {args.changes} changes ...", flush=True)
        results.append(run_mode(mode, args.changes, args.timeout, args.gap_ms / 1000))
        faulthandler.cancel_dump_traceback_later()
    report(results, args)
    failed = any(r.errors or not r.done for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
