"""The outbound limiter stays under Feishu's per-bot limits and coalesces instead of dropping."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from riskd.notify.outbound import OutboundConfig, OutboundLimiter, retry_delay_ms

T0 = 1_700_000_000_000
CONFIG = OutboundConfig(messages_per_second=4, messages_per_minute=90)


def _send_all(limiter: OutboundLimiter, pending: int, start_ms: int) -> list[tuple[int, int]]:
    """Send *pending* notifications as the Alerter does; (time, notifications) per message."""
    now_ms, sent = start_ms, []
    while pending:
        now_ms += limiter.wait_ms(now_ms)
        size = limiter.batch_size(pending, now_ms)
        limiter.record(now_ms)
        sent.append((now_ms, size))
        pending -= size
    return sent


def _most_in_any_window(times: list[int], window_ms: int) -> int:
    return max(sum(1 for t in times if start <= t < start + window_ms) for start in times)


def test_a_burst_of_500_stays_under_5_a_second_and_100_a_minute_and_loses_nothing() -> None:
    sent = _send_all(OutboundLimiter(CONFIG), 500, T0)

    times = [at_ms for at_ms, _ in sent]
    assert sum(size for _, size in sent) == 500
    assert _most_in_any_window(times, 1_000) <= 4
    assert _most_in_any_window(times, 60_000) <= 90
    assert times[-1] - T0 < 60_000  # coalesced: all of it within the first minute


def test_a_few_notifications_go_one_per_message() -> None:
    sent = _send_all(OutboundLimiter(CONFIG), 6, T0)

    assert [size for _, size in sent] == [1] * 6
    assert [at_ms - T0 for at_ms, _ in sent] == [0, 0, 0, 0, 1_000, 1_000]


def test_a_message_never_carries_more_than_the_configured_notifications() -> None:
    limiter = OutboundLimiter(CONFIG.model_copy(update={"max_notifications_per_message": 5}))
    for _ in range(90):
        limiter.record(T0)

    assert limiter.free_this_minute(T0) == 0
    assert limiter.wait_ms(T0) == 60_000
    assert limiter.batch_size(500, T0 + 60_000) == 5


@pytest.mark.parametrize(
    ("attempts", "retry_after_ms", "expected_ms"),
    [
        (1, None, 1_000),
        (2, None, 2_000),
        (5, None, 16_000),
        (20, None, 30_000),
        (1, 30_000, 30_000),
    ],
)
def test_retries_back_off_exponentially_but_never_sooner_than_asked(
    attempts: int, retry_after_ms: int | None, expected_ms: int
) -> None:
    assert retry_delay_ms(attempts, CONFIG, retry_after_ms) == expected_ms


def test_a_minute_limit_below_the_second_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="messages_per_minute must be at least"):
        OutboundConfig(messages_per_second=10, messages_per_minute=5)
