"""What the gateway takes of a client (``[gateway.limits]``): bodies, heads, slow clients,
WebSockets and long-polls per client and in total, and messages on a socket; each refused
with its status naming the limit. The gateway as it serves, on a fake riskd."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tomllib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from pydantic import ValidationError

from riskd.gateway.config import GatewayConfig, GatewayLimitsConfig
from riskd.gateway.limits import ConnectionSlots, Held, MessageRate, TooManyConnections
from tests.kit.clock import FrozenClock
from tests.kit.gateway import Served, gateway_config, serving
from tests.kit.samples import banlist

STREAM = "/v1/banlist/stream"
WAIT_S = 30  # a long-poll's wait: the test ends it with a new version
BOUND_S = 10.0  # a generous bound on what must happen at once


def limited(**limits: object) -> GatewayConfig:
    """The test gateway's config (loopback, no tokens) with these ``[gateway.limits]``."""
    return gateway_config().model_copy(update={"limits": GatewayLimitsConfig(**limits)})


async def raw_exchange(gateway: Served, data: bytes, *, until_closed: bool = True) -> bytes:
    """Send *data* on a connection of its own; what the gateway answers until it closes the
    connection (or, without *until_closed*, its first answer)."""
    url = urlsplit(gateway.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(data)
        read = reader.read() if until_closed else _one_answer(reader)
        return await asyncio.wait_for(read, BOUND_S)
    finally:
        writer.close()
        await writer.wait_closed()  # else the gateway lingers on it when it stops


async def _one_answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.startswith(b"Content-Length")
    )
    return head + await reader.readexactly(length)


def status_of(answer: bytes) -> int:
    """The status of a raw HTTP answer (aiohttp answers a head it cannot read as HTTP/1.0)."""
    return int(answer.split(b" ", 2)[1])


def json_answer(raw: bytes) -> tuple[bytes, dict]:
    """The status line and JSON body of a raw HTTP/1.1 answer."""
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Type: application/json" in head, head
    return head.split(b"\r\n")[0], json.loads(body)


def upgrade_headers() -> dict[str, str]:
    """A WebSocket handshake's headers, sent on a plain request to read a refusal's body."""
    key = base64.b64encode(os.urandom(16)).decode()
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
    }


async def refused_handshake(gateway: Served, path: str = STREAM) -> tuple[int, dict]:
    async with gateway.http.get(gateway.url + path, headers=upgrade_headers()) as response:
        return response.status, await response.json()


@asynccontextmanager
async def sockets(gateway: Served, count: int, path: str = STREAM) -> AsyncIterator[list]:
    """*count* WebSockets open on *path* while the block runs."""
    async with AsyncExitStack() as stack:
        opened = [
            await stack.enter_async_context(gateway.http.ws_connect(gateway.url + path))
            for _ in range(count)
        ]
        yield opened


# ---------------------------------------------------------------- the pure parts


def test_a_socket_may_send_its_messages_per_second_and_not_one_more() -> None:
    clock = FrozenClock(now_ms=1_000)
    rate = MessageRate(3, clock)
    admitted = []
    for clock.now_ms in (1_000, 1_400, 1_800, 1_999, 2_000, 2_000):
        admitted.append(rate.admit())
    # The fourth within a second is refused; at 2,000 ms the first is a second old.
    assert admitted == [True, True, True, False, True, False]


def test_a_client_holds_its_limit_of_each_kind_and_all_hold_the_total() -> None:
    slots = ConnectionSlots(
        GatewayLimitsConfig(websockets_per_client=1, websockets_total=2, loopback_exempt=False)
    )
    per_client = pytest.raises(TooManyConnections, match=r"^websockets_per_client: this address")
    total = pytest.raises(TooManyConnections, match=r"^websockets_total: the gateway holds 2 ")
    with slots.held(Held.WEBSOCKET, "10.0.0.1"):
        with per_client, slots.held(Held.WEBSOCKET, "10.0.0.1"):
            pass
        with (
            slots.held(Held.LONG_POLL, "10.0.0.1"),
            slots.held(Held.WEBSOCKET, "10.0.0.2"),
            total,
            slots.held(Held.WEBSOCKET, "10.0.0.3"),
        ):
            pass
    assert (slots.count(Held.WEBSOCKET), slots.count(Held.LONG_POLL)) == (0, 0)
    with slots.held(Held.WEBSOCKET, "10.0.0.1"), slots.held(Held.WEBSOCKET, "10.0.0.2"):
        pass  # every slot was given back


