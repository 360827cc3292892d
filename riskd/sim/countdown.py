"""countdownCancelAll: a per-symbol dead man's switch that cancels every open order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from riskd.sim import errors as err
from riskd.sim.accounts import Account
from riskd.sim.market import Market
from riskd.sim.matching import Matching
from riskd.sim.params import Params, integer, opt


class Countdowns:
    """Armed countdowns per account and symbol, and the log of those that fired."""

    def __init__(
        self,
        market: Market,
        accounts: Iterable[Account],
        matching: Matching,
        clock: Callable[[], int],
    ) -> None:
        self._market = market
        self._matching = matching
        self._clock = clock
        # account -> symbol -> (countdownTime ms, deadline ms)
        self._armed: dict[str, dict[str, tuple[int, int]]] = {a.name: {} for a in accounts}
        self._fired: dict[str, list[dict]] = {name: [] for name in self._armed}

    def countdown_cancel_all(self, account: Account, params: Params) -> dict:
        """POST /fapi/v1/countdownCancelAll: arm or refresh; countdownTime 0 disarms."""
        spec = self._market.spec(opt(params, "symbol"))
        countdown_ms = integer(params, "countdownTime")
        if countdown_ms is None:
            raise err.mandatory("countdownTime")
        if countdown_ms < 0:
            raise err.illegal_chars("countdownTime")
        armed = self._armed[account.name]
        if countdown_ms == 0:
            armed.pop(spec.symbol, None)
        else:
            armed[spec.symbol] = (countdown_ms, self._clock() + countdown_ms)
        return {"symbol": spec.symbol, "countdownTime": str(countdown_ms)}

    def fire(self, account: Account, now: int) -> None:
        """Cancel the open orders of every symbol whose deadline has passed."""
        armed = self._armed[account.name]
        for symbol, (countdown_ms, deadline) in list(armed.items()):
            if deadline > now:
                continue
            del armed[symbol]
            cancelled = self._matching.cancel_symbol(account, symbol)
            self._fired[account.name].append(
                {
                    "symbol": symbol,
                    "time": now,
                    "countdownTime": countdown_ms,
                    "cancelled": cancelled,
                }
            )

    def armed(self, account: Account) -> dict[str, tuple[int, int]]:
        return self._armed[account.name]

    def fired(self, account: Account) -> list[dict]:
        return self._fired[account.name]
