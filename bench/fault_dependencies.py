"""The fault matrix's dependency rows (issue 18): riskd's database server stopped and started
again, Feishu down, SQLite's disk full. Each is a scenario (``bench/faults.py`` runs it) in a
world of its own: the matrix's deployment and workload (``faults_world``) with its alerts going
to a fake Feishu app (``tests/kit/fake_feishu.py``, served from a thread of this process).

Besides the invariants, a row is recovered only once every notification the outbox marks sent
was shown by the fake Feishu exactly once (by its uuid), and nothing else was; every alert
raised while the fault lasted (DatabaseError, FeishuFailing, …) reached Feishu after it; and:

- ``mariadb_stopped`` (riskd on a MariaDB server of the bench's own: a temporary datadir on a
  free port, never the system's server), ``sqlite_disk_full`` (the SQLite database on a 16 MiB
  tmpfs, filled to its last page): while the fault lasted a job's health named its cause, and
  every error shown was one line (no traceback, no statement);
- ``feishu_down`` (Feishu's gateway answering 503 to every request): every job and the
  Alerter's loop stayed healthy throughout, and the notifications queued meanwhile were all
  sent once it was back.

A row whose dependency this machine lacks (no MariaDB binaries, no tmpfs mount) is skipped
with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pymysql
import ray
from fault_kit import POLL_S, Context, Fault, Row, Scenario, World, drive, faults_world
from invariants import SENT
from ray.actor import ActorHandle
from sqlalchemy import Engine, select

from actors import launcher
from actors.context import ALERTER_NAME, CONTROLLER_NAME
from riskd.core.clock import wall_ms
from riskd.store.schema import alert_outbox

sys.path.append(str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.kit
from tests.kit.fake_feishu import FakeFeishu

APP_ID, CHAT_ID = "cli_riskdbench", "oc_riskdbench"
SECRET_ENV = "RISKD_BENCH_FEISHU_SECRET"
RECEIVER = "lark-app"  # the app receiver's name in the outbox
EVERY_KIND = ("token", "message", "hook")  # an outage of Feishu's gateway: every endpoint
CALL_S = 30.0  # the fake Feishu's start or stop
ANSWER_S = 5.0  # an actor's answer to the watch
ALERTER_TICK_LATE_MS = 5_000  # the Alerter ticks every second: this long without one is a stall
SERVER_S = 60.0  # MariaDB's datadir installed, or the server started or stopped
DATABASE = "riskd"
TMPFS_MIB = 16
FILL_CHUNK_BYTES = 1 << 20
UNMOUNT_S = 30.0  # for the deployment's last processes to close the database's files
MYSQL_CAUSE, SQLITE_CAUSE = "MySQL server", "database or disk is full"
UNCLEAR = ("\n", "\\x0a", "[SQL:", "[parameters:")  # a traceback's lines, a statement


# ---------------------------------------------------------------- the world


def alerts_toml(feishu_url: str) -> str:
    """Alerts to the fake Feishu app at *feishu_url*, flowing fast enough that even a short
    fault queues some: a heartbeat card every 2 s, groups told a second after they change."""
    return f"""
[alerts]
heartbeat_interval_ms = 2000

[alerts.route]
group_wait_ms = 1000
group_interval_ms = 5000

[alerts.feishu]
mode = "app"
base_url = "{feishu_url}"
app_id = "{APP_ID}"
app_secret_env = "{SECRET_ENV}"
chat_id = "{CHAT_ID}"
"""


@dataclass(frozen=True)
class Feishu:
    """The fake Feishu app and the event loop serving it, in a thread of its own."""

    fake: FakeFeishu
    loop: asyncio.AbstractEventLoop

    def run(self, call: Coroutine[object, object, object]) -> None:
        asyncio.run_coroutine_threadsafe(call, self.loop).result(CALL_S)

    def set_down(self, down: bool) -> None:
        """Every request answered 503 by Feishu's gateway from now on (*down*), or none."""
        outage = functools.partial(self.fake.outage, math.inf if down else 0, kinds=EVERY_KIND)
        self.loop.call_soon_threadsafe(outage)

    def shown(self) -> Counter[str | None]:
        """How many times the fake showed each message uuid."""
        return Counter(delivered.uuid for delivered in list(self.fake.delivered))


