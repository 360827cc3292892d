"""The README's first command, as a user runs it: `riskd run --sim`, then the operator commands
exactly as the README shows them (no flags), its status page in a real browser while a loss
locks a symbol, the page's bench, and `riskd stop` from another shell.

One run serves the module's tests, in their order: the last one stops it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from riskd.risk.lock_store import add_operator_lock
from riskd.risk.locks import operator_lock_request
from riskd.store.engine import make_engine
from riskd.store.schema import init_schema
from tests.kit.browser import REQUIRE_BROWSER_VAR, chromium, screenshot
from tests.kit.deployment import READY_S, post_json, wait_health_ok
from tests.kit.sim import binance_client

READY = re.compile(r"riskd ready: gateway (http://[^;\s]+)")
SIM = "http://127.0.0.1:8765"
SIM_STATE = f"{SIM}/_sim/state"
ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _last_runs_ban(folder: Path) -> None:
    """A database left by an earlier `riskd run --sim`, holding an operator's ban."""
    engine = make_engine(f"sqlite:///{folder / 'riskd-sim.db'}")
    init_schema(engine, 0)
    request = operator_lock_request(
        {"symbol": "BTCUSDT", "operator": "earlier", "reason": "last run's ban"}
    )
    with engine.begin() as connection:
        add_operator_lock(connection, "sim", request, 1)
    engine.dispose()
    (folder / "riskd-sim.db-wal").write_bytes(b"")


def _listening_sockets(root_pid: int) -> dict[int, list[str]]:
    """Every TCP socket listening in *root_pid*'s process tree, by pid: ``address:port``."""
    tree = {root_pid}
    for _ in range(10):  # descendants, level by level
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in tree:
                tree.add(int(stat.parent.name))
    listening: dict[str, str] = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = _address(fields[1])
    found: dict[int, list[str]] = {}
    for pid in tree:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes = [link[8:-1] for link in links if link.startswith("socket:[")]
        if addresses := [listening[inode] for inode in inodes if inode in listening]:
            found[pid] = addresses
    return found


def _address(hex_address: str) -> str:
    """``0100007F:1F90`` (or its IPv6 form) as ``127.0.0.1:8080``."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in reversed(raw))
    else:  # four little-endian words; a v4-mapped loopback is ::ffff:127.x.x.x
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        flat = b"".join(words)
        ip = (
            ".".join(str(b) for b in flat[12:])
            if flat[:12] == b"\0" * 10 + b"\xff\xff"
            else flat.hex()
        )
    return f"{ip}:{int(port, 16)}"


@dataclass
class Run:
    """A `riskd run --sim` in a folder of its own: the process, what it printed up to ready,
    its gateway, and `riskd …` from another shell."""

    process: subprocess.Popen
    ready_output: str
    gateway: str
    riskd: Callable[..., subprocess.CompletedProcess]

    def settled_status(self) -> subprocess.CompletedProcess:
        """``riskd status`` until it exits 0 (every job healthy at once) or READY_S passes:
        its last run. It exits 1 while a job is late, as a busy host makes one for an instant."""
        deadline = time.monotonic() + READY_S
        while (status := self.riskd("status")).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        return status


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("run-sim")
    _last_runs_ban(folder)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RISKD_RUN_DIR"] = str(folder / "runs")

    def riskd(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "riskd.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    process = subprocess.Popen(
        [sys.executable, "-m", "riskd.cli", "run", "--sim"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        output: list[str] = []
        for line in process.stdout:
            output.append(line)
            if READY.search(line):
                break
        text = "".join(output)
        ready = READY.search(text)
        assert ready, text
        yield Run(process, text, ready.group(1), riskd)
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=60)


def test_run_sim_serves_operators_without_flags_on_loopback_only(run: Run) -> None:
    text, gateway, riskd = run.ready_output, run.gateway, run.riskd
    assert "riskd-sim.db: replaced by a fresh one" in text
    assert re.search(r"ledger sim: first pass done", text)
    assert "GET /v1/banlist/stream" in text and "DELETE /v1/locks/{id}" in text
    wait_health_ok(gateway)
    assert {"127.0.0.2", "127.0.0.3"} <= set(_get(SIM_STATE)["rate_limits"]["ips"])

    status = run.settled_status()
    assert status.returncode == 0, status.stdout + status.stderr
    assert re.search(r"account_reader\s+sim\s+running", status.stdout)
    assert riskd("locks").stdout == "no active locks\n"  # not the last run's ban
    locked = riskd("lock", "ethusdt", "--minutes", "30", "--operator", "o", "--reason", "r")
    assert locked.returncode == 0, locked.stderr
    assert re.search(
        r"ETHUSDT\s+both\s+all\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in 29m 5\d",
        (riskd("locks").stdout),
    )
    assert riskd("state").stdout == "ACTIVE (never changed)\n"
    assert riskd("silences").stdout == "no silences\n"
    backfill = riskd("backfill", "--days", "1")
    assert backfill.returncode == 0, backfill.stderr
    assert backfill.stdout.startswith("backfill sim: 1 pages")

    exposed = {
        pid: [a for a in addresses if not a.startswith("127.")]
        for pid, addresses in _listening_sockets(run.process.pid).items()
    }
    assert not any(exposed.values()), exposed


async def test_a_loss_locks_its_symbol_on_the_already_open_status_page(
    run: Run, page: Page
) -> None:
    await page.goto(run.gateway + "/")
    await expect(page.locator("#banlist tr[data-lock]")).to_contain_text("ETHUSDT")
    client = binance_client(SIM)
    try:
        post_json(f"{SIM}/_sim/mark", {"symbol": "BTCUSDT", "price": "60000"})
        await client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.100"
        )
        position = page.locator("#positions tr[data-symbol='BTCUSDT']")
        await expect(position.locator("td.rungs")).to_contain_text("× 0.", timeout=15_000)
        await screenshot(page, "run-sim-page-with-a-laddered-position")
        post_json(f"{SIM}/_sim/mark", {"symbol": "BTCUSDT", "price": "58000"})
        await client.futures_create_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.100"
        )  # −200 USDT: past the 4 h rule's −150
    finally:
        await client.close_connection()
    lock = page.locator("#banlist tr[data-lock]", has_text="BTCUSDT")
    await expect(lock).to_contain_text("rule:", timeout=15_000)
    await expect(position).to_have_count(0)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("#problem")).to_be_hidden()  # every route the page reads answered
    await screenshot(page, "run-sim-page-after-the-loss")


def test_the_page_bench_measures_the_open_page(run: Run) -> None:
    if chromium() is None and os.environ.get(REQUIRE_BROWSER_VAR) != "1":
        pytest.skip("no chromium")
    bench = [sys.executable, "page.py", "--loads", "2", "--bans", "2", "--gateway", run.gateway]
    done = subprocess.run(bench, cwd=ROOT / "bench", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for event in ("page opened → first render", "operator lock → shown on the open page"):
        for sample in ("first after ready", "steady state"):
            assert re.search(
                rf"{event}\s+{sample}\s+1\s+(?:[\d.]+\s+){{4}}(?:ok|MISS)", done.stdout
            )


def test_riskd_stop_from_another_shell_ends_the_run(run: Run) -> None:
    stopped = run.riskd("stop")
    assert stopped.stdout == "riskd riskd-sim stopped.\n", stopped.stderr
    rest = run.process.communicate(timeout=60)[0]
    assert run.process.returncode == 0, rest
    assert "riskd stopped." in rest
    assert run.riskd("status").returncode == 2
