"""When a job's next pass runs: on its interval, sooner after a failure while it can afford it."""

from __future__ import annotations

MIN_RETRY_DELAY_MS = 1_000
"""After a failure the next pass waits this long, doubling with each further failure."""
MAX_RETRY_DOUBLINGS = 5


def next_pass_delay_ms(interval_ms: int, elapsed_ms: int, failures: int, spare: bool) -> int:
    """How long to wait before the next pass (jitter not included).

    After a success: the rest of the interval. After *failures* failures in a row: the back-off
    (no hot loops), never longer than the interval; and the full interval once the retries
    have spent the budget's spare (*spare* false), so failing never costs more than running.
    """
    if failures == 0:
        delay_ms = interval_ms - elapsed_ms
    elif not spare:
        delay_ms = interval_ms
    else:
        delay_ms = MIN_RETRY_DELAY_MS * 2 ** min(failures - 1, MAX_RETRY_DOUBLINGS)
    return min(max(delay_ms, 0), interval_ms)
