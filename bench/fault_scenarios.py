"""The fault matrix's rows about riskd's own processes (issue 18): the whole daemon killed
mid-ladder and started again, and a Ray worker node lost. Each is a scenario
(``bench/faults.py`` runs it) in a world of its own: the matrix's deployment and workload
(``faults_world``), run the way the row needs.

- ``daemon_killed_mid_ladder``: riskd runs as ``riskd run`` does (``launcher.run_foreground``
  with its own local Ray) in a process of its own that leads a new session, so every process
  of its Ray (driver, GCS, raylet, actors) is in that session; the bench joins that Ray as a
  client. A new ETHUSDT position is opened; once the simulator has placed the first rung of
  its ladder, the next rung's request is held (the simulator with it) and every process of
  the session gets SIGKILL at once, as in a host crash; that rung and the ones riskd had not
  sent yet never reach the exchange. After ``--fault-s`` riskd is started again (same
  config, SQLite file, gateway port and simulator); the recovery counts from that restart
  command. Besides the invariants, the rung placed before the kill must still be open: the
  restarted StopLadder adopts it by its clientAlgoId and completes its generation.
- ``worker_node_lost``, ``worker_node_lost_no_peer``: a ``ray.cluster_utils.Cluster`` of a
  head and three workers: two labelled egress=ip-a, one egress=ip-b; every job has a
  ``label:`` egress (PLACEMENT). A worker is lost as a host is (SIGKILL to its raylet and
  services): the ip-a node running the StopLadder, whose jobs must come back on the other
  ip-a node (the recovery counts from the loss); or the only ip-b node, whose jobs
  ``launcher.status`` (``riskd status``) must report pending for want of a node with that
  label, until a new ip-b node joins and they come back on it (the recovery counts from its
  joining). Besides the invariants, every job must then run on a node with its label.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import ray
from deployment import ACCOUNT, READY_S, bench_client, local_deployment, not_ready
from fault_dependencies import free_port
from fault_kit import (
    POLL_S,
    REST_SYMBOL,
    Context,
    Deploy,
    Fault,
    Row,
    Scenario,
    World,
    drive,
    faults_world,
    nothing,
)
from ray._private.authentication.authentication_token_setup import (
    maybe_enable_token_auth_if_token_available,
)
from ray.actor import ActorHandle
from ray.cluster_utils import Cluster

from actors import launcher
from actors.context import CONTROLLER_NAME, ConfigSource, stop_ladder_name
from riskd.health import JobState, JobStatus
from riskd.plan import EGRESS_LABEL_KEY, JobKind
from riskd.protect.ladder import LadderConfig, parse_rung_client_id
from riskd.runs import RUN_DIR_ENV
from riskd.sim import SimulatorThread
from riskd.sim.server import UNKNOWN_ERROR
from tests.kit.processes import session_processes

LADDER_SYMBOL = REST_SYMBOL  # the workload holds no position on it: a new ladder is placed
LADDER_QTY = "0.100"
HOLD_S = 30.0  # the new ladder's second rung reaching the simulator
START_S = 5 * READY_S  # riskd run up on a busy host: its Ray started, every job reported
STOP_S = 60.0  # riskd run stopping on SIGTERM: the deployment, then its Ray
GONE_S = 10.0  # the last processes of a stopped Ray exiting
PEERED, LONE = "ip-a", "ip-b"  # egress labels: two worker nodes carry the first, one the other
NODES = {PEERED: 2, LONE: 1}
LONE_JOBS = (JobKind.ACCOUNT_READER.value, JobKind.LEDGER.value)
PLACEMENT = {
    kind.value: LONE if kind.value in LONE_JOBS else PEERED for kind in JobKind if kind.per_account
}
"""Each of the account's jobs' egress label."""
PLACEMENT_TOML = "".join(
    f'\n[accounts.jobs.{job}]\negress = "label:{label}"\n' for job, label in PLACEMENT.items()
)
PENDING_S = 60.0  # a lost node's death known to Ray, then its jobs reported pending


def run_alone(
    fault_of: Callable[[World], Fault],
    args: argparse.Namespace,
    deploy: Deploy,
    account_toml: str = "",
    gateway_port: int = 0,
) -> Row:
    """The fault *fault_of* makes for its world (``faults_world`` run by *deploy*), alone
    there while the workload trades; what stopping the world met goes to stderr."""
    errors: list[str] = []
    try:
        with faults_world(
            account_toml=account_toml, deploy=deploy, gateway_port=gateway_port
        ) as world:
            errors = world.errors
            (row,) = asyncio.run(drive([fault_of(world)], world, args))
    finally:
        for error in errors:
            print(error, file=sys.stderr)
    return row


# ---------------------------------------------------------------- the daemon killed


def riskd_run(source: ConfigSource, ready: Connection) -> None:
    """A spawned process's body: ``riskd run`` of *source*, leading a new session; sends
    (start info, the jobs not ready) on *ready* once every job has reported (or READY_S)."""
    os.setsid()
    os.environ[RUN_DIR_ENV] = str(Path(source.base_dir) / "runs")  # not the user's folder

    def on_ready(rows: list[JobStatus], info: dict) -> None:
        ready.send((info, not_ready(rows)))

    launcher.run_foreground(source, READY_S, on_ready, lambda _line: None, local=True)


class Daemon:
    """riskd as ``riskd run`` runs it, in a process of its own (:func:`riskd_run`); the bench
    joins its Ray as a client."""

    def __init__(self) -> None:
        self.source: ConfigSource | None = None
        self.process: BaseProcess | None = None

    @contextlib.contextmanager
    def deployment(
        self, source: ConfigSource, label: str, errors: list[str]
    ) -> Iterator[tuple[ActorHandle, dict]]:
        """``faults_world``'s deploy: riskd started, ready and joined; stopped on exit (what
        it left of its session killed, and said in *errors*)."""
        self.source = source
        try:
            info, waiting = self._start()
            if waiting:
                raise RuntimeError("not ready: " + "; ".join(waiting))
            assert self.process is not None
            print(f"  {label}: ready (riskd run, pid {self.process.pid})", flush=True)
            yield self._join(info), info
        finally:
            self._stop(errors)

    def _start(self) -> tuple[dict, list[str]]:
        """Start riskd run; its start info and the jobs not ready, once it reported."""
        spawn = multiprocessing.get_context("spawn")
        ours, theirs = spawn.Pipe(duplex=False)
        self.process = spawn.Process(target=riskd_run, args=(self.source, theirs))
        self.process.start()
        theirs.close()
        if not ours.poll(START_S):
            raise RuntimeError(f"riskd run did not report within {START_S:.0f} s")
        try:
            return ours.recv()
        except EOFError:
            self.process.join(STOP_S)
            raise RuntimeError(f"riskd run exited {self.process.exitcode}") from None

    def _join(self, info: dict) -> ActorHandle:
        """Join riskd's Ray (with the token it requires, as ``ray.init("auto")`` would find
        it); its Controller."""
        assert self.source is not None
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        namespace = self.source.load().deployment.name
        ray.init(
            address=info["ray_address"],
            namespace=namespace,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
        return ray.get_actor(CONTROLLER_NAME, namespace=namespace)

    def crash(self) -> int:
        """SIGKILL to every process of riskd's session at once, as a host crash would (the
        bench's client leaves Ray first: a dead GCS would end it); how many there were."""
        assert self.process is not None
        ray.shutdown()
        pids = session_processes(self.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.join()
        return len(pids)

    async def restart(self) -> None:
        """riskd run started again, and joined, once every job has reported."""
        info, _waiting = await asyncio.to_thread(self._start)  # the recovery judges them
        self._join(info)

    def _stop(self, errors: list[str]) -> None:
        """SIGTERM (riskd run stops the deployment, then its Ray), then SIGKILL to whatever of
        its session outlives GONE_S."""
        ray.shutdown()
        if self.process is None:
            return
        self.process.terminate()
        self.process.join(STOP_S)
        deadline = time.monotonic() + GONE_S
        while (left := session_processes(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(POLL_S)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if left:
            errors.append(f"riskd run left {len(left)} processes running: killed")


class HeldLadder:
    """The simulator's algo-order placement wrapped: once armed, the first rung of a ladder of
    *symbol* is placed, the next request is held (the simulator's thread with it) until
    ``release``, and from then until ``disarm`` no rung of *symbol* is placed (answered 503
    Unknown error, to no one): what riskd had not sent when it died never reaches the
    exchange."""

    def __init__(self, simulator: SimulatorThread, symbol: str) -> None:
        self.symbol = symbol
        self.placed: list[str] = []  # clientAlgoIds
        self.dropped = 0  # placements not let through
        self.held = threading.Event()
        self._released = threading.Event()
        self._service = simulator.server.exchange._algos
        self._place = self._service.new_algo_order

    def arm(self) -> None:
        self._service.new_algo_order = self._placing

    def release(self) -> None:
        self._released.set()

    def disarm(self) -> None:
        del self._service.new_algo_order  # the class's own again

    def _placing(self, account: object, params: dict[str, str]) -> dict:
        client_id = params.get("clientAlgoId", "")
        if params.get("symbol") != self.symbol or parse_rung_client_id(client_id) is None:
            return self._place(account, params)
        if not self.placed:
            answer = self._place(account, params)
            self.placed.append(client_id)
            return answer
        if not self.held.is_set():
            self.held.set()
            self._released.wait(HOLD_S)
        self.dropped += 1
        raise UNKNOWN_ERROR


class Crash:
    """daemon_killed_mid_ladder's fault: riskd killed with a ladder part-placed, started
    again once it has lasted."""

    def __init__(self, daemon: Daemon, hold: HeldLadder) -> None:
        self.daemon = daemon
        self.hold = hold
        self.killed = 0

    def fault(self) -> Fault:
        name, what = DAEMON_KILLED.name, DAEMON_KILLED.what
        return Fault(
            name, what, self.inject, self.clear, left=self.left, note=self.note, restarts=True
        )

    async def inject(self, ctx: Context) -> None:
        self.hold.arm()
        client = bench_client(ctx.sim_url)
        try:
            await client.futures_create_order(
                symbol=LADDER_SYMBOL, side="BUY", type="MARKET", quantity=LADDER_QTY
            )
        finally:
            await client.close_connection()
        await asyncio.to_thread(self.hold.held.wait, HOLD_S)
        self.killed = self.daemon.crash()
        self.hold.release()

    async def clear(self, _ctx: Context) -> None:
        self.hold.disarm()
        await self.daemon.restart()

    async def left(self, ctx: Context) -> list[str]:
        """Killed mid-ladder, and the rung placed before the kill adopted (still open)."""
        if not self.hold.held.is_set():
            return [f"not killed mid-ladder: no second {LADDER_SYMBOL} rung within {HOLD_S} s"]
        state = await ctx.sim("GET", "/_sim/state")
        open_ids = {a["clientAlgoId"] for a in state["accounts"][ACCOUNT]["open_algo_orders"]}
        lost = [rung for rung in self.hold.placed if rung not in open_ids]
        return [f"{rung}, placed before the kill, not adopted" for rung in lost]

    async def note(self, _ctx: Context) -> str:
        rungs = f"{len(self.hold.placed)} of {LadderConfig().rungs} {LADDER_SYMBOL} rungs placed"
        return f"SIGKILL to {self.killed} processes, {rungs} ({self.hold.dropped} never sent)"


def daemon_killed_mid_ladder(args: argparse.Namespace) -> Row:
    daemon = Daemon()

    def crash(world: World) -> Fault:
        return Crash(daemon, HeldLadder(world.simulator, LADDER_SYMBOL)).fault()

    return run_alone(crash, args, daemon.deployment, gateway_port=free_port())


# ---------------------------------------------------------------- a worker node lost


class LabelledCluster:
    """A Ray cluster on this host (``ray.cluster_utils.Cluster``): a head and worker nodes
    labelled egress=<label> (NODES), as a deployment with a node per public IP has."""

    def __init__(self) -> None:
        self.cluster = Cluster()

    @contextlib.contextmanager
    def deployment(
        self, source: ConfigSource, label: str, errors: list[str]
    ) -> Iterator[tuple[ActorHandle, dict]]:
        """``faults_world``'s deploy: the cluster started (now that the world's environment,
        which the raylets pass to the actors, is set) and the deployment on it; both stopped
        on exit."""
        try:
            self.cluster.add_node(num_cpus=1, include_dashboard=False)
            for egress, count in NODES.items():
                for _ in range(count):
                    self.add(egress)
            with local_deployment(source, label, errors, address=self.cluster.address) as run:
                yield run
        finally:
            self.cluster.shutdown()

    def add(self, egress: str) -> None:
        self.cluster.add_node(num_cpus=1, labels={EGRESS_LABEL_KEY: egress})

    def lose(self, node_id: str) -> None:
        """Worker node *node_id* lost as a host is: SIGKILL to its raylet and services."""
        node = next(n for n in self.cluster.worker_nodes if n.node_id == node_id)
        self.cluster.remove_node(node, allow_graceful=False)


async def _status(ctx: Context) -> list[JobStatus]:
    controller = ray.get_actor(CONTROLLER_NAME, namespace=ctx.namespace)
    return await asyncio.to_thread(launcher.status, controller)


async def _lose_node_of(ctx: Context, cluster: LabelledCluster, job: str) -> list[str]:
    """Lose the node running *job*; the jobs it ran."""
    rows = await _status(ctx)
    node_id = next(row.health["node_id"] for row in rows if row.job == job and row.health)
    await asyncio.to_thread(cluster.lose, node_id)
    return [f"{r.job}:{r.account}" for r in rows if r.health and r.health["node_id"] == node_id]


async def _misplaced(ctx: Context) -> list[str]:
    """Each job not running on an alive node with its egress label."""
    labels = {n["NodeID"]: n["Labels"].get(EGRESS_LABEL_KEY) for n in ray.nodes() if n["Alive"]}
    misplaced = []
    for row in await _status(ctx):
        on = labels.get(row.health["node_id"]) if row.health else None
        if on != PLACEMENT[row.job]:
            misplaced.append(f"{row.job}:{row.account} on {on or 'no alive node'}")
    return misplaced


def _node_lost(cluster: LabelledCluster) -> Fault:
    """The PEERED node running the StopLadder lost; its jobs move to the other PEERED node."""
    lost: list[str] = []

    async def inject(ctx: Context) -> None:
        lost[:] = await _lose_node_of(ctx, cluster, JobKind.STOP_LADDER.value)

    async def note(_ctx: Context) -> str:
        return f"lost with the node: {', '.join(lost)}"

    killed = stop_ladder_name(ACCOUNT)
    return Fault(
        NODE_LOST.name, NODE_LOST.what, inject, nothing, killed, left=_misplaced, note=note
    )


class LoneNodeLost:
    """worker_node_lost_no_peer's fault: the only LONE node lost; its jobs reported pending
    until a new LONE node joins."""

    def __init__(self, cluster: LabelledCluster) -> None:
        self.cluster = cluster
        self.lost: list[str] = []
        self.lost_at_s = 0.0  # time.monotonic()
        self.unreported = ["not checked"]
        self.reported = ""

    def fault(self) -> Fault:
        name, what = NODE_LOST_NO_PEER.name, NODE_LOST_NO_PEER.what
        return Fault(name, what, self.inject, self.clear, left=self.left, note=self.note)

    async def inject(self, ctx: Context) -> None:
        self.lost = await _lose_node_of(ctx, self.cluster, LONE_JOBS[0])
        self.lost_at_s = time.monotonic()

    async def clear(self, ctx: Context) -> None:
        """Once its jobs are reported pending (or PENDING_S passed), a new LONE node."""
        self.unreported = await self._pending(ctx)
        self.cluster.add(LONE)  # in the main thread: a Ray node sets a signal handler

    async def _pending(self, ctx: Context) -> list[str]:
        """Wait until every LONE job is reported pending for want of a LONE node; what was
        not, if PENDING_S passed first."""
        while True:
            rows = [row for row in await _status(ctx) if row.job in LONE_JOBS]
            waiting = [
                f"{r.job}:{r.account} {r.state} {r.note}".rstrip()
                for r in rows
                if r.state is not JobState.PENDING or LONE not in r.note
            ]
            elapsed_s = time.monotonic() - self.lost_at_s
            if not waiting:
                self.reported = f"pending after {elapsed_s * 1000:.0f} ms ({rows[0].note})"
                return []
            if elapsed_s > PENDING_S:
                return [f"not reported pending in {PENDING_S:.0f} s: {line}" for line in waiting]
            await asyncio.sleep(POLL_S)

    async def left(self, ctx: Context) -> list[str]:
        return self.unreported + await _misplaced(ctx)

    async def note(self, _ctx: Context) -> str:
        return f"lost with the node: {', '.join(self.lost)}; {self.reported}"


def worker_node_lost(args: argparse.Namespace) -> Row:
    cluster = LabelledCluster()
    return run_alone(lambda _world: _node_lost(cluster), args, cluster.deployment, PLACEMENT_TOML)


def worker_node_lost_no_peer(args: argparse.Namespace) -> Row:
    cluster = LabelledCluster()
    lost = LoneNodeLost(cluster)
    return run_alone(lambda _world: lost.fault(), args, cluster.deployment, PLACEMENT_TOML)


DAEMON_KILLED = Scenario(
    "daemon_killed_mid_ladder",
    f"every process of riskd run (its Ray too) SIGKILLed with a new {LADDER_SYMBOL} ladder at "
    "its first rung; riskd run started again after --fault-s",
    daemon_killed_mid_ladder,
)
NODE_LOST = Scenario(
    "worker_node_lost",
    f"the Ray worker node (egress={PEERED}) running the StopLadder lost; another {PEERED} node "
    "takes its jobs",
    worker_node_lost,
)
NODE_LOST_NO_PEER = Scenario(
    "worker_node_lost_no_peer",
    f"the only Ray worker node with egress={LONE} lost: its jobs reported pending; after "
    f"--fault-s a new {LONE} node joins",
    worker_node_lost_no_peer,
)
PROCESSES = (DAEMON_KILLED, NODE_LOST, NODE_LOST_NO_PEER)
