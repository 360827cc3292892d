"""The dead-man's switch: which symbols to arm, and how often a job must re-arm them."""

from __future__ import annotations

import pytest

from riskd.protect.heartbeat import HeartbeatConfig, symbols_to_arm
from tests.kit.samples import open_order


def test_every_symbol_with_a_resting_order_is_armed_once_in_order() -> None:
    orders = [open_order(1, "ETHUSDT"), open_order(2, "BTCUSDT"), open_order(3, "ETHUSDT")]
    assert symbols_to_arm(orders) == ("BTCUSDT", "ETHUSDT")
    assert symbols_to_arm([]) == ()


@pytest.mark.parametrize("interval_ms", [1_000, 40_000])
def test_an_interval_of_at_most_a_third_of_the_countdown_is_accepted(interval_ms: int) -> None:
    HeartbeatConfig(countdown_ms=120_000).check_interval(interval_ms)


def test_an_interval_that_leaves_no_room_for_two_missed_passes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^heartbeat interval 40001 ms must be at most a third"):
        HeartbeatConfig(countdown_ms=120_000).check_interval(40_001)
