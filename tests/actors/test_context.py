"""NamedActor: calls to a deployment's actors that may be missing, or dying."""

from __future__ import annotations

import time

import pytest
import ray
from ray.exceptions import RayActorError

from actors.context import NamedActor, PeerUnavailable


@ray.remote
class Echo:
    async def echo(self, value: int) -> int:
        return value

    async def refuse(self) -> None:
        raise LookupError("no such lock")


@pytest.fixture
def echo(ray_cluster) -> NamedActor:
    handle = Echo.options(name="echo:test", namespace="context").remote()
    ray.get(handle.__ray_ready__.remote())
    yield NamedActor("echo:test", "context")
    ray.kill(handle)


async def test_a_call_answers_and_a_refusal_reaches_the_caller_as_its_own_error(echo) -> None:
    assert await echo.call("echo", 7) == 7
    with pytest.raises(LookupError, match="no such lock"):
        await echo.call("refuse")


async def test_a_call_to_an_actor_that_does_not_exist_says_so_in_one_line(ray_cluster) -> None:
    with pytest.raises(PeerUnavailable, match=r"^nobody:test does not exist$"):
        await NamedActor("nobody:test", "context").call("echo", 1)


def kill_and_wait_until_dead(name: str, namespace: str) -> None:
    """ray.kill only asks for the kill: a call made right after it may still be answered."""
    handle = ray.get_actor(name, namespace=namespace)
    ray.kill(handle)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ray.get(handle.__ray_ready__.remote())
        except RayActorError:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} still answers 60 s after ray.kill")


async def test_a_call_to_a_killed_actor_says_it_is_not_running_in_one_line(echo) -> None:
    assert await echo.call("echo", 1) == 1
    kill_and_wait_until_dead("echo:test", "context")
    with pytest.raises(PeerUnavailable, match=r"^echo:test is not running: ") as raised:
        await echo.call("echo", 2)
    assert "\n" not in str(raised.value)
    with pytest.raises(PeerUnavailable, match=r"^echo:test does not exist$"):
        await echo.call("echo", 3)  # looked up again: killed for good, it is gone
