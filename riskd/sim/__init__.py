"""A Binance USDⓈ-M futures simulator (aiohttp) for tests, benchmarks and ``riskd run --sim``.

The server is imported when first named (PEP 562): riskd's config reads ``SimConfig``, and
every job actor should not pay for importing the simulator it does not run.
"""

from typing import TYPE_CHECKING, Any

from riskd.sim.config import RateLimitConfig, SimAccountConfig, SimConfig, SimExchangeConfig

if TYPE_CHECKING:
    from riskd.sim.server import SimServer, SimulatorThread, serve_forever

_SERVER = ("SimServer", "SimulatorThread", "serve_forever")

__all__ = [
    "RateLimitConfig",
    "SimAccountConfig",
    "SimConfig",
    "SimExchangeConfig",
    "SimServer",
    "SimulatorThread",
    "serve_forever",
]


def __getattr__(name: str) -> Any:
    if name in _SERVER:
        from riskd.sim import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
