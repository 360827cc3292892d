from __future__ import annotations

import itertools

import pytest

from riskd.market.slots import SlotSchedule

PERIOD_START = 1_699_999_980_000  # a multiple of 1 000 and of 30 000


@pytest.mark.parametrize(
    ("index", "readers", "period_ms", "message"),
    [
        (0, 0, 1_000, "readers must be at least 1, not 0"),
        (3, 3, 1_000, "index must be in 0..2, not 3"),
        (-1, 3, 1_000, "index must be in 0..2, not -1"),
        (0, 8, 5, r"period_ms \(5\) must be at least readers \(8\)"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    index: int, readers: int, period_ms: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SlotSchedule(index, readers, period_ms)


@pytest.mark.parametrize("readers", [1, 2, 3, 4, 7, 9, 64])
@pytest.mark.parametrize("period_ms", [64, 97, 100, 1_000, 1_001, 30_000])
def test_slots_tile_the_period_without_gaps_or_overlaps(readers: int, period_ms: int) -> None:
    now = 5 * period_ms + period_ms // 3  # any time of the sixth period
    period_start = 5 * period_ms
    slots = [SlotSchedule(k, readers, period_ms).slot(now) for k in range(readers)]
    assert slots[0][0] == period_start
    assert slots[-1][1] == period_start + period_ms
    assert all(end == next_start for (_, end), (next_start, _) in itertools.pairwise(slots))
    assert all(start < end for start, end in slots)


def test_a_slot_is_the_same_from_anywhere_in_its_period_and_moves_by_whole_periods() -> None:
    schedule = SlotSchedule(1, 3, 1_000)
    assert schedule.slot(PERIOD_START) == (PERIOD_START + 333, PERIOD_START + 666)
    assert schedule.slot(PERIOD_START + 999) == (PERIOD_START + 333, PERIOD_START + 666)
    assert schedule.slot(PERIOD_START + 1_000) == (PERIOD_START + 1_333, PERIOD_START + 1_666)


@pytest.mark.parametrize(
    ("readers", "period_ms"), [(1, 1_000), (3, 1_000), (4, 1_000), (7, 30_000)]
)
def test_n_readers_together_read_n_times_per_period_evenly_spaced(
    readers: int, period_ms: int
) -> None:
    schedules = [SlotSchedule(k, readers, period_ms) for k in range(readers)]
    reads: list[tuple[int, int]] = []  # (time, reader)
    for k, schedule in enumerate(schedules):
        now, last = PERIOD_START + 17 * k, None  # readers started at slightly different times
        for _ in range(10):
            now = last = schedule.next_read_ms(now, last)
            reads.append((now, k))
            now += 1  # a read takes a millisecond
    reads.sort()
    periods = 10
    in_window = [(t, k) for t, k in reads if t < PERIOD_START + periods * period_ms]
    assert len(in_window) == periods * readers
    for p in range(periods):
        start = PERIOD_START + p * period_ms
        period_reads = [(t, k) for t, k in in_window if start <= t < start + period_ms]
        assert sorted(k for _, k in period_reads) == list(range(readers))
    gaps = {later - earlier for (earlier, _), (later, _) in itertools.pairwise(in_window)}
    assert gaps <= {period_ms // readers, -(-period_ms // readers)}


def test_a_reader_started_mid_slot_reads_at_once() -> None:
    schedule = SlotSchedule(1, 4, 1_000)  # slot [250, 500)
    assert schedule.next_read_ms(PERIOD_START + 300, None) == PERIOD_START + 300
    previous_period_read = PERIOD_START - 700
    assert schedule.next_read_ms(PERIOD_START + 300, previous_period_read) == PERIOD_START + 300


def test_a_reader_before_its_slot_waits_for_its_start() -> None:
    schedule = SlotSchedule(1, 4, 1_000)
    assert schedule.next_read_ms(PERIOD_START + 10, None) == PERIOD_START + 250
    read_before_the_slot = PERIOD_START + 5  # e.g. while timed otherwise: not a slot's read
    assert schedule.next_read_ms(PERIOD_START + 10, read_before_the_slot) == PERIOD_START + 250


def test_a_reader_that_read_in_this_slot_waits_for_the_next_period() -> None:
    schedule = SlotSchedule(1, 4, 1_000)
    assert schedule.next_read_ms(PERIOD_START + 400, PERIOD_START + 250) == PERIOD_START + 1_250


def test_a_reader_that_overran_its_slot_waits_for_the_next_period() -> None:
    schedule = SlotSchedule(1, 4, 1_000)
    finished = PERIOD_START + 900  # read at 250, answered after the slot ended
    assert schedule.next_read_ms(finished, PERIOD_START + 250) == PERIOD_START + 1_250
    assert schedule.next_read_ms(PERIOD_START + 600, None) == PERIOD_START + 1_250


def test_the_last_slot_reaches_the_end_of_an_uneven_period() -> None:
    schedule = SlotSchedule(2, 3, 1_000)  # [666, 1000)
    assert schedule.next_read_ms(PERIOD_START + 999, None) == PERIOD_START + 999
    assert schedule.next_read_ms(PERIOD_START + 1_000, None) == PERIOD_START + 1_666
