"""Footprint of the real daemon: time to ready and memory, for one account and for five.

Each run deploys what ``riskd run --sim`` deploys, the same way, in a fresh local Ray:

* the Binance simulator (``SimulatorThread``) in THIS process, on 127.0.0.1 with a free port,
  one simulated account per riskd account (distinct API keys), price walk off;
* the config is ``riskd.cli.SIM_CONFIG_TOML`` itself: account ``sim`` with its two jobs,
  account_reader on 127.0.0.2 and position_risk_reader on 127.0.0.3. Only the simulator URL
  (free port instead of 8765) and the gateway port (``[gateway] port = 0`` instead of 8780) are
  changed, so a ``riskd run --sim`` or a test on this host cannot collide with it. For N
  accounts the ``[[accounts]]`` block is repeated as ``sim2`` … ``simN``, each job again on its
  own loopback IP (127.0.0.4, 127.0.0.5, …) and with its own key in the environment;
* ``ray.init(address="local", include_dashboard=False, ...)`` with the options
  ``actors.launcher.run_foreground`` uses, then ``launcher.start`` (Controller, position
  books, jobs, gateway) and ``launcher.wait_ready`` (every job reported one success); then
  ``launcher.stop``, ``ray.shutdown()`` and the simulator's stop. The SQLite schema step of
  ``riskd run`` is skipped: no actor opens the database yet.

Times (``time.monotonic``): ``ray.init`` (start of the local Ray: GCS, raylet, agents);
``start()`` (``launcher.start`` returned: Controller created, every actor created, gateway
listening); ``start → ready`` (from the end of ``ray.init`` until ``wait_ready`` saw every job's
first success); ``to ready`` = from just before ``ray.init`` until ready, the figure the target
is about.

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
import faulthandler
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import ray

from actors import launcher
from actors.context import CONTROLLER_NAME, ConfigSource
from riskd.cli import SIM_CONFIG_TOML, SIM_ENV
from riskd.config import load_config_text
from riskd.health import JobStatus
from riskd.sim import SimAccountConfig, SimConfig, SimulatorThread

MIB = 1024 * 1024
TARGET_READY_S = 20.0
TARGET_RSS_MIB = 1.5 * 1024
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
SHUTDOWN_GRACE_S = 15.0
SIM_DEFAULT_URL = "http://127.0.0.1:8765"

T = TypeVar("T")


# ---------------------------------------------------------------- the deployment


def account_env(index: int) -> dict[str, str]:
    """Environment holding account ``index``'s key (1: what ``riskd run --sim`` sets)."""
    if index == 1:
        return dict(SIM_ENV)
    return {
        f"RISKD_SIM{index}_API_KEY": f"sim{index}-key",
        f"RISKD_SIM{index}_API_SECRET": f"sim{index}-secret",
    }


def sim_accounts(accounts: int) -> tuple[SimAccountConfig, ...]:
    result = []
    for index in range(1, accounts + 1):
        key, secret = account_env(index).values()
        name = "sim" if index == 1 else f"sim{index}"
        result.append(SimAccountConfig(name=name, api_key=key, api_secret=secret))
    return tuple(result)


def deployment_toml(sim_url: str, accounts: int) -> str:
    """``SIM_CONFIG_TOML`` against ``sim_url``, gateway on a free port, ``accounts`` accounts."""
    head, sep, block = SIM_CONFIG_TOML.partition("[[accounts]]")
    if not sep or SIM_DEFAULT_URL not in head:
        raise RuntimeError("riskd.cli.SIM_CONFIG_TOML changed shape: update bench/footprint.py")
    text = head.replace(SIM_DEFAULT_URL, sim_url) + sep + block
    for index in range(2, accounts + 1):
        extra = sep + block
        extra = extra.replace('name = "sim"', f'name = "sim{index}"')
        extra = extra.replace("RISKD_SIM_", f"RISKD_SIM{index}_")
        extra = extra.replace('"127.0.0.2"', f'"127.0.0.{2 * index}"')
        extra = extra.replace('"127.0.0.3"', f'"127.0.0.{2 * index + 1}"')
        text += "\n" + extra
    return text + "\n[gateway]\nport = 0\n"


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


def table(headers: list[str], rows: list[list[object]], right: set[int] | None = None) -> str:
    right = right or set()
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f}"


# ---------------------------------------------------------------- one run


@dataclass(slots=True)
class RunResult:
    accounts: int
    ready: bool = False
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
    for index in range(1, accounts + 1):
        os.environ.update(account_env(index))  # before ray.init: the raylet passes it on
    simulator = SimulatorThread(
        SimConfig(port=0, accounts=sim_accounts(accounts), exchange={"walk_interval_ms": 0})
    )
    server = simulator.start()
    namespace = session_dir = ""
    controller = None
    try:
        toml = deployment_toml(server.url, accounts)
        source = ConfigSource(toml, f"<footprint: {accounts} account(s)>", str(Path.cwd()))
        config = source.load()
        namespace = config.deployment.name
        if len(config.accounts) != accounts or len(config.plan().jobs) != 2 * accounts:
            raise RuntimeError(f"the generated config is not {accounts} account(s): {toml}")
        riskd_sim = load_config_text(SIM_CONFIG_TOML, "riskd run --sim", Path.cwd())
        if riskd_sim.accounts[0] != config.accounts[0]:
            raise RuntimeError("account 'sim' differs from riskd run --sim's")
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
        result.init_s, result.start_s = t1 - t0, t2 - t1
        result.start_to_ready_s, result.to_ready_s = t3 - t1, t3 - t0
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
            right={2, 3, 4, 5},
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
    print(
        table(["role", "n", "pids", "RSS MiB", "PSS MiB", "USS MiB"], role_rows, right={1, 3, 4, 5})
    )


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
                f"{r.init_s:.1f}",
                f"{r.start_s:.1f}",
                f"{r.start_to_ready_s:.1f}",
                f"{r.to_ready_s:.1f}",
                verdict,
                r.context,
            ]
        )
    headers = ["accounts", "actors", "ready", "ray.init", "start()", "start→ready", "to ready"]
    print(table([*headers, "target", "host during run"], rows, right={0, 1, 3, 4, 5, 6}))
    print(
        "start→ready: end of ray.init until every job's first success; start() is part of it.\n"
        "to ready: just before ray.init until ready (ray.init + start→ready)."
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
    print(table(headers, rows, right=set(range(len(headers))) - {4}))
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
