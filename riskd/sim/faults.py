"""Faults injected through the control API (`POST /_sim/fault`)."""

from __future__ import annotations

from dataclasses import dataclass

FAULT_KINDS = ("delay", "http5xx", "malformed", "html503", "unknown503", "drop_ws", "stall_ws")
STREAM_FAULTS = ("drop_ws", "stall_ws")


@dataclass(slots=True)
class Fault:
    """Affects the next ``count`` requests to ``path`` ("*" for every path)."""

    path: str
    kind: str
    ms: int = 0
    count: int = 1

    @classmethod
    def parse(cls, body: object) -> Fault:
        """Validate a control-API body; raises ValueError naming the bad field."""
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        unknown = set(body) - {"path", "kind", "ms", "count"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        path, kind = body.get("path"), body.get("kind")
        if not isinstance(path, str) or not (path.startswith("/") or path == "*"):
            raise ValueError("path must be a request path such as /fapi/v2/account, or *")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        ms, count = body.get("ms", 0), body.get("count", 1)
        if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
            raise ValueError("ms must be a non-negative integer")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        if kind in ("delay", "stall_ws") and ms == 0:
            raise ValueError(f"{kind} needs ms > 0")
        return cls(path, kind, ms, count)


class FaultPlan:
    """Pending request faults, consumed one request at a time."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []
        self.applied: dict[str, int] = {}

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def take(self, path: str) -> Fault | None:
        for fault in self.pending:
            if fault.path in (path, "*"):
                fault.count -= 1
                if fault.count == 0:
                    self.pending.remove(fault)
                self.applied[fault.kind] = self.applied.get(fault.kind, 0) + 1
                return fault
        return None

    def drop_pending(self) -> int:
        """Drop every pending fault (what was applied stays counted); how many requests they
        would still have affected."""
        left = sum(fault.count for fault in self.pending)
        self.pending.clear()
        return left

    def clear(self) -> None:
        self.pending.clear()
        self.applied.clear()
