"""PUT and GET /v1/channels/{id} and the /v1/channels/{id}/stream WebSocket, on the gateway
as it serves (a real aiohttp server), with and without tokens and robots."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from aiohttp import WSCloseCode, WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from riskd.core.bodies import MAX_BODY_BYTES
from riskd.gateway.app import gateway_app
from riskd.gateway.channel_hub import MAX_DATA_BYTES, ChannelHub
from riskd.gateway.hub import BanListHub
from tests.kit.clock import FrozenClock
from tests.kit.gateway import (
    JSON,
    OPERATOR,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    FakeBackend,
    Served,
    as_robot,
    gateway_config,
    robot_tokens,
    serving,
)

TOKENS = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
ROBOTS = robot_tokens("alice", "bob")
NEEDS_A_ROBOT = {"error": "this change needs a robot's token"}
WRONG_TOKEN = {"error": "wrong bearer token"}
SEND_TOKEN = {"error": "Authorization: send 'Bearer <token>'"}


async def put(
    gateway: Served, id_: str, value: object, headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    """Publish *value* (as JSON) to channel *id_*: the status and the answer."""
    body = json.dumps(value).encode()
    status, _, answer = await gateway.call(
        "PUT", f"/v1/channels/{id_}", body, JSON | dict(headers or {})
    )
    return status, answer


async def get(
    gateway: Served, id_: str, headers: Mapping[str, str] | None = None
) -> tuple[int, Any]:
    status, _, answer = await gateway.call("GET", f"/v1/channels/{id_}", headers=headers)
    return status, answer


def sized(n: int) -> str:
    """A string whose compact JSON (with its quotes) is *n* bytes."""
    return "x" * (n - 2)


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[Served]:
    """Loopback, no tokens, no robots: everything is open."""
    async with serving() as served:
        yield served


@pytest.fixture(scope="module")
async def guarded() -> AsyncIterator[Served]:
    """The read and operator tokens, and robots alice and bob."""
    async with serving(config=TOKENS, robots=ROBOTS) as served:
        yield served


# ---- publish and read -----------------------------------------------------------------------


async def test_a_channel_is_404_before_its_first_publish(gateway: Served) -> None:
    assert await get(gateway, "never") == (
        404,
        {"error": "id: channel 'never' has not been published yet"},
    )


async def test_publish_then_read_counting_versions_on_the_gateway_clock() -> None:
    clock = FrozenClock()
    async with serving(clock=clock) as gateway:
        assert await put(gateway, "pnl", {"usdt": "1.5"}) == (
            200,
            {"id": "pnl", "version": 1, "updated_ms": clock.now_ms},
        )
        clock.now_ms += 250
        assert await put(gateway, "pnl", {"usdt": "2"}) == (
            200,
            {"id": "pnl", "version": 2, "updated_ms": clock.now_ms},
        )
        status, headers, answer = await gateway.call("GET", "/v1/channels/pnl")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert answer == {"id": "pnl", "version": 2, "updated_ms": clock.now_ms, "data": {"usdt": "2"}}


@pytest.mark.parametrize(
    "value", [None, True, 0, -1.5, "text", "中文", [], [1, [2, {"a": None}]], {}, {"k": "v"}]
)
async def test_any_json_value_is_a_state_null_too(gateway: Served, value: object) -> None:
    status, receipt = await put(gateway, "any", value)
    assert status == 200
    assert await get(gateway, "any") == (200, receipt | {"data": value})


async def test_the_state_is_overwritten_not_merged(gateway: Served) -> None:
    await put(gateway, "over", {"a": 1, "b": 2})
    await put(gateway, "over", {"c": 3})
    assert (await get(gateway, "over"))[1]["data"] == {"c": 3}


async def test_channels_are_separate(gateway: Served) -> None:
    await put(gateway, "left", "L")
    _, receipt = await put(gateway, "right", "R")
    assert receipt["version"] == 1
    assert (await get(gateway, "left"))[1]["data"] == "L"


async def test_without_robots_a_channel_has_no_owner(gateway: Served) -> None:
    await put(gateway, "unowned", 1)
    channel = gateway.server.channels.latest("unowned")
    assert channel is not None
    assert channel.owner is None


# ---- the size limit -------------------------------------------------------------------------


async def test_data_of_1024_bytes_is_taken(gateway: Served) -> None:
    assert (await put(gateway, "full", sized(MAX_DATA_BYTES)))[0] == 200


async def test_more_than_1024_bytes_is_413_and_changes_nothing(gateway: Served) -> None:
    _, before = await put(gateway, "big", "small")
    assert await put(gateway, "big", sized(MAX_DATA_BYTES + 1)) == (
        413,
        {"error": "channel data is 1025 bytes serialized; at most 1024"},
    )
    assert await get(gateway, "big") == (200, before | {"data": "small"})


async def test_a_first_publish_of_too_much_data_creates_no_channel(gateway: Served) -> None:
    assert (await put(gateway, "never-big", ["x" * 600, "y" * 600]))[0] == 413
    assert (await get(gateway, "never-big"))[0] == 404


async def test_the_size_is_of_the_compact_json_not_the_body(gateway: Served) -> None:
    body = b"[" + b" " * 4000 + b'"padded"' + b" " * 4000 + b"]"
    status, _, answer = await gateway.call("PUT", "/v1/channels/spaces", body, JSON)
    assert (status, answer["version"]) == (200, 1)
    unicode = "é" * 600  # 600 characters, 1202 bytes
    assert (await put(gateway, "spaces", unicode))[1] == {
        "error": "channel data is 1202 bytes serialized; at most 1024"
    }


# ---- bad requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"{", JSON, 400, "the body is not JSON"),
        (b"", JSON, 400, "the body is not JSON"),
        (b'{"a":1,"a":2}', JSON, 400, "'a': given more than once"),
        (b"[" * 9 + b"]" * 9, JSON, 400, "the body nests arrays and objects more than 8 deep"),
        (b"NaN", JSON, 400, "the body: numbers must be finite"),
        (b"[1e999]", JSON, 400, "the body: numbers must be finite"),
        (b'"\\ud800"', JSON, 400, "the body: a string holds a lone surrogate"),
        (b"\xff", JSON, 400, "the body is not UTF-8"),
        (b"1", {"Content-Type": "text/plain"}, 415, "Content-Type: must be application/json"),
        (b"1", {}, 415, "Content-Type: must be application/json"),
        (
            b"1",
            {"Content-Type": "application/json; charset=latin-1"},
            415,
            "Content-Type: charset must be utf-8",
        ),
        (b"[" + b"0," * MAX_BODY_BYTES + b"0]", JSON, 413, "the body is larger than 65536 bytes"),
    ],
)
async def test_a_bad_body_is_refused_and_changes_nothing(
    gateway: Served, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    answer = await gateway.call("PUT", "/v1/channels/bad-body", body, headers)
    assert (answer[0], answer[2]["error"][: len(error)]) == (status, error)
    assert (await get(gateway, "bad-body"))[0] == 404


@pytest.mark.parametrize("id_", ["a%20b", "x" * 65, "%C3%A9", "a%0A", "a%2Fb", "semi;colon"])
async def test_a_bad_id_is_400_naming_id_on_every_route(gateway: Served, id_: str) -> None:
    for method, path, body in [
        ("PUT", f"/v1/channels/{id_}", b"1"),
        ("GET", f"/v1/channels/{id_}", None),
        ("GET", f"/v1/channels/{id_}/stream", None),
    ]:
        status, _, answer = await gateway.call(method, path, body, JSON)
        assert status == 400, (method, path)
        assert answer["error"].startswith("id: must be 1 to 64 letters, digits")


@pytest.mark.parametrize("id_", ["x" * 64, "A-z_0.9:x"])
async def test_the_longest_and_every_allowed_character_are_ids(gateway: Served, id_: str) -> None:
    assert (await put(gateway, id_, 1))[0] == 200
    assert (await get(gateway, id_))[1]["id"] == id_


async def test_past_the_channel_limit_a_new_channel_is_507_naming_it() -> None:
    app = gateway_app(
        gateway_config(), ["main"], FakeBackend(), BanListHub(), channels=ChannelHub(max_channels=1)
    )
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        assert (await client.put("/v1/channels/one", data=b"1", headers=JSON)).status == 200
        refused = await client.put("/v1/channels/two", data=b"1", headers=JSON)
        assert refused.status == 507
        assert (await refused.json())["error"].startswith(
            "channels: this gateway holds 1, its limit"
        )
        assert (await client.get("/v1/channels/two")).status == 404
        assert (await client.put("/v1/channels/one", data=b"2", headers=JSON)).status == 200
    finally:
        await client.close()


# ---- tokens ---------------------------------------------------------------------------------


async def test_the_first_robot_to_publish_owns_the_channel(guarded: Served) -> None:
    assert (await put(guarded, "owned", 1, as_robot("alice")))[0] == 200
    assert await put(guarded, "owned", 2, as_robot("bob")) == (
        403,
        {"error": "channel 'owned' belongs to robot 'alice'"},
    )
    assert (await put(guarded, "owned", 3, as_robot("alice")))[1]["version"] == 2
    assert (await get(guarded, "owned", READER))[1]["data"] == 3
    channel = guarded.server.channels.latest("owned")
    assert channel is not None
    assert channel.owner == "alice"


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, SEND_TOKEN),
        ({"Authorization": "Bearer nobody-token"}, 401, WRONG_TOKEN),
        ({"Authorization": "Basic alice-robot-token"}, 401, SEND_TOKEN),
        (READER, 403, NEEDS_A_ROBOT),
        (OPERATOR, 403, NEEDS_A_ROBOT),
    ],
)
async def test_with_robots_only_a_robots_token_publishes(
    guarded: Served, headers: dict[str, str], status: int, error: dict
) -> None:
    assert await put(guarded, "tokens", 1, headers) == (status, error)
    assert (await get(guarded, "tokens", READER))[0] == 404


async def test_a_401_challenges_for_a_bearer_token(guarded: Served) -> None:
    body = json.dumps(1).encode()
    _, headers, _ = await guarded.call("PUT", "/v1/channels/challenge", body, JSON)
    assert headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("headers", "status"),
    [(READER, 404), (OPERATOR, 404), ({}, 401), (as_robot("alice"), 401)],
)
async def test_reads_take_the_read_or_the_operator_token(
    guarded: Served, headers: dict[str, str], status: int
) -> None:
    assert (await get(guarded, "reads", headers))[0] == status


async def test_with_robots_and_no_tokens_reads_are_open() -> None:
    async with serving(robots=ROBOTS) as gateway:
        assert (await put(gateway, "c", 1))[0] == 401
        assert (await put(gateway, "c", 1, as_robot("bob")))[0] == 200
        assert (await get(gateway, "c"))[0] == 200


async def test_without_robots_publishing_takes_the_operators_token_when_there_is_one() -> None:
    async with serving(config=TOKENS) as gateway:
        assert await put(gateway, "c", 1, READER) == (
            403,
            {"error": "changes need the operator's token"},
        )
        assert (await put(gateway, "c", 1, as_robot("alice")))[0] == 401
        assert (await put(gateway, "c", 1, OPERATOR))[0] == 200


# ---- the stream -----------------------------------------------------------------------------


async def receive(socket: Any) -> Any:
    """The next message, a text of JSON, decoded."""
    message = await socket.receive(timeout=10)
    assert message.type is WSMsgType.TEXT, message
    return json.loads(message.data)


async def test_the_stream_sends_the_current_state_then_each_new_version(gateway: Served) -> None:
    await put(gateway, "live", "v1")
    async with gateway.http.ws_connect(gateway.url + "/v1/channels/live/stream") as socket:
        assert await receive(socket) == (await get(gateway, "live"))[1]
        await put(gateway, "live", "v2")
        assert await receive(socket) == (await get(gateway, "live"))[1]
        await socket.send_str("ignored")
        await put(gateway, "live", "v3")
        assert (await receive(socket))["data"] == "v3"


async def test_a_stream_opened_before_the_first_publish_gets_it(gateway: Served) -> None:
    async with gateway.http.ws_connect(gateway.url + "/v1/channels/later/stream") as socket:
        await put(gateway, "later", {"first": True})
        assert await receive(socket) == (await get(gateway, "later"))[1]


async def test_a_stream_gets_only_its_channel(gateway: Served) -> None:
    async with gateway.http.ws_connect(gateway.url + "/v1/channels/mine/stream") as socket:
        await put(gateway, "theirs", 1)
        await put(gateway, "mine", 2)
        message = await receive(socket)
    assert (message["id"], message["data"]) == ("mine", 2)


async def test_a_slow_reader_skips_to_the_newest_version(gateway: Served) -> None:
    channels = gateway.server.channels
    channels.publish("fast", 0, None)
    async with gateway.http.ws_connect(gateway.url + "/v1/channels/fast/stream") as socket:
        assert (await receive(socket))["version"] == 1
        for value in range(1, 50):
            channels.publish("fast", value, None)  # the reader reads nothing meanwhile
        assert await receive(socket) == json.loads(channels.latest("fast").message)
        channels.publish("fast", "next", None)
        assert (await receive(socket))["version"] == 51


async def test_the_stream_is_a_websocket_only(gateway: Served) -> None:
    status, headers, answer = await gateway.call("GET", "/v1/channels/c/stream")
    assert (status, headers["Upgrade"]) == (426, "websocket")
    assert answer == {"error": "this route is a WebSocket: send 'Upgrade: websocket'"}


async def test_the_stream_takes_the_read_token(guarded: Served) -> None:
    url = guarded.url + "/v1/channels/guarded/stream"
    with pytest.raises(WSServerHandshakeError) as refused:
        await guarded.http.ws_connect(url)
    assert refused.value.status == 401
    await put(guarded, "guarded", 1, as_robot("alice"))
    async with guarded.http.ws_connect(url, headers=READER) as socket:
        assert (await receive(socket))["data"] == 1


async def test_stopping_the_gateway_closes_streams_with_1001() -> None:
    async with serving() as gateway:
        await put(gateway, "closing", 1)
        socket = await gateway.http.ws_connect(gateway.url + "/v1/channels/closing/stream")
        await receive(socket)
        await gateway.server.stop()
        closing = await socket.receive(timeout=10)
        assert (closing.type, closing.data) == (WSMsgType.CLOSE, WSCloseCode.GOING_AWAY)
        await socket.close()
