"""Per-IP circuit breaker, shared by every job that sends from that IP in this process.

A 429 pauses every job on the IP until Binance's window resets (or ``Retry-After``); a 418 is
an IP ban: nothing is sent from the IP until the time Binance gives. Each episode raises one
event when it starts and one when it ends, for the Alerter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from riskd.core.clock import MINUTE_MS
from riskd.exchange.errors import IpBanned


class IpEventKind(Enum):
    RATE_LIMITED = "rate_limited"
    RATE_LIMIT_ENDED = "rate_limit_ended"
    BANNED = "banned"
    BAN_ENDED = "ban_ended"


@dataclass(frozen=True, slots=True)
class IpEvent:
    """Something that happened to an egress IP; ``until_ms`` is when it ends (server time)."""

    kind: IpEventKind
    ip: str
    at_ms: int
    until_ms: int
    endpoint: str = ""


Listener = Callable[[IpEvent], None]


@dataclass(frozen=True, slots=True)
class IpGuardConfig:
    """Binance's per-IP weight limit, and the share of it the guard lets the process reach.

    The plan keeps budgets under ``limit × headroom`` (90 %); the guard's higher cap only bites
    when other clients on the same IP (seen through ``X-MBX-USED-WEIGHT-1M``) eat into it.
    """

    weight_limit_per_minute: int = 2400
    cap_fraction: float = 0.95
    # A header is only attributed to a minute when its request was sent this long after the
    # minute began: near the boundary, Binance may have counted it in the previous minute.
    boundary_skew_ms: int = 1_000

    @property
    def cap(self) -> int:
        return int(self.weight_limit_per_minute * self.cap_fraction)


class IpGuard:
    """The state of one egress IP: used weight this minute, paused or banned."""

    def __init__(self, ip: str, config: IpGuardConfig, emit: Listener) -> None:
        self.ip = ip
        self.config = config
        self._emit = emit
        self.paused_until_ms = 0
        self.banned_until_ms = 0
        self._minute_start_ms = 0
        self._minute_used = 0
        self.responses_429 = 0
        self.responses_418 = 0

    def wait_ms(self, weight: int, now_ms: int, endpoint: str) -> int:
        """0 if a request may go now; else ms to wait. Raises IpBanned during a ban."""
        self._close_episodes(now_ms)
        if self.banned_until_ms > now_ms:
            raise IpBanned(endpoint, self.ip, self.banned_until_ms)
        if self.paused_until_ms > now_ms:
            return self.paused_until_ms - now_ms
        minute = now_ms - now_ms % MINUTE_MS
        if (
            weight
            and minute == self._minute_start_ms
            and (self._minute_used + weight > self.config.cap)
        ):
            return minute + MINUTE_MS - now_ms
        return 0

    def record(self, weight: int, now_ms: int) -> None:
        self._add_to_minute(self._current_used(now_ms) + weight, now_ms)

    def observe_used_weight(self, used: int, sent_ms: int, now_ms: int) -> None:
        """Reconcile with ``X-MBX-USED-WEIGHT-1M`` (every client on the IP, in one minute).

        The count is Binance's for the minute in which it handled the request. It is used only
        when the request was sent and answered within the current minute, clear of the
        boundary; otherwise it may describe the previous minute and would block this one.
        """
        minute = now_ms - now_ms % MINUTE_MS
        if sent_ms < minute + self.config.boundary_skew_ms:
            return
        self._add_to_minute(used, now_ms)

    def _add_to_minute(self, used: int, now_ms: int) -> None:
        minute = now_ms - now_ms % MINUTE_MS
        if minute != self._minute_start_ms:
            self._minute_start_ms, self._minute_used = minute, 0
        self._minute_used = max(self._minute_used, used)

    def _current_used(self, now_ms: int) -> int:
        return self._minute_used if now_ms - now_ms % MINUTE_MS == self._minute_start_ms else 0

    def on_rate_limited(
        self, retry_after_ms: int | None, sent_ms: int, now_ms: int, endpoint: str
    ) -> int:
        """A 429 to a request sent at *sent_ms*: pause the IP until the minute resets or
        Retry-After ends, whichever is later; returns the end.

        Binance counts a request in the minute of its clock in which it arrives. One sent less
        than ``boundary_skew_ms`` into this minute may have been counted in the previous one:
        its 429 then says nothing of this minute, and only Retry-After (else that skew) holds
        the IP. (Pausing to this minute's end once stalled an IP for a further minute.)"""
        minute = now_ms - now_ms % MINUTE_MS
        if sent_ms < minute + self.config.boundary_skew_ms:
            until = now_ms + (retry_after_ms or self.config.boundary_skew_ms)
        else:
            until = max(minute + MINUTE_MS, now_ms + (retry_after_ms or 0))
        self.responses_429 += 1
        if until > self.paused_until_ms:
            starting = self.paused_until_ms <= now_ms
            self.paused_until_ms = until
            if starting:
                self._emit(IpEvent(IpEventKind.RATE_LIMITED, self.ip, now_ms, until, endpoint))
        return until

    def on_banned(self, until_ms: int, now_ms: int, endpoint: str) -> None:
        """A 418: the IP is banned until ``until_ms``."""
        self.responses_418 += 1
        if until_ms > self.banned_until_ms:
            starting = self.banned_until_ms <= now_ms
            self.banned_until_ms = until_ms
            if starting:
                self._emit(IpEvent(IpEventKind.BANNED, self.ip, now_ms, until_ms, endpoint))

    def _close_episodes(self, now_ms: int) -> None:
        if self.paused_until_ms and self.paused_until_ms <= now_ms:
            until, self.paused_until_ms = self.paused_until_ms, 0
            self._emit(IpEvent(IpEventKind.RATE_LIMIT_ENDED, self.ip, now_ms, until))
        if self.banned_until_ms and self.banned_until_ms <= now_ms:
            until, self.banned_until_ms = self.banned_until_ms, 0
            self._emit(IpEvent(IpEventKind.BAN_ENDED, self.ip, now_ms, until))


@dataclass
class IpGuards:
    """One IpGuard per egress IP in this process; listeners get every IpEvent."""

    config: IpGuardConfig = field(default_factory=IpGuardConfig)
    listeners: list[Listener] = field(default_factory=list)
    _guards: dict[str, IpGuard] = field(default_factory=dict)

    def for_ip(self, ip: str) -> IpGuard:
        if ip not in self._guards:
            self._guards[ip] = IpGuard(ip, self.config, self._publish)
        return self._guards[ip]

    def _publish(self, event: IpEvent) -> None:
        for listener in self.listeners:
            listener(event)
