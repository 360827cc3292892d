"""The deployments ``riskd run`` is running on this host, so operator commands find theirs.

Each ``riskd run`` writes one small JSON file (its namespace, Ray address, gateway URL and pid)
in the run folder, ``$RISKD_RUN_DIR`` or ``~/.riskd/run``, and removes it when it stops. A file
whose process is gone is stale and ignored (and removed).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RUN_DIR_ENV = "RISKD_RUN_DIR"


@dataclass(frozen=True, slots=True)
class LocalRun:
    """One running ``riskd run`` on this host."""

    namespace: str
    ray_address: str
    gateway: str
    pid: int


def run_dir() -> Path:
    """Where runs are recorded."""
    return Path(os.environ.get(RUN_DIR_ENV) or Path.home() / ".riskd" / "run")


def record(run: LocalRun) -> Path:
    """Record *run* (replacing an older record of its namespace); returns the file."""
    folder = run_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.namespace}.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(run)), encoding="utf-8")
    partial.replace(path)
    return path


def forget(namespace: str, pid: int) -> None:
    """Remove the record of *namespace* if it is this *pid*'s."""
    path = run_dir() / f"{namespace}.json"
    run = _read(path)
    if run is not None and run.pid == pid:
        path.unlink(missing_ok=True)


def running() -> list[LocalRun]:
    """The runs whose process is alive, by namespace; stale records are removed."""
    folder = run_dir()
    if not folder.is_dir():
        return []
    alive = []
    for path in sorted(folder.glob("*.json")):
        run = _read(path)
        if run is not None and _alive(run.pid):
            alive.append(run)
        else:
            path.unlink(missing_ok=True)
    return alive


def _read(path: Path) -> LocalRun | None:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return LocalRun(
            namespace=str(fields["namespace"]),
            ray_address=str(fields["ray_address"]),
            gateway=str(fields["gateway"]),
            pid=int(fields["pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def find(namespace: str | None) -> LocalRun | None:
    """The run an operator's command means: the one *namespace* names, else the only one.

    None when none is recorded (the command then asks the Ray cluster); LookupError, listing
    them, when several run and none is named.
    """
    runs = running()
    if namespace is not None:
        return next((run for run in runs if run.namespace == namespace), None)
    if len(runs) > 1:
        names = ", ".join(run.namespace for run in runs)
        raise LookupError(
            f"{len(runs)} riskd deployments run here ({names}): name one with --namespace"
        )
    return runs[0] if runs else None
