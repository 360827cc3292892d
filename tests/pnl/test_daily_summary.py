"""When the daily summary is due: the configured minute, restarts, outages, catching up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from riskd.pnl.daily_summary import (
    CATCH_UP_DAYS,
    day_number,
    due_day,
    latest_due_day,
    report_days,
    since_ms,
)
from riskd.risk.ledger import LedgerConfig

MINUTE = 5  # 00:05 UTC, the default


def _ms(text: str) -> int:
    """Epoch ms of a UTC time such as "2026-12-04 00:05"."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("now", "latest"),
    [
        ("2026-12-04 00:04:59.999", "2026-12-02"),
        ("2026-12-04 00:05", "2026-12-03"),
        ("2026-12-04 23:59", "2026-12-03"),
    ],
)
def test_yesterday_is_due_from_the_configured_minute_on(now: str, latest: str) -> None:
    assert latest_due_day(_ms(now), MINUTE) == latest


def test_nothing_summarized_yet_sends_the_latest_due_day_only() -> None:
    assert due_day(_ms("2026-12-04 00:05"), MINUTE, set()) == "2026-12-03"


def test_a_summarized_day_is_not_due_again_after_a_restart() -> None:
    now = _ms("2026-12-04 09:00")

    assert due_day(now, MINUTE, {"2026-12-02", "2026-12-03"}) is None


def test_riskd_down_at_the_minute_sends_it_when_it_is_back_that_day() -> None:
    assert due_day(_ms("2026-12-04 17:30"), MINUTE, {"2026-12-02"}) == "2026-12-03"


def test_missed_days_go_oldest_first_one_at_a_time() -> None:
    now = _ms("2026-12-04 00:06")
    summarized = {"2026-11-30"}
    sent = []
    while (day := due_day(now, MINUTE, summarized)) is not None:
        sent.append(day)
        summarized.add(day)

    assert sent == ["2026-12-01", "2026-12-02", "2026-12-03"]


def test_a_summary_older_than_the_catch_up_window_sends_the_latest_only() -> None:
    assert CATCH_UP_DAYS < 10
    assert due_day(_ms("2026-12-04 00:05"), MINUTE, {"2026-11-23"}) == "2026-12-03"


def test_a_later_minute_configured_after_yesterday_was_sent_sends_nothing_twice() -> None:
    assert due_day(_ms("2026-12-04 07:00"), 8 * 60, {"2026-12-03"}) is None


def test_the_told_record_is_read_back_far_enough_and_the_report_covers_the_day() -> None:
    now = _ms("2026-12-04 00:05")
    oldest_due = day_number("2026-12-03") - CATCH_UP_DAYS + 1

    assert since_ms(now) <= (oldest_due + 1) * 86_400_000  # told no sooner than the day after
    assert report_days("2026-12-03", now) == 2
    assert report_days("2026-12-04", now) == 1


@pytest.mark.parametrize(("text", "minute"), [("00:05", 5), ("23:59", 1439), ("", None)])
def test_the_configured_time_in_minutes(text: str, minute: int | None) -> None:
    assert LedgerConfig(daily_summary_utc=text).daily_summary_minute == minute


def test_the_summary_is_on_at_00_05_by_default() -> None:
    assert LedgerConfig().daily_summary_utc == "00:05"
