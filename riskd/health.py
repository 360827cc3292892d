"""A job's health: what it last did, how late it is, what it spent; and the status table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

from riskd.core.display import safe_text, since, table

LATE_AFTER_INTERVALS = 3
"""A job, or a source a job reads, is late once its last success is this many intervals old."""
PENDING_AFTER_MS = 10_000
"""A job that has not answered this long after its creation is pending, no longer starting."""
API_KEY = "api_key"
"""The ``extra`` of the job that checks its account's API key (the AccountReader): the check,
as ``riskd.exchange.key_safety.KeyCheck.to_dict`` gives it."""


def late_after_ms(interval_ms: int) -> int:
    """How old the last success of a thing run every *interval_ms* may get before it is late."""
    return LATE_AFTER_INTERVALS * interval_ms


@dataclass(slots=True)
class JobHealth:
    """Mutable record a job keeps about itself; ``to_dict`` is what it reports."""

    job: str
    account: str
    interval_ms: int
    egress: str
    weight_per_minute: int
    started_ms: int
    node_id: str = ""
    pid: int = 0
    last_success_ms: int | None = None
    last_error: str | None = None
    last_error_ms: int | None = None
    calls: int = 0
    errors: int = 0
    weight_used_1m: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def succeeded(self, now_ms: int) -> None:
        """A pass worked: the job has recovered from its last error, which no longer shows."""
        self.last_success_ms = now_ms
        self.last_error, self.last_error_ms = None, None

    def failed(self, error: str, now_ms: int) -> None:
        """A pass failed with *error*, kept as :func:`safe_text` makes it (no URL queries,
        no control characters, bounded)."""
        self.last_error, self.last_error_ms = safe_text(error), now_ms

    def lag_ms(self, now_ms: int) -> int:
        """How far behind its schedule the job is (0 when on time)."""
        elapsed = now_ms - (self.last_success_ms or self.started_ms)
        return max(0, elapsed - self.interval_ms)

    def is_late(self, now_ms: int) -> bool:
        elapsed = now_ms - (self.last_success_ms or self.started_ms)
        return elapsed > late_after_ms(self.interval_ms)

    def to_dict(self, now_ms: int) -> dict:
        return {**asdict(self), "lag_ms": self.lag_ms(now_ms), "late": self.is_late(now_ms)}


class JobState(StrEnum):
    """What the Controller knows of a job actor: the state column of ``riskd status``."""

    STARTING = "starting"  # created, not answered yet, within PENDING_AFTER_MS
    PENDING = "pending"  # unanswered, and no node takes it (see unanswered_state)
    RUNNING = "running"  # answered its health report
    UNRESPONSIVE = "unresponsive"  # answered before, but not in time now
    DEAD = "dead"  # the actor is gone for good; the Controller recreates it


def unanswered_state(answered_before: bool, age_ms: int, placeable: bool = True) -> JobState:
    """The state of a job that did not answer its health report in time, *age_ms* after the
    Controller created it; *placeable*: an alive node may take it. When no alive node carries
    its egress label it is pending at once (one that answered before lost its node with it)."""
    if not placeable:
        return JobState.PENDING
    if answered_before:
        return JobState.UNRESPONSIVE
    return JobState.STARTING if age_ms < PENDING_AFTER_MS else JobState.PENDING


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One row of ``riskd status``: the controller's view of a job actor."""

    job: str
    account: str
    state: JobState
    restarts: int
    health: dict | None = None
    note: str = ""

    def healthy(self) -> bool:
        return (
            self.state == JobState.RUNNING and self.health is not None and not self.health["late"]
        )

    def problem(self) -> str:
        """Why the job is not healthy, in one line: its state, note, lag and last error."""
        text = f"{self.job}:{self.account} {self.state}" + (f" ({self.note})" if self.note else "")
        if self.health is not None and self.health["late"]:
            text += f", late by {self.health['lag_ms'] / 1000:.1f} s"
            if self.health["last_error"]:
                text += f": {self.health['last_error']}"
        return text


def key_checks(rows: Sequence[JobStatus]) -> list[dict]:
    """The API key checks the jobs of *rows* report (one per account whose job answered)."""
    return [
        row.health["extra"][API_KEY]
        for row in rows
        if row.health is not None and API_KEY in row.health.get("extra", {})
    ]


def _note(row: JobStatus) -> str:
    """The note column: the Controller's note, else the last error; and a key not safe."""
    health = row.health or {}
    notes = [row.note or health.get("last_error") or ""]
    key = health.get("extra", {}).get(API_KEY)
    if key is not None and not key["ok"]:
        notes.append(f"API key {key['summary']}")
    return "; ".join(note for note in notes if note)


def format_status(rows: Sequence[JobStatus], now_ms: int) -> str:
    """The ``riskd status`` table (times in UTC)."""
    header = (
        "job",
        "account",
        "state",
        "node",
        "egress",
        "budget",
        "used/1m",
        "last success (UTC)",
        "lag",
        "restarts",
        "note",
    )
    lines = []
    for row in rows:
        h = row.health or {}
        lines.append(
            (
                row.job,
                row.account,
                row.state,
                str(h.get("node_id", ""))[:12],
                h.get("egress", ""),
                h.get("weight_per_minute", ""),
                h.get("weight_used_1m", ""),
                since(h.get("last_success_ms"), now_ms) if h else "",
                f"{h['lag_ms'] / 1000:.1f}s" if h else "",
                row.restarts,
                _note(row),
            )
        )
    return table(header, lines)
