"""ChannelHub: ids, the size limit, versions, owners, the channel limit and subscribers."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

import pytest

from riskd.gateway.channel_hub import (
    MAX_DATA_BYTES,
    ChannelHub,
    ChannelsFull,
    ChannelTooLarge,
    NotOwner,
    channel_id,
    serialized,
)
from tests.kit.clock import FrozenClock


def sized(n: int) -> str:
    """A string whose compact JSON (with its quotes) is *n* bytes."""
    return "x" * (n - 2)


@pytest.mark.parametrize("raw", ["a", "A-z_0.9:x", "robot-1:pnl", "x" * 64])
def test_a_channel_id_is_letters_digits_and_punctuation(raw: str) -> None:
    assert channel_id(raw) == raw


@pytest.mark.parametrize("raw", ["", "x" * 65, "a b", "a/b", "é", "٣", "a\n"])
def test_anything_else_is_refused_naming_the_id(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^id: must be 1 to 64 letters"):
        channel_id(raw)


def test_data_is_serialized_compact_and_unescaped() -> None:
    assert (
        serialized({"a": [1, 2.5, None, True], "b": "é"})
        == '{"a":[1,2.5,null,true],"b":"é"}'.encode()
    )


def test_data_of_the_limit_is_taken_and_one_byte_more_is_too_large() -> None:
    assert len(serialized(sized(MAX_DATA_BYTES))) == MAX_DATA_BYTES
    with pytest.raises(ChannelTooLarge) as raised:
        serialized(sized(MAX_DATA_BYTES + 1))
    assert str(raised.value) == "channel data is 1025 bytes serialized; at most 1024"


def test_the_size_counts_utf8_bytes_not_characters() -> None:
    with pytest.raises(ChannelTooLarge, match=r"^channel data is 1026 bytes"):
        serialized("é" * 512)  # 512 characters, 1024 bytes, and the quotes


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (float("nan"), "numbers must be finite"),
        ([float("inf")], "numbers must be finite"),
        ({"a": "\ud800"}, "lone surrogate"),
    ],
)
def test_what_is_not_json_is_refused(value: object, error: str) -> None:
    with pytest.raises(ValueError, match=rf"^the body: .*{error}"):
        serialized(value)


def test_publish_counts_versions_from_one_and_stamps_the_clock() -> None:
    clock = FrozenClock()
    hub = ChannelHub(clock)
    first = hub.publish("pnl", {"usdt": 1}, "alice")
    clock.now_ms += 500
    second = hub.publish("pnl", {"usdt": 2}, "alice")
    assert (first.version, first.updated_ms) == (1, clock.now_ms - 500)
    assert (second.version, second.updated_ms, second.data) == (2, clock.now_ms, b'{"usdt":2}')
    assert hub.latest("pnl") == second
    assert second.receipt() == {"id": "pnl", "version": 2, "updated_ms": clock.now_ms}
    assert json.loads(second.message) == {
        "id": "pnl",
        "version": 2,
        "updated_ms": clock.now_ms,
        "data": {"usdt": 2},
    }


def test_null_is_a_state_like_any_other() -> None:
    hub = ChannelHub(FrozenClock())
    channel = hub.publish("c", None, None)
    assert (channel.version, channel.data, json.loads(channel.message)["data"]) == (
        1,
        b"null",
        None,
    )


def test_a_channel_is_unknown_before_its_first_publish() -> None:
    assert ChannelHub(FrozenClock()).latest("c") is None


def test_the_first_publisher_owns_the_channel_and_no_other_robot_writes_it() -> None:
    hub = ChannelHub(FrozenClock())
    hub.publish("c", 1, "alice")
    with pytest.raises(NotOwner, match=r"^channel 'c' belongs to robot 'alice'$"):
        hub.publish("c", 2, "bob")
    latest = hub.latest("c")
    assert latest is not None
    assert (latest.owner, latest.version, latest.data) == ("alice", 1, b"1")
    assert hub.publish("other", 1, "bob").owner == "bob"


def test_without_robots_the_channel_has_no_owner() -> None:
    hub = ChannelHub(FrozenClock())
    hub.publish("c", 1, None)
    assert hub.publish("c", 2, None).owner is None


def test_too_much_data_changes_nothing() -> None:
    hub = ChannelHub(FrozenClock())
    hub.publish("c", "small", "alice")
    with pytest.raises(ChannelTooLarge):
        hub.publish("c", sized(MAX_DATA_BYTES + 1), "alice")
    with pytest.raises(ChannelTooLarge):
        hub.publish("new", sized(MAX_DATA_BYTES + 1), "alice")
    latest = hub.latest("c")
    assert latest is not None
    assert (latest.version, latest.data) == (1, b'"small"')
    assert (hub.latest("new"), len(hub)) == (None, 1)


def test_a_bad_id_is_refused_before_anything() -> None:
    hub = ChannelHub(FrozenClock())
    with pytest.raises(ValueError, match=r"^id: "):
        hub.publish("a b", 1, None)
    assert len(hub) == 0


def test_past_the_channel_limit_new_channels_are_refused_and_old_ones_still_written() -> None:
    hub = ChannelHub(FrozenClock(), max_channels=2)
    hub.publish("a", 1, None)
    hub.publish("b", 1, None)
    with pytest.raises(ChannelsFull, match=r"^channels: this gateway holds 2, its limit"):
        hub.publish("c", 1, None)
    assert (hub.latest("c"), len(hub)) == (None, 2)
    assert hub.publish("a", 2, None).version == 2


async def test_a_subscriber_gets_the_current_version_then_each_new_one() -> None:
    hub = ChannelHub(FrozenClock())
    hub.publish("c", 1, None)
    async with aclosing(hub.subscribe("c")) as versions:
        assert (await anext(versions)).version == 1
        hub.publish("c", 2, None)
        assert (await anext(versions)).version == 2


async def test_a_subscriber_before_the_first_publish_gets_the_first() -> None:
    hub = ChannelHub(FrozenClock())
    async with aclosing(hub.subscribe("c")) as versions:
        waiting = asyncio.ensure_future(anext(versions))
        await asyncio.sleep(0)
        assert not waiting.done()
        hub.publish("other", 1, None)
        hub.publish("c", "first", None)
        assert (await waiting).data == b'"first"'


async def test_a_slow_subscriber_skips_to_the_newest_version() -> None:
    hub = ChannelHub(FrozenClock())
    async with aclosing(hub.subscribe("c")) as versions:
        for value in range(1, 101):
            hub.publish("c", value, None)  # never blocks, however far behind the reader is
        newest = await anext(versions)
        assert (newest.version, newest.data) == (100, b"100")
        hub.publish("c", 101, None)
        assert (await anext(versions)).version == 101


async def test_a_closed_subscriber_is_forgotten() -> None:
    hub = ChannelHub(FrozenClock())
    async with aclosing(hub.subscribe("c")) as versions:
        hub.publish("c", 1, None)
        await anext(versions)
        assert len(hub._subscribers["c"]) == 1
    assert hub._subscribers == {}
