"""Driver side of a deployment: start the Controller, wait until jobs report, stop it all.

The ``riskd`` command calls these; they are the only code outside actors that touches Ray.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable

import ray
from ray.actor import ActorHandle
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.context import CONTROLLER_NAME, ConfigSource
from actors.controller import Controller, actor_options
from riskd.health import JobStatus


def start(source: ConfigSource) -> tuple[ActorHandle, dict]:
    """Create (or adopt) the deployment's Controller on this node and start its plan.

    Raises ConfigError or OverSubscribedError before anything is created.
    """
    config = source.load(secrets=())
    config.plan()
    head = ray.get_runtime_context().get_node_id()
    controller = (
        ray.remote(Controller)
        .options(
            **actor_options(CONTROLLER_NAME, config.deployment.name),
            scheduling_strategy=NodeAffinitySchedulingStrategy(head, soft=False),
        )
        .remote(source, head)
    )
    return controller, ray.get(controller.start.remote())


def wait_ready(controller: ActorHandle, timeout_s: float) -> list[JobStatus]:
    """Wait until every job has succeeded once; returns the last status either way."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows: list[JobStatus] = ray.get(controller.status.remote())
        if all(r.health and r.health["last_success_ms"] for r in rows):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def stop(controller: ActorHandle) -> None:
    """Stop every actor of the deployment, then the Controller."""
    ray.get(controller.stop.remote())
    ray.kill(controller, no_restart=True)


def run_foreground(
    source: ConfigSource,
    ready_timeout_s: float,
    on_ready: Callable[[list[JobStatus], dict], None],
    *,
    local: bool,
) -> None:
    """Start the deployment; block until Ctrl-C or SIGTERM; stop it all.

    ``local``: always start a fresh single-node Ray; otherwise join the running cluster
    (``ray up``, ``RAY_ADDRESS``) or start one if there is none.
    """
    namespace = source.load(secrets=()).deployment.name

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    context = ray.init(
        address="local" if local else None,
        namespace=namespace,
        include_dashboard=False,
        logging_level=logging.WARNING,
        configure_logging=False,
    )
    # After ray.init, which installs its own SIGTERM handler: SIGTERM stops riskd cleanly.
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        controller, info = start(source)
        info["ray_address"] = context.address_info["address"]
        on_ready(wait_ready(controller, ready_timeout_s), info)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(ValueError):  # ValueError: it never started
            stop(ray.get_actor(CONTROLLER_NAME, namespace=namespace))
        ray.shutdown()
        signal.signal(signal.SIGTERM, previous)


def connect(namespace: str) -> ActorHandle:
    """Join the running cluster and find the deployment's Controller (LookupError if none)."""
    try:
        ray.init(
            address="auto",
            namespace=namespace,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except ConnectionError as exc:
        raise LookupError(f"no running Ray cluster found ({exc})") from None
    try:
        return ray.get_actor(CONTROLLER_NAME, namespace=namespace)
    except ValueError:
        raise LookupError(f"no riskd deployment {namespace!r} is running") from None


def status(controller: ActorHandle) -> list[JobStatus]:
    return ray.get(controller.status.remote())