@contextlib.contextmanager
def fake_feishu() -> Iterator[Feishu]:
    """A fake Feishu app on 127.0.0.1, answering whatever the bench's own loop does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-feishu", daemon=True)
    thread.start()
    feishu = Feishu(FakeFeishu(app_id=APP_ID, chat_ids=(CHAT_ID,)), loop)
    try:
        feishu.run(feishu.fake.start())
        yield feishu
    finally:
        feishu.run(feishu.fake.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


@contextlib.contextmanager
def dependency_world(database_url: str | None = None) -> Iterator[tuple[World, Feishu]]:
    """The matrix's world (SQLite unless *database_url*) with its alerts going to a fake
    Feishu app; the errors stopping it met go to stderr."""
    with fake_feishu() as feishu:
        os.environ[SECRET_ENV] = feishu.fake.app_secret  # before ray.init: the actors inherit it
        world: World | None = None
        try:
            with faults_world(database_url, top_toml=alerts_toml(feishu.fake.url)) as world:
                yield world, feishu
        finally:
            for error in world.errors if world else ():  # filled as the deployment stopped
                print(error, file=sys.stderr)


def alone(fault: Fault, world: World, args: argparse.Namespace) -> Row:
    """*fault*, the only one of *world*, while the workload trades."""
    (row,) = asyncio.run(drive([fault], world, args))
    return row


# ---------------------------------------------------------------- what the fault showed


@dataclass
class Watch:
    """What the jobs and the Alerter showed while a fault lasted (from *began_ms*), polled
    every POLL_S: why any was not healthy (a line per job), every error their health named
    (with whose: ``job:account`` or ``alerter``) and the alerts raised meanwhile (unmuted)."""

    namespace: str
    began_ms: int
    unhealthy: dict[str, str] = field(default_factory=dict)
    errors: set[tuple[str, str]] = field(default_factory=set)
    raised: set[str] = field(default_factory=set)
    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        controller = ray.get_actor(CONTROLLER_NAME, namespace=self.namespace)
        alerter = ray.get_actor(ALERTER_NAME, namespace=self.namespace)
        while True:
            try:
                rows = await asyncio.to_thread(launcher.status, controller)
            except Exception as exc:  # the Controller did not answer: every job is in doubt
                self.unhealthy.setdefault("controller", f"controller: {type(exc).__name__}")
                rows = []
            for row in rows:
                job = f"{row.job}:{row.account}"
                if not row.healthy():
                    self.unhealthy.setdefault(job, row.problem())
                if row.health and row.health["last_error"]:
                    self.errors.add((job, row.health["last_error"]))
            await self._alerter(alerter)
            await asyncio.sleep(POLL_S)

    async def _alerter(self, alerter: ActorHandle) -> None:
        try:
            health = await asyncio.wait_for(alerter.health.remote(), ANSWER_S)
            firing = await asyncio.wait_for(alerter.alerts.remote(), ANSWER_S)
        except Exception as exc:
            self.unhealthy.setdefault("alerter", f"alerter: no answer ({type(exc).__name__})")
            return
        self.raised |= {
            alert["name"]
            for alert in firing
            if alert["starts_ms"] >= self.began_ms and not alert["muted"]
        }
        if health["last_error"]:
            self.errors.add(("alerter", health["last_error"]))
        late_ms = wall_ms() - health["last_tick_ms"]
        if late_ms > ALERTER_TICK_LATE_MS:
            self.unhealthy.setdefault("alerter", f"alerter: no tick for {late_ms} ms")

    def stayed_healthy(self) -> list[str]:
        """Every job and the Alerter's loop healthy throughout."""
        return [f"while it lasted: {problem}" for problem in self.unhealthy.values()]

    def named(self, cause: str) -> list[str]:
        """A job's error named *cause*, and every error was one clear line."""
        problems = []
        if not any(cause in error for whose, error in self.errors if whose != "alerter"):
            seen = "; ".join(f"{whose}: {error}" for whose, error in sorted(self.errors)[:2])
            problems.append(f"no job's error named {cause!r} (seen: {seen[:200] or 'none'})")
        unclear = sorted(f"{w}: {e}" for w, e in self.errors if any(m in e for m in UNCLEAR))
        if unclear:
            problems.append(f"{len(unclear)} errors not one clear line, e.g. {unclear[0][:200]}")
        return problems


# ---------------------------------------------------------------- what reached Feishu


class Queued(NamedTuple):
    """A notification the outbox holds for the app receiver, and the alerts it tells of
    (firing or resolved)."""

    status: str
    uuid: str | None
    created_ms: int
    alerts: frozenset[str]


def outbox(engine: Engine) -> list[Queued]:
    """What the outbox holds for the app receiver, sent or not."""
    query = select(
        alert_outbox.c.status,
        alert_outbox.c.batch_uuid,
        alert_outbox.c.created_ms,
        alert_outbox.c.notification,
    ).where(alert_outbox.c.receiver == RECEIVER)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    queued = []
    for status, uuid, created_ms, text in rows:
        data = json.loads(text)
        alerts = frozenset(alert["name"] for alert in (*data["firing"], *data["resolved"]))
        queued.append(Queued(status, uuid, created_ms, alerts))
    return queued


