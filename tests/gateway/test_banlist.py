"""GET /v1/banlist and the /v1/banlist/stream WebSocket on a real aiohttp server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from riskd.gateway.banlist import add_banlist_routes
from riskd.gateway.hub import BanListHub
from riskd.risk.banlist import BanList
from tests.kit.samples import banlist, lock


async def serve(hub: BanListHub, accounts: list[str]) -> TestClient:
    app = web.Application()
    add_banlist_routes(app, hub, accounts)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def hub() -> BanListHub:
    return BanListHub()


@pytest.fixture
async def http(hub: BanListHub) -> AsyncIterator[TestClient]:
    client = await serve(hub, ["main"])
    yield client
    await client.close()


@pytest.fixture
async def http_two(hub: BanListHub) -> AsyncIterator[TestClient]:
    client = await serve(hub, ["main", "other"])
    yield client
    await client.close()


async def test_get_serves_the_latest_snapshot_with_etag(hub: BanListHub, http: TestClient) -> None:
    hub.publish(banlist(3, lock()))
    response = await http.get("/v1/banlist")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["ETag"] == banlist(3).etag
    assert await response.read() == banlist(3, lock()).to_json()


async def test_get_and_stream_send_the_published_bytes_without_encoding_them(
    hub: BanListHub, http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = json.dumps(json.loads(banlist(3, lock()).to_json()), indent=1).encode()

    def never(_self: BanList) -> bytes:
        raise AssertionError("the routes encoded a ban list")

    monkeypatch.setattr(BanList, "to_json", never)
    hub.publish(BanList.from_json(sent), sent)
    assert await (await http.get("/v1/banlist")).read() == sent
    async with http.ws_connect("/v1/banlist/stream") as socket:
        message = await socket.receive(timeout=10)
    assert (message.type, message.data) == (WSMsgType.TEXT, sent.decode())


async def test_get_with_matching_if_none_match_is_304_without_body(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(3))
    response = await http.get("/v1/banlist", headers={"If-None-Match": banlist(3).etag})
    assert response.status == 304
    assert response.headers["ETag"] == banlist(3).etag
    assert await response.read() == b""


async def test_get_with_stale_if_none_match_is_200(hub: BanListHub, http: TestClient) -> None:
    hub.publish(banlist(4))
    response = await http.get("/v1/banlist", headers={"If-None-Match": banlist(3).etag})
    assert response.status == 200
    assert BanList.from_json(await response.read()) == banlist(4)


async def test_get_before_any_snapshot_is_503_json(http: TestClient) -> None:
    response = await http.get("/v1/banlist")
    assert response.status == 503
    assert "no ban list" in (await response.json())["error"]


async def test_get_unknown_account_is_404_json(hub: BanListHub, http: TestClient) -> None:
    hub.publish(banlist(1))
    response = await http.get("/v1/banlist", params={"account": "nobody"})
    assert response.status == 404
    body = await response.json()
    assert body["error"].startswith("account: unknown account 'nobody'")
    assert body["accounts"] == ["main"]


async def test_get_needs_account_when_there_are_several(
    hub: BanListHub, http_two: TestClient
) -> None:
    hub.publish(banlist(1, account="other"))
    missing = await http_two.get("/v1/banlist")
    assert missing.status == 400
    assert (await missing.json())["error"].startswith("account: required")
    named = await http_two.get("/v1/banlist", params={"account": "other"})
    assert BanList.from_json(await named.read()) == banlist(1, account="other")


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"wait": "5"}, "wait"),
        ({"version": "x", "wait": "5"}, "version"),
        ({"version": "-1"}, "version"),
        ({"version": "1", "wait": "61"}, "wait"),
        ({"version": "1", "wait": "-1"}, "wait"),
        ({"version": "1", "wait": "nan"}, "wait"),
        ({"version": "1", "wait": "soon"}, "wait"),
    ],
)
async def test_bad_long_poll_parameters_are_400_naming_the_parameter(
    hub: BanListHub, http: TestClient, params: dict[str, str], parameter: str
) -> None:
    hub.publish(banlist(1))
    response = await http.get("/v1/banlist", params=params)
    assert response.status == 400
    assert (await response.json())["error"].startswith(f"{parameter}: ")


async def test_long_poll_returns_at_once_when_a_newer_version_exists(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(5))
    response = await http.get("/v1/banlist", params={"version": "4", "wait": "60"})
    assert response.status == 200
    assert BanList.from_json(await response.read()) == banlist(5)


async def test_long_poll_wakes_when_a_newer_version_is_published(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(5))
    request = asyncio.create_task(http.get("/v1/banlist", params={"version": "5", "wait": "60"}))
    await asyncio.sleep(0.05)
    assert not request.done()
    hub.publish(banlist(6, lock()))
    response = await asyncio.wait_for(request, 10)
    assert response.status == 200
    assert response.headers["ETag"] == banlist(6).etag
    assert BanList.from_json(await response.read()) == banlist(6, lock())


async def test_long_poll_without_news_is_304_with_the_current_etag(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(5))
    response = await http.get("/v1/banlist", params={"version": "5", "wait": "0.01"})
    assert response.status == 304
    assert response.headers["ETag"] == banlist(5).etag
    assert await response.read() == b""


async def test_version_without_wait_answers_at_once(hub: BanListHub, http: TestClient) -> None:
    hub.publish(banlist(5))
    assert (await http.get("/v1/banlist", params={"version": "5"})).status == 304
    assert (await http.get("/v1/banlist", params={"version": "4"})).status == 200


async def test_long_poll_with_no_snapshot_at_all_is_503(http: TestClient) -> None:
    response = await http.get("/v1/banlist", params={"version": "0", "wait": "0.01"})
    assert response.status == 503


async def test_long_poll_for_the_first_snapshot_gets_it(hub: BanListHub, http: TestClient) -> None:
    request = asyncio.create_task(http.get("/v1/banlist", params={"version": "0", "wait": "60"}))
    await asyncio.sleep(0.05)
    hub.publish(banlist(1))
    response = await asyncio.wait_for(request, 10)
    assert response.status == 200


async def test_stream_sends_current_snapshot_first_then_every_new_version(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(1))
    async with http.ws_connect("/v1/banlist/stream") as socket:
        first = await socket.receive(timeout=10)
        assert first.type is WSMsgType.TEXT
        assert BanList.from_json(first.data) == banlist(1)
        hub.publish(banlist(2, lock()))
        second = await socket.receive(timeout=10)
        assert second.data == banlist(2, lock()).to_json().decode()
        hub.publish(banlist(3))
        assert BanList.from_json((await socket.receive(timeout=10)).data) == banlist(3)


async def test_stream_before_any_snapshot_sends_the_first_when_published(
    hub: BanListHub, http: TestClient
) -> None:
    async with http.ws_connect("/v1/banlist/stream") as socket:
        await asyncio.sleep(0.05)
        hub.publish(banlist(1))
        assert BanList.from_json((await socket.receive(timeout=10)).data) == banlist(1)


async def test_stream_pushes_only_its_account(hub: BanListHub, http_two: TestClient) -> None:
    async with http_two.ws_connect("/v1/banlist/stream", params={"account": "other"}) as socket:
        hub.publish(banlist(7))
        hub.publish(banlist(1, account="other"))
        assert BanList.from_json((await socket.receive(timeout=10)).data) == banlist(
            1, account="other"
        )


async def test_stream_for_unknown_account_is_404_before_upgrade(http: TestClient) -> None:
    response = await http.get("/v1/banlist/stream", params={"account": "nobody"})
    assert response.status == 404
    assert "unknown account" in (await response.json())["error"]


async def test_stream_subscriber_is_released_when_the_client_closes(
    hub: BanListHub, http: TestClient
) -> None:
    hub.publish(banlist(1))
    async with http.ws_connect("/v1/banlist/stream") as socket:
        await socket.receive(timeout=10)
    for _ in range(200):
        if not hub._subscribers["main"]:
            break
        await asyncio.sleep(0.01)
    assert hub._subscribers["main"] == set()


async def test_server_shutdown_closes_open_streams(hub: BanListHub) -> None:
    client = await serve(hub, ["main"])
    hub.publish(banlist(1))
    socket = await client.ws_connect("/v1/banlist/stream")
    await socket.receive(timeout=10)
    await client.close()
    closing = await socket.receive(timeout=10)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


async def test_server_shutdown_ends_pending_long_polls_with_304(hub: BanListHub) -> None:
    server = TestServer(web.Application(), host="127.0.0.1")
    add_banlist_routes(server.app, hub, ["main"])
    await server.start_server()
    hub.publish(banlist(1))
    async with ClientSession() as session:
        url = server.make_url("/v1/banlist")
        request = asyncio.create_task(session.get(url, params={"version": "1", "wait": "60"}))
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(server.close())
        response = await asyncio.wait_for(request, 10)
        assert response.status == 304
        await asyncio.wait_for(closing, 10)


def test_add_routes_needs_an_account() -> None:
    with pytest.raises(ValueError, match="accounts"):
        add_banlist_routes(web.Application(), BanListHub(), [])
