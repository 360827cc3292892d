"""The strategy-side ban-list client: keeps the list in memory, answers ``is_banned`` locally.

It follows ``GET /v1/banlist/stream`` (WebSocket). When the stream cannot be opened or drops, it
long-polls ``GET /v1/banlist?version=N&wait=S`` for a back-off period (``reconnect_ms``, doubling
up to ``reconnect_max_ms``, reset once a stream delivers), then tries the stream again.
``is_banned`` never touches the network: it reads the held snapshot with the injected clock, and
fails closed when that snapshot has expired or there is none (``banned_when_expired``).

Use :class:`AsyncBanListClient` on an asyncio loop, or :class:`BanListClient` from plain threads::

    with BanListClient(BanListClientConfig(url="http://127.0.0.1:8080", account="main")) as bans:
        if not bans.is_banned("BTCUSDT", "long"):
            ...
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Annotated, Final, Self, TypeVar

import aiohttp
from pydantic import AfterValidator, Field, SecretStr

from riskd.core.clock import wall_ms
from riskd.core.frozen import FrozenModel
from riskd.risk.banlist import BanList
from riskd.risk.locks import PositionSide

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_REQUEST_MARGIN_S: Final = 10.0
"""How much longer than the long-poll wait a request may take before it counts as failed."""
_START_TIMEOUT_S: Final = 10.0
_WS_HEARTBEAT_S: Final = 20.0


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class BanListClientConfig(FrozenModel):
    """Where and how to follow one account's ban list."""

    url: Annotated[str, AfterValidator(_http_url)]
    """The gateway's base URL, e.g. ``http://127.0.0.1:8080``."""
    account: str = Field(min_length=1)
    token: SecretStr | None = None
    """Read token, sent as ``Authorization: Bearer``; shown as ``**********``."""
    banned_when_expired: bool = True
    """Fail closed: treat everything as banned when the snapshot expired or none arrived yet."""
    reconnect_ms: int = Field(default=1_000, gt=0)
    reconnect_max_ms: int = Field(default=30_000, gt=0)
    long_poll_s: float = Field(default=25.0, gt=0, le=60)


class AsyncBanListClient:
    """Follows one account's ban list on the running loop; ``start``/``close`` or ``async with``."""

    def __init__(self, config: BanListClientConfig, now_ms: Callable[[], int] = wall_ms) -> None:
        self.config = config
        self._now_ms = now_ms
        self._snapshot: BanList | None = None
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def snapshot(self) -> BanList | None:
        """The newest ban list received, expired or not."""
        return self._snapshot

    def is_banned(self, symbol: str, side: PositionSide, robot: str | None = None) -> bool:
        """Whether opening *side* on *symbol* is banned now (from memory, any thread), for
        *robot* if given: a robot's locks ban that robot only."""
        snapshot = self._snapshot
        if snapshot is None:
            return self.config.banned_when_expired
        return snapshot.is_banned(
            symbol,
            side,
            self._now_ms(),
            robot=robot,
            when_expired_banned=self.config.banned_when_expired,
        )

    async def wait_for_version(self, version: int = 0, timeout_s: float = 10.0) -> bool:
        """Wait until the held snapshot's version is at least *version*; False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._snapshot is None or self._snapshot.version < version:
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Start following the list in the background (returns at once)."""
        if self._task is not None:
            return
        headers: dict[str, str] = {}
        if self.config.token is not None:
            headers["Authorization"] = f"Bearer {self.config.token.get_secret_value()}"
        self._session = aiohttp.ClientSession(headers=headers)
        self._task = asyncio.create_task(self._run(), name=f"banlist {self.config.account}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def _accept(self, banlist: BanList) -> None:
        if banlist.account != self.config.account:
            raise ValueError(f"account: expected {self.config.account!r}, got {banlist.account!r}")
        current = self._snapshot
        if current is None or banlist.version > current.version:
            self._snapshot = banlist
            self._changed.set()
            self._changed = asyncio.Event()

    async def _run(self) -> None:
        backoff_ms = self.config.reconnect_ms
        while True:
            if await self._follow_stream():
                backoff_ms = self.config.reconnect_ms
            await self._long_poll_for(backoff_ms / 1000)
            backoff_ms = min(backoff_ms * 2, self.config.reconnect_max_ms)

    async def _follow_stream(self) -> bool:
        """Take versions from the WebSocket until it ends; True if it delivered any."""
        assert self._session is not None
        delivered = False
        url = f"{self.config.url}/v1/banlist/stream"
        try:
            async with self._session.ws_connect(
                url, params={"account": self.config.account}, heartbeat=_WS_HEARTBEAT_S
            ) as socket:
                async for message in socket:
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        break
                    self._accept(BanList.from_json(message.data))
                    delivered = True
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("ban list stream %s failed, long-polling: %s", url, error)
        return delivered

    async def _long_poll_for(self, duration_s: float) -> None:
        """Long-poll for *duration_s* (at least one request), backing off after failures."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration_s
        while True:
            remaining_s = deadline - loop.time()
            try:
                await self._poll_once(max(0.0, min(self.config.long_poll_s, remaining_s)))
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("ban list long-poll failed: %s", error)
                await asyncio.sleep(min(self.config.reconnect_ms / 1000, max(0.0, remaining_s)))
            if loop.time() >= deadline:
                return

    async def _poll_once(self, wait_s: float) -> None:
        assert self._session is not None
        params = {"account": self.config.account}
        if self._snapshot is not None:
            params |= {"version": str(self._snapshot.version), "wait": f"{wait_s:.3f}"}
        timeout = aiohttp.ClientTimeout(total=wait_s + _REQUEST_MARGIN_S)
        async with self._session.get(
            f"{self.config.url}/v1/banlist", params=params, timeout=timeout
        ) as response:
            if response.status == 304:
                return
            if response.status != 200:
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    response.history,
                    status=response.status,
                    message=(await response.text())[:200],
                )
            self._accept(BanList.from_json(await response.read()))


class BanListClient:
    """The blocking client: an :class:`AsyncBanListClient` on a background thread's own loop."""

    def __init__(self, config: BanListClientConfig, now_ms: Callable[[], int] = wall_ms) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"banlist {config.account}", daemon=True
        )
        self._client = AsyncBanListClient(config, now_ms)

    @property
    def snapshot(self) -> BanList | None:
        return self._client.snapshot

    def is_banned(self, symbol: str, side: PositionSide, robot: str | None = None) -> bool:
        """As :meth:`AsyncBanListClient.is_banned`: from memory, no network call."""
        return self._client.is_banned(symbol, side, robot)

    def wait_for_version(self, version: int = 0, timeout_s: float = 10.0) -> bool:
        """Block until the held snapshot's version is at least *version*; False on timeout."""
        return self._call(self._client.wait_for_version(version, timeout_s), timeout_s + 1)

    def start(self) -> None:
        self._thread.start()
        self._call(self._client.start(), _START_TIMEOUT_S)

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._client.close(), _START_TIMEOUT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        if not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, coroutine: Coroutine[object, object, _T], timeout_s: float) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)
