"""Footprint of the real daemon: time to ready and memory, for one account and for five.

Each run deploys what ``riskd run --sim`` deploys, the same way, in a fresh local Ray:

* the Binance simulator (``SimulatorThread``) in THIS process, on 127.0.0.1 with a free port,
  one simulated account per riskd account (distinct API keys), price walk off;
* the config is ``riskd.cli.SIM_CONFIG_TOML`` itself, read as data: account ``sim`` as it is.
  Only the simulator URL (free port instead of 8765) and the gateway port (``[gateway] port =
  0`` instead of 8780) are changed, so a ``riskd run --sim`` or a test on this host cannot
  collide with it. For N accounts the account is repeated as ``sim2`` … ``simN``, each with
  its own key variables (``RISKD_SIM_API_KEY_2`` …) and every job it runs on a loopback IP of
  its own that no job of ``sim`` uses, so no IP is over-subscribed however many accounts; the
  TOML is written from that data and read back to check it;
* the schema step of ``riskd run`` (``init_schema``) creates the SQLite database
  (``riskd-sim.db``) in a temporary folder, the config's folder;
* ``ray.init(address="local", include_dashboard=False, ...)`` with the options
  ``actors.launcher.run_foreground`` uses, then ``launcher.start`` (Controller, position
  books, jobs, gateway) and ``launcher.wait_ready`` (every job reported one success); then
  ``launcher.stop``, ``ray.shutdown()`` and the simulator's stop.

Times (``time.monotonic``): ``schema`` (the schema step); ``ray.init`` (start of the local Ray:
GCS, raylet, agents); ``start()`` (``launcher.start`` returned: Controller created, every actor
created, gateway listening); ``start → ready`` (from the end of ``ray.init`` until
``wait_ready`` saw every job's first success); ``to ready`` = from just before the schema step
until ready, the figure the target is about.

Processes: every descendant of this process (``ray.init(address="local")`` forks GCS, raylet,
the minimal dashboard head, the autoscaler monitor and the log monitor; the raylet forks the
dashboard agent, the runtime-env agent and every worker), plus any process whose command line
names this Ray session's directory (none found beyond those so far: the union is a safety net).
Another Ray instance on the host (a test run) is not a descendant and is not counted. psutil is
not installed in this venv, so memory is read from ``/proc/<pid>/smaps_rollup`` (what psutil's
``memory_full_info`` reads): RSS = ``Rss``, PSS = ``Pss``, USS = ``Private_Clean`` +
``Private_Dirty``. Memory is sampled when ready, and again ``--settle`` seconds later (the jobs
have then made a few passes); the tables show the second sample, the summary both. MB = MiB.

Headline: the RSS sum (Ray processes + this driver), because the target (1.5 GB) is stated in
RSS and an RSS sum is an upper bound: it counts the pages every Python worker shares (the Python
binary and libraries, Ray's ``_raylet.so``, page cache of imported modules) once per process.
PSS (each shared page split between the processes mapping it) is what the deployment really
costs in RAM and is printed next to it; USS is what killing one process would give back. The
driver row includes the simulator thread; in ``riskd run --sim`` it is the same process.

Actors → pids: the Ray state API (``ray.util.state.list_actors``) needs the dashboard's HTTP
server, which ``include_dashboard=False`` does not start: it fails with ServerUnavailable on
http://127.0.0.1:8265, an address that, with two Ray instances on the host, need not even be
this instance's. So the pids come from the GCS actor table, read directly
(``ray._private.state.actors()``: name, class, state and the pid of the worker the GCS
registered for the actor). Each is checked against the process title Ray gives the worker
(``/proc/<pid>/cmdline`` = ``ray::<Class>`` or ``ray::<Class>.<method>``) and, for jobs,
against the pid the job reports itself in ``health_report()``; the ``pid check`` column shows
which agree. Should the private call break, the classes come from the process titles alone
(names then from the job health pids).

Bounded: after ``ray.init`` every call that could block (``launcher.start``, ``wait_ready``,
``status``, ``launcher.stop``) runs in a thread with a timeout; a faulthandler watchdog ends
the process should ``ray.init`` or ``ray.shutdown`` hang. Any process of the session still
alive 15 s after ``ray.shutdown`` is reported and sent SIGTERM by pid. Loopback only.

    python bench/footprint.py [--accounts 1 5] [--ready-timeout 60] [--settle 5]

Targets: one account ready ≤ 20 s, and ≤ 1.5 GB RSS in all (Ray processes + driver).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import faulthandler
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import TypeVar

import ray
from deployment import table

from actors import launcher
from actors.context import CONTROLLER_NAME, ConfigSource
from riskd.cli import SIM_CONFIG_TOML, SIM_ENV
from riskd.config import RiskdConfig, load_config_text
from riskd.core.clock import wall_ms
from riskd.health import JobStatus
from riskd.sim import SimAccountConfig, SimConfig, SimulatorThread
from riskd.store.engine import make_engine
from riskd.store.schema import init_schema

MIB = 1024 * 1024
TARGET_READY_S = 20.0
TARGET_RSS_MIB = 1.5 * 1024
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SHUTDOWN_GRACE_S = 15.0

T = TypeVar("T")


# ---------------------------------------------------------------- the deployment


def sim_deployment(accounts: int) -> tuple[dict, dict[str, str]]:
    """``SIM_CONFIG_TOML``'s data with *accounts* accounts, and the environment with their keys.

    Account 1 is ``riskd run --sim``'s as it is (keys in SIM_ENV). Each further one is a copy
    named ``<name><n>``, with key variables ``<variable>_<n>`` of its own, and every job it runs
    on a loopback IP of its own that no job of ``riskd run --sim`` uses."""
    data = tomllib.loads(SIM_CONFIG_TOML)
    plan = load_config_text(SIM_CONFIG_TOML, "riskd run --sim", Path(), env=SIM_ENV).plan()
    taken = {"127.0.0.1", *(job.config.egress for job in plan.jobs)}
    free = (ip for ip in map(str, IPv4Network("127.0.0.0/8").hosts()) if ip not in taken)
    template, env = data["accounts"][0], dict(SIM_ENV)
    for index in range(2, accounts + 1):
        account = copy.deepcopy(template)
        account["name"] = f"{template['name']}{index}"
        for ref, value in (("api_key_env", "key"), ("api_secret_env", "secret")):
            account[ref] = f"{template[ref]}_{index}"
            env[account[ref]] = f"{account['name']}-{value}"
        jobs = account.setdefault("jobs", {})
        for job in plan.jobs:
            if job.kind.per_account:  # the market feed runs once per deployment
                jobs.setdefault(job.kind.value, {})["egress"] = next(free)
        data["accounts"].append(account)
    return data, env


def sim_accounts(data: dict, env: dict[str, str]) -> tuple[SimAccountConfig, ...]:
    """A simulated account per account of *data*, with the key its variables hold in *env*."""
    return tuple(
        SimAccountConfig(
            name=a["name"], api_key=env[a["api_key_env"]], api_secret=env[a["api_secret_env"]]
        )
        for a in data["accounts"]
    )


def sim_toml(data: dict, sim_url: str) -> str:
    """*data* against the simulator at *sim_url*, with the gateway on a free port."""
    exchange = {**data["exchange"], "base_url": sim_url}
    return to_toml(
        {**data, "exchange": exchange, "gateway": {**data.get("gateway", {}), "port": 0}}
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(_pairs(value)) + "}"
    raise TypeError(f"no TOML for {value!r}")


def _pairs(mapping: dict, prefix: str = "") -> Iterator[str]:
    """``key = value`` lines, nested tables as dotted keys."""
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            yield from _pairs(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key} = {_toml_value(value)}"


def to_toml(data: dict) -> str:
    """*data*, tables and arrays of tables at its top, as TOML; read back to prove it."""
    lines: list[str] = []
    for name, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{name}]", *_pairs(value)]
        else:
            for item in value:
                lines += ["", f"[[{name}]]", *_pairs(item)]
    text = "\n".join(lines).lstrip() + "\n"
    if tomllib.loads(text) != data:
        raise RuntimeError(f"to_toml: this does not read back as the data:\n{text}")
    return text


def init_database(config: RiskdConfig) -> None:
    """The schema step of ``riskd run``: create the config's database tables."""
    engine = make_engine(config.database.resolved_url.reveal())
    try:
        init_schema(engine, wall_ms())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- /proc


