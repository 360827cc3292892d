"""Throughput of the Binance USDⓈ-M simulator for signed requests, one core each side.

The simulator runs in a child process (multiprocessing, spawn) pinned to CPU 0, with rate
limits raised out of the way and the price walk off; this process drives it from CPU 1 with
signed requests, signed as Binance requires (HMAC-SHA256 of the query string / form body,
``X-MBX-APIKEY`` header, ``timestamp`` and ``recvWindow``):

* ``GET /fapi/v2/account``
* ``POST /fapi/v1/order``: LIMIT GTX (post-only) orders far from the price, alternately BUY
  and SELL, so no order fills, no position grows, and margin does not run out.

Each endpoint is driven by two clients: python-binance's ``AsyncClient`` (what riskd uses) and
a raw aiohttp client that signs with ``hmac`` itself, to show how much of the time is the
client library's. The simulator is reset (``POST /_sim/reset``) before every run, so the
order runs start with an empty book.

    python bench/sim_throughput.py [--requests N] [--concurrency C] [--seconds S]

Target to compare against: >= 2,000 signed requests/s with the simulator on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from simproc import pinned_simulator

API_KEY = "bench-key"
API_SECRET = "bench-secret"
HUGE = 10**12
WARMUP_REQUESTS = 200

# BTCUSDT starts at 60000 (tick 0.10, MIN_NOTIONAL 100, PERCENT_PRICE 0.95-1.05): these rest.
ORDER_SIDES = (("BUY", "57000.0"), ("SELL", "63000.0"))
ORDER_QTY = "0.002"


def sim_config() -> dict:
    """SimConfig fields: no rate limiting, no price walk, room for every resting order."""
    return {
        "host": "127.0.0.1",
        "accounts": [
            {
                "name": "bench",
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "usdt_balance": "1000000000",
            }
        ],
        "limits": {"weight_per_minute": HUGE, "orders_per_10s": HUGE, "orders_per_minute": HUGE},
        "exchange": {"walk_interval_ms": 0, "max_open_orders_per_symbol": HUGE},
    }


# ---------------------------------------------------------------- the simulator process


# ---------------------------------------------------------------- measurement


@dataclass
class Result:
    endpoint: str
    client: str
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


Send = Callable[[int], Awaitable[None]]


async def drive(send: Send, total: int, concurrency: int, seconds: float, result: Result) -> Result:
    """``total`` calls of ``send(i)`` over ``concurrency`` workers, stopping after ``seconds``."""
    next_index = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal next_index
        while next_index < total and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                await send(index)
            except Exception as exc:  # counted and reported, the run goes on
                result.errors += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
            result.latencies_s.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


# ---------------------------------------------------------------- the two clients


def order_params(index: int) -> dict[str, str]:
    side, price = ORDER_SIDES[index % 2]
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "LIMIT",
        "timeInForce": "GTX",
        "quantity": ORDER_QTY,
        "price": price,
    }


class RawClient:
    """aiohttp plus hmac, signing the way Binance documents (totalParams = query + body)."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency), headers={"X-MBX-APIKEY": API_KEY}
        )

    def _signed(self, params: dict[str, str]) -> str:
        query = urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 5000})
        signature = hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={signature}"

    async def _check(self, response: aiohttp.ClientResponse) -> None:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200]!r}")

    async def account(self, _index: int) -> None:
        url = f"{self.base_url}/fapi/v2/account?{self._signed({})}"
        async with self.session.get(url) as response:
            await self._check(response)

    async def order(self, index: int) -> None:
        async with self.session.post(
            f"{self.base_url}/fapi/v1/order",
            data=self._signed(order_params(index)),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as response:
            await self._check(response)

    async def close(self) -> None:
        await self.session.close()


class LibraryClient:
    """python-binance's AsyncClient aimed at the simulator."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        from binance import AsyncClient

        self.client = AsyncClient(
            API_KEY,
            API_SECRET,
            session_params={"connector": aiohttp.TCPConnector(limit=concurrency)},
        )
        self.client.FUTURES_URL = f"{base_url}/fapi"

    async def account(self, _index: int) -> None:
        await self.client.futures_account()

    async def order(self, index: int) -> None:
        await self.client.futures_create_order(**order_params(index))

    async def close(self) -> None:
        await self.client.close_connection()


CLIENTS: dict[str, Callable[[str, int], RawClient | LibraryClient]] = {
    "python-binance": LibraryClient,
    "raw aiohttp+hmac": RawClient,
}
ENDPOINTS = (("GET /fapi/v2/account", "account"), ("POST /fapi/v1/order", "order"))


async def reset(base_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sim/reset") as response,
    ):
        response.raise_for_status()


async def open_orders(base_url: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/_sim/state") as response,
    ):
        state = await response.json()
    return len(state["accounts"]["bench"]["open_orders"])


async def benchmark(base_url: str, args: argparse.Namespace) -> list[tuple[Result, int | None]]:
    rows = []
    for endpoint, method in ENDPOINTS:
        for label, make in CLIENTS.items():
            await reset(base_url)
            client = make(base_url, args.concurrency)
            send = getattr(client, method)
            try:
                await drive(
                    send,
                    WARMUP_REQUESTS,
                    args.concurrency,
                    args.seconds,
                    Result(endpoint, label, args.concurrency),
                )
                await reset(base_url)
                result = await drive(
                    send,
                    args.requests,
                    args.concurrency,
                    args.seconds,
                    Result(endpoint, label, args.concurrency),
                )
            finally:
                await client.close()
            resting = await open_orders(base_url) if method == "order" else None
            rows.append((result, resting))
            print(
                f"  done: {endpoint:22} {label:18} {result.requests} requests "
                f"in {result.elapsed_s:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return rows


def print_table(rows: list[tuple[Result, int | None]]) -> None:
    header = (
        f"{'endpoint':22} {'client':18} {'requests':>8} {'concurrency':>11} "
        f"{'requests/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for r, _resting in rows:
        rate = r.requests / r.elapsed_s if r.elapsed_s else 0.0
        print(
            f"{r.endpoint:22} {r.client:18} {r.requests:>8} {r.concurrency:>11} "
            f"{rate:>10.0f} {r.percentile_ms(0.50):>7.2f} {r.percentile_ms(0.99):>7.2f} "
            f"{r.errors:>6}"
        )
    for r, resting in rows:
        if r.first_error:
            print(f"first error ({r.endpoint}, {r.client}): {r.first_error}")
        if resting is not None:
            print(
                f"{r.endpoint}, {r.client}: {resting} orders resting at the end "
                f"(mean latency {statistics.fmean(r.latencies_s) * 1000:.2f} ms)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=20_000,
        help="signed requests per (endpoint, client) run (default 20000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=7.0,
        help="time cap per run; a run stops early when reached (default 7)",
    )
    args = parser.parse_args(argv)

    with pinned_simulator(sim_config(), "riskd-sim-bench") as (base_url, where):
        print(
            f"simulator at {base_url}; {where}; up to {args.requests} requests or "
            f"{args.seconds:g} s per run, concurrency {args.concurrency}",
            flush=True,
        )
        rows = asyncio.run(benchmark(base_url, args))
        print()
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
