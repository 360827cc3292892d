"""Pytest plugin: a fresh simulator per test and python-binance clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from binance import AsyncClient

from riskd.sim import SimConfig, SimServer

# Price moves only when a test sets it: tests must be deterministic.
STILL = {"exchange": {"walk_interval_ms": 0}}


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Awaitable[SimServer]]]:
    """Factory: ``await make_sim(limits={...})`` starts a simulator on a free port."""
    servers: list[SimServer] = []

    async def start(**overrides: object) -> SimServer:
        fields = {"port": 0, **STILL, **overrides}
        if "exchange" in overrides:
            fields["exchange"] = {**STILL["exchange"], **overrides["exchange"]}
        server = SimServer(SimConfig.model_validate(fields))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def sim(make_sim: Callable[..., Awaitable[SimServer]]) -> SimServer:
    return await make_sim()


def binance_client(
    sim: SimServer | str,
    api_key: str = "sim-key",
    api_secret: str = "sim-secret",
    local_addr: str | None = None,
) -> AsyncClient:
    """A python-binance AsyncClient aimed at the simulator *sim* (or the one at that URL); no
    network call is made here."""
    url = sim if isinstance(sim, str) else sim.url
    session_params = {}
    if local_addr:
        session_params["connector"] = aiohttp.TCPConnector(local_addr=(local_addr, 0))
    client = AsyncClient(api_key, api_secret, session_params=session_params)
    client.FUTURES_URL = f"{url}/fapi"
    client.API_URL = f"{url}/api"
    client.MARGIN_API_URL = f"{url}/sapi"
    return client


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[AsyncClient]:
    c = binance_client(sim)
    yield c
    await c.close_connection()


@pytest.fixture
async def control(sim: SimServer) -> AsyncIterator[Callable[..., Awaitable[dict]]]:
    """``await control("POST", "/_sim/mark", {...})`` → the JSON answer (asserts 2xx)."""
    async with aiohttp.ClientSession(base_url=sim.url) as session:

        async def call(method: str, path: str, body: dict | None = None) -> dict:
            async with session.request(method, path, json=body) as response:
                payload = await response.json()
                assert response.status < 300, payload
                return payload

        yield call


async def rest_limit(
    client: AsyncClient, price: str = "50000", quantity: str = "0.010", **extra: str
) -> dict:
    """A BTCUSDT LIMIT BUY, GTC, that rests below the market (python-binance's answer)."""
    return await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity=quantity,
        price=price,
        **extra,
    )
