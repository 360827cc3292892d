from __future__ import annotations

import pytest

from riskd.market.silence import SilenceWatch
from tests.kit.clock import FrozenClock


def test_silence_counts_from_start_and_is_reached_at_the_limit() -> None:
    clock = FrozenClock()
    watch = SilenceWatch(3_000, clock)
    assert watch.silent_ms() == 0
    assert not watch.is_silent()
    clock.now_ms += 2_999
    assert not watch.is_silent()
    clock.now_ms += 1
    assert watch.silent_ms() == 3_000
    assert watch.is_silent()


def test_a_message_ends_the_silence() -> None:
    clock = FrozenClock()
    watch = SilenceWatch(3_000, clock)
    clock.now_ms += 5_000
    watch.heard()
    assert watch.silent_ms() == 0
    clock.now_ms += 1_000
    assert watch.silent_ms() == 1_000
    assert not watch.is_silent()


def test_a_reconnect_restarts_the_count() -> None:
    clock = FrozenClock()
    watch = SilenceWatch(3_000, clock)
    clock.now_ms += 4_000
    assert watch.is_silent()
    watch.reset()
    assert not watch.is_silent()
    clock.now_ms += 3_000
    assert watch.is_silent()  # a legacy URL: connected, and nothing since


def test_a_clock_stepping_back_is_no_silence() -> None:
    clock = FrozenClock()
    watch = SilenceWatch(3_000, clock)
    clock.now_ms -= 10_000
    assert watch.silent_ms() == 0


@pytest.mark.parametrize("silence_ms", [0, -1])
def test_the_limit_must_be_positive(silence_ms: int) -> None:
    with pytest.raises(ValueError, match=f"silence_ms must be positive, not {silence_ms}"):
        SilenceWatch(silence_ms, FrozenClock())
