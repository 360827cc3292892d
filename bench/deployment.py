"""A riskd deployment in a fresh local Ray, for benchmarks that drive a whole riskd."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import ray
from ray.actor import ActorHandle

from actors import launcher
from actors.context import ConfigSource

READY_S = 60.0


@contextlib.contextmanager
def local_deployment(
    source: ConfigSource, label: str, errors: list[str]
) -> Iterator[tuple[ActorHandle, dict]]:
    """Start *source*'s deployment in its own local Ray (``address="local"``, no dashboard)
    and yield (controller, start info) once every job has succeeded once. On exit the
    deployment is stopped and Ray shut down; a failure to stop is added to *errors*. If the
    body fails, every job's state and health extra is added to *errors* first."""
    ray.init(
        address="local",
        namespace=source.load().deployment.name,
        include_dashboard=False,
        logging_level=logging.WARNING,
        configure_logging=False,
    )
    controller: ActorHandle | None = None
    try:
        controller, info = launcher.start(source)
        rows = launcher.wait_ready(controller, READY_S)
        not_ready = [f"{r.job} {r.state} {r.note}" for r in rows if not r.health]
        not_ready += [
            f"{r.job}: no success" for r in rows if r.health and not r.health["last_success_ms"]
        ]
        if not_ready:
            raise RuntimeError("not ready: " + "; ".join(not_ready))
        print(f"  {label}: ready, jobs {sorted(r.job for r in rows)}", flush=True)
        try:
            yield controller, info
        except Exception:
            with contextlib.suppress(Exception):
                for r in launcher.status(controller):
                    extra = r.health and r.health["extra"]
                    errors.append(f"  at the error: {r.job} {r.state} {extra}")
            raise
    finally:
        if controller is not None:
            try:
                launcher.stop(controller)
            except Exception as exc:
                errors.append(f"launcher.stop: {type(exc).__name__}: {exc}")
        ray.shutdown()
