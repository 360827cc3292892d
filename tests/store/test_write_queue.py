"""WriteQueue: group commit, order, and what a failed write keeps."""

from __future__ import annotations

import asyncio

from riskd.store.write_queue import WriteQueue


class Writes:
    """A write that records its batches; it waits for ``release`` while ``held`` is set, and
    raises while ``failing`` is."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.attempts: list[list[int]] = []
        self.held = False
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.failing = False

    async def __call__(self, batch: list[int]) -> None:
        self.attempts.append(list(batch))
        self.started.set()
        if self.held:
            await self.release.wait()
        if self.failing:
            raise ConnectionError("the database is down")
        self.batches.append(list(batch))


async def _writing(item: int) -> tuple[Writes, WriteQueue[int], asyncio.Future[None]]:
    """A queue whose first write, of *item*, has started and is held."""
    writes = Writes()
    writes.held = True
    queue = WriteQueue("test", writes, retry_s=0)
    put = asyncio.ensure_future(queue.put(item))
    await writes.started.wait()
    return writes, queue, put


async def test_items_put_while_a_write_runs_go_together_in_the_next_write() -> None:
    writes, queue, first = await _writing(0)
    burst = [asyncio.ensure_future(queue.put(i)) for i in range(1, 101)]
    await asyncio.sleep(0)
    assert queue.waiting == 100
    writes.held = False
    writes.release.set()
    await asyncio.gather(first, *burst)
    assert writes.batches == [[0], list(range(1, 101))]
    assert queue.waiting == 0 and queue.error is None


async def test_a_put_returns_only_once_the_write_that_took_its_item_is_over() -> None:
    writes, _queue, put = await _writing(7)
    await asyncio.sleep(0.01)
    assert not put.done() and writes.batches == []
    writes.release.set()
    await put
    assert writes.batches == [[7]]


async def test_a_failed_write_keeps_its_items_ahead_of_later_ones_and_tries_again() -> None:
    writes = Writes()
    writes.failing = True
    queue = WriteQueue("test", writes, retry_s=0.05)

    await queue.put(1)  # released by the failed attempt: kept, not lost
    assert isinstance(queue.error, ConnectionError) and queue.waiting == 1
    writes.failing = False
    await queue.put(2)

    assert writes.attempts == [[1], [1, 2]]
    assert writes.batches == [[1, 2]]
    assert queue.error is None and queue.waiting == 0


async def test_an_idle_queue_starts_writing_again_on_the_next_put() -> None:
    writes = Writes()
    queue = WriteQueue("test", writes, retry_s=0)
    await queue.put(1)
    await asyncio.sleep(0.01)  # the writer has nothing left and ends
    await queue.put(2)
    assert writes.batches == [[1], [2]]