def shown_once(feishu: Feishu, engine: Engine) -> list[str]:
    """Every batch the outbox marks sent shown by Feishu exactly once, and no other."""
    sent = {row.uuid for row in outbox(engine) if row.status == SENT}
    shown = feishu.shown()
    problems = []
    if never := sent - shown.keys():
        problems.append(f"{len(never)} batches marked sent that Feishu never showed")
    if unmarked := shown.keys() - sent:
        problems.append(f"{len(unmarked)} batches shown that the outbox does not mark sent")
    if twice := [uuid for uuid, count in shown.items() if count > 1]:
        problems.append(f"{len(twice)} batches shown twice or more")
    return problems


def queued_and_sent(engine: Engine, since_ms: int, until_ms: int) -> list[str]:
    """Notifications were queued between *since_ms* and *until_ms*, and all of them sent."""
    queued = [row for row in outbox(engine) if since_ms <= row.created_ms <= until_ms]
    if not queued:
        return ["no notification was queued while it lasted: nothing proven"]
    unsent = sum(row.status != SENT for row in queued)
    if unsent:
        return [f"{unsent} of {len(queued)} notifications queued while it lasted not sent"]
    return []


def told(engine: Engine, alerts: set[str], since_ms: int) -> list[str]:
    """Each of *alerts* (firing, or resolved by then) was in a notification queued from
    *since_ms* on and sent."""
    sent = [r.alerts for r in outbox(engine) if r.status == SENT and r.created_ms >= since_ms]
    untold = sorted(alert for alert in alerts if not any(alert in names for names in sent))
    return [f"raised while it lasted, never reached Feishu: {', '.join(untold)}"] if untold else []


# ---------------------------------------------------------------- the outage


@dataclass
class Outage:
    """A dependency taken away by *stop* and given back by *start* (blocking: they run in a
    thread), watched while it is away; *cause*, what the jobs' errors must name meanwhile
    ("": none, they must stay healthy)."""

    world: World
    feishu: Feishu
    stop: Callable[[], object]
    start: Callable[[], object]
    cause: str
    began_ms: int = 0
    ended_ms: int = 0
    watch: Watch | None = None

    def fault(self, name: str, what: str, lasts_s: float) -> Fault:
        """The outage as the matrix's fault *name*, lasting *lasts_s*."""
        return Fault(name, what, self.inject, self.clear, lasts_s=lasts_s, left=self.left)

    async def inject(self, ctx: Context) -> None:
        self.began_ms = wall_ms()
        self.watch = Watch(ctx.namespace, self.began_ms)
        self.watch.start()
        await asyncio.to_thread(self.stop)

    async def clear(self, _ctx: Context) -> None:
        await asyncio.to_thread(self.start)
        self.ended_ms = wall_ms()
        assert self.watch is not None
        await self.watch.stop()

    async def left(self, _ctx: Context) -> list[str]:
        assert self.watch is not None
        engine = self.world.engine
        if self.cause:
            problems = self.watch.named(self.cause)
        else:
            problems = self.watch.stayed_healthy()
            problems += await asyncio.to_thread(
                queued_and_sent, engine, self.began_ms, self.ended_ms
            )
        problems += await asyncio.to_thread(told, engine, self.watch.raised, self.began_ms)
        return problems + await asyncio.to_thread(shown_once, self.feishu, engine)


