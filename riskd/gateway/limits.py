"""What the gateway takes of its clients (``[gateway.limits]``, :class:`GatewayLimitsConfig`):
the connections that stay open, WebSockets and ban-list long-polls, per client and in total,
and the messages a client sends on a WebSocket.

A client is the remote IP address of its connection; no forwarded header is trusted. While
``loopback_exempt`` holds (the default), clients on loopback count toward the totals only:
riskd's own robots, a reverse proxy on this host and the benchmarks (1,000 sockets from
127.0.0.1) all connect from there. One connection more than a limit is a 429 naming it.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Final

from aiohttp import web

from riskd.core.clock import SECOND_MS, Clock
from riskd.core.net import is_loopback
from riskd.gateway.config import GatewayLimitsConfig

DEFAULT_LIMITS: Final = GatewayLimitsConfig()


def monotonic_ms() -> int:
    """Milliseconds on a clock that never goes back (for rates, not for dates)."""
    return time.monotonic_ns() // 1_000_000


class Held(StrEnum):
    """What a client holds open, as the limits name it."""

    WEBSOCKET = "websockets"
    LONG_POLL = "long_polls"

    @property
    def shown(self) -> str:
        return "WebSockets" if self is Held.WEBSOCKET else "long-polls"


class TooManyConnections(Exception):
    """One connection more than a limit allows; the message starts with the limit's name."""


class ConnectionSlots:
    """The connections each client, and all of them, hold open, within *config*'s limits
    (on one event loop: not thread-safe)."""

    def __init__(self, config: GatewayLimitsConfig = DEFAULT_LIMITS) -> None:
        self.config = config
        self._totals: Counter[Held] = Counter()
        self._clients: Counter[tuple[Held, str]] = Counter()

    def count(self, kind: Held) -> int:
        """How many connections of *kind* all clients hold now."""
        return self._totals[kind]

    @contextmanager
    def held(self, kind: Held, client: str) -> Iterator[None]:
        """Hold one connection of *kind* for *client* (its IP address) while the block runs.
        TooManyConnections, and nothing held, when the total or the client's limit is reached."""
        total = getattr(self.config, f"{kind}_total")
        if self._totals[kind] >= total:
            raise TooManyConnections(
                f"{kind}_total: the gateway holds {total} {kind.shown} already, its limit; "
                "try again later"
            )
        key = (kind, client)
        counted = not (self.config.loopback_exempt and is_loopback(client))
        per_client = getattr(self.config, f"{kind}_per_client")
        if counted and self._clients[key] >= per_client:
            raise TooManyConnections(
                f"{kind}_per_client: this address holds {per_client} {kind.shown} already, "
                "its limit; close one first"
            )
        self._totals[kind] += 1
        if counted:
            self._clients[key] += 1
        try:
            yield
        finally:
            self._totals[kind] -= 1
            if counted:
                self._clients[key] -= 1
                if not self._clients[key]:
                    del self._clients[key]


class MessageRate:
    """The messages a client sent on one socket within the last second: at most *per_s*."""

    def __init__(self, per_s: int, clock: Clock = monotonic_ms) -> None:
        self._per_s = per_s
        self._clock = clock
        self._sent_ms: deque[int] = deque(maxlen=per_s)

    def admit(self) -> bool:
        """Count one message now; False (and not counted) when it would be more than
        *per_s* within one second."""
        now_ms = self._clock()
        if len(self._sent_ms) == self._per_s and now_ms - self._sent_ms[0] < SECOND_MS:
            return False
        self._sent_ms.append(now_ms)
        return True


_SLOTS: Final = web.AppKey("connection_slots", ConnectionSlots)


def set_slots(app: web.Application, slots: ConnectionSlots) -> None:
    """Make *slots* (and their limits) those of *app*'s routes (before any route is added)."""
    app[_SLOTS] = slots


def connection_slots(app: web.Application) -> ConnectionSlots:
    """*app*'s connection slots, while its routes are added: those of :func:`set_slots`,
    else slots of the default limits (an app serving a few routes alone, as the benchmarks
    do)."""
    if _SLOTS not in app:
        set_slots(app, ConnectionSlots())
    return app[_SLOTS]


def limits_of(app: web.Application) -> GatewayLimitsConfig:
    """The limits *app* serves with (the defaults unless :func:`set_slots` set others)."""
    slots = app.get(_SLOTS)
    return DEFAULT_LIMITS if slots is None else slots.config
