"""Fixtures: BinanceAccess objects on chosen loopback source IPs, against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from riskd.core.secrets import Secret
from riskd.exchange.access import BinanceAccess, RetryConfig
from riskd.exchange.budget import OrderBudget, WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock
from riskd.exchange.config import ExchangeConfig
from riskd.exchange.guard import IpEvent, IpGuardConfig, IpGuards
from riskd.sim import SimServer

FAST_RETRY = RetryConfig(base_backoff_ms=5, max_backoff_ms=20, unknown_recheck_ms=10)


@pytest.fixture
def ip_events() -> list[IpEvent]:
    return []


@pytest.fixture
def guards(ip_events: list[IpEvent]) -> IpGuards:
    return IpGuards(IpGuardConfig(), listeners=[ip_events.append])


@pytest.fixture
def server_clock() -> ServerClock:
    """The process's view of Binance time (wall clock + measured offset), shared by jobs.

    Tests that jump the simulator's clock forward move ``offset_ms`` by the same amount to
    say "this much time has passed"; python-binance still signs with the old offset until
    a −1021 makes the access layer resync.
    """
    return ServerClock()


@pytest.fixture
async def make_access(
    guards: IpGuards, server_clock: ServerClock
) -> AsyncIterator[Callable[..., BinanceAccess]]:
    """``make_access(sim, ip="127.0.0.2", weight_per_minute=600)`` → a job's BinanceAccess."""
    made: list[BinanceAccess] = []

    def build(
        sim: SimServer,
        *,
        ip: str = "127.0.0.1",
        weight_per_minute: int = 1200,
        job: str = "job",
        orders: OrderBudget | None = None,
        retry: RetryConfig = FAST_RETRY,
    ) -> BinanceAccess:
        config = ExchangeConfig(network="sim", base_url=sim.url, request_timeout_ms=2000)
        client = make_client(config, Secret("sim-key"), Secret("sim-secret"), local_addr=ip)
        access = BinanceAccess(
            client,
            job=job,
            guard=guards.for_ip(ip),
            budget=WeightBudget(weight_per_minute),
            clock=server_clock,
            orders=orders,
            retry=retry,
        )
        made.append(access)
        return access

    yield build
    for access in made:
        await access.client.close_connection()