@dataclass(slots=True)
class Proc:
    pid: int
    ppid: int
    cmdline: str
    rss_kib: int
    pss_kib: int | None
    uss_kib: int | None

    @property
    def title(self) -> str:
        return self.cmdline.split(" ", 1)[0] if self.cmdline.startswith("ray::") else ""

    @property
    def role(self) -> str:
        cmd = self.cmdline
        exe = os.path.basename(cmd.split(" ", 1)[0]) if cmd else "?"
        if self.pid == os.getpid():
            return "driver (+ simulator)"
        if exe == "gcs_server":
            return "gcs_server"
        if exe == "raylet":
            return "raylet"
        if cmd.startswith("ray::DashboardAgent") or "dashboard/agent.py" in cmd:
            return "dashboard agent"
        if cmd.startswith("ray::RuntimeEnvAgent") or "runtime_env/agent/main.py" in cmd:
            return "runtime env agent"
        if "dashboard/dashboard.py" in cmd:
            return "dashboard head (minimal)"
        if "autoscaler/_private/monitor.py" in cmd:
            return "autoscaler monitor"
        if "log_monitor.py" in cmd:
            return "log monitor"
        if cmd.startswith("ray::IDLE"):
            return "idle worker"
        if cmd.startswith("ray::"):
            return "actor worker"
        if "default_worker.py" in cmd:
            return "worker (starting)"
        return f"other: {exe}"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _ppid(pid: int) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def read_proc(pid: int) -> Proc | None:
    raw = _read(f"/proc/{pid}/cmdline")
    ppid = _ppid(pid)
    if raw is None or ppid is None:
        return None
    cmdline = " ".join(raw.split("\0")).strip()
    fields: dict[str, int] = {}
    rollup = _read(f"/proc/{pid}/smaps_rollup")
    if rollup is not None:
        for line in rollup.splitlines():
            match = re.match(r"(\w+):\s+(\d+) kB", line)
            if match:
                fields[match[1]] = int(match[2])
    if "Rss" in fields:
        rss = fields["Rss"]
        pss: int | None = fields.get("Pss")
        uss: int | None = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    else:  # no smaps_rollup (old kernel, or no permission): RSS only
        status = _read(f"/proc/{pid}/status") or ""
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match is None:
            return None
        rss, pss, uss = int(match[1]), None, None
    return Proc(pid, ppid, cmdline, rss, pss, uss)


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        ppid = _ppid(pid)
        if ppid is not None:
            children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def ray_pids(session_dir: str) -> set[int]:
    """This process's descendants, and any process naming the session directory."""
    pids = descendants(os.getpid())
    for pid in all_pids():
        raw = _read(f"/proc/{pid}/cmdline")
        if raw and session_dir in raw and pid != os.getpid():
            pids.add(pid)
    return pids


