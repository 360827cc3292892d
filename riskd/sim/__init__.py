"""A Binance USDⓈ-M futures simulator (aiohttp) for tests, benchmarks and ``riskd run --sim``."""

from riskd.sim.config import RateLimitConfig, SimAccountConfig, SimConfig, SimExchangeConfig
from riskd.sim.server import SimServer, SimulatorThread, serve_forever

__all__ = [
    "RateLimitConfig",
    "SimAccountConfig",
    "SimConfig",
    "SimExchangeConfig",
    "SimServer",
    "SimulatorThread",
    "serve_forever",
]
