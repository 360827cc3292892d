"""The first event after ready, as a user meets it: `riskd run --sim`, then trades.

Starts ``riskd run --sim`` exactly as the README does (a subprocess, in a temporary folder, its
own local Ray, the simulator on 127.0.0.1:8765, the gateway on 127.0.0.1:8780) and, as soon as
it prints ``riskd ready``, trades on the simulator with python-binance, round after round:

1. open a long of about 20,000 USDT on a symbol: time from the order's answer until its full
   ladder (5 STOP_MARKET rungs, ``GET /_sim/state``) is open on the exchange;
2. move the mark 1 % down and close: a loss of about 200 USDT, past the seed's 4 h rule
   (−150 USDT): time from the order's answer until ``GET /v1/banlist`` lists the symbol;
3. unlock it as an operator (a new loss locks it again), wait until the ladder is gone.

Round 1 is the first event after ready, reported on its own row; no warm-up trade precedes it.
The rounds cycle through the simulator's symbols. Everything stays on loopback.

    python bench/run_sim_first_event.py [--rounds 10]

Target (issue 12): the first ladder and the first ban after ready each within 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import aiohttp
from binance import AsyncClient
from deployment import FIRST, LATENCY_HEADERS, by_row, latency_cells, table

SIM = "http://127.0.0.1:8765"
READY = re.compile(r"riskd ready: gateway (http://[^;\s]+)")
TARGET_MS = 150.0
NOTIONAL = Decimal("20000")
RUNGS = 5
POLL_S = 0.002
EVENT_TIMEOUT_S = 60.0  # a late event is a MISS in the table; only a missing one ends the run


def start_riskd(folder: Path) -> tuple[subprocess.Popen, str, float]:
    """``riskd run --sim`` in *folder*; the process, its gateway and the seconds to ready."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RISKD_RUN_DIR"] = str(folder / "runs")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "riskd.cli", "run", "--sim"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    for line in process.stdout:
        if match := READY.search(line):
            return process, match.group(1), time.monotonic() - started
    process.wait()
    raise SystemExit(f"riskd run --sim ended before it was ready (exit {process.returncode})")


