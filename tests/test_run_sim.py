"""The README's first command, as a user runs it: `riskd run --sim`, then status and a stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

READY = re.compile(r"riskd ready: gateway (http://\S+)")
RAY_ADDRESS = re.compile(r"RAY_ADDRESS=(\S+)")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_run_sim_reaches_ready_reports_status_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
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
        gateway = address = None
        for line in process.stdout:
            output.append(line)
            address = address or (m.group(1) if (m := RAY_ADDRESS.search(line)) else None)
            if m := READY.search(line):
                gateway = m.group(1)
                break
        assert gateway and address, "".join(output)
        assert _get(f"{gateway}/v1/health")["ok"] is True
        ips = _get("http://127.0.0.1:8765/_sim/state")["rate_limits"]["ips"]
        assert {"127.0.0.2", "127.0.0.3"} <= set(ips)
        status = subprocess.run(
            [sys.executable, "-m", "riskd.cli", "status", "--namespace", "riskd-sim"],
            env={**env, "RAY_ADDRESS": address},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert re.search(r"account_reader\s+sim\s+running", status.stdout)
        assert re.search(r"position_risk_reader\s+sim\s+running", status.stdout)
        assert (tmp_path / "riskd-sim.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[0]
    assert process.returncode == 0, rest
    assert "riskd stopped." in rest
