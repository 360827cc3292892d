"""The simulator in a child process pinned to one core, for benchmarks that drive it."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection

SERVER_CPU, CLIENT_CPU = 0, 1
START_TIMEOUT_S = 30


def _serve(config: dict, ready: Connection) -> None:
    """Child process: pin to SERVER_CPU, run SimServer(config), send its port."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {SERVER_CPU})

    async def main() -> None:
        from riskd.sim import SimConfig, SimServer

        server = SimServer(SimConfig.model_validate(config))
        await server.start()
        ready.send(server.port)
        ready.close()
        await asyncio.Event().wait()

    asyncio.run(main())


@contextlib.contextmanager
def pinned_simulator(config: dict, name: str) -> Iterator[tuple[str, str]]:
    """Start the simulator (spawn) on CPU 0 and move this process to CPU 1.

    Yields the base URL and a sentence saying where each side runs. The child is terminated
    on exit.
    """
    cpus = os.cpu_count() or 1
    pinned = hasattr(os, "sched_setaffinity") and cpus >= 2
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_serve, args=({"port": 0, **config}, send), daemon=True, name=name
    )
    child.start()
    try:
        if not receive.poll(START_TIMEOUT_S):
            raise SystemExit(f"the simulator did not start within {START_TIMEOUT_S} s")
        base_url = f"http://127.0.0.1:{receive.recv()}"
        if pinned:
            os.sched_setaffinity(0, {CLIENT_CPU})
            where = f"simulator pid {child.pid} on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}"
        else:
            where = f"NOT pinned ({cpus} CPU(s) or no sched_setaffinity)"
        yield base_url, where
    finally:
        child.terminate()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
