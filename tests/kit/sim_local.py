"""The exchange in process, for unit tests: no server, a frozen clock, recorded events."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from riskd.sim.accounts import Account
from riskd.sim.config import SimConfig
from riskd.sim.exchange import SimExchange
from tests.kit.clock import FrozenClock


@dataclass
class Local:
    """A SimExchange called directly: no HTTP, no signing, nothing moves unless told."""

    exchange: SimExchange
    clock: FrozenClock
    events: list[dict]

    @property
    def account(self) -> Account:
        account = self.exchange.account_by_key("sim-key")
        assert account is not None
        return account

    def order(self, **params: str) -> dict:
        return self.exchange.new_order(self.account, {"symbol": "BTCUSDT", **params})

    def algo(self, **params: str) -> dict:
        params = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", **params}
        return self.exchange.new_algo_order(self.account, params)

    def mark(self, price: str, symbol: str = "BTCUSDT") -> None:
        """Set mark and last price."""
        self.exchange.set_price(symbol, Decimal(price))

    def advance(self, ms: int) -> None:
        self.clock.now_ms += ms
        self.exchange.tick()

    def of(self, kind: str) -> list[dict]:
        """The ``o`` objects of the events of one kind (ORDER_TRADE_UPDATE, ALGO_UPDATE)."""
        return [e["o"] for e in self.events if e["e"] == kind]


def local_exchange() -> Local:
    """The default config with the price walk off."""
    clock = FrozenClock()
    events: list[dict] = []
    config = SimConfig.model_validate({"exchange": {"walk_interval_ms": 0}})
    exchange = SimExchange(config, clock, lambda _account, event: events.append(event))
    return Local(exchange, clock, events)
