"""Market data: what the shared feed saves the exchange, how fast and how fresh the gateway's
cache answers, and how fast closed klines are stored.

Three parts, each printed as tables (``--part 1|2|3|all``). Parts 1 and 2 run riskd in its own
fresh local Ray per deployment (``ray.init(address="local", include_dashboard=False, ...)`` as
``bench/reaction.py`` does) against a ``SimulatorThread`` in THIS process (127.0.0.1, free
port, no injected latency or faults), with SQLite in a temporary folder. The feed's hub and
WebSocket reader leave from 127.0.0.20 and each REST reader group from its own address
(klines .21, hot_klines .22, book .23, mark .24, ticker .25), so the simulator's per-IP
counters show the feed's weight apart. The account's own jobs (readers, user stream, reaper,
ladder, ledger) are disabled: they are not the feed's, and the two cores go to the feed, the
gateway and the bench. riskd's actors run at Ray's worker niceness (15), this process at 0.

**1. Cache vs. direct** (``--robots 200 --symbols 20 --rate-hz 1 --duration-s 300``). The
simulator lists ``max(20, symbols)`` contracts and walks its prices every second; the feed
carries the first ``--symbols`` of them with riskd's default reader groups and the WebSocket.
Once ``GET /v1/market/stats`` shows every symbol with klines and a book younger than their
``max_age`` ("ready"), the first klines and ticker requests are sent alone over a new
connection (``first after ready``); then the robots start. Each robot (an asyncio task,
``robot=rK``; the robots share 4 aiohttp sessions, one request in flight per robot) polls,
every 1/rate s, for each of its symbols ``GET /v1/market/klines?interval=1m&limit=2`` and
``GET /v1/market/ticker``, one after the other; the robots' ticks are spread evenly over the
period. A tick whose due time comes while the robot's previous tick still runs is ``late``
(it starts at once); a robot a whole period or more behind skips the ticks it missed.
Latency: monotonic (``perf_counter``), client side, of each 200 answer read in full; so at a
load the two cores cannot carry it, it includes the time requests queue in this process and
in the gateway. The achieved rate is reported next to the demanded one, with the answers by
status and the CPU use of the robots' thread (this process's main thread) and of the gateway
(its worker process, ``/proc/<pid>/stat``; 100 % = one core).

Exchange weight: the feed's = the growth of the simulator's ``total_weight`` over the feed's
IPs during the load, per minute. Direct = what the same robots would cost reading the exchange
themselves: their requests per minute times each request's weight from
``riskd.exchange.weights.endpoint_weight`` (``GET /fapi/v1/klines`` with ``limit=2``: 1;
``GET /fapi/v1/ticker/bookTicker`` with a symbol: 2), once at the demanded rate and once at
the achieved one (the saving's target is judged on the achieved one, the smaller). Both
weights are confirmed by sending each request once to the simulator from 127.0.0.9 and reading
what it charged.

**2. Data age** (``--age-seconds 30``). One fresh deployment per variant, each carrying the
simulator's 4 first symbols with only one source of books: the ``book`` group
(``GET /fapi/v1/ticker/bookTicker``, every symbol in one read) with N = 1, 2, 4 readers
(``--readers``) in slots timing, period 1 000 ms, WebSocket off; then the WebSocket alone
(``<symbol>@bookTicker`` among its streams), no REST reader. Every other reader group is
disabled. The simulator walks its prices every 50 ms: a REST read stamps the book with the
time it was read, but a WebSocket bookTicker is pushed only when the book changes, so with
the walk off (or slow) its age would measure the walk, not the feed. Every 20 ms the bench
asks ``GET /v1/market/ticker`` for each of the 4 symbols and keeps its ``age_ms`` (the
gateway's clock minus the book's time); the first answer after ready has its own row. With N
readers in slots the book is replaced every P/N, so a sample's age is about uniform between
d and d + P/N, d the delivery (simulator → reader → Ray → gateway, taken as the smallest age
seen): expected p50 ≈ P/(2N) + d. ``≈ 1/N`` is ok when the steady p50 is within 25 % of that.

**3. Kline-store insert rate** (``--insert-rows 20000``). ``riskd.market.kline_store
.KlineStore`` on its ``SqlRunner`` (one SQL thread, a transaction per insert) as the
KlineStore actor uses it: on a temporary SQLite file and, with ``--mysql-url`` or
``RISKD_TEST_MYSQL_URL``, on that MariaDB/MySQL database (``init_schema`` first; the rows are
inserted under symbols ``BENCH<token>B<batch>`` and deleted afterwards). For each batch size
(1, 20, 500: a 1m read's one closed kline, a stream batch, a calibration or backfill chunk)
``--insert-rows`` closed 1m klines of one symbol, consecutive open times, in batches of that
size; the first batch (a fresh connection) has its own row.

    python bench/market.py [--part 1|2|3|all] [--robots 200] [--symbols 20] [--rate-hz 1]
        [--duration-s 300] [--age-seconds 30] [--readers 1,2,4] [--insert-rows 20000]
        [--mysql-url URL]

Targets: 1. ≥ 99 % of the robots' exchange weight saved; cache-hit p99 ≤ 5 ms at that load
(steady state). 2. Age falls as 1/N with N readers in slots.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import math
import os
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from deployment import (
    BENCH_IP,
    ENV,
    FIRST,
    LATENCY_HEADERS,
    STEADY,
    bench_simulator,
    by_row,
    deployment_toml,
    latency_cells,
    local_deployment,
    ms,
    pct,
    print_host,
    table,
)
from ray._private import state as ray_state
from sqlalchemy import delete
from yarl import URL

from actors.context import GATEWAY_NAME, ConfigSource
from riskd.core.clock import MINUTE_MS, wall_ms
from riskd.exchange.weights import endpoint_weight
from riskd.market.config import MarketConfig
from riskd.market.kline_store import KlineStore
from riskd.market.records import Kline, MarketKind
from riskd.plan import JobKind
from riskd.sim import SimulatorThread
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.schema import init_schema
from riskd.store.schema import klines as klines_table

TARGET_SAVED = 0.99
TARGET_P99_MS = 5.0
AGE_TOLERANCE = 0.25  # of the expected p50
FEED_EGRESS = "127.0.0.20"
READER_EGRESS = {
    "klines": "127.0.0.21",
    "hot_klines": "127.0.0.22",
    "book": "127.0.0.23",
    "mark": "127.0.0.24",
    "ticker": "127.0.0.25",
}
FEED_IPS = (FEED_EGRESS, *READER_EGRESS.values())
ACCOUNT_JOBS = tuple(kind.value for kind in JobKind if kind.per_account)
INTERVAL, KLINE_LIMIT = "1m", 2
KLINES_PARAMS = {"symbol": "BTCUSDT", "interval": INTERVAL, "limit": str(KLINE_LIMIT)}
BOOK_PARAMS = {"symbol": "BTCUSDT"}
KLINES_PATH, BOOK_PATH = "/fapi/v1/klines", "/fapi/v1/ticker/bookTicker"
SIM_SYMBOLS = 20
LOAD_WALK_MS = 1_000
SESSIONS = 4
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
SERVED_S = 60.0  # for the feed to serve every symbol once the deployment is ready
AGE_SYMBOLS = 4
AGE_WALK_MS = 50
AGE_PERIOD_MS = 1_000
AGE_EVERY_S = 0.02
BATCHES = (1, 20, 500)


# ---------------------------------------------------------------- shared


def account_jobs_off() -> str:
    """The account's tables with every job disabled (the feed needs none of them)."""
    return "".join(f"\n[accounts.jobs.{job}]\nenabled = false\n" for job in ACCOUNT_JOBS)


