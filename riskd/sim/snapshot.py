"""GET /_sim/state: the whole exchange as tests check it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from riskd.sim.accounts import Account, Accounts, ListenKeys
from riskd.sim.algo import AlgoService
from riskd.sim.countdown import Countdowns
from riskd.sim.market import Market, fixed, plain
from riskd.sim.market_data import MarketData
from riskd.sim.matching import Matching


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Reads every part; never includes API secrets."""

    market: Market
    market_data: MarketData
    accounts: Accounts
    matching: Matching
    algos: AlgoService
    countdowns: Countdowns
    listen_keys: ListenKeys
    clock: Callable[[], int]

    def state(self) -> dict:
        return {
            "time": self.clock(),
            "next_funding_time": self.market_data.next_funding_ms,
            "prices": {
                s: {"mark": plain(q.mark), "last": plain(q.last)}
                for s, q in self.market.quotes.items()
            },
            "accounts": {account.name: self._account(account) for account in self.accounts},
        }

    def _account(self, account: Account) -> dict:
        specs = self.market.specs
        algos = self.algos.book(account)
        return {
            "api_key": account.api_key,
            "dual_side_position": account.dual_side,
            "wallet_balance": fixed(account.wallet, 8),
            "positions": [
                {
                    "symbol": p.symbol,
                    "positionSide": p.position_side,
                    "positionAmt": plain(p.amount),
                    "entryPrice": plain(p.entry_price),
                    "updateTime": p.update_time_ms,
                }
                for p in account.positions.values()
                if p.amount
            ],
            "open_orders": [
                o.query(specs[o.symbol]) for o in self.matching.book(account).open_orders()
            ],
            "open_algo_orders": [a.query(specs[a.symbol]) for a in algos.open_orders()],
            "done_algo_orders": [a.query(specs[a.symbol]) for a in algos.done_orders()],
            "income": [dict(r, income=fixed(r["income"], 8)) for r in account.income],
            "countdowns": {
                s: {"countdownTime": c, "deadline": d}
                for s, (c, d) in self.countdowns.armed(account).items()
            },
            "countdowns_fired": list(self.countdowns.fired(account)),
            "listen_keys": self.listen_keys.of(account),
        }
