"""Weight-budget soak: riskd's access layer vs naive polling loops, against Binance's limits.

The simulator runs in a child process (multiprocessing, spawn) pinned to CPU 0 with Binance's
DEFAULT limits (2400 REQUEST_WEIGHT per source IP per fixed minute, 429 then 418 bans) and the
price walk off; this process drives it from CPU 1, two sides at the same time:

* riskd: N jobs, each a ``BinanceAccess`` with a ``WeightBudget`` of W weight/min, spread over
  K loopback source IPs 127.0.0.2 … 127.0.0.(K+1); one ``IpGuards`` and one ``ServerClock``
  for the whole process; each job syncs time first (``access.sync_time()``).
* plain: the same N jobs and demand through python-binance ``AsyncClient`` with no budget, on
  K other source IPs 127.0.0.(K+2) … 127.0.0.(2K+1); errors are caught and the loop goes on.

Every job demands F × W weight/min of reads, five ``GET /fapi/v2/account`` (weight 5) for each
``GET /fapi/v1/income`` (weight 30). Call i is due when the demanded weight reaches it; a call
held back (by the budget, or a slow answer) is sent late and the next ones are already due.

    python bench/ratelimit_soak.py [--jobs N] [--ips K] [--seconds S] [--budget W]
                                   [--demand-factor F]

Reading the table: one row per source IP. ``used/min`` is measured on the simulator's own
counters (weight per fixed minute window, merged from ``weight_history`` and ``used_weight_1m``
polled every 0.25 s, so windows that are never archived, e.g. during a ban, still count). It is
the mean over the COMPLETE minute windows inside the run; when there is none (runs shorter than
about 120 s), it is the weight served during the run / elapsed × 60, and says so. ``max/min``
is the heaviest fixed window (partial ones included). Utilization is used / budget for riskd
and used / 2400 for plain. The simulator charges 429-refused requests too (as Binance does), so
plain rows show weight above 2400 in the window where they were limited; 418-refused ones are
not charged.

What to expect: a ``WeightBudget`` admits at most W in ANY 61 s span (60 s + 1 s skew). A job
demanding more runs in bursts (≈ 40 s at the demanded rate, then waits until its oldest calls
leave the span), so it averages at most W × 60/61 ≈ 98.4 % per minute, a little less with this
mix (a 30-weight call waits for room while smaller free room goes unused), and one fixed window
can hold somewhat less than the average, depending on where the bursts fall. The target is
≥ 95 % of every riskd budget with zero 429/418 and no IpEvent. A budget starts empty, so in the
first 61 s up to W goes at the demanded rate: short runs show riskd at up to F × 100 % of its
per-minute budget; that is the budget's initial allowance, not an overrun, and the 95 % target
can only be judged on complete windows (longer runs average more of them).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException
from simproc import pinned_simulator

from riskd.core.secrets import Secret
from riskd.exchange.access import BinanceAccess
from riskd.exchange.budget import WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.errors import ExchangeError
from riskd.exchange.guard import IpEvent, IpGuards
from riskd.exchange.weights import endpoint_weight
from riskd.sim.config import RateLimitConfig

MINUTE_MS = 60_000
POLL_S = 0.25
TARGET_UTILIZATION = 95.0
IP_LIMIT = RateLimitConfig().weight_per_minute  # Binance's 2400 per IP, the simulator default
API_KEY, API_SECRET = "sim-key", "sim-secret"  # the simulator's default account (a fixture)
# (method, path, AsyncClient method): five account snapshots per income page.
MIX = (("GET", "/fapi/v2/account", "futures_account"),) * 5 + (
    ("GET", "/fapi/v1/income", "futures_income_history"),
)
WEIGHT = {path: endpoint_weight(method, path, {}).ip_weight for method, path, _ in MIX}


# ---------------------------------------------------------------- jobs


@dataclass
class Job:
    side: str
    name: str
    ip: str
    budget: int
    demand_per_min: float
    sent_weight: int = 0
    ok: int = 0
    ok_weight: int = 0
    errors: Counter[str] = field(default_factory=Counter)


Send = Callable[[str, str, str], Awaitable[None]]


async def pace(job: Job, start: float, deadline: float, send: Send) -> None:
    """Issue MIX in a cycle, call i due when the demanded weight reaches it, until deadline."""
    loop = asyncio.get_running_loop()
    rate = job.demand_per_min / 60  # weight per second
    demanded = 0
    for method, path, call in itertools.cycle(MIX):
        due = start + demanded / rate
        if due >= deadline:
            return
        await asyncio.sleep(max(0.0, due - loop.time()))
        demanded += WEIGHT[path]
        await send(method, path, call)


async def riskd_job(access: BinanceAccess, job: Job, start: float, deadline: float) -> None:
    async def send(method: str, path: str, call: str) -> None:
        try:
            await access.read(method, path, getattr(access.client, call))
        except ExchangeError as exc:
            job.errors[type(exc).__name__] += 1
        else:
            job.ok += 1
            job.ok_weight += WEIGHT[path]

    await access.sync_time()
    await pace(job, start, deadline, send)


async def plain_job(client: AsyncClient, job: Job, start: float, deadline: float) -> None:
    async def send(_method: str, path: str, call: str) -> None:
        job.sent_weight += WEIGHT[path]
        try:
            await getattr(client, call)()
        except BinanceAPIException as exc:
            job.errors[f"HTTP {exc.status_code}"] += 1
        except (BinanceRequestException, aiohttp.ClientError, TimeoutError) as exc:
            job.errors[type(exc).__name__] += 1
        else:
            job.ok += 1
            job.ok_weight += WEIGHT[path]

    await pace(job, start, deadline, send)


# ---------------------------------------------------------------- the simulator's counters


class Windows:
    """Weight per (IP, fixed minute window) as the simulator counted it."""

    def __init__(self) -> None:
        self.weight: defaultdict[str, dict[int, int]] = defaultdict(dict)
        self.state: dict = {}

    def add(self, state: dict) -> None:
        self.state = state
        current = state["time"] - state["time"] % MINUTE_MS
        for ip, usage in state["rate_limits"]["ips"].items():
            seen = self.weight[ip]
            points = [(int(k), v) for k, v in usage["weight_history"].items()]
            for window, weight in [*points, (current, usage["used_weight_1m"])]:
                if weight:
                    seen[window] = max(seen.get(window, 0), weight)

    async def poll(self, session: aiohttp.ClientSession) -> None:
        while True:
            self.add(await fetch_state(session))
            await asyncio.sleep(POLL_S)


async def fetch_state(session: aiohttp.ClientSession) -> dict:
    async with session.get("/_sim/state") as response:
        response.raise_for_status()
        return await response.json()


# ---------------------------------------------------------------- the run


@dataclass
class Run:
    jobs: list[Job]
    events: list[IpEvent]
    windows: Windows
    start_ms: int
    end_ms: int


async def soak(base_url: str, args: argparse.Namespace) -> Run:
    clock = ServerClock()
    events: list[IpEvent] = []
    guards = IpGuards(listeners=[events.append])
    config = ExchangeConfig(network="sim", base_url=base_url)
    demand = args.budget * args.demand_factor
    jobs: list[Job] = []
    accesses: list[BinanceAccess] = []
    plain_clients: list[AsyncClient] = []
    for i in range(args.jobs):
        ip = f"127.0.0.{2 + i % args.ips}"
        access = BinanceAccess(
            make_client(config, Secret(API_KEY), Secret(API_SECRET), local_addr=ip),
            job=f"riskd-{i}",
            guard=guards.for_ip(ip),
            budget=WeightBudget(args.budget),
            clock=clock,
        )
        accesses.append(access)
        jobs.append(Job("riskd", access.job, ip, args.budget, demand))
    for i in range(args.jobs):
        ip = f"127.0.0.{2 + args.ips + i % args.ips}"
        connector = aiohttp.TCPConnector(local_addr=(ip, 0))
        client = AsyncClient(API_KEY, API_SECRET, session_params={"connector": connector})
        client.FUTURES_URL = f"{base_url}/fapi"
        client.API_URL = f"{base_url}/api"
        plain_clients.append(client)
        jobs.append(Job("plain", f"plain-{i}", ip, 0, demand))

    windows = Windows()
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base_url=base_url) as control:
        windows.add(await fetch_state(control))
        poller = asyncio.create_task(windows.poll(control))
        start_ms, start = clock.now_ms(), loop.time()
        deadline = start + args.seconds
        # Stagger the jobs over one account call's interval: they do not all fire at once.
        step = WEIGHT["/fapi/v2/account"] * 60 / demand / len(jobs)
        runners = [
            riskd_job(a, j, start + k * step, deadline)
            for k, (a, j) in enumerate(zip(accesses, jobs[: args.jobs], strict=True))
        ]
        runners += [
            plain_job(c, j, start + (args.jobs + k) * step, deadline)
            for k, (c, j) in enumerate(zip(plain_clients, jobs[args.jobs :], strict=True))
        ]
        tasks = [asyncio.create_task(r) for r in runners]
        try:
            await asyncio.wait(tasks, timeout=args.seconds)
        finally:
            for task in [*tasks, poller]:
                task.cancel()
            results = await asyncio.gather(*tasks, poller, return_exceptions=True)
            end_ms = clock.now_ms()
            for access in accesses:
                await access.client.close_connection()
            for client in plain_clients:
                await client.close_connection()
        for result in results:
            if isinstance(result, Exception):
                raise result
        windows.add(await fetch_state(control))
    for access, job in zip(accesses, jobs[: args.jobs], strict=True):
        job.sent_weight = access.stats.weight_spent
    return Run(jobs, events, windows, start_ms, end_ms)


# ---------------------------------------------------------------- the report


def hhmm(window_ms: int) -> str:
    return datetime.fromtimestamp(window_ms / 1000, UTC).strftime("%H:%M")


def report(run: Run, args: argparse.Namespace) -> None:
    elapsed_s = (run.end_ms - run.start_ms) / 1000
    first = -(-run.start_ms // MINUTE_MS) * MINUTE_MS
    complete = list(range(first, run.end_ms - MINUTE_MS + 1, MINUTE_MS))
    ips_state = run.windows.state["rate_limits"]["ips"]
    header = (
        f"{'side':5} {'ip':11} {'jobs':>4} {'budget':>6} {'demand/min':>10} {'used/min':>8} "
        f"{'max/min':>7} {'util %':>6} {'429':>5} {'418':>5}"
    )
    print(f"\nrun: {elapsed_s:.1f} s, {args.jobs} jobs per side on {args.ips} IP(s) per side")
    print(header)
    print("-" * len(header))
    verdicts: list[str] = []
    details: list[str] = []
    for side in ("riskd", "plain"):
        ips = sorted({j.ip for j in run.jobs if j.side == side}, key=lambda s: int(s.split(".")[3]))
        for ip in ips:
            jobs = [j for j in run.jobs if j.ip == ip]
            weights = run.windows.weight.get(ip, {})
            if complete:
                used = statistics.fmean(weights.get(w, 0) for w in complete)
            else:
                used = sum(weights.values()) / elapsed_s * 60
            budget = sum(j.budget for j in jobs)
            util = 100 * used / (budget if side == "riskd" else IP_LIMIT)
            peak = max(weights.values(), default=0)
            usage = ips_state.get(ip, {})
            r429, r418 = usage.get("responses_429", 0), usage.get("responses_418", 0)
            print(
                f"{side:5} {ip:11} {len(jobs):>4} {budget if side == 'riskd' else '-':>6} "
                f"{sum(j.demand_per_min for j in jobs):>10.0f} {used:>8.0f} {peak:>7} "
                f"{util:>6.1f} {r429:>5} {r418:>5}"
            )
            shown = sorted({**dict.fromkeys(complete, 0), **weights}.items())
            marks = " ".join(f"{hhmm(w)}={v}{'*' if w in complete else ''}" for w, v in shown)
            if usage.get("bans"):
                banned = datetime.fromtimestamp(usage["banned_until"] / 1000, UTC)
                marks += f"  (banned {usage['bans']}x, until {banned:%H:%M:%S})"
            details.append(f"  {side:5} {ip:11} {marks}")
            if side == "riskd":
                if complete and util < TARGET_UTILIZATION:
                    verdicts.append(f"MISS {ip}: utilization {util:.1f} % < 95 %")
                if r429 or r418:
                    verdicts.append(f"MISS {ip}: {r429} responses 429, {r418} responses 418")
                if peak > budget:
                    verdicts.append(f"MISS {ip}: {peak} weight in one minute > budget {budget}")
    print()
    if complete:
        print(
            f"used/min = mean over the {len(complete)} complete fixed minute window(s) inside "
            f"the run\n({', '.join(hhmm(w) for w in complete)} UTC, simulator clock; * below)."
        )
    else:
        print(
            f"used/min = weight served during the run / {elapsed_s:.1f} s × 60 (no complete "
            "fixed minute window lies inside the run).\nriskd rows include each budget's "
            "initial allowance (up to W in the first 61 s, spent at the demanded rate), so\n"
            f"they read up to {100 * args.demand_factor:.0f} % here; the 95 % target needs "
            "complete windows (runs of >= 120 s)."
        )
    print("weight per fixed minute window (start UTC = weight; * = complete, inside the run):")
    print("\n".join(details))
    print(f"IpEvents on the riskd side: {run.events or 'none'}")
    print("per job (spent = weight admitted/sent; ok = answered 200):")
    for job in run.jobs:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(job.errors.items())) or "-"
        print(
            f"  {job.name:8} {job.ip:11} spent {job.sent_weight:>6} "
            f"({job.sent_weight / elapsed_s * 60:>6.0f}/min)  ok {job.ok:>5} calls "
            f"{job.ok_weight:>6} weight  errors: {errors}"
        )
    if not complete:
        verdicts.append("utilization target not assessable (no complete window)")
    print("riskd verdict: " + ("; ".join(verdicts) if verdicts else "all targets met"))
    plain = {ip: ips_state.get(ip, {}) for ip in {j.ip for j in run.jobs if j.side == "plain"}}
    peak = max((max(run.windows.weight.get(ip, {0: 0}).values()) for ip in plain), default=0)
    print(
        f"plain: {sum(u.get('responses_429', 0) for u in plain.values())} responses 429, "
        f"{sum(u.get('responses_418', 0) for u in plain.values())} responses 418 on "
        f"{len(plain)} IP(s); heaviest window {peak} (limit {IP_LIMIT})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=6, help="jobs per side (default 6)")
    parser.add_argument("--ips", type=int, default=3, help="source IPs per side (default 3)")
    parser.add_argument("--seconds", type=float, default=120.0, help="run time (default 120)")
    parser.add_argument("--budget", type=int, default=1000, help="weight/min per job (1000)")
    parser.add_argument(
        "--demand-factor", type=float, default=1.5, help="demand / budget per job (1.5)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1 or not 1 <= args.ips <= 126 or args.seconds <= 0:
        parser.error("need --jobs >= 1, 1 <= --ips <= 126, --seconds > 0")
    if args.budget < max(WEIGHT.values()) or args.demand_factor <= 0:
        parser.error(f"need --budget >= {max(WEIGHT.values())} and --demand-factor > 0")

    sim = {"exchange": {"walk_interval_ms": 0}}  # Binance's default limits
    with pinned_simulator(sim, "riskd-sim-soak") as (base_url, where):
        print(
            f"simulator at {base_url} ({where}); default limits "
            f"({IP_LIMIT} weight/min per IP); {args.seconds:g} s, budget {args.budget}/min "
            f"per job, demand × {args.demand_factor:g}",
            flush=True,
        )
        run = asyncio.run(soak(base_url, args))
        report(run, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