@dataclass(slots=True)
class Snapshot:
    procs: list[Proc]  # Ray's processes, then the driver last

    @property
    def ray(self) -> list[Proc]:
        return [p for p in self.procs if p.pid != os.getpid()]

    @property
    def driver(self) -> Proc:
        return next(p for p in self.procs if p.pid == os.getpid())

    def by_pid(self, pid: int) -> Proc | None:
        return next((p for p in self.procs if p.pid == pid), None)


def snapshot(session_dir: str) -> Snapshot:
    procs = [p for p in map(read_proc, sorted(ray_pids(session_dir))) if p is not None]
    driver = read_proc(os.getpid())
    assert driver is not None
    return Snapshot([*procs, driver])


def total(procs: list[Proc], attr: str) -> int | None:
    """Sum of ``attr`` (KiB) over ``procs``; None if any process lacks it."""
    values = [getattr(p, attr) for p in procs]
    if any(v is None for v in values):
        return None
    return sum(values)


# ---------------------------------------------------------------- actors


@dataclass(slots=True)
class ActorRow:
    name: str
    cls: str
    pid: int
    state: str
    checks: list[str] = field(default_factory=list)


def gcs_actors() -> list[ActorRow] | None:
    """Alive actors from the GCS actor table (no dashboard needed); None if unavailable."""
    try:
        from ray._private import state

        table = state.actors()
    except Exception as exc:  # a private API: fall back to process titles
        print(f"  GCS actor table unavailable ({type(exc).__name__}: {exc})", flush=True)
        return None
    rows = [
        ActorRow(a["Name"], a["ActorClassName"], int(a["Pid"]), a["State"], ["gcs"])
        for a in table.values()
        if a["State"] == "ALIVE"
    ]
    return sorted(rows, key=lambda r: (r.cls, r.name))


