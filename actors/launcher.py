"""Driver side of a deployment: start the Controller, wait until jobs report, stop it all.

The ``riskd`` command calls these; they are the only code outside actors that touches Ray.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import ray
from ray.actor import ActorHandle
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.context import CONTROLLER_NAME, ConfigSource
from actors.controller import Controller, actor_options
from riskd import runs
from riskd.health import JobStatus
from riskd.runs import LocalRun

LIVENESS_INTERVAL_S = 1.0
LIVENESS_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 20.0
RAY_GONE_WITHIN_S = 0.5


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


def wait_ready(
    controller: ActorHandle,
    timeout_s: float,
    on_job_ready: Callable[[JobStatus], None] = lambda _row: None,
) -> list[JobStatus]:
    """Wait until every job has succeeded once, telling *on_job_ready* of each as it does;
    returns the last status either way."""
    deadline = time.monotonic() + timeout_s
    told: set[tuple[str, str]] = set()
    while True:
        rows: list[JobStatus] = ray.get(controller.status.remote())
        ready = [r for r in rows if r.health and r.health["last_success_ms"]]
        for row in ready:
            if (row.job, row.account) not in told:
                told.add((row.job, row.account))
                on_job_ready(row)
        if len(ready) == len(rows) or time.monotonic() > deadline:
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
    progress: Callable[[str], None],
    *,
    local: bool,
) -> None:
    """Start the deployment, telling *progress* what comes up; block until Ctrl-C or
    SIGTERM; stop it all.

    ``local``: always start a fresh single-node Ray; otherwise join the running cluster
    (``ray up``, ``RAY_ADDRESS``) or start one.
    """
    namespace = source.load(secrets=()).deployment.name

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    progress("starting a local Ray" if local else "joining the Ray cluster")
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
        progress(f"ray {context.address_info['address']} up ({_since(started)})")
        controller, info = start(source)
        info["ray_address"] = context.address_info["address"]
        runs.record(LocalRun(namespace, info["ray_address"], info["gateway"], os.getpid()))
        progress(f"{len(info['jobs'])} jobs created; gateway {info['gateway']} ({_since(started)})")

        def job_ready(row: JobStatus) -> None:
            progress(f"  {row.job} {row.account}: first pass done ({_since(started)})")

        on_ready(wait_ready(controller, ready_timeout_s, job_ready), info)
        _wait_while_alive(controller)
        progress("the deployment was stopped (riskd stop)")
    except KeyboardInterrupt:
        pass
    finally:
        if not ray_listening(context.address_info["address"]):
            progress(
                "Ray stopped with riskd (a signal to the whole process group); so did its jobs"
            )
        elif not _stop_within(namespace, STOP_TIMEOUT_S):
            progress(f"Ray did not answer within {STOP_TIMEOUT_S:g} s; its jobs were not stopped")
        ray.shutdown()
        runs.forget(namespace, os.getpid())
        signal.signal(signal.SIGTERM, previous)


def ray_listening(address: str) -> bool:
    """Whether Ray's GCS still accepts connections ``RAY_GONE_WITHIN_S`` after a stop signal.

    A SIGTERM sent to riskd's whole process group (``timeout``, ``kill -- -PGID``) also stops the
    local Ray it started; calls into that Ray would then block for a minute and abort.
    """
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + RAY_GONE_WITHIN_S
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=RAY_GONE_WITHIN_S).close()
        except OSError:
            return False
        time.sleep(RAY_GONE_WITHIN_S / 10)
    return True


def _stop_within(namespace: str, timeout_s: float) -> bool:
    """Stop the deployment if Ray answers within *timeout_s*; False if it did not."""

    def stop_deployment() -> None:
        # ValueError: it never started; RayActorError: it is already gone.
        with contextlib.suppress(ValueError, RayActorError):
            stop(ray.get_actor(CONTROLLER_NAME, namespace=namespace))

    stopper = threading.Thread(target=stop_deployment, name="riskd-stop", daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    return not stopper.is_alive()


def _wait_while_alive(controller: ActorHandle) -> None:
    """Block until the Controller is gone (``riskd stop`` from another shell)."""
    while True:
        time.sleep(LIVENESS_INTERVAL_S)
        try:
            ray.get(controller.__ray_ready__.remote(), timeout=LIVENESS_TIMEOUT_S)
        except RayActorError:
            return
        except GetTimeoutError:  # busy, not gone
            continue


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"


def connect(namespace: str | None = None, address: str = "auto") -> tuple[str, ActorHandle]:
    """Join the cluster at *address* and find a deployment's Controller: the one named, or
    the only one running. LookupError says why none was found (listing them when several
    are)."""
    try:
        ray.init(
            address=address,
            namespace=namespace,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except ConnectionError:
        raise LookupError("no riskd is running here (no Ray cluster found)") from None
    running = sorted(
        {
            actor["namespace"]
            for actor in ray.util.list_named_actors(all_namespaces=True)
            if actor["name"] == CONTROLLER_NAME
        }
    )
    if namespace is None:
        if not running:
            raise LookupError("no riskd deployment is running on this Ray cluster")
        if len(running) > 1:
            raise LookupError(
                f"{len(running)} riskd deployments are running ({', '.join(running)}): "
                "name one with --namespace"
            )
        namespace = running[0]
    if namespace not in running:
        others = f" (running: {', '.join(running)})" if running else ""
        raise LookupError(f"no riskd deployment {namespace!r} is running{others}")
    return namespace, ray.get_actor(CONTROLLER_NAME, namespace=namespace)


def describe(controller: ActorHandle) -> tuple[ConfigSource, str]:
    """The running deployment's config source and its gateway's URL."""
    return ray.get(controller.describe.remote())


def disconnect() -> None:
    ray.shutdown()


def status(controller: ActorHandle) -> list[JobStatus]:
    return ray.get(controller.status.remote())
