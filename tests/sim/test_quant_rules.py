"""The GTC cancellation ratio rule on its own: when it locks a symbol, and when it lets go."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.sim.accounts import Account
from riskd.sim.errors import BinanceError
from riskd.sim.market import DEFAULT_SYMBOLS, Market
from riskd.sim.quant_rules import GCR_LOCK_MIN_ORDERS, GCR_LOCK_MS, GCR_WINDOW_MS, QuantRules
from tests.kit.clock import FrozenClock


@pytest.fixture
def account() -> Account:
    return Account("sim", "sim-key", "sim-secret", False, Decimal("100000"), 0)


@pytest.fixture
def rules(account: Account, frozen_clock: FrozenClock) -> QuantRules:
    market = Market(DEFAULT_SYMBOLS, 0, Decimal("0.0001"), 0)
    return QuantRules(market, [account], frozen_clock)


def _storm(rules: QuantRules, account: Account, now: int, cancelled: int) -> None:
    for i in range(GCR_LOCK_MIN_ORDERS):
        rules.placed(account, "BTCUSDT", now)
        if i < cancelled:
            rules.cancelled(account, "BTCUSDT", now)


def _opening_is_refused(rules: QuantRules, account: Account, symbol: str = "BTCUSDT") -> bool:
    try:
        rules.check(account, symbol, closing=False)
    except BinanceError as exc:
        assert exc.code == -4400
        return True
    return False


def test_a_locked_symbol_takes_only_closing_orders_until_the_window_has_passed(
    rules, account, frozen_clock
) -> None:
    start = frozen_clock.now_ms
    _storm(rules, account, start, cancelled=GCR_LOCK_MIN_ORDERS)
    rules.enforce(account, start)
    assert _opening_is_refused(rules, account)
    rules.check(account, "BTCUSDT", closing=True)
    assert not _opening_is_refused(rules, account, "ETHUSDT")
    [indicator] = rules.api_trading_status(account, {})["indicators"]["BTCUSDT"]
    assert (indicator["isLocked"], indicator["plannedRecoverTime"], indicator["value"]) == (
        True,
        start + GCR_LOCK_MS,
        1.0,
    )
    frozen_clock.now_ms = start + max(GCR_LOCK_MS, GCR_WINDOW_MS) + 1
    rules.enforce(account, frozen_clock.now_ms)
    assert not _opening_is_refused(rules, account)
    assert rules.api_trading_status(account, {})["indicators"] == {}


def test_a_ratio_just_under_the_trigger_is_reported_but_does_not_lock(
    rules, account, frozen_clock
) -> None:
    _storm(rules, account, frozen_clock.now_ms, cancelled=GCR_LOCK_MIN_ORDERS - 2)
    rules.enforce(account, frozen_clock.now_ms)
    assert not _opening_is_refused(rules, account)
    [indicator] = rules.api_trading_status(account, {"symbol": "BTCUSDT"})["indicators"]["BTCUSDT"]
    assert (indicator["isLocked"], indicator["value"]) == (False, 0.9867)
