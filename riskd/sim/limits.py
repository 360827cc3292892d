"""REQUEST_WEIGHT per source IP and ORDERS per account, with Binance's 429 → 418 escalation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from riskd.core.clock import MINUTE_MS
from riskd.sim.config import RateLimitConfig
from riskd.sim.errors import BinanceError

TEN_SECONDS_MS = 10_000


@dataclass(slots=True)
class IpUsage:
    """One IP's weight in the current minute, its history, and its 429/418 record."""

    window_start_ms: int = 0
    weight: int = 0
    total_weight: int = 0
    requests_while_limited: int = 0
    banned_until_ms: int = 0
    bans: int = 0
    # Other clients on the IP use up its weight until then (the control API's "limit").
    used_up_until_ms: int = 0
    responses_429: int = 0
    responses_418: int = 0
    # Weight used per past minute window (window start ms → weight), the last 60 minutes.
    history: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class OrderCounts:
    window_10s_ms: int = 0
    count_10s: int = 0
    window_1m_ms: int = 0
    count_1m: int = 0
    responses_429: int = 0  # new orders refused with −1015


class IpLimited(BinanceError):
    """HTTP 429: the IP's weight is over its limit for this minute."""

    def __init__(self, ip: str, limit: int, retry_after_ms: int) -> None:
        super().__init__(
            -1003,
            f"Too many requests; current limit of IP({ip}) is {limit} requests per minute. "
            "Please use the websocket for live updates to avoid polling the API.",
            http_status=429,
        )
        self.retry_after_ms = retry_after_ms


class IpBanned(BinanceError):
    """HTTP 418: the IP kept sending while limited and is banned until ``until_ms``."""

    def __init__(self, ip: str, until_ms: int, now_ms: int) -> None:
        super().__init__(
            -1003,
            f"Way too many requests; IP({ip}) banned until {until_ms}. "
            "Please use the websocket for live updates to avoid bans.",
            http_status=418,
        )
        self.retry_after_ms = until_ms - now_ms


