"""The README's first command, as a user runs it: `riskd run --sim`, then the operator commands
exactly as the README shows them (no flags), and `riskd stop` from another shell."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from riskd.risk.lock_store import add_operator_lock
from riskd.risk.locks import operator_lock_request
from riskd.store import init_schema, make_engine

READY = re.compile(r"riskd ready: gateway (http://[^;\s]+)")
SIM_STATE = "http://127.0.0.1:8765/_sim/state"


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


def test_run_sim_serves_operators_without_flags_on_loopback_only(tmp_path: Path) -> None:
    _last_runs_ban(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RISKD_RUN_DIR"] = str(tmp_path / "runs")

    def riskd(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "riskd.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    process = subprocess.Popen(
        [sys.executable, "-m", "riskd.cli", "run", "--sim"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []
    try:
        for line in process.stdout:
            output.append(line)
            if READY.search(line):
                break
        text = "".join(output)
        gateway = READY.search(text).group(1)
        assert "riskd-sim.db: replaced by a fresh one" in text
        assert re.search(r"ledger sim: first pass done", text)
        assert "GET /v1/banlist/stream" in text and "DELETE /v1/locks/{id}" in text
        assert _get(f"{gateway}/v1/health")["ok"] is True
        assert {"127.0.0.2", "127.0.0.3"} <= set(_get(SIM_STATE)["rate_limits"]["ips"])

        status = riskd("status")
        assert status.returncode == 0, status.stderr
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
            for pid, addresses in _listening_sockets(process.pid).items()
        }
        assert not any(exposed.values()), exposed

        stopped = riskd("stop")
        assert stopped.stdout == "riskd riskd-sim stopped.\n", stopped.stderr
        rest = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "riskd stopped." in rest
    assert riskd("status").returncode == 2