def market_toml(
    symbols: Sequence[str], websocket: bool, readers: Mapping[str, Mapping[str, object]]
) -> str:
    """A ``[market]`` table carrying *symbols* on the bench's loopback egresses; *readers*
    overrides reader groups' keys (riskd's defaults for the rest)."""
    lines = [
        "",
        "[market]",
        f"symbols = {json.dumps(list(symbols))}",
        f'egress = "{FEED_EGRESS}"',
        f"websocket = {json.dumps(websocket)}",
    ]
    for group, egress in READER_EGRESS.items():
        lines += ["", f"[market.readers.{group}]", f'egress = ["{egress}"]']
        lines += [f"{key} = {json.dumps(value)}" for key, value in readers.get(group, {}).items()]
    return "\n".join(lines) + "\n"


def total_weights(simulator: SimulatorThread, ips: Sequence[str]) -> dict[str, int]:
    """The simulator's total weight charged so far to each of *ips* (a plain read of its
    counters, which only grow)."""
    usage = simulator.server.limiter.ips
    return {ip: usage[ip].total_weight if ip in usage else 0 for ip in ips}


def gateway_pid() -> int | None:
    """The pid of the gateway actor's worker process, from the GCS actor table."""
    for actor in ray_state.actors().values():
        if actor.get("Name") == GATEWAY_NAME and actor.get("State") == "ALIVE":
            return actor.get("Pid")
    return None


