"""Binance's quantitative trading rules (apiTradingStatus): the GTC cancellation ratio."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from riskd.sim import errors as err
from riskd.sim.accounts import Account
from riskd.sim.market import Market
from riskd.sim.params import Params, opt

GCR_WINDOW_MS = 10 * 60 * 1000
GCR_REPORT_MIN_ORDERS = 20
GCR_LOCK_MIN_ORDERS = 150
GCR_TRIGGER = Decimal("0.99")
GCR_LOCK_MS = 10 * 60 * 1000


@dataclass(slots=True)
class _GcrLog:
    """One account's GTC LIMIT placements and cancels per symbol, and its symbol locks."""

    placed: dict[str, deque[int]] = field(default_factory=dict)
    cancelled: dict[str, deque[int]] = field(default_factory=dict)
    locked_until: dict[str, int] = field(default_factory=dict)


class QuantRules:
    """GCR: an account that cancels nearly every GTC order it places on a symbol is locked
    out of opening orders on it for a while."""

    def __init__(
        self, market: Market, accounts: Iterable[Account], clock: Callable[[], int]
    ) -> None:
        self._market = market
        self._clock = clock
        self._logs = {account.name: _GcrLog() for account in accounts}

    def placed(self, account: Account, symbol: str, now: int) -> None:
        """A GTC LIMIT order entered the book."""
        self._logs[account.name].placed.setdefault(symbol, deque()).append(now)

    def cancelled(self, account: Account, symbol: str, now: int) -> None:
        """A GTC LIMIT order was cancelled."""
        self._logs[account.name].cancelled.setdefault(symbol, deque()).append(now)

    def check(self, account: Account, symbol: str, closing: bool) -> None:
        """A locked symbol takes only orders that close."""
        if not closing and self._logs[account.name].locked_until.get(symbol, 0) > self._clock():
            raise err.QUANTITATIVE_RULES

    def enforce(self, account: Account, now: int) -> None:
        """Lock each symbol whose cancellation ratio reached the trigger."""
        log = self._logs[account.name]
        for symbol in list(log.placed):
            placed, cancelled = self._counts(log, symbol, now)
            if (
                placed >= GCR_LOCK_MIN_ORDERS
                and cancelled >= placed * GCR_TRIGGER
                and log.locked_until.get(symbol, 0) <= now
            ):
                log.locked_until[symbol] = now + GCR_LOCK_MS

    def api_trading_status(self, account: Account, params: Params) -> dict:
        """GET /fapi/v1/apiTradingStatus: symbols with enough orders to be judged."""
        spec = self._market.optional_spec(opt(params, "symbol"))
        now = self._clock()
        log = self._logs[account.name]
        indicators = {}
        for symbol in [spec.symbol] if spec else sorted(log.placed):
            placed, cancelled = self._counts(log, symbol, now)
            if placed < GCR_REPORT_MIN_ORDERS:
                continue
            locked_until = log.locked_until.get(symbol, 0)
            indicators[symbol] = [
                {
                    "isLocked": locked_until > now,
                    "plannedRecoverTime": locked_until if locked_until > now else 0,
                    "indicator": "GCR",
                    "value": round(cancelled / placed, 4),
                    "triggerValue": float(GCR_TRIGGER),
                }
            ]
        return {"indicators": indicators, "updateTime": now}

    @staticmethod
    def _counts(log: _GcrLog, symbol: str, now: int) -> tuple[int, int]:
        """Placed and cancelled in the window, forgetting older entries."""
        counts = []
        for times in (log.placed.get(symbol, deque()), log.cancelled.get(symbol, deque())):
            while times and times[0] < now - GCR_WINDOW_MS:
                times.popleft()
            counts.append(len(times))
        return counts[0], counts[1]