class RateLimiter:
    """Counts weight per IP in fixed minute windows and new orders per account."""

    def __init__(self, config: RateLimitConfig, clock: Callable[[], int]) -> None:
        self.config = config
        self.clock = clock
        self.ips: dict[str, IpUsage] = {}
        self.orders: dict[str, OrderCounts] = {}

    def charge_ip(self, ip: str, weight: int) -> int:
        """Charge a request's weight; returns the minute's used weight or raises 429/418."""
        now = self.clock()
        usage = self._usage(ip, now)
        if usage.banned_until_ms > now:
            usage.responses_418 += 1
            raise IpBanned(ip, usage.banned_until_ms, now)
        usage.weight += weight
        usage.total_weight += weight
        if weight and usage.weight > self.config.weight_per_minute:
            usage.requests_while_limited += 1
            if usage.requests_while_limited > self.config.requests_while_limited_before_ban:
                ban_ms = min(
                    self.config.first_ban_ms * self.config.ban_growth_factor**usage.bans,
                    self.config.max_ban_ms,
                )
                usage.bans += 1
                usage.banned_until_ms = now + ban_ms
                usage.responses_418 += 1
                raise IpBanned(ip, usage.banned_until_ms, now)
            usage.responses_429 += 1
            raise IpLimited(
                ip, self.config.weight_per_minute, usage.window_start_ms + MINUTE_MS - now
            )
        return usage.weight

    def use_up(self, ip: str, until_ms: int) -> None:
        """Other clients on *ip* use up its weight until *until_ms*: every minute window they
        reach is full, so the IP's weighted requests get 429s until that window ends."""
        usage = self.ips.setdefault(ip, IpUsage())
        usage.used_up_until_ms = max(usage.used_up_until_ms, until_ms)

    def ban(self, ip: str, until_ms: int) -> None:
        """Ban *ip* until *until_ms*: every request gets a 418 until then."""
        usage = self.ips.setdefault(ip, IpUsage())
        usage.bans += 1
        usage.banned_until_ms = max(usage.banned_until_ms, until_ms)

    def _usage(self, ip: str, now_ms: int) -> IpUsage:
        """*ip*'s usage in the current minute window, with what other clients used of it."""
        usage = self.ips.setdefault(ip, IpUsage())
        self._roll(usage, now_ms)
        others = self.config.weight_per_minute - usage.weight
        if usage.used_up_until_ms > usage.window_start_ms and others > 0:
            usage.weight += others
            usage.total_weight += others
        return usage

    @staticmethod
    def _roll(usage: IpUsage, now_ms: int) -> None:
        """Start a new minute window, archiving the finished one (kept for an hour)."""
        window = now_ms - now_ms % MINUTE_MS
        if window == usage.window_start_ms:
            return
        if usage.weight:
            usage.history[usage.window_start_ms] = usage.weight
            for old in [w for w in usage.history if w < window - 60 * MINUTE_MS]:
                del usage.history[old]
        usage.window_start_ms, usage.weight, usage.requests_while_limited = window, 0, 0

    def used_weight(self, ip: str) -> int:
        usage = self.ips.get(ip)
        now = self.clock()
        if usage is None or usage.window_start_ms != now - now % MINUTE_MS:
            return 0
        return usage.weight

    def charge_orders(self, account: str, count: int) -> tuple[int, int]:
        """Count new orders; returns (10 s, 1 min) counts or raises 429 −1015."""
        now = self.clock()
        counts = self.orders.setdefault(account, OrderCounts())
        if counts.window_10s_ms != now - now % TEN_SECONDS_MS:
            counts.window_10s_ms, counts.count_10s = now - now % TEN_SECONDS_MS, 0
        if counts.window_1m_ms != now - now % MINUTE_MS:
            counts.window_1m_ms, counts.count_1m = now - now % MINUTE_MS, 0
        counts.count_10s += count
        counts.count_1m += count
        for used, limit, interval in (
            (counts.count_10s, self.config.orders_per_10s, "10 SECOND"),
            (counts.count_1m, self.config.orders_per_minute, "1 MINUTE"),
        ):
            if used > limit:
                counts.responses_429 += 1
                raise BinanceError(
                    -1015,
                    f"Too many new orders; current limit is {limit} orders per {interval}.",
                    http_status=429,
                )
        return counts.count_10s, counts.count_1m

    def order_counts(self, account: str) -> tuple[int, int]:
        counts = self.orders.get(account)
        now = self.clock()
        if counts is None:
            return 0, 0
        c10 = counts.count_10s if counts.window_10s_ms == now - now % TEN_SECONDS_MS else 0
        c1m = counts.count_1m if counts.window_1m_ms == now - now % MINUTE_MS else 0
        return c10, c1m

    def state(self) -> dict:
        for ip in self.ips:
            self._usage(ip, self.clock())
        return {
            "ips": {
                ip: {
                    "used_weight_1m": self.used_weight(ip),
                    "total_weight": u.total_weight,
                    "max_weight_per_minute": max(
                        [*u.history.values(), self.used_weight(ip)], default=0
                    ),
                    "weight_history": {str(k): v for k, v in sorted(u.history.items())},
                    "responses_429": u.responses_429,
                    "responses_418": u.responses_418,
                    "banned_until": u.banned_until_ms,
                    "bans": u.bans,
                }
                for ip, u in self.ips.items()
            },
            "order_counts": {
                account: dict(zip(("10s", "1m"), self.order_counts(account), strict=True))
                for account in self.orders
            },
            "responses_429": sum(u.responses_429 for u in self.ips.values()),
            "responses_418": sum(u.responses_418 for u in self.ips.values()),
            "order_responses_429": {
                account: counts.responses_429 for account, counts in self.orders.items()
            },
        }
