"""A job's health: what it last did, how late it is, what it spent; and the status table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

# A job is late when its last success is older than this many intervals.
LATE_AFTER_INTERVALS = 3


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
        self.last_success_ms = now_ms

    def failed(self, error: str, now_ms: int) -> None:
        self.last_error, self.last_error_ms = error, now_ms

    def lag_ms(self, now_ms: int) -> int:
        """How far behind its schedule the job is (0 when on time)."""
        since = now_ms - (self.last_success_ms or self.started_ms)
        return max(0, since - self.interval_ms)

    def is_late(self, now_ms: int) -> bool:
        return self.lag_ms(now_ms) > (LATE_AFTER_INTERVALS - 1) * self.interval_ms

    def to_dict(self, now_ms: int) -> dict:
        return {**asdict(self), "lag_ms": self.lag_ms(now_ms), "late": self.is_late(now_ms)}


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One row of ``riskd status``: the controller's view of a job actor."""

    job: str
    account: str
    state: str  # running | pending | unresponsive | dead
    restarts: int
    health: dict | None = None
    note: str = ""

    def healthy(self) -> bool:
        return self.state == "running" and self.health is not None and not self.health["late"]

    def problem(self) -> str:
        """Why the job is not healthy, in one line: its state, note, lag and last error."""
        text = f"{self.job}:{self.account} {self.state}" + (f" ({self.note})" if self.note else "")
        if self.health is not None and self.health["late"]:
            text += f", late by {self.health['lag_ms'] / 1000:.1f} s"
            if self.health["last_error"]:
                text += f": {self.health['last_error']}"
        return text


def _ago(now_ms: int, at_ms: int | None) -> str:
    return "never" if at_ms is None else f"{(now_ms - at_ms) / 1000:.1f}s ago"


def format_status(rows: Sequence[JobStatus], now_ms: int) -> str:
    """The ``riskd status`` table."""
    header = (
        "job",
        "account",
        "state",
        "node",
        "egress",
        "budget",
        "used/1m",
        "last success",
        "lag",
        "restarts",
        "note",
    )
    lines = [header]
    for row in rows:
        h = row.health or {}
        lines.append(
            (
                row.job,
                row.account,
                row.state,
                str(h.get("node_id", ""))[:12],
                str(h.get("egress", "")),
                str(h.get("weight_per_minute", "")),
                str(h.get("weight_used_1m", "")),
                _ago(now_ms, h.get("last_success_ms")) if h else "",
                f"{h['lag_ms'] / 1000:.1f}s" if h else "",
                str(row.restarts),
                row.note or (h.get("last_error") or "" if h else ""),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
