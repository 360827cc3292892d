"""The gateway's ban-list hub: the latest version per account, long-polls and subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from riskd.risk.banlist import BanList


@dataclass(frozen=True, slots=True)
class Published:
    """A ban-list version and its JSON: the exact bytes every response and message carries."""

    banlist: BanList
    body: bytes


class _Slot:
    """A subscriber's one-place mailbox: a newer version replaces an undelivered one."""

    def __init__(self) -> None:
        self._pending: Published | None = None
        self._ready = asyncio.Event()

    def offer(self, published: Published) -> None:
        self._pending = published
        self._ready.set()

    async def take(self) -> Published:
        await self._ready.wait()
        self._ready.clear()
        published, self._pending = self._pending, None
        assert published is not None
        return published


class BanListHub:
    """The latest ban list per account, on one event loop (not thread-safe: call from the loop).

    ``publish`` never blocks: long-polls are woken and every subscriber's one-place mailbox gets
    the new version, so a slow subscriber skips to the newest and never holds up the others.
    """

    def __init__(self) -> None:
        self._latest: dict[str, Published] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._subscribers: dict[str, set[_Slot]] = {}

    def publish(self, banlist: BanList, body: bytes | None = None) -> bool:
        """Make *banlist* the latest of its account; False (and ignored) unless it is newer.
        *body* is its JSON as the Ledger sent it, served as it is; without it, the list is
        encoded here, once."""
        current = self._latest.get(banlist.account)
        if current is not None and banlist.version <= current.banlist.version:
            return False
        published = Published(banlist, banlist.to_json() if body is None else body)
        self._latest[banlist.account] = published
        changed = self._changed.pop(banlist.account, None)
        if changed is not None:
            changed.set()
        for slot in self._subscribers.get(banlist.account, ()):
            slot.offer(published)
        return True

    def latest(self, account: str) -> Published | None:
        return self._latest.get(account)

    async def wait_newer(self, account: str, version: int, timeout_s: float) -> Published | None:
        """The latest version once it exceeds *version*; None after *timeout_s*."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    current = self._latest.get(account)
                    if current is not None and current.banlist.version > version:
                        return current
                    await self._changed.setdefault(account, asyncio.Event()).wait()
        except TimeoutError:
            return None

    async def subscribe(self, account: str) -> AsyncIterator[Published]:
        """Every new version of *account*, the current one first; close it with ``aclose()``."""
        slot = _Slot()
        subscribers = self._subscribers.setdefault(account, set())
        subscribers.add(slot)
        try:
            current = self._latest.get(account)
            if current is not None:
                slot.offer(current)
            while True:
                yield await slot.take()
        finally:
            subscribers.discard(slot)
