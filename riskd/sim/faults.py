"""Faults injected through the control API: `POST /_sim/fault` (requests and streams) and
`POST /_sim/ip` (what Binance's limiter does to one source IP)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

STREAM_FAULTS = ("drop_ws", "stall_ws", "duplicate_ws", "reorder_ws")
"""Applied at once to every open stream socket: dropped, or for ``ms`` silent (events lost),
each event sent twice, or each event held back and sent after the next."""
EXPIRE_LISTEN_KEYS = "expire_listen_keys"
"""Every live listenKey expires at once: its streams get listenKeyExpired and close."""
REQUEST_FAULTS = ("delay", "http5xx", "malformed", "html503", "unknown503")
FAULT_KINDS = (*REQUEST_FAULTS, *STREAM_FAULTS, EXPIRE_LISTEN_KEYS)
TIMED_KINDS = ("delay", "stall_ws", "duplicate_ws", "reorder_ws")  # they need ms
IP_FAULT_KINDS = ("limit", "ban")
"""``limit``: other clients on the IP use up its weight for ``ms`` (429s until the minute in
which they stop ends, escalating to a 418 like any); ``ban``: the IP is banned for ``ms``."""


def _fields(body: object, allowed: set[str]) -> dict:
    """*body* as a dict with no field outside *allowed*; ValueError otherwise."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


def _integer(body: dict, name: str, default: int, minimum: int) -> int:
    """Field *name*, an integer of at least *minimum*; ValueError naming it otherwise."""
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        adjective = "non-negative" if minimum == 0 else "positive"
        raise ValueError(f"{name} must be a {adjective} integer")
    return value


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
        body = _fields(body, {"path", "kind", "ms", "count"})
        path, kind = body.get("path"), body.get("kind")
        if not isinstance(path, str) or not (path.startswith("/") or path == "*"):
            raise ValueError("path must be a request path such as /fapi/v2/account, or *")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        ms, count = _integer(body, "ms", 0, 0), _integer(body, "count", 1, 1)
        if kind in TIMED_KINDS and ms == 0:
            raise ValueError(f"{kind} needs ms > 0")
        return cls(path, kind, ms, count)


@dataclass(frozen=True, slots=True)
class IpFault:
    """What Binance's limiter does to source IP ``ip`` for ``ms`` (``POST /_sim/ip``)."""

    ip: str
    kind: str
    ms: int

    @classmethod
    def parse(cls, body: object) -> IpFault:
        """Validate a control-API body; raises ValueError naming the bad field."""
        body = _fields(body, {"ip", "kind", "ms"})
        ip, kind = body.get("ip"), body.get("kind")
        try:
            ipaddress.ip_address(ip if isinstance(ip, str) else "")
        except ValueError:
            raise ValueError("ip must be an IP address such as 127.0.0.1") from None
        if kind not in IP_FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(IP_FAULT_KINDS)}")
        return cls(ip, kind, _integer(body, "ms", 0, 1))


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