def process_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process *pid*; nan if unknown."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_served(
    session: aiohttp.ClientSession,
    gateway: str,
    symbols: Sequence[str],
    kinds: Sequence[MarketKind],
) -> None:
    """Until ``/v1/market/stats`` shows every symbol with each of *kinds* younger than its
    ``max_age``; raises TimeoutError after SERVED_S."""
    max_age = MarketConfig().max_age
    deadline = time.monotonic() + SERVED_S
    while True:
        async with session.get(f"{gateway}/v1/market/stats?robot=bench") as answer:
            body = await answer.json() if answer.status == 200 else {}
        held = body.get("symbols", {})
        if all(
            held.get(symbol, {}).get("kinds", {}).get(kind.value, math.inf) <= max_age.of(kind)
            for symbol in symbols
            for kind in kinds
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the feed did not serve every symbol within {SERVED_S:g} s")
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- part 1: cache vs direct


@dataclass(slots=True)
class LoadResult:
    robots: int
    symbols: int
    rate_hz: float
    duration_s: float
    first: dict[str, float] = field(default_factory=dict)  # route → latency s, the first
    latencies: dict[str, array] = field(
        default_factory=lambda: {"klines": array("d"), "ticker": array("d")}
    )
    statuses: Counter[str] = field(default_factory=Counter)
    ticks: int = 0
    late: int = 0
    skipped: int = 0
    elapsed_s: float = float("nan")  # the ticks' schedule, or longer if the last overran
    weight_s: float = float("nan")  # the window of feed_weight
    robots_cpu_s: float = float("nan")
    gateway_cpu_s: float = float("nan")
    feed_weight: dict[str, int] = field(default_factory=dict)  # by IP, over the load
    charged: dict[str, int] = field(default_factory=dict)  # path → the simulator's charge
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


async def get(session: aiohttp.ClientSession, url: URL, result: LoadResult) -> float | None:
    """One request read in full; its latency in seconds if answered 200. Counts its status."""
    start = time.perf_counter()
    try:
        async with session.get(url) as answer:
            await answer.read()
            status = str(answer.status)
    except (aiohttp.ClientError, TimeoutError):
        status = "error"
    result.statuses[status] += 1
    return time.perf_counter() - start if status == "200" else None


def robot_urls(gateway: str, robot: str, symbols: Sequence[str]) -> list[tuple[str, URL]]:
    """(route, URL) of one tick of *robot*: klines then ticker, for each of its symbols."""
    urls = []
    for symbol in symbols:
        urls.append(
            (
                "klines",
                URL(
                    f"{gateway}/v1/market/klines?symbol={symbol}&interval={INTERVAL}"
                    f"&limit={KLINE_LIMIT}&robot={robot}",
                    encoded=True,
                ),
            )
        )
        urls.append(
            (
                "ticker",
                URL(f"{gateway}/v1/market/ticker?symbol={symbol}&robot={robot}", encoded=True),
            )
        )
    return urls


async def robot(
    session: aiohttp.ClientSession,
    urls: list[tuple[str, URL]],
    first_due: float,
    end: float,
    period_s: float,
    result: LoadResult,
) -> None:
    """Tick every *period_s* from *first_due* until *end* (monotonic), each tick one request
    after the other."""
    due = first_due
    while True:
        now = time.monotonic()
        if now >= end or due >= end:
            return
        if now < due:
            await asyncio.sleep(due - now)
        else:
            behind = int((now - due) // period_s)
            result.skipped += behind
            due += behind * period_s
            result.late += 1
        result.ticks += 1
        for route, url in urls:
            latency = await get(session, url, result)
            if latency is not None:
                result.latencies[route].append(latency)
        due += period_s


async def drive_load(gateway: str, symbols: Sequence[str], result: LoadResult) -> None:
    """Wait until the feed serves every symbol, send the first requests alone, then run the
    robots for the duration."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        await wait_served(session, gateway, symbols, (MarketKind.KLINE, MarketKind.BOOK))
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:  # a new connection
        for route, url in robot_urls(gateway, "r0", symbols[:1]):
            latency = await get(session, url, result)
            if latency is not None:
                result.first[route] = latency
    result.statuses.clear()
    period_s = 1 / result.rate_hz
    connector_limit = math.ceil(result.robots / SESSIONS) + 1
    sessions = [
        aiohttp.ClientSession(
            timeout=REQUEST_TIMEOUT, connector=aiohttp.TCPConnector(limit=connector_limit)
        )
        for _ in range(min(SESSIONS, result.robots))
    ]
    try:
        start = time.monotonic() + 0.1
        end = start + result.duration_s
        await asyncio.gather(
            *(
                robot(
                    sessions[k % len(sessions)],
                    robot_urls(gateway, f"r{k}", symbols),
                    start + period_s * k / result.robots,
                    end,
                    period_s,
                    result,
                )
                for k in range(result.robots)
            )
        )
        result.elapsed_s = max(time.monotonic() - start, result.duration_s)
    finally:
        for session in sessions:
            await session.close()


async def charged_weight(simulator: SimulatorThread, path: str, params: dict[str, str]) -> int:
    """What the simulator charges BENCH_IP for one ``GET path?params``."""
    connector = aiohttp.TCPConnector(local_addr=(BENCH_IP, 0))
    async with aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session:
        before = total_weights(simulator, [BENCH_IP])[BENCH_IP]
        async with session.get(f"{simulator.server.url}{path}", params=params) as answer:
            await answer.read()
            if answer.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {answer.status}")
        return total_weights(simulator, [BENCH_IP])[BENCH_IP] - before


async def run_load_and_measure(
    simulator: SimulatorThread, gateway: str, symbols: Sequence[str], result: LoadResult
) -> None:
    """The load, with the feed's weight and the CPU use over it; then the direct weights."""
    pid = gateway_pid()
    task = asyncio.create_task(drive_load(gateway, symbols, result))
    # The load's window starts when its first robot does: sample the counters then.
    while not task.done() and result.ticks == 0:
        await asyncio.sleep(0.005)
    weights = total_weights(simulator, FEED_IPS)
    began = time.monotonic()
    cpu_robots, cpu_gateway = time.thread_time(), process_cpu_s(pid)
    await task
    after = total_weights(simulator, FEED_IPS)
    result.weight_s = time.monotonic() - began
    result.robots_cpu_s = time.thread_time() - cpu_robots
    result.gateway_cpu_s = process_cpu_s(pid) - cpu_gateway
    result.feed_weight = {ip: after[ip] - weights[ip] for ip in FEED_IPS}
    result.charged = {
        KLINES_PATH: await charged_weight(simulator, KLINES_PATH, KLINES_PARAMS),
        BOOK_PATH: await charged_weight(simulator, BOOK_PATH, BOOK_PARAMS),
    }


def run_cache(args: argparse.Namespace) -> LoadResult:
    result = LoadResult(args.robots, args.symbols, args.rate_hz, args.duration_s)
    os.environ.update(ENV)  # before ray.init: the raylet passes it to the job actors
    sim_config = {
        "symbols": max(SIM_SYMBOLS, args.symbols),
        "exchange": {"walk_interval_ms": LOAD_WALK_MS},
    }
    try:
        with (
            bench_simulator(**sim_config) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-market-") as folder,
        ):
            symbols = list(simulator.server.exchange.market.specs)[: args.symbols]
            top = market_toml(symbols, websocket=True, readers={})
            toml = deployment_toml(simulator.server.url, "market-cache", top, account_jobs_off())
            source = ConfigSource(toml, "<market cache>", folder)
            with local_deployment(source, "cache", result.errors) as (_controller, info):
                asyncio.run(run_load_and_measure(simulator, info["gateway"], symbols, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def per_minute(count: float, seconds: float) -> float:
    return count * 60 / seconds if seconds > 0 else float("nan")


def share(part: float, whole: float, places: int = 1) -> str:
    """*part* / *whole* as a percentage; ``nan`` when it is not a number."""
    value = part / whole if whole else float("nan")
    return f"{value:.{places}%}" if math.isfinite(value) else "nan"


def report_cache(r: LoadResult) -> None:
    elapsed = r.elapsed_s
    demanded = r.robots * r.symbols * 2 * r.rate_hz  # requests/s
    achieved = r.requests / elapsed if elapsed > 0 else float("nan")
    due = r.ticks + r.skipped
    print(
        f"\n=== 1. {r.robots} robots × {r.symbols} symbols polling klines (1m, limit "
        f"{KLINE_LIMIT}) and ticker at {r.rate_hz:g} Hz for {r.duration_s:g} s ==="
    )
    headers = ["robots", "symbols", "demanded req/s", "achieved req/s", "of demand"]
    headers += ["ticks due", "late", "skipped", "200", "503", "other", "robots CPU"]
    other = r.requests - r.statuses["200"] - r.statuses["503"]
    row = [
        r.robots,
        r.symbols,
        f"{demanded:,.0f}",
        f"{achieved:,.0f}",
        share(achieved, demanded),
        f"{due:,}",
        share(r.late, due),
        share(r.skipped, due),
        f"{r.statuses['200']:,}",
        f"{r.statuses['503']:,}",
        f"{other:,}",
        share(r.robots_cpu_s, elapsed, 0),
        share(r.gateway_cpu_s, elapsed, 0),
    ]
    print(table([*headers, "gateway CPU"], [row]))
    print(
        f"over {elapsed:.1f} s. late: due while the robot's previous tick still ran; skipped: "
        "due a whole period or more\nbehind. CPU: 100 % = one core; robots = this process's "
        "main thread, gateway = its Ray worker. other: "
        f"{dict(sorted((k, v) for k, v in r.statuses.items() if k not in ('200', '503')))}"
    )

    print("\n=== 1. cache-hit latency (client side, 200 answers) ===")
    rows = []
    for route in ("klines", "ticker"):
        for label, samples in by_row(r.first.get(route), list(r.latencies[route])):
            verdict = "-"
            if label == STEADY:
                ok = samples and pct(samples, 99) * 1000 <= TARGET_P99_MS
                verdict = "ok" if ok else "MISS"
            rows.append([route, label, len(samples), *latency_cells(samples), verdict])
    print(table(["route", "sample", "n", *LATENCY_HEADERS, "target"], rows, left={0, 1}))
    print(
        f"target: p99 ≤ {TARGET_P99_MS:g} ms (steady state). {FIRST}: the first klines and "
        "ticker requests once the feed\nserved every symbol, alone, over a new connection."
    )

    print("\n=== 1. exchange weight per minute ===")
    klines_w = endpoint_weight("GET", KLINES_PATH, KLINES_PARAMS).ip_weight
    book_w = endpoint_weight("GET", BOOK_PATH, BOOK_PARAMS).ip_weight
    feed = per_minute(sum(r.feed_weight.values()), r.weight_s)
    rows = []
    for label, klines_per_s, tickers_per_s in (
        ("robots direct, as demanded", demanded / 2, demanded / 2),
        (
            "robots direct, as achieved",
            len(r.latencies["klines"]) / elapsed if elapsed > 0 else float("nan"),
            len(r.latencies["ticker"]) / elapsed if elapsed > 0 else float("nan"),
        ),
    ):
        weight = (klines_per_s * klines_w + tickers_per_s * book_w) * 60
        saved = 1 - feed / weight if weight else float("nan")
        verdict = "-"
        if label.endswith("achieved"):
            verdict = "ok" if saved >= TARGET_SAVED else "MISS"
        requests = (klines_per_s + tickers_per_s) * 60
        rows.append([label, f"{requests:,.0f}", f"{weight:,.0f}", share(saved, 1, 2), verdict])
    rows.append(["riskd feed with the cache (measured)", "-", f"{feed:,.0f}", "-", "-"])
    print(table(["source", "requests/min", "weight/min", "saved", "target"], rows, left={0}))
    by_ip = ", ".join(
        f"{group} {per_minute(r.feed_weight.get(ip, 0), r.weight_s):,.0f}"
        for group, ip in (("hub+ws", FEED_EGRESS), *READER_EGRESS.items())
    )
    print(
        f"target: ≥ {TARGET_SAVED:.0%} saved (vs the achieved rate). Direct: klines "
        f"{klines_w} + bookTicker {book_w} per robot request\n(endpoint_weight); achieved "
        f"counts the 200 answers. Feed weight/min by group: {by_ip}."
    )

    print("\n=== 1. per-request weight, confirmed against the simulator (from 127.0.0.9) ===")
    rows = []
    for path, params, weight in (
        (KLINES_PATH, KLINES_PARAMS, klines_w),
        (BOOK_PATH, BOOK_PARAMS, book_w),
    ):
        charged = r.charged.get(path)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        match = "-" if charged is None else ("yes" if charged == weight else "NO")
        rows.append([f"GET {path}?{query}", weight, "-" if charged is None else charged, match])
    print(table(["request", "endpoint_weight", "simulator charged", "match"], rows, left={0}))
    for error in r.errors:
        print(f"ERROR (part 1): {error}")


# ---------------------------------------------------------------- part 2: data age


@dataclass(slots=True)
class AgeResult:
    variant: str
    readers: int  # REST book readers; 0 with the WebSocket
    first: float | None = None  # s
    ages: list[float] = field(default_factory=list)  # s
    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


async def sample_ages(
    gateway: str, symbols: Sequence[str], seconds: float, result: AgeResult
) -> None:
    """Every AGE_EVERY_S, each symbol's ticker age, for *seconds* once every symbol is served."""
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        await wait_served(session, gateway, symbols, (MarketKind.BOOK,))
        urls = [
            URL(f"{gateway}/v1/market/ticker?symbol={symbol}&robot=age", encoded=True)
            for symbol in symbols
        ]
        end = time.monotonic() + seconds
        due = time.monotonic()
        while time.monotonic() < end:
            for url in urls:
                async with session.get(url) as answer:
                    result.statuses[str(answer.status)] += 1
                    if answer.status != 200:
                        await answer.read()
                        continue
                    age_s = (await answer.json())["age_ms"] / 1000
                if result.first is None:
                    result.first = age_s
                else:
                    result.ages.append(age_s)
            due += AGE_EVERY_S
            await asyncio.sleep(max(0.0, due - time.monotonic()))


def age_readers(readers: int) -> dict[str, dict[str, object]]:
    """Reader groups: *readers* book readers in slots (none: every group disabled)."""
    groups: dict[str, dict[str, object]] = {g: {"enabled": False} for g in READER_EGRESS}
    if readers:
        groups["book"] = {"readers": readers, "timing": "slots", "period_ms": AGE_PERIOD_MS}
    return groups


def run_age(readers: int, seconds: float) -> AgeResult:
    variant = f"book, {readers} in slots" if readers else "WebSocket"
    result = AgeResult(variant, readers)
    os.environ.update(ENV)
    try:
        with (
            bench_simulator(exchange={"walk_interval_ms": AGE_WALK_MS}) as simulator,
            tempfile.TemporaryDirectory(prefix="bench-market-") as folder,
        ):
            symbols = list(simulator.server.exchange.market.specs)[:AGE_SYMBOLS]
            top = market_toml(symbols, websocket=not readers, readers=age_readers(readers))
            toml = deployment_toml(simulator.server.url, "market-age", top, account_jobs_off())
            source = ConfigSource(toml, f"<market age {variant}>", folder)
            with local_deployment(source, variant, result.errors) as (_controller, info):
                asyncio.run(sample_ages(info["gateway"], symbols, seconds, result))
    except Exception as exc:
        result.errors.insert(0, f"{type(exc).__name__}: {exc}")
    return result


def report_age(results: list[AgeResult], args: argparse.Namespace) -> None:
    print(
        f"\n=== 2. data age: GET /v1/market/ticker age_ms, {AGE_SYMBOLS} symbols every "
        f"{AGE_EVERY_S * 1000:g} ms for {args.age_seconds:g} s; price walk {AGE_WALK_MS} ms ==="
    )
    rows = []
    for r in results:
        delivery = min(r.ages, default=float("nan"))
        expected = AGE_PERIOD_MS / (2 * r.readers) / 1000 + delivery if r.readers else None
        for label, ages in by_row(r.first, r.ages):
            verdict = "-"
            if label == STEADY and expected is not None:
                ok = ages and abs(pct(ages, 50) - expected) <= AGE_TOLERANCE * expected
                verdict = "ok" if ok else "MISS"
            rows.append(
                [
                    r.variant,
                    label,
                    len(ages),
                    *latency_cells(ages),
                    "-" if expected is None else f"{expected * 1000:.1f}",
                    verdict,
                ]
            )
    headers = ["source", "sample", "n", *LATENCY_HEADERS, "expected p50 ms", "≈ 1/N"]
    print(table(headers, rows, left={0, 1}))
    print(
        f"ages in ms. expected p50 = P/(2N) + d with P = {AGE_PERIOD_MS} ms and d the smallest "
        f"age seen (the delivery);\n≈ 1/N: the steady p50 within {AGE_TOLERANCE:.0%} of it. "
        "The WebSocket pushes a book when it changes (the walk), batched for 50 ms."
    )
    for r in results:
        refused = {k: v for k, v in r.statuses.items() if k != "200"}
        if refused:
            print(f"{r.variant}: answers other than 200: {refused}")
        for error in r.errors:
            print(f"ERROR ({r.variant}): {error}")


# ---------------------------------------------------------------- part 3: kline store


@dataclass(slots=True)
class InsertResult:
    backend: str
    batch: int
    first: float | None = None  # s, the first batch
    times: list[float] = field(default_factory=list)  # s per later batch
    rows: int = 0  # rows stored, the first batch's included
    errors: list[str] = field(default_factory=list)


def bench_klines(symbol: str, count: int) -> list[Kline]:
    """*count* closed 1m klines of *symbol*, consecutive open times, Binance's field formats."""
    start_ms = (wall_ms() // MINUTE_MS - count - 1) * MINUTE_MS
    klines = []
    for index in range(count):
        open_ms = start_ms + index * MINUTE_MS
        row = (
            *(open_ms, "67012.30", "67050.10", "66990.00", "67020.50", "123.456"),
            *(open_ms + MINUTE_MS - 1, "8273645.12", 1234, "60.123", "4029384.55", "0"),
        )
        klines.append(Kline(symbol, INTERVAL, row, True, open_ms + MINUTE_MS))
    return klines


async def insert_batches(store: KlineStore, klines: list[Kline], result: InsertResult) -> None:
    for start in range(0, len(klines), result.batch):
        chunk = klines[start : start + result.batch]
        began = time.perf_counter()
        stored = await store.insert(chunk)
        took = time.perf_counter() - began
        if stored != len(chunk):
            raise RuntimeError(f"stored {stored} of {len(chunk)} new klines")
        result.rows += stored
        if result.first is None:
            result.first = took
        else:
            result.times.append(took)


def run_inserts(backend: str, url: str, rows: int) -> list[InsertResult]:
    """Every batch size on the database at *url*, each in a fresh engine; the bench's rows
    deleted afterwards."""
    token = uuid.uuid4().hex[:6].upper()
    results = []
    for batch in BATCHES:
        result = InsertResult(backend, batch)
        results.append(result)
        engine = make_engine(url)
        runner = SqlRunner(engine)
        try:
            init_schema(engine, wall_ms())
            klines = bench_klines(f"BENCH{token}B{batch}", rows)
            asyncio.run(insert_batches(KlineStore(runner), klines, result))
        except Exception as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            runner.close()
            with engine.begin() as connection:
                connection.execute(
                    delete(klines_table).where(klines_table.c.symbol.like(f"BENCH{token}%"))
                )
            engine.dispose()
    return results


def run_store(args: argparse.Namespace) -> list[InsertResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-market-") as folder:
        results += run_inserts("SQLite", f"sqlite:///{folder}/klines.db", args.insert_rows)
    mysql_url = args.mysql_url or os.environ.get("RISKD_TEST_MYSQL_URL")
    if mysql_url:
        results += run_inserts("MariaDB", mysql_url, args.insert_rows)
    return results


def report_store(results: list[InsertResult], args: argparse.Namespace) -> None:
    print(
        f"\n=== 3. kline-store insert rate: {args.insert_rows:,} closed 1m klines per batch size, "
        "KlineStore.insert per batch ==="
    )
    rows = []
    for r in results:
        first_rows = 0 if r.first is None else min(r.batch, r.rows)
        for label, times in by_row(r.first, r.times):
            count = r.rows - first_rows if label == STEADY else first_rows
            rate = count / sum(times) if times and sum(times) > 0 else float("nan")
            rows.append(
                [
                    r.backend,
                    r.batch,
                    label,
                    len(times),
                    f"{count:,}",
                    f"{rate:,.0f}",
                    ms(times, 50),
                    ms(times, 99),
                    ms(times, 100),
                ]
            )
    headers = ["database", "batch", "sample", "batches", "rows", "rows/s"]
    print(table([*headers, "p50 ms/batch", "p99 ms/batch", "max ms/batch"], rows, left={0, 2}))
    print(
        "one transaction per batch (KlineStore's select of the stored keys, then insert-ignore); "
        f"{FIRST}: the first batch,\non a fresh engine (opens the connection)."
    )
    for r in results:
        for error in r.errors:
            print(f"ERROR ({r.backend}, batch {r.batch}): {error}")


# ---------------------------------------------------------------- main


def reader_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of reader counts ≥ 1")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("1", "2", "3", "all"), default="all")
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--symbols", type=int, default=20, help="each robot polls all of them")
    parser.add_argument("--rate-hz", type=float, default=1.0, help="ticks per robot per second")
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--age-seconds", type=float, default=30.0, help="per variant")
    parser.add_argument("--readers", type=reader_counts, default=[1, 2, 4], help="e.g. 1,2,4")
    parser.add_argument("--insert-rows", type=int, default=20_000, help="per batch size")
    parser.add_argument("--mysql-url", help="default: RISKD_TEST_MYSQL_URL, if set")
    args = parser.parse_args()
    if min(args.robots, args.symbols, args.insert_rows) < 1:
        parser.error("--robots, --symbols and --insert-rows must be ≥ 1")
    if args.rate_hz <= 0 or args.duration_s <= 0 or args.age_seconds <= 0:
        parser.error("--rate-hz, --duration-s and --age-seconds must be > 0")
    logging.basicConfig(level=logging.WARNING)
    os.chdir(Path(__file__).resolve().parent.parent)
    print_host()
    failed = False
    if args.part in ("1", "all"):
        faulthandler.dump_traceback_later(300 + args.duration_s * 2, exit=True)
        print("part 1: cache vs direct ...", flush=True)
        load = run_cache(args)
        faulthandler.cancel_dump_traceback_later()
        report_cache(load)
        failed |= bool(load.errors) or not load.statuses["200"]
    if args.part in ("2", "all"):
        ages = []
        for readers in [*args.readers, 0]:
            faulthandler.dump_traceback_later(300 + args.age_seconds * 2, exit=True)
            print(f"\npart 2: data age, {readers or 'WebSocket, no'} book readers ...", flush=True)
            ages.append(run_age(readers, args.age_seconds))
            faulthandler.cancel_dump_traceback_later()
        report_age(ages, args)
        failed |= any(r.errors or not r.ages for r in ages)
    if args.part in ("3", "all"):
        faulthandler.dump_traceback_later(1800, exit=True)
        print("\npart 3: kline store ...", flush=True)
        inserts = run_store(args)
        faulthandler.cancel_dump_traceback_later()
        report_store(inserts, args)
        failed |= any(r.errors for r in inserts)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