# ---------------------------------------------------------------- MariaDB stopped


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MariaDB:
    """A MariaDB server of the bench's own: its datadir in *folder*, on 127.0.0.1, a free
    port; *binaries*, mariadbd and mariadb-install-db."""

    def __init__(self, folder: Path, binaries: tuple[str, str]) -> None:
        self.server, self.install_db = binaries
        self.datadir = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.as_root = ["--user=root"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{DATABASE}"

    def install(self) -> None:
        """The datadir, its root without a password (--skip-name-resolve: no DNS lookups,
        which can take a minute)."""
        done = subprocess.run(
            [self.install_db, "--no-defaults", f"--datadir={self.datadir}", *self.as_root,
             "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
            capture_output=True, text=True, timeout=SERVER_S,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"mariadb-install-db failed: {done.stderr.strip()[-300:]}")

    def start(self) -> None:
        """Start the server and wait until it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.server, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                 "--bind-address=127.0.0.1", f"--socket={self.datadir / 'sock'}", *self.as_root,
                 "--skip-log-bin"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + SERVER_S
        while True:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-300:]
                raise RuntimeError(f"mariadbd exited {self.process.returncode}: {tail}")
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(POLL_S)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown) and wait until it is gone; SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(SERVER_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def create_database(self) -> None:
        connection = pymysql.connect(host="127.0.0.1", port=self.port, user="root")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
        finally:
            connection.close()


def mariadb_binaries() -> tuple[str, str] | str:
    """(mariadbd, mariadb-install-db), or which of them this machine lacks."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    found = {name: shutil.which(name, path=path) for name in ("mariadbd", "mariadb-install-db")}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        return f"{' and '.join(missing)} not found"
    server, install_db = found.values()
    assert server is not None and install_db is not None
    return server, install_db


@contextlib.contextmanager
def mariadb_server(binaries: tuple[str, str]) -> Iterator[MariaDB]:
    """A fresh MariaDB server with an empty database; stopped (killed if need be) on exit."""
    with tempfile.TemporaryDirectory(prefix="riskd-mariadb-") as folder:
        server = MariaDB(Path(folder), binaries)
        try:
            server.install()
            server.start()
            server.create_database()
            yield server
        finally:
            server.stop()


def mariadb_stopped(args: argparse.Namespace) -> Row:
    binaries = mariadb_binaries()
    if isinstance(binaries, str):
        return Row(MARIADB.name, False, None, None, [], skipped=binaries)
    with mariadb_server(binaries) as server, dependency_world(server.url) as (world, feishu):
        outage = Outage(world, feishu, server.stop, server.start, MYSQL_CAUSE)
        return alone(outage.fault(MARIADB.name, MARIADB.what, args.db_down_s), world, args)


# ---------------------------------------------------------------- Feishu down


def feishu_down(args: argparse.Namespace) -> Row:
    with dependency_world() as (world, feishu):
        outage = Outage(
            world, feishu, lambda: feishu.set_down(True), lambda: feishu.set_down(False), ""
        )
        return alone(outage.fault(FEISHU.name, FEISHU.what, args.feishu_down_s), world, args)


# ---------------------------------------------------------------- SQLite's disk full


def mount_tmpfs(folder: Path) -> str:
    """A TMPFS_MIB tmpfs mounted on *folder*: "", or why not in mount's own words."""
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m", "tmpfs", str(folder)],
            capture_output=True, text=True, timeout=SERVER_S,
        )  # fmt: skip
    except OSError as exc:
        return f"mount: {exc}"
    if done.returncode:  # its first line: mount adds a hint to read dmesg
        return (done.stderr.strip() or f"mount exited {done.returncode}").splitlines()[0]
    return ""


def unmount(folder: Path) -> None:
    """Unmount *folder* once the deployment's last processes closed their files (lazily if
    they do not within UNMOUNT_S)."""
    deadline = time.monotonic() + UNMOUNT_S
    while subprocess.run(["umount", str(folder)], capture_output=True).returncode:
        if time.monotonic() > deadline:
            subprocess.run(["umount", "--lazy", str(folder)], check=True)
            print(f"{folder}: still busy, unmounted lazily", file=sys.stderr)
            return
        time.sleep(POLL_S)


@dataclass(frozen=True)
class DiskFull:
    """The filesystem of the SQLite database *engine* opens, filled by *filler*."""

    engine: Engine
    filler: Path

    def fill(self) -> None:
        """The WAL checkpointed and truncated (riskd's next write needs new pages, as it would
        sooner or later), then the filesystem filled to its last page."""
        connection = self.engine.raw_connection()
        try:
            connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        chunk = bytes(FILL_CHUNK_BYTES)
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(descriptor, chunk)  # a short write fills the last pages; then ENOSPC
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        finally:
            os.close(descriptor)

    def empty(self) -> None:
        self.filler.unlink()


def sqlite_disk_full(args: argparse.Namespace) -> Row:
    with tempfile.TemporaryDirectory(prefix="riskd-diskfull-") as name:
        folder = Path(name)
        refused = mount_tmpfs(folder)
        if refused:
            return Row(DISK_FULL.name, False, None, None, [], skipped=refused)
        try:
            with dependency_world(f"sqlite:///{folder / 'riskd.db'}") as (world, feishu):
                disk = DiskFull(world.engine, folder / "filler")
                outage = Outage(world, feishu, disk.fill, disk.empty, SQLITE_CAUSE)
                return alone(
                    outage.fault(DISK_FULL.name, DISK_FULL.what, args.fault_s), world, args
                )
        finally:
            unmount(folder)


MARIADB = Scenario(
    "mariadb_stopped",
    "riskd's MariaDB server (the bench's own) stopped for --db-down-s, then started again on "
    "the same datadir and port",
    mariadb_stopped,
)
FEISHU = Scenario(
    "feishu_down",
    "Feishu's gateway answers every request 503 (HTML) for --feishu-down-s; what was queued "
    "meanwhile must reach it once",
    feishu_down,
)
DISK_FULL = Scenario(
    "sqlite_disk_full",
    f"the SQLite database's {TMPFS_MIB} MiB tmpfs filled to its last page for --fault-s, then "
    "emptied",
    sqlite_disk_full,
)
DEPENDENCIES = (MARIADB, FEISHU, DISK_FULL)