def actors_from_titles(snap: Snapshot, jobs: list[JobStatus]) -> list[ActorRow]:
    """Fallback: the class from the worker's title; the name from job health or the class."""
    by_pid = {r.health["pid"]: f"{r.job}:{r.account}" for r in jobs if r.health}
    unique = {"Controller": CONTROLLER_NAME, "Gateway": "gateway"}
    rows = []
    for proc in snap.ray:
        if proc.role != "actor worker":
            continue
        cls = proc.title.removeprefix("ray::").split(".", 1)[0]
        name = by_pid.get(proc.pid) or unique.get(cls) or f"{cls}:?"
        rows.append(ActorRow(name, cls, proc.pid, "ALIVE", []))
    return sorted(rows, key=lambda r: (r.cls, r.name))


def check_actors(rows: list[ActorRow], snap: Snapshot, jobs: list[JobStatus]) -> None:
    """Mark each row with the sources that agree on its pid: gcs, title, health."""
    health_pids = {f"{r.job}:{r.account}": r.health["pid"] for r in jobs if r.health}
    for row in rows:
        proc = snap.by_pid(row.pid)
        title_cls = proc.title.removeprefix("ray::").split(".", 1)[0] if proc else ""
        if title_cls == row.cls:
            row.checks.append("title")
        elif proc is None:
            row.checks.append("NO-PROCESS")
        else:
            row.checks.append(f"TITLE={proc.title or '?'}")
        if row.name in health_pids:
            row.checks.append("health" if health_pids[row.name] == row.pid else "HEALTH-PID!")


# ---------------------------------------------------------------- output


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


# ---------------------------------------------------------------- one run


@dataclass(slots=True)
class RunResult:
    accounts: int
    ready: bool = False
    schema_s: float = float("nan")
    init_s: float = float("nan")
    start_s: float = float("nan")
    start_to_ready_s: float = float("nan")
    to_ready_s: float = float("nan")
    actors: list[ActorRow] = field(default_factory=list)
    at_ready: Snapshot | None = None
    settled: Snapshot | None = None
    settle_s: float = 0.0
    context: str = ""
    error: str = ""


