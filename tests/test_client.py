"""The strategy-side client against a real server built with add_banlist_routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from riskd.client import AsyncBanListClient, BanListClient, BanListClientConfig
from riskd.gateway.banlist import add_banlist_routes
from riskd.gateway.hub import BanListHub
from tests.kit.samples import NOW_MS, VALID_MS, banlist, lock

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Gateway:
    """A ban-list server; ``stream_broken`` makes the WebSocket route answer 503."""

    hub: BanListHub
    server: TestServer
    stream_broken: bool = False
    streams_served: int = 0
    requests: list[str] = field(default_factory=list)
    authorizations: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        self.authorizations.add(request.headers.get("Authorization", ""))
        if self.stream_broken and request.path == "/v1/banlist/stream":
            return web.json_response({"error": "stream is down"}, status=503)
        if request.path == "/v1/banlist/stream":
            self.streams_served += 1
        return await handler(request)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    app = web.Application()
    gateway = Gateway(BanListHub(), TestServer(app, host="127.0.0.1"))
    app.middlewares.append(gateway.middleware)
    add_banlist_routes(app, gateway.hub, ["main"])
    await gateway.server.start_server()
    yield gateway
    await gateway.server.close()


class Clock:
    def __init__(self) -> None:
        self.now_ms = NOW_MS

    def __call__(self) -> int:
        return self.now_ms


def config(gateway: Gateway, **overrides: object) -> BanListClientConfig:
    settings: dict[str, object] = {"url": gateway.url, "account": "main", "reconnect_ms": 50}
    return BanListClientConfig(**(settings | overrides))


async def test_async_client_follows_new_versions_over_the_websocket(gateway: Gateway) -> None:
    gateway.hub.publish(banlist(1))
    async with AsyncBanListClient(config(gateway), Clock()) as client:
        assert await client.wait_for_version(1)
        assert not client.is_banned("BTCUSDT", "long")
        gateway.hub.publish(banlist(2, lock("BTCUSDT", "long")))
        assert await client.wait_for_version(2)
        assert client.snapshot == banlist(2, lock("BTCUSDT", "long"))
        assert client.is_banned("BTCUSDT", "long")
        assert not client.is_banned("BTCUSDT", "short")
    assert not any(path.startswith("/v1/banlist?") for path in gateway.requests)


async def test_async_client_falls_back_to_long_poll_when_the_stream_fails(
    gateway: Gateway,
) -> None:
    gateway.stream_broken = True
    gateway.hub.publish(banlist(1))
    async with AsyncBanListClient(config(gateway, long_poll_s=30), Clock()) as client:
        assert await client.wait_for_version(1)
        gateway.hub.publish(banlist(2, lock("ETHUSDT", "short")))
        assert await client.wait_for_version(2)
        assert client.is_banned("ETHUSDT", "short")
    assert any("version=1" in path and "wait=" in path for path in gateway.requests)


async def test_async_client_returns_to_the_stream_once_it_works_again(gateway: Gateway) -> None:
    gateway.stream_broken = True
    gateway.hub.publish(banlist(1))
    settings = config(gateway, long_poll_s=0.05, reconnect_max_ms=200)
    async with AsyncBanListClient(settings, Clock()) as client:
        assert await client.wait_for_version(1)
        gateway.stream_broken = False
        for _ in range(1000):
            if gateway.streams_served:
                break
            await asyncio.sleep(0.01)
        assert gateway.streams_served == 1
        requests_before = len(gateway.requests)
        gateway.hub.publish(banlist(2))
        assert await client.wait_for_version(2)
        assert len(gateway.requests) == requests_before


async def test_async_client_is_banned_after_valid_until_passes(gateway: Gateway) -> None:
    clock = Clock()
    gateway.hub.publish(banlist(1))
    async with AsyncBanListClient(config(gateway), clock) as client:
        assert await client.wait_for_version(1)
        assert not client.is_banned("BTCUSDT", "long")
        clock.now_ms = NOW_MS + VALID_MS
        assert client.is_banned("BTCUSDT", "long")


async def test_async_client_is_not_banned_after_expiry_when_configured_so(
    gateway: Gateway,
) -> None:
    clock = Clock()
    gateway.hub.publish(banlist(1, lock("ETHUSDT")))
    async with AsyncBanListClient(config(gateway, banned_when_expired=False), clock) as client:
        assert await client.wait_for_version(1)
        clock.now_ms = NOW_MS + VALID_MS
        assert not client.is_banned("BTCUSDT", "long")
        assert client.is_banned("ETHUSDT", "long")


async def test_async_client_without_a_snapshot_fails_closed_unless_configured(
    gateway: Gateway,
) -> None:
    async with AsyncBanListClient(config(gateway), Clock()) as client:
        assert client.snapshot is None
        assert client.is_banned("BTCUSDT", "long")
    async with AsyncBanListClient(config(gateway, banned_when_expired=False), Clock()) as client:
        assert not client.is_banned("BTCUSDT", "long")


async def test_async_client_gets_the_first_snapshot_published_after_it_started(
    gateway: Gateway,
) -> None:
    async with AsyncBanListClient(config(gateway), Clock()) as client:
        assert not await client.wait_for_version(0, timeout_s=0.05)
        gateway.hub.publish(banlist(1))
        assert await client.wait_for_version(1)


async def test_async_client_sends_the_token_as_bearer(gateway: Gateway) -> None:
    gateway.hub.publish(banlist(1))
    async with AsyncBanListClient(config(gateway, token="t0ken"), Clock()) as client:
        assert await client.wait_for_version(1)
    assert gateway.authorizations == {"Bearer t0ken"}


async def test_async_client_keeps_working_when_the_server_is_down_at_start() -> None:
    hub = BanListHub()
    app = web.Application()
    add_banlist_routes(app, hub, ["main"])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    port = server.port
    await server.close()
    settings = BanListClientConfig(
        url=f"http://127.0.0.1:{port}", account="main", reconnect_ms=20, reconnect_max_ms=50
    )
    async with AsyncBanListClient(settings, Clock()) as client:
        await asyncio.sleep(0.1)
        restarted = TestServer(app, host="127.0.0.1", port=port)
        await restarted.start_server()
        hub.publish(banlist(1))
        try:
            assert await client.wait_for_version(1)
        finally:
            await restarted.close()


async def test_blocking_client_follows_versions_and_fails_closed_on_expiry(
    gateway: Gateway,
) -> None:
    clock = Clock()
    gateway.hub.publish(banlist(1))
    client = BanListClient(config(gateway), clock)
    await asyncio.to_thread(client.start)
    try:
        assert await asyncio.to_thread(client.wait_for_version, 1)
        assert not client.is_banned("BTCUSDT", "long")
        gateway.hub.publish(banlist(2, lock("BTCUSDT")))
        assert await asyncio.to_thread(client.wait_for_version, 2)
        assert client.snapshot == banlist(2, lock("BTCUSDT"))
        assert client.is_banned("BTCUSDT", "short")
        clock.now_ms = NOW_MS + VALID_MS
        assert client.is_banned("ETHUSDT", "long")
    finally:
        await asyncio.to_thread(client.close)


async def test_blocking_client_not_banned_after_expiry_when_configured_so(
    gateway: Gateway,
) -> None:
    clock = Clock()
    gateway.stream_broken = True
    gateway.hub.publish(banlist(1))

    def run() -> tuple[bool, bool]:
        with BanListClient(config(gateway, banned_when_expired=False), clock) as client:
            got_it = client.wait_for_version(1)
            clock.now_ms = NOW_MS + VALID_MS
            return got_it, client.is_banned("BTCUSDT", "long")

    assert await asyncio.to_thread(run) == (True, False)


def test_config_hides_the_token_and_refuses_bad_values() -> None:
    settings = BanListClientConfig(url="http://127.0.0.1:1/", account="main", token="s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)
    assert settings.url == "http://127.0.0.1:1"
    with pytest.raises(ValidationError, match="url"):
        BanListClientConfig(url="ws://127.0.0.1:1", account="main")
    with pytest.raises(ValidationError, match="long_poll_s"):
        BanListClientConfig(url="http://h", account="main", long_poll_s=61)
    with pytest.raises(ValidationError, match="reconnect_ms"):
        BanListClientConfig(url="http://h", account="main", reconnect_ms=0)
    with pytest.raises(ValidationError, match="surprise"):
        BanListClientConfig(url="http://h", account="main", surprise=1)  # type: ignore[call-arg]
