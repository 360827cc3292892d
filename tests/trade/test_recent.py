"""RecentOrders: the rate over the last second per robot and per account, the duplicate
window, and pruning; every time passed in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskd.trade.intent import Side
from riskd.trade.recent import RecentOrders
from tests.kit.samples import NOW_MS
from tests.kit.trade import intent


def test_the_rate_counts_the_last_second_per_robot() -> None:
    recent = RecentOrders(5_000)
    for offset_ms in (0, 400, 900):
        recent.record(intent(), NOW_MS + offset_ms)
    assert recent.rate("r1", NOW_MS + 900) == 3
    assert recent.rate("r1", NOW_MS + 999) == 3
    assert recent.rate("r1", NOW_MS + 1_000) == 2  # the order at NOW_MS is a second old
    assert recent.rate("r1", NOW_MS + 1_900) == 0
    assert recent.rate("r2", NOW_MS + 900) == 0


def test_the_account_rate_counts_every_robot_of_the_account() -> None:
    recent = RecentOrders(5_000)
    recent.record(intent(robot="r1"), NOW_MS)
    recent.record(intent(robot="r2"), NOW_MS + 10)
    assert recent.account_rate("main", NOW_MS + 10) == 2
    assert recent.rate("r1", NOW_MS + 10) == 1
    assert recent.account_rate("other", NOW_MS + 10) == 0


def test_a_duplicate_is_the_same_robot_symbol_side_and_quantity_within_the_window() -> None:
    recent = RecentOrders(5_000)
    recent.record(intent("BUY", "0.010"), NOW_MS)
    buy = ("r1", "BTCUSDT", Side.BUY)
    assert recent.duplicate(*buy, Decimal("0.01"), NOW_MS + 1_999, 2_000)  # 0.01 == 0.010
    assert not recent.duplicate(*buy, Decimal("0.01"), NOW_MS + 2_000, 2_000)
    assert not recent.duplicate(*buy, Decimal("0.011"), NOW_MS + 1, 2_000)
    assert not recent.duplicate("r1", "BTCUSDT", Side.SELL, Decimal("0.01"), NOW_MS + 1, 2_000)
    assert not recent.duplicate("r1", "ETHUSDT", Side.BUY, Decimal("0.01"), NOW_MS + 1, 2_000)
    assert not recent.duplicate("r2", "BTCUSDT", Side.BUY, Decimal("0.01"), NOW_MS + 1, 2_000)
    assert not recent.duplicate(*buy, Decimal("0.01"), NOW_MS, 0)  # no guard


def test_a_duplicate_is_found_behind_newer_orders_of_the_robot() -> None:
    recent = RecentOrders(5_000)
    recent.record(intent("BUY", "0.010"), NOW_MS)
    recent.record(intent("SELL", "0.020"), NOW_MS + 100)
    assert recent.duplicate("r1", "BTCUSDT", Side.BUY, Decimal("0.010"), NOW_MS + 200, 2_000)


def test_a_window_beyond_the_horizon_or_a_horizon_below_a_second_is_an_error() -> None:
    with pytest.raises(ValueError, match="horizon_ms"):
        RecentOrders(999)
    recent = RecentOrders(2_000)
    with pytest.raises(ValueError, match="window_ms"):
        recent.duplicate("r1", "BTCUSDT", Side.BUY, Decimal(1), NOW_MS, 2_001)


def test_old_orders_robots_and_accounts_are_pruned_as_orders_are_recorded() -> None:
    recent = RecentOrders(1_000)
    recent.record(intent(robot="r1"), NOW_MS)
    recent.record(intent(robot="r2"), NOW_MS + 500)
    assert len(recent) == 2
    recent.record(intent(robot="r3"), NOW_MS + 1_000)  # the first sweep after the horizon
    assert len(recent) == 2  # r1's order is a horizon old
    recent.record(intent(robot="r3"), NOW_MS + 2_500)
    assert len(recent) == 1
    assert recent.rate("r2", NOW_MS + 600) == 0  # gone with its robot
    assert recent.account_rate("main", NOW_MS + 2_500) == 1


def test_memory_stays_bounded_by_the_horizon_under_a_steady_flow() -> None:
    recent = RecentOrders(1_000)
    for index in range(10_000):
        recent.record(intent(), NOW_MS + index * 10)
        assert len(recent) <= 200  # at most two horizons of orders at 100 per second


def test_a_time_that_goes_backwards_is_recorded_as_the_latest() -> None:
    recent = RecentOrders(5_000)
    recent.record(intent(), NOW_MS + 1_000)
    recent.record(intent(), NOW_MS)  # a clock stepped back: still counted with its neighbour
    assert recent.rate("r1", NOW_MS + 1_999) == 2
    assert recent.rate("r1", NOW_MS + 2_000) == 0
