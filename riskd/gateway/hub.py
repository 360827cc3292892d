"""The gateway's ban-list hub: the latest version per account, long-polls and subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from riskd.risk.banlist import BanList


class _Slot:
    """A subscriber's one-place mailbox: a newer snapshot replaces an undelivered one."""

    def __init__(self) -> None:
        self._pending: BanList | None = None
        self._ready = asyncio.Event()

    def offer(self, banlist: BanList) -> None:
        self._pending = banlist
        self._ready.set()

    async def take(self) -> BanList:
        await self._ready.wait()
        self._ready.clear()
        banlist, self._pending = self._pending, None
        assert banlist is not None
        return banlist


class BanListHub:
    """The latest ban list per account, on one event loop (not thread-safe: call from the loop).

    ``publish`` never blocks: long-polls are woken and every subscriber's one-place mailbox gets
    the new version, so a slow subscriber skips to the newest and never holds up the others.
    """

    def __init__(self) -> None:
        self._latest: dict[str, BanList] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._subscribers: dict[str, set[_Slot]] = {}

    def publish(self, banlist: BanList) -> bool:
        """Make *banlist* the latest of its account; False (and ignored) unless it is newer."""
        current = self._latest.get(banlist.account)
        if current is not None and banlist.version <= current.version:
            return False
        self._latest[banlist.account] = banlist
        changed = self._changed.pop(banlist.account, None)
        if changed is not None:
            changed.set()
        for slot in self._subscribers.get(banlist.account, ()):
            slot.offer(banlist)
        return True

    def latest(self, account: str) -> BanList | None:
        return self._latest.get(account)

    async def wait_newer(self, account: str, version: int, timeout_s: float) -> BanList | None:
        """The latest ban list once its version exceeds *version*; None after *timeout_s*."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    current = self._latest.get(account)
                    if current is not None and current.version > version:
                        return current
                    await self._changed.setdefault(account, asyncio.Event()).wait()
        except TimeoutError:
            return None

    async def subscribe(self, account: str) -> AsyncIterator[BanList]:
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
