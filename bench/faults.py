"""The fault matrix: what riskd keeps when things go wrong, fault by fault.

One deployment with every job (the Trader and a robot too) in its own local Ray, against the
simulator in this process (``bench/deployment.py``), its SQLite database in a temporary
folder. The Ledger and the Trader leave from 127.0.0.2, the other jobs from the default route
(127.0.0.1): two egress IPs, so that a ban can hit one. A workload runs throughout:

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
the ban list correct or expired, every alert delivered once, no gate decision lost. Some
faults check more of their own (a stream fault: the PositionBook holds the exchange's
positions; a 429 storm: no 418, the IPs' RateLimited told; a ban: IpBanned told, at most one
burst of 418s per job on the IP) and note what the exchange answered (the ``notes`` column).

The harness (workload, recovery, table) is ``bench/fault_kit.py``; the faults that need a
world of their own (scenarios) come from ``SCENARIOS`` and run after the others, each in its own.

    python bench/faults.py [--faults all|NAME,...] [--fault-s 5] [--recover-s 60] [--list]
                           [--db-down-s 60] [--feishu-down-s 600]

Target (issue 18): every row recovered, with nothing lost, duplicated or orphaned.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import ray
from deployment import ACCOUNT, bench_client
from deployment import table as text_table
from fault_dependencies import DEPENDENCIES
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
from fault_scenarios import PROCESSES

from actors.context import (
    ALERTER_NAME,
    CONTROLLER_NAME,
    GATEWAY_NAME,
    ledger_name,
    position_book_name,
    stop_ladder_name,
    trader_name,
)
from riskd.core.clock import MINUTE_MS

REQUEST_TIMEOUT_MS = 2_000  # the deployment's; a "timeout" fault holds answers longer
EVERY_REQUEST = 1_000_000  # a request fault's count: it lasts until it is cleared
STALL_MS = 6_000  # a stalled source's answers: past the request timeout
ACCOUNT_PATH, POSITION_RISK = "/fapi/v3/account", "/fapi/v3/positionRisk"
PROTECTION_IP, TRADING_IP = "127.0.0.1", "127.0.0.2"
"""riskd's egresses here: the default route (the readers, the user stream, the order reaper
and the stop ladder: PROTECTION_JOBS jobs) and the Ledger's and the Trader's own address."""
RISKD_IPS = (PROTECTION_IP, TRADING_IP)
EGRESS = {PROTECTION_IP: "default", TRADING_IP: TRADING_IP}  # riskd's name of each IP
PROTECTION_JOBS = 5
EGRESS_TOML = "".join(
    f'\n[accounts.jobs.{job}]\negress = "{TRADING_IP}"\n' for job in ("ledger", "trader")
)
SKEW_MS = 10_000  # how far the exchange's clock jumps ahead: twice riskd's recvWindow
WATCH_S = 0.2  # how often a ban's 418s are counted
STORM_END_MS = 500  # a 429 storm ends this long before the exchange's minute
TOLD_LIMIT = 200  # the Alerter's newest notifications searched for an alert


def _request_fault(name: str, what: str, kind: str, path: str = "*", ms: int = 0) -> Fault:
    body = {"path": path, "kind": kind, "count": EVERY_REQUEST} | ({"ms": ms} if ms else {})

    async def inject(ctx: Context) -> dict:
        return await ctx.sim("POST", "/_sim/fault", body)

    async def clear(ctx: Context) -> dict:
        return await ctx.sim("DELETE", "/_sim/fault")

    return Fault(name, what, inject, clear)


def _stream_fault(name: str, what: str, kind: str, ms: int = 0) -> Fault:
    """A stream fault; its row notes what it reached (connections, or listenKeys)."""
    body = {"path": "*", "kind": kind} | ({"ms": ms} if ms else {})
    reached: list[str] = []

    async def inject(ctx: Context) -> None:
        answer = await ctx.sim("POST", "/_sim/fault", body)
        reached[:] = [f"{key.replace('_', ' ')} {n}" for key, n in answer.items() if key != "kind"]

    async def note(_ctx: Context) -> str:
        return ", ".join(reached)

    return Fault(name, what, inject, nothing, left=_stream_whole, note=note)


async def _stream_whole(ctx: Context) -> list[str]:
    """The user stream connected again, and the PositionBook holding the exchange's positions
    (what it learnt from the stream's events, whatever their order and number)."""
    state = await ctx.sim("GET", "/_sim/state")
    exchange = {
        (p["symbol"], p["positionSide"]): Decimal(p["positionAmt"])
        for p in state["accounts"][ACCOUNT]["positions"]
        if Decimal(p["positionAmt"])
    }
    book_actor = ray.get_actor(position_book_name(ACCOUNT), namespace=ctx.namespace)
    view = await book_actor.current.remote()
    book = {(p.symbol, p.position_side): p.amount for p in view.positions if p.amount}
    left = [] if state["user_stream"]["connections"] else ["the user stream is not connected"]
    if book != exchange:
        left.append(f"the PositionBook holds {_amounts(book)}, the exchange {_amounts(exchange)}")
    return left


def _amounts(positions: dict[tuple[str, str], Decimal]) -> str:
    return ", ".join(f"{s} {side} {a:f}" for (s, side), a in sorted(positions.items())) or "none"


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


async def _ip_answers(ctx: Context, status: int) -> dict[str, int]:
    """The exchange's answers with HTTP *status* (429 or 418) so far, to each of riskd's IPs."""
    ips = (await ctx.sim("GET", "/_sim/state"))["rate_limits"]["ips"]
    return {ip: ips.get(ip, {}).get(f"responses_{status}", 0) for ip in RISKD_IPS}


async def _untold(ctx: Context, alert: str, ips: tuple[str, ...], since_ms: int) -> list[str]:
    """A line for each of *ips* of which no notification since *since_ms* delivered *alert*
    (labelled with the IP's egress): firing, or resolved when it ended within the Alerter's
    group wait."""
    alerter = ray.get_actor(ALERTER_NAME, namespace=ctx.namespace)
    told = {
        row["labels"].get("ip")
        for row in await alerter.recent_alerts.remote(1, TOLD_LIMIT)
        if (row["name"], row["delivery"]) == (alert, "sent") and row["told_ms"] >= since_ms
    }
    return [f"no {alert} alert delivered for {ip}" for ip in ips if EGRESS[ip] not in told]


def _storm(fault_s: float) -> Fault:
    """Other clients use up the weight of riskd's IPs for *fault_s*, ending just before a minute
    of the exchange's clock ends: Binance answers 429 until that minute ends (so not for up to
    a minute longer), and bans an IP that keeps sending. riskd pauses the IPs: no 418."""
    before: dict[int, dict[str, int]] = {}
    began_ms: list[int] = []

    async def inject(ctx: Context) -> None:
        now_ms = (await ctx.sim("GET", "/_sim/state"))["time"]
        await asyncio.sleep((-now_ms - fault_s * 1000 - STORM_END_MS) % MINUTE_MS / 1000)
        before.update({status: await _ip_answers(ctx, status) for status in (429, 418)})
        began_ms.append(int(time.time() * 1000))
        for ip in RISKD_IPS:
            body = {"ip": ip, "kind": "limit", "ms": int(fault_s * 1000)}
            await ctx.sim("POST", "/_sim/ip", body)

    async def since(ctx: Context, status: int) -> dict[str, int]:
        now = await _ip_answers(ctx, status)
        return {ip: now[ip] - before[status][ip] for ip in RISKD_IPS}

    async def left(ctx: Context) -> list[str]:
        limited = tuple(ip for ip, n in (await since(ctx, 429)).items() if n)
        left = await _untold(ctx, "RateLimited", limited, began_ms[-1])
        if banned := sum((await since(ctx, 418)).values()):
            left.append(f"418 ×{banned}: riskd kept sending while limited")
        return left

    async def note(ctx: Context) -> str:
        limited, banned = await since(ctx, 429), await since(ctx, 418)
        return "; ".join(f"{ip}: 429 ×{limited[ip]}, 418 ×{banned[ip]}" for ip in RISKD_IPS)

    what = f"the weight of {' and '.join(RISKD_IPS)} used up by others: 429s"
    return Fault("ratelimit_429", what, inject, nothing, left=left, note=note)


def _ban(fault_s: float) -> Fault:
    """PROTECTION_IP banned for *fault_s* (418 "banned until"): each job on it learns of the
    ban from its own answer and sends nothing more from it until the ban ends (the 418s come
    in at most one burst per job), and the ban is told (IpBanned)."""
    began_ms: list[int] = []
    watch: list[asyncio.Task[tuple[int, int]]] = []

    async def inject(ctx: Context) -> None:
        start = (await _ip_answers(ctx, 418))[PROTECTION_IP]
        began_ms.append(int(time.time() * 1000))
        body = {"ip": PROTECTION_IP, "kind": "ban", "ms": int(fault_s * 1000)}
        await ctx.sim("POST", "/_sim/ip", body)
        watch.append(asyncio.create_task(_watch_418(ctx, start, fault_s)))

    async def clear(_ctx: Context) -> None:
        await watch[-1]  # the ban is over

    async def left(ctx: Context) -> list[str]:
        bursts = watch[-1].result()[1]
        left = await _untold(ctx, "IpBanned", (PROTECTION_IP,), began_ms[-1])
        if bursts > PROTECTION_JOBS:
            left.append(f"418s in {bursts} bursts: a job sent into the ban again")
        return left

    async def note(_ctx: Context) -> str:
        answers, bursts = watch[-1].result()
        return f"418 ×{answers} in {bursts} bursts ({PROTECTION_JOBS} jobs)"

    what = f"{PROTECTION_IP} banned (418) for the fault's time"
    return Fault("ban_418_one_ip", what, inject, clear, left=left, note=note)


async def _watch_418(ctx: Context, start: int, seconds: float) -> tuple[int, int]:
    """The 418s answered to PROTECTION_IP over *seconds* (*start* before), and in how many
    bursts they came: rises of the count apart by a poll without one."""
    last, bursts, rising = start, 0, False
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(WATCH_S)
        count = (await _ip_answers(ctx, 418))[PROTECTION_IP]
        bursts += count > last and not rising
        rising, last = count > last, count
    return last - start, bursts


def _clock_skew() -> Fault:
    """The exchange's clock jumps SKEW_MS ahead (for good: time on an exchange never goes
    back); riskd's signed requests get −1021 until it resyncs."""
    before: list[int] = []

    async def rejected(ctx: Context) -> int:
        return (await ctx.sim("GET", "/_sim/state"))["errors_by_code"].get("-1021", 0)

    async def inject(ctx: Context) -> None:
        before.append(await rejected(ctx))
        await ctx.sim("POST", "/_sim/clock", {"advance_ms": SKEW_MS})

    async def note(ctx: Context) -> str:
        return f"−1021 ×{await rejected(ctx) - before[-1]}"

    what = f"the exchange's clock {SKEW_MS // 1000} s ahead: −1021"
    return Fault("clock_skew_1021", what, inject, nothing, note=note)


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
        _storm(fault_s),
        _ban(fault_s),
        _clock_skew(),
        _stream_fault(
            "listenkey_expired", "the listenKey expires (listenKeyExpired)", "expire_listen_keys"
        ),
        _stream_fault("ws_duplicate", "every stream event sent twice", "duplicate_ws", stall_ms),
        _stream_fault(
            "ws_out_of_order", "every stream event sent after the next", "reorder_ws", stall_ms
        ),
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


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (*DEPENDENCIES, *PROCESSES)
}
"""The faults that need a world of their own, by name."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default="all", help="all, or names apart by commas")
    parser.add_argument("--fault-s", type=float, default=5.0, help="how long each fault lasts")
    parser.add_argument("--recover-s", type=float, default=60.0, help="the longest recovery")
    parser.add_argument(
        "--db-down-s", type=float, default=60.0, help="how long mariadb_stopped stops the server"
    )
    parser.add_argument(
        "--feishu-down-s", type=float, default=600.0, help="how long feishu_down lasts"
    )
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
    if min(args.fault_s, args.recover_s, args.db_down_s, args.feishu_down_s) <= 0:
        parser.error("--fault-s, --recover-s, --db-down-s and --feishu-down-s must be positive")
    logging.basicConfig(level=logging.WARNING)
    rows: list[Row] = []
    errors: list[str] = []
    shared = [catalog[name] for name in names if name in catalog]
    if shared:
        with faults_world(account_toml=EGRESS_TOML) as world:
            rows += asyncio.run(drive(shared, world, args))
        errors += world.errors
    for name in names:
        if name in SCENARIOS:
            print(f"  {name}: {SCENARIOS[name].what} ...", flush=True)
            rows.append(SCENARIOS[name].run(args))
    print(report(rows))
    for error in errors:
        print(error, file=sys.stderr)
    return 0 if all(row.passed for row in rows) and not errors else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main())