def bounded(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; TimeoutError if it has not returned in ``timeout_s``."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"bounded-{what}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"{what} did not return within {timeout_s:.0f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def host_context() -> str:
    """Load average and other Ray instances on the host (a test run): timing noise."""
    others = [p for p in all_pids() if (_read(f"/proc/{p}/comm") or "").strip() == "gcs_server"]
    load = (_read("/proc/loadavg") or "? ").split()[0]
    return f"load {load}, other Ray instances: {len(others)}"


def run_once(accounts: int, ready_timeout_s: float, settle_s: float) -> RunResult:
    result = RunResult(accounts, settle_s=settle_s, context=host_context())
    data, env = sim_deployment(accounts)
    os.environ.update(env)  # before ray.init: the raylet passes it on
    simulator = SimulatorThread(
        SimConfig(port=0, accounts=sim_accounts(data, env), exchange={"walk_interval_ms": 0})
    )
    server = simulator.start()
    namespace = session_dir = ""
    controller = None
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as folder:  # the SQLite file
        try:
            toml = sim_toml(data, server.url)
            source = ConfigSource(toml, f"<footprint: {accounts} account(s)>", folder)
            config = source.load()
            namespace = config.deployment.name
            config.plan()  # refuses an over-subscribed IP before anything starts
            t_schema = time.monotonic()
            init_database(config)
            t0 = time.monotonic()
            context = ray.init(
                address="local",
                namespace=namespace,
                include_dashboard=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
            t1 = time.monotonic()
            session_dir = context.address_info["session_dir"]
            controller, info = bounded(lambda: launcher.start(source), START_TIMEOUT_S, "start")
            t2 = time.monotonic()
            rows = bounded(
                lambda: launcher.wait_ready(controller, ready_timeout_s),
                ready_timeout_s + 30,
                "wait_ready",
            )
            t3 = time.monotonic()
            result.ready = all(r.health and r.health["last_success_ms"] for r in rows)
            result.schema_s, result.init_s, result.start_s = t0 - t_schema, t1 - t0, t2 - t1
            result.start_to_ready_s, result.to_ready_s = t3 - t1, t3 - t_schema
            result.at_ready = snapshot(session_dir)
            if not result.ready:
                result.error = "not ready: " + "; ".join(
                    f"{r.job}:{r.account} {r.state} {r.note}" for r in rows
                )
            time.sleep(settle_s)
            rows = bounded(lambda: launcher.status(controller), 30, "status")
            result.settled = snapshot(session_dir)
            actors = gcs_actors()
            if actors is None:
                actors = actors_from_titles(result.settled, rows)
            check_actors(actors, result.settled, rows)
            result.actors = actors
            print(f"  gateway {info['gateway']}, session {session_dir}", flush=True)
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            stop_all(controller, namespace, session_dir)
            simulator.stop()
    return result


def stop_all(controller: object, namespace: str, session_dir: str) -> None:
    """launcher.stop (bounded), ray.shutdown, then check no process of this Ray is left."""
    if ray.is_initialized():
        try:
            if controller is None:
                controller = bounded(
                    lambda: ray.get_actor(CONTROLLER_NAME, namespace=namespace), 10, "get_actor"
                )
            bounded(lambda: launcher.stop(controller), STOP_TIMEOUT_S, "launcher.stop")
        except ValueError:
            pass  # no controller: it never started
        except Exception as exc:
            print(f"  launcher.stop failed: {type(exc).__name__}: {exc}", flush=True)
        ray.shutdown()
    deadline = time.monotonic() + SHUTDOWN_GRACE_S
    left = ray_pids(session_dir) if session_dir else descendants(os.getpid())
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = ray_pids(session_dir) if session_dir else descendants(os.getpid())
    for pid in left:  # only processes this run started
        proc = read_proc(pid)
        print(f"  left after ray.shutdown: pid {pid} {proc.cmdline[:80] if proc else ''}")
        with contextlib.suppress(OSError):
            os.kill(pid, 15)


# ---------------------------------------------------------------- report


def print_run(result: RunResult, settle_s: float) -> None:
    print(f"\n=== {result.accounts} account(s) === ({result.context} at start)")
    if result.error:
        print(f"  ERROR: {result.error}")
    snap = result.settled
    if snap is None:
        return
    rows = []
    for actor in result.actors:
        proc = snap.by_pid(actor.pid)
        rows.append(
            [
                actor.name,
                actor.cls,
                actor.pid,
                mib(proc.rss_kib if proc else None),
                mib(proc.pss_kib if proc else None),
                mib(proc.uss_kib if proc else None),
                "+".join(actor.checks),
            ]
        )
    print(f"actors: {len(result.actors)} (memory sampled {settle_s:g} s after ready)")
    print(
        table(
            ["actor", "class", "pid", "RSS MiB", "PSS MiB", "USS MiB", "pid check"],
            rows,
            left={0, 1, 6},
        )
    )
    roles: dict[str, list[Proc]] = {}
    for proc in snap.procs:
        roles.setdefault(proc.role, []).append(proc)
    role_rows = [
        [
            role,
            len(procs),
            ", ".join(str(p.pid) for p in procs) if len(procs) <= 3 else f"{len(procs)} pids",
            mib(total(procs, "rss_kib")),
            mib(total(procs, "pss_kib")),
            mib(total(procs, "uss_kib")),
        ]
        for role, procs in roles.items()
    ]
    for label, procs in (("Ray processes", snap.ray), ("Ray + driver", snap.procs)):
        role_rows.append(
            [
                f"= {label}",
                len(procs),
                "",
                mib(total(procs, "rss_kib")),
                mib(total(procs, "pss_kib")),
                mib(total(procs, "uss_kib")),
            ]
        )
    print("\nprocesses by role:")
    print(table(["role", "n", "pids", "RSS MiB", "PSS MiB", "USS MiB"], role_rows, left={0, 2}))


def _verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISS"


def print_summary(results: list[RunResult]) -> None:
    print("\n=== summary: time to ready (s) ===")
    rows = []
    for r in results:
        verdict = ""
        if r.accounts == 1:
            verdict = f"≤ {TARGET_READY_S:.0f}: {_verdict(r.to_ready_s, TARGET_READY_S)}"
        rows.append(
            [
                r.accounts,
                len(r.actors),
                "yes" if r.ready else "NO",
                f"{r.schema_s:.1f}",
                f"{r.init_s:.1f}",
                f"{r.start_s:.1f}",
                f"{r.start_to_ready_s:.1f}",
                f"{r.to_ready_s:.1f}",
                verdict,
                r.context,
            ]
        )
    headers = ["accounts", "actors", "ready", "schema", "ray.init", "start()", "start→ready"]
    print(table([*headers, "to ready", "target", "host during run"], rows, left={2, 8, 9}))
    print(
        "schema: the SQLite schema step. start→ready: end of ray.init until every job's first\n"
        "success; start() is part of it. to ready: just before the schema step until ready\n"
        "(schema + ray.init + start→ready)."
    )

    settle = results[0].settle_s
    print(f"\n=== summary: memory (MiB), sampled when ready and {settle:g} s later ===")
    rows = []
    for r in results:
        procs = r.settled.procs if r.settled else []

        def part(roles: tuple[str, ...], procs: list[Proc] = procs) -> str:
            return mib(total([p for p in procs if p.role in roles], "rss_kib"))

        rss = total(procs, "rss_kib") if procs else None
        verdict = ""
        if r.accounts == 1 and rss is not None:
            verdict = f"≤ {TARGET_RSS_MIB:.0f}: {_verdict(rss / 1024, TARGET_RSS_MIB)}"
        rows.append(
            [
                r.accounts,
                len(r.actors),
                mib(total(r.at_ready.procs, "rss_kib")) if r.at_ready else "n/a",
                mib(rss),
                verdict,
                mib(total(procs, "pss_kib")) if procs else "n/a",
                mib(total(procs, "uss_kib")) if procs else "n/a",
                part(("gcs_server", "raylet")),
                part(AGENT_ROLES),
                part(("actor worker",)),
                part(("idle worker", "worker (starting)")),
                part(("driver (+ simulator)",)),
            ]
        )
    headers = ["accounts", "actors", "RSS@ready", "RSS total", "target", "PSS total"]
    headers += ["USS total", "gcs+raylet", "agents+monitors", "actors", "idle wkrs", "driver+sim"]
    print(table(headers, rows, left={4}))
    print(
        "RSS total (headline) = every Ray process + this driver, after settling; an upper "
        "bound:\nshared pages count once per process. PSS total = the real RAM share. "
        "Breakdown columns are RSS.\nTargets apply to one account."
    )


AGENT_ROLES = (
    "dashboard agent",
    "runtime env agent",
    "dashboard head (minimal)",
    "autoscaler monitor",
    "log monitor",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=5.0, help="s after ready to sample")
    args = parser.parse_args()
    if any(n < 1 or n > 100 for n in args.accounts):
        parser.error("--accounts: 1 to 100")
    logging.basicConfig(level=logging.WARNING)
    print(f"host: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; ray {ray.__version__}")
    results = []
    for accounts in args.accounts:
        # Last resort if a run hangs past every bounded step: dump the stacks and exit.
        budget_s = START_TIMEOUT_S + args.ready_timeout + 30 + args.settle + 180
        faulthandler.dump_traceback_later(budget_s, exit=True)
        print(f"\nrun: {accounts} account(s) ...", flush=True)
        result = run_once(accounts, args.ready_timeout, args.settle)
        faulthandler.cancel_dump_traceback_later()
        print_run(result, args.settle)
        results.append(result)
    print_summary(results)
    return 0 if all(r.ready and not r.error for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