def test_loopback_clients_count_toward_the_total_only_while_exempt() -> None:
    exempt = ConnectionSlots(GatewayLimitsConfig(long_polls_per_client=1, long_polls_total=2))
    with (
        exempt.held(Held.LONG_POLL, "127.0.0.1"),
        exempt.held(Held.LONG_POLL, "::1"),
        pytest.raises(TooManyConnections, match=r"^long_polls_total"),
        exempt.held(Held.LONG_POLL, "127.0.0.1"),
    ):
        pass


def test_a_client_limit_above_the_total_is_refused() -> None:
    with pytest.raises(ValidationError, match="websockets_per_client must be at most"):
        GatewayLimitsConfig(websockets_per_client=5, websockets_total=4)
    with pytest.raises(ValidationError, match="max_body_byte"):
        GatewayConfig.model_validate({"limits": {"max_body_byte": 1}})


# ---------------------------------------------------------------- bodies and heads


async def test_a_body_over_the_limit_is_413_on_its_content_length_before_it_is_sent() -> None:
    async with serving(config=limited(max_body_bytes=4096)) as gateway:
        head = (
            "POST /v1/state HTTP/1.1\r\nHost: riskd\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000000\r\n\r\n"
        )
        for _ in range(20):  # nothing of the bodies is sent: none can be buffered
            raw = await raw_exchange(gateway, head.encode(), until_closed=False)
            status, answer = json_answer(raw)
            assert status == b"HTTP/1.1 413 Request Entity Too Large"
            assert answer == {"error": "the body is larger than 4096 bytes (max_body_bytes)"}
        assert gateway.backend.calls == []


async def test_a_chunked_body_over_the_limit_is_413_naming_it() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"[" * 1024

    async with serving(config=limited(max_body_bytes=4096)) as gateway:
        status, _, answer = await gateway.call(
            "PUT", "/v1/channels/c1", chunks(), {"Content-Type": "application/json"}
        )
        assert (status, answer["error"]) == (
            413,
            "the body is larger than 4096 bytes (max_body_bytes)",
        )
        assert gateway.server.channels.latest("c1") is None


async def test_a_head_line_over_the_limit_is_a_json_400_and_the_connection_closes() -> None:
    async with serving(config=limited(max_header_bytes=2048)) as gateway:
        fits = await raw_exchange(
            gateway,
            b"GET /v1/health HTTP/1.1\r\nHost: r\r\nX-Big: " + b"a" * 1900 + b"\r\n\r\n",
            until_closed=False,
        )
        assert status_of(fits) == 200, fits
        for request in (
            b"GET /v1/health HTTP/1.1\r\nHost: r\r\nX-Big: " + b"a" * 2100 + b"\r\n\r\n",
            b"GET /v1/health?" + b"a" * 2100 + b" HTTP/1.1\r\nHost: r\r\n\r\n",
        ):
            answer = await raw_exchange(gateway, request)  # read until the gateway closes
            status, error = json_answer(answer)
            assert status.split(b" ")[1] == b"400", answer
            assert "Got more than 2048 bytes" in error["error"]


async def test_a_client_sending_half_a_head_slowly_is_cut_off_while_others_are_served() -> None:
    async with serving(config=limited(head_timeout_ms=1_000)) as gateway:
        url = urlsplit(gateway.url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(b"GET /v1/health HTTP/1.1\r\nHost: riskd\r\n")

        async def trickle() -> None:
            while not writer.is_closing():
                writer.write(b"X")
                await asyncio.sleep(0.05)

        trickling = asyncio.create_task(trickle())
        try:
            assert (await gateway.call("GET", "/v1/health"))[0] == 200
            assert await asyncio.wait_for(reader.read(), BOUND_S) == b""  # closed, no answer
        finally:
            trickling.cancel()
            writer.close()


# FMZ's route read its body without a timeout: a client sending half of it held the handler.
@pytest.mark.parametrize("path", ["/v1/state", "/fmz/binance"])
async def test_a_body_that_does_not_arrive_in_time_is_408(path: str) -> None:
    async with serving(config=limited(body_timeout_ms=200)) as gateway:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: riskd\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n"
        )
        answer = await raw_exchange(gateway, head.encode() + b'{"state":', until_closed=False)
        assert status_of(answer) == 408, answer
        error = json_answer(answer)[1]["error"]
        assert error == "the body did not arrive within 0.2 s (body_timeout_ms)"


