"""The gateway's channels: the latest state each robot shares, by channel id, and the
subscribers that follow it. A channel keeps no history: each publish overwrites it."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from riskd.core.bodies import shown
from riskd.core.clock import Clock, wall_ms

MAX_DATA_BYTES: Final = 1024
"""A channel's data, as compact JSON in UTF-8, is at most this long."""
MAX_CHANNELS: Final = 10_000
"""A gateway holds at most this many channels (each at most about 2 KiB: data and message)."""
CHANNEL_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ChannelTooLarge(ValueError):
    """The data is more than MAX_DATA_BYTES serialized."""


class ChannelsFull(Exception):
    """A new channel, and the gateway already holds its limit of them."""


class NotOwner(Exception):
    """A robot writes a channel that another robot owns."""


@dataclass(frozen=True, slots=True)
class Channel:
    """One version of a channel: its owner (the robot that first published it; None when
    published without robots configured), its version (1, 2, …), when it was published
    (epoch ms), its data as compact JSON and the message the GET and the stream send,
    ``{"id", "version", "updated_ms", "data"}``."""

    id: str
    owner: str | None
    version: int
    updated_ms: int
    data: bytes
    message: bytes

    def receipt(self) -> dict[str, object]:
        """What a publish answers: ``{"id", "version", "updated_ms"}``."""
        return {"id": self.id, "version": self.version, "updated_ms": self.updated_ms}


def channel_id(raw: str) -> str:
    """*raw*, when it is a channel id: 1 to 64 letters, digits or ``_.:-``; else ValueError."""
    if CHANNEL_ID.fullmatch(raw):
        return raw
    raise ValueError(f"id: must be 1 to 64 letters, digits, '_', '.', ':' or '-', not {shown(raw)}")


def serialized(value: object) -> bytes:
    """*value* as compact JSON in UTF-8; ValueError when that is not JSON (a number that is
    not finite, a string with a lone surrogate) or more than MAX_DATA_BYTES (ChannelTooLarge)."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        data = text.encode()
    except UnicodeEncodeError:
        raise ValueError(
            "the body: a string holds a lone surrogate, which UTF-8 cannot carry"
        ) from None
    except ValueError:
        raise ValueError(
            "the body: numbers must be finite (NaN and Infinity are not JSON)"
        ) from None
    if len(data) > MAX_DATA_BYTES:
        raise ChannelTooLarge(
            f"channel data is {len(data)} bytes serialized; at most {MAX_DATA_BYTES}"
        )
    return data


class _Mailbox:
    """A subscriber's one-place mailbox: a newer version replaces an undelivered one."""

    def __init__(self) -> None:
        self._pending: Channel | None = None
        self._ready = asyncio.Event()

    def offer(self, channel: Channel) -> None:
        self._pending = channel
        self._ready.set()

    async def take(self) -> Channel:
        await self._ready.wait()
        self._ready.clear()
        channel, self._pending = self._pending, None
        assert channel is not None
        return channel


class ChannelHub:
    """The latest version of every channel, on one event loop (not thread-safe: call from the
    loop). At most *max_channels* channels; none is ever removed.

    ``publish`` never blocks: every subscriber's one-place mailbox gets the new version, so a
    slow subscriber skips to the newest and never holds up the others.
    """

    def __init__(self, clock: Clock = wall_ms, max_channels: int = MAX_CHANNELS) -> None:
        self._clock = clock
        self._max_channels = max_channels
        self._latest: dict[str, Channel] = {}
        self._subscribers: dict[str, set[_Mailbox]] = {}

    def __len__(self) -> int:
        return len(self._latest)

    def publish(self, id_: str, value: object, robot: str | None) -> Channel:
        """Make *value* (any JSON value, null too) the state of channel *id_*, by *robot*
        (None: no robots are configured); the first publish makes *robot* the owner. Nothing
        changes when it raises: ValueError for a bad id or value (ChannelTooLarge for too
        much data), NotOwner for a channel another robot owns, ChannelsFull for a new channel
        past the limit."""
        id_ = channel_id(id_)
        current = self._latest.get(id_)
        if current is not None and current.owner != robot:
            raise NotOwner(f"channel {id_!r} belongs to robot {current.owner!r}")
        data = serialized(value)
        if current is None and len(self._latest) >= self._max_channels:
            raise ChannelsFull(
                f"channels: this gateway holds {self._max_channels}, its limit; "
                "publish to one of them"
            )
        owner = robot if current is None else current.owner
        version = 1 if current is None else current.version + 1
        updated_ms = self._clock()
        message = b'{"id":"%s","version":%d,"updated_ms":%d,"data":%s}' % (
            id_.encode(),
            version,
            updated_ms,
            data,
        )
        channel = Channel(id_, owner, version, updated_ms, data, message)
        self._latest[id_] = channel
        for mailbox in self._subscribers.get(id_, ()):
            mailbox.offer(channel)
        return channel

    def latest(self, id_: str) -> Channel | None:
        """Channel *id_*'s latest version; None before its first publish."""
        return self._latest.get(id_)

    async def subscribe(self, id_: str) -> AsyncIterator[Channel]:
        """Every new version of channel *id_*, the current one (if any) first; close it with
        ``aclose()``."""
        mailbox = _Mailbox()
        subscribers = self._subscribers.setdefault(id_, set())
        subscribers.add(mailbox)
        try:
            current = self._latest.get(id_)
            if current is not None:
                mailbox.offer(current)
            while True:
                yield await mailbox.take()
        finally:
            subscribers.discard(mailbox)
            if not subscribers and self._subscribers.get(id_) is subscribers:
                del self._subscribers[id_]
