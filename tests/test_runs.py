"""The runs recorded on this host: operator commands find the one running without flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from riskd import runs
from riskd.runs import LocalRun


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(runs.RUN_DIR_ENV, str(tmp_path / "run"))
    return tmp_path / "run"


def _run(namespace: str, pid: int = os.getpid()) -> LocalRun:
    return LocalRun(namespace, "127.0.0.1:6379", "http://127.0.0.1:8780", pid)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_nothing_recorded_finds_nothing() -> None:
    assert runs.find(None) is None


def test_the_only_run_is_found_without_a_name() -> None:
    runs.record(_run("riskd-sim"))
    assert runs.find(None) == _run("riskd-sim")


def test_several_runs_need_a_name_and_the_error_lists_them() -> None:
    runs.record(_run("desk-a"))
    runs.record(_run("desk-b"))
    with pytest.raises(LookupError, match=r"2 riskd deployments run here \(desk-a, desk-b\)"):
        runs.find(None)
    assert runs.find("desk-b") == _run("desk-b")
    assert runs.find("desk-c") is None


def test_a_run_whose_process_is_gone_is_stale_and_removed(run_dir: Path) -> None:
    runs.record(_run("riskd-sim", _dead_pid()))
    assert runs.find(None) is None
    assert list(run_dir.iterdir()) == []


def test_a_damaged_record_is_ignored(run_dir: Path) -> None:
    run_dir.mkdir()
    (run_dir / "riskd-sim.json").write_text("{not json")
    assert runs.running() == []


def test_forget_removes_only_the_record_of_that_process() -> None:
    runs.record(_run("riskd-sim"))
    runs.forget("riskd-sim", os.getpid() + 1)
    assert runs.running() == [_run("riskd-sim")]
    runs.forget("riskd-sim", os.getpid())
    assert runs.running() == []