# ---------------------------------------------------------------- connections held open


async def test_websockets_per_client_are_counted_per_ip_address() -> None:
    config = limited(websockets_per_client=1, websockets_total=3, loopback_exempt=False)
    async with serving(config=config) as gateway:
        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with (
            sockets(gateway, 1),
            aiohttp.ClientSession(connector=other) as elsewhere,
            elsewhere.ws_connect(gateway.url + STREAM),
        ):
            status, answer = await refused_handshake(gateway, "/v1/channels/c1/stream")
            assert status == 429
            assert answer["error"].startswith("websockets_per_client: this address holds 1 ")
        async with sockets(gateway, 1):  # closed: given back
            pass


async def test_websockets_over_the_total_are_429_loopback_clients_exempt_from_their_own() -> None:
    config = limited(websockets_per_client=1, websockets_total=2)
    async with serving(config=config) as gateway, sockets(gateway, 2):
        status, answer = await refused_handshake(gateway)
        assert status == 429
        assert answer["error"].startswith("websockets_total: the gateway holds 2 WebSockets")


async def test_long_polls_past_a_limit_are_429_and_a_plain_get_is_not_one() -> None:
    config = limited(long_polls_per_client=2, long_polls_total=2)
    async with serving(config=config) as gateway:
        gateway.server.publish_banlist(banlist(3).to_json())
        poll = f"/v1/banlist?version=3&wait={WAIT_S}"
        waiting = [asyncio.create_task(gateway.call("GET", poll)) for _ in range(2)]
        async with asyncio.timeout(BOUND_S):
            while gateway.server.slots.count(Held.LONG_POLL) < 2:
                await asyncio.sleep(0.01)
        status, _, answer = await gateway.call("GET", poll)
        assert (status, answer["error"]) == (
            429,
            "long_polls_total: the gateway holds 2 long-polls already, its limit; try again later",
        )
        assert (await gateway.call("GET", "/v1/banlist?version=3"))[0] == 304  # no wait
        assert (await gateway.call("GET", "/v1/banlist"))[0] == 200
        gateway.server.publish_banlist(banlist(4).to_json())
        answers = [await asyncio.wait_for(task, BOUND_S) for task in waiting]
        assert [(status, body["version"]) for status, _, body in answers] == [(200, 4)] * 2
        assert (await gateway.call("GET", "/v1/banlist?version=4&wait=0.1"))[0] == 304  # freed


async def test_a_socket_sending_more_than_its_messages_per_second_is_closed_1008() -> None:
    async with serving(config=limited(messages_per_s=3)) as gateway, sockets(gateway, 1) as (ws,):
        for n in range(4):
            await ws.send_str(f"hello {n}")
        closing = await asyncio.wait_for(ws.receive(), BOUND_S)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert (closing.data, closing.extra) == (1008, "messages_per_s: more than 3 in a second")


async def test_a_message_over_max_message_bytes_closes_the_socket_1009() -> None:
    async with (
        serving(config=limited(max_message_bytes=128)) as gateway,
        sockets(gateway, 1) as (ws,),
    ):
        await ws.send_str("x" * 129)
        closing = await asyncio.wait_for(ws.receive(), BOUND_S)
        assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1009)


async def test_the_document_gives_the_limits_and_their_429() -> None:
    async with serving(config=limited(websockets_per_client=7, websockets_total=7)) as gateway:
        document = (await gateway.call("GET", "/openapi.json"))[2]
    assert "in all 7 and 10000 (429)" in document["info"]["description"]
    assert "429" in document["paths"][STREAM]["get"]["responses"]
    assert "429" in document["paths"]["/v1/banlist"]["get"]["responses"]


def test_the_example_config_shows_the_defaults() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "riskd.example.toml"
    shown = tomllib.loads(example.read_text(encoding="utf-8"))["gateway"]["limits"]
    assert GatewayLimitsConfig(**shown) == GatewayLimitsConfig()
    assert set(shown) == set(GatewayLimitsConfig.model_fields)
