from __future__ import annotations

import pytest

from riskd.market.reads import LATEST, KlineReads
from tests.kit.market import NOW_MS


def test_the_first_read_of_a_key_is_the_whole_window() -> None:
    reads = KlineReads(window=99, calibrate_every_ms=60_000)
    assert reads.limit("BTCUSDT", "1m", NOW_MS) == 99


def test_after_a_full_read_the_latest_two_until_calibration_is_due() -> None:
    reads = KlineReads(window=99, calibrate_every_ms=60_000)
    reads.done("BTCUSDT", "1m", 99, NOW_MS)
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 1) == LATEST == 2
    reads.done("BTCUSDT", "1m", 2, NOW_MS + 30_000)  # short reads do not calibrate
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 59_999) == 2
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 60_000) == 99
    reads.done("BTCUSDT", "1m", 99, NOW_MS + 60_500)
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 61_000) == 2


def test_a_read_not_done_is_asked_for_again() -> None:
    reads = KlineReads(window=99, calibrate_every_ms=60_000)
    assert reads.limit("BTCUSDT", "1m", NOW_MS) == 99  # the read failed: no done()
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 500) == 99


def test_each_symbol_and_interval_is_calibrated_on_its_own() -> None:
    reads = KlineReads(window=99, calibrate_every_ms=60_000)
    reads.done("BTCUSDT", "1m", 99, NOW_MS)
    assert reads.limit("BTCUSDT", "5m", NOW_MS) == 99
    assert reads.limit("ETHUSDT", "1m", NOW_MS) == 99


def test_a_window_of_two_is_always_read_whole() -> None:
    reads = KlineReads(window=2, calibrate_every_ms=60_000)
    reads.done("BTCUSDT", "1m", 2, NOW_MS)
    assert reads.limit("BTCUSDT", "1m", NOW_MS + 1) == 2


@pytest.mark.parametrize(
    ("window", "calibrate_every_ms", "message"),
    [
        (1, 60_000, "window must be at least 2, not 1"),
        (99, 0, "calibrate_every_ms must be positive, not 0"),
    ],
)
def test_bad_settings_are_refused(window: int, calibrate_every_ms: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KlineReads(window, calibrate_every_ms)