def stop_riskd(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


class Probe:
    """Reads the simulator's state and the gateway's ban list."""

    def __init__(self, session: aiohttp.ClientSession, gateway: str) -> None:
        self.session = session
        self.gateway = gateway

    async def get(self, url: str) -> dict:
        async with self.session.get(url) as response:
            return await response.json()

    async def rungs(self, symbol: str) -> int:
        state = await self.get(f"{SIM}/_sim/state")
        orders = state["accounts"]["sim"]["open_algo_orders"]
        return sum(1 for o in orders if o["symbol"] == symbol and o["algoStatus"] == "NEW")

    async def lock_of(self, symbol: str) -> dict | None:
        banlist = await self.get(f"{self.gateway}/v1/banlist")
        return next((lock for lock in banlist["locks"] if lock["symbol"] == symbol), None)

    async def until(
        self, check: Callable[[], Awaitable[bool]], since: float, what: Callable[[], str]
    ) -> float:
        """Seconds from *since* until ``await check()`` is true (SystemExit naming *what* was
        awaited after a timeout)."""
        while not await check():
            if time.monotonic() - since > EVENT_TIMEOUT_S:
                raise SystemExit(
                    f"{what()}: not within {EVENT_TIMEOUT_S:g} s; {await self.diagnosis()}"
                )
            await asyncio.sleep(POLL_S)
        return time.monotonic() - since

    async def diagnosis(self) -> str:
        """What riskd's health says of itself and of its StopLadder, for a timeout's message."""
        async with self.session.get(f"{self.gateway}/v1/health") as response:
            health = await response.json()
        ladder = next(j for j in health["jobs"] if j["job"] == "stop_ladder")
        return f"health problems {health['problems']}; stop_ladder {ladder}"

    async def mark(self, symbol: str, price: Decimal) -> None:
        body = {"symbol": symbol, "price": str(price), "last": str(price)}
        async with self.session.post(f"{SIM}/_sim/mark", json=body) as response:
            response.raise_for_status()

    async def unlock(self, lock_id: int) -> None:
        query = "operator=bench&reason=next+round"
        async with self.session.delete(f"{self.gateway}/v1/locks/{lock_id}?{query}") as response:
            response.raise_for_status()


async def one_round(client: AsyncClient, probe: Probe, symbol: str, step: Decimal, n: int):
    """(seconds to the full ladder, seconds to the ban) of one losing round trip."""

    seen = {"rungs": 0}

    async def laddered() -> bool:
        seen["rungs"] = await probe.rungs(symbol)
        return seen["rungs"] == RUNGS

    async def bare() -> bool:
        seen["rungs"] = await probe.rungs(symbol)
        return seen["rungs"] == 0

    async def banned() -> bool:
        return await probe.lock_of(symbol) is not None

    price = Decimal((await probe.get(f"{SIM}/_sim/state"))["prices"][symbol]["mark"])
    qty = str((NOTIONAL / price).quantize(step, rounding=ROUND_DOWN))
    await client.futures_create_order(
        symbol=symbol, side="BUY", type="MARKET", quantity=qty, newClientOrderId=f"bench-o{n}"
    )
    ladder_s = await probe.until(
        laddered, time.monotonic(), lambda: f"round {n}: {RUNGS} rungs on {symbol} ({seen})"
    )
    await probe.mark(symbol, price * Decimal("0.99"))
    await client.futures_create_order(
        symbol=symbol, side="SELL", type="MARKET", quantity=qty, reduceOnly="true",
        newClientOrderId=f"bench-c{n}",
    )  # fmt: skip
    ban_s = await probe.until(banned, time.monotonic(), lambda: f"round {n}: {symbol} banned")
    await probe.unlock((await probe.lock_of(symbol))["id"])
    gone = time.monotonic()
    await probe.until(bare, gone, lambda: f"round {n}: no rung left on {symbol} ({seen})")
    return ladder_s, ban_s


async def measure(gateway: str, rounds: int) -> tuple[list[float], list[float]]:
    client = AsyncClient("sim-key", "sim-secret")
    client.FUTURES_URL = f"{SIM}/fapi"
    try:
        info = await client.futures_exchange_info()
        steps = {
            s["symbol"]: Decimal(f["stepSize"])
            for s in info["symbols"]
            for f in s["filters"]
            if f["filterType"] == "LOT_SIZE"
        }
        symbols = sorted(steps)
        ladders, bans = [], []
        async with aiohttp.ClientSession() as session:
            probe = Probe(session, gateway)
            for n in range(rounds):
                symbol = symbols[n % len(symbols)]
                ladder_s, ban_s = await one_round(client, probe, symbol, steps[symbol], n)
                ladders.append(ladder_s)
                bans.append(ban_s)
        return ladders, bans
    finally:
        await client.close_connection()


def report(ready_s: float, ladders: list[float], bans: list[float]) -> str:
    rows = []
    for event, samples in (
        ("position opened → full ladder open", ladders),
        ("losing fill → ban listed", bans),
    ):
        for label, values in by_row(samples[0], samples[1:]):
            target = "-"
            if label == FIRST:
                target = "ok" if values[0] * 1000 <= TARGET_MS else "MISS"
            rows.append([event, label, len(values), *latency_cells(values), target])
    return f"riskd run --sim: ready {ready_s:.1f} s after start\n" + table(
        ["event", "sample", "n", *LATENCY_HEADERS, f"≤ {TARGET_MS:g} ms"], rows, {0, 1}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="losing round trips (≥ 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskd-first-event-") as folder:
        process, gateway, ready_s = start_riskd(Path(folder))
        try:
            ladders, bans = asyncio.run(measure(gateway, max(args.rounds, 2)))
        finally:
            stop_riskd(process)
    print(report(ready_s, ladders, bans))


if __name__ == "__main__":
    main()
