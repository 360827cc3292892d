"""One multi-node Ray cluster for the whole session, and deployments against the simulator.

Nodes: a head, and two workers labelled ``egress=ip-a`` and ``egress=ip-b`` (as a cluster
with one node per public IP would be). Every node runs on this host, so the loopback egress
addresses 127.0.0.x work from any of them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest
import ray
from ray.cluster_utils import Cluster

from actors import launcher
from actors.context import ConfigSource
from riskd.sim import SimConfig, SimulatorThread
from tests.kit.deployment import SECRETS_ENV


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    os.environ.update(SECRETS_ENV)  # the raylets, and so the job actors, inherit it
    cluster = Cluster()
    # Ray exports metrics every 10 s by default; the metrics tests wait for one export.
    system_config = {"metrics_report_interval_ms": 2_000}
    cluster.add_node(num_cpus=1, include_dashboard=False, _system_config=system_config)
    cluster.add_node(num_cpus=1, labels={"egress": "ip-a"})
    cluster.add_node(num_cpus=1, labels={"egress": "ip-b"})
    ray.init(address=cluster.address, logging_level="WARNING", configure_logging=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    thread = SimulatorThread(SimConfig(port=0, exchange={"walk_interval_ms": 0}))
    thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def deploy(ray_cluster: Cluster, tmp_path) -> Iterator[Callable[[str], tuple]]:
    """``deploy(toml)`` → (controller, info); every deployment still running is stopped
    afterwards (a test may stop one itself)."""
    controllers = []

    def start(toml: str) -> tuple:
        source = ConfigSource(toml, "test.toml", str(tmp_path))
        controller, info = launcher.start(source)
        controllers.append(controller)
        return controller, info

    yield start
    for controller in controllers:
        with contextlib.suppress(ray.exceptions.ActorDiedError):
            launcher.stop(controller)
