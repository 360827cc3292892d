"""When an account's daily summary card is due. Pure: the caller passes the time.

UTC day *d* is summarized from *d* + 1 at the configured minute (``[accounts.ledger]
daily_summary_utc``) on, so riskd down at that minute sends it when it is back. Which days
were summarized already the caller reads from SQL (the Alerter's record of the one-off alerts
it told, ``riskd.notify.alert_store.told_labels``), so a restart neither repeats a day nor
skips one: the days missed after the last one summarized go oldest first, as far back as
CATCH_UP_DAYS. With none summarized in that window (a new deployment, a long outage) only the
latest due day goes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Final

from riskd.core.clock import DAY_MS, MINUTE_MS
from riskd.pnl.daily import day_of

CATCH_UP_DAYS: Final = 7
"""How many days back a missed summary is still sent."""
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def day_number(day: str) -> int:
    """Days since 1970-01-01 of the ISO date *day*."""
    return date.fromisoformat(day).toordinal() - _EPOCH_ORDINAL


def latest_due_day(now_ms: int, minute: int) -> str:
    """The latest day whose summary is due at *now_ms*, sent at *minute* after midnight UTC:
    yesterday from that minute on, the day before until then."""
    today = now_ms // DAY_MS
    return day_of((today - (1 if now_ms % DAY_MS >= minute * MINUTE_MS else 2)) * DAY_MS)


def due_day(now_ms: int, minute: int, summarized: Collection[str]) -> str | None:
    """The day to summarize now, or None: the oldest due day after the latest one of
    *summarized* (ISO dates) within the last CATCH_UP_DAYS due days, else the latest due day."""
    latest = day_number(latest_due_day(now_ms, minute))
    done = [number for number in map(day_number, summarized) if number > latest - CATCH_UP_DAYS]
    after = max(done) + 1 if done else latest
    return day_of(after * DAY_MS) if after <= latest else None


def since_ms(now_ms: int) -> int:
    """A time before which no summary of a day still in the catch-up window was told."""
    return (now_ms // DAY_MS - CATCH_UP_DAYS - 1) * DAY_MS


def report_days(day: str, now_ms: int) -> int:
    """The ``days`` of a daily report up to *now_ms* that covers *day* (today counts one)."""
    return now_ms // DAY_MS - day_number(day) + 1
