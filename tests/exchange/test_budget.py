"""Sliding-window budgets decide before each call and never exceed their limit."""

from __future__ import annotations

import pytest

from riskd.exchange.budget import OrderBudget, SlidingWindowLimit, WeightBudget


def test_admits_until_the_limit_then_waits_for_the_oldest_to_expire() -> None:
    window = SlidingWindowLimit(10, window_ms=1000, skew_ms=0)
    for at in (0, 100, 200):
        assert window.wait_ms(3, at) == 0
        window.record(3, at)
    assert window.wait_ms(1, 300) == 0
    assert window.wait_ms(2, 300) == 700  # the entry at 0 expires at 1000
    assert window.wait_ms(5, 300) == 800  # needs the entries at 0 and 100


def test_skew_lengthens_the_span_so_any_fixed_window_holds() -> None:
    window = SlidingWindowLimit(5, window_ms=1000, skew_ms=200)
    window.record(5, 0)
    assert window.wait_ms(1, 1000) == 200
    assert window.wait_ms(1, 1200) == 0


def test_waiting_records_nothing() -> None:
    window = SlidingWindowLimit(4, window_ms=1000, skew_ms=0)
    window.record(4, 0)
    assert window.wait_ms(1, 10) > 0
    assert window.used(10) == 4


def test_observe_adds_what_others_spent() -> None:
    window = SlidingWindowLimit(100, window_ms=1000, skew_ms=0)
    window.record(10, 0)
    window.observe(60, 5)
    assert window.used(5) == 60
    window.observe(20, 6)  # a lower count says nothing new
    assert window.used(6) == 60


def test_a_request_larger_than_the_limit_can_never_fit() -> None:
    with pytest.raises(ValueError, match="can never fit"):
        SlidingWindowLimit(5, 1000).wait_ms(6, 0)


def test_non_positive_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlidingWindowLimit(0, 1000)


def test_weight_budget_counts_total_spent() -> None:
    budget = WeightBudget(weight_per_minute=30)
    budget.record(5, 0)
    budget.record(5, 61_001)
    assert budget.spent_total == 10
    assert budget.used(61_001) == 5


def test_order_budget_binds_on_the_tighter_window() -> None:
    orders = OrderBudget(orders_per_10s=2, orders_per_minute=3)
    orders.record(2, 0)
    assert orders.wait_ms(1, 100) == 10_900
    orders.record(1, 11_000)
    assert orders.wait_ms(1, 11_500) == 61_000 - 11_500


def test_order_budget_reconciles_with_the_account_headers() -> None:
    orders = OrderBudget(orders_per_10s=10, orders_per_minute=100)
    orders.observe(count_10s=10, count_1m=None, now_ms=0)
    assert orders.wait_ms(1, 1) > 0
