"""The `riskd` command as a user runs it: a real process, real signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.sim_fixtures import binance_client

READY = re.compile(r"REST (http://127\.0\.0\.1:\d+)/fapi")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "riskd.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def _wait_ready(process: subprocess.Popen) -> str:
    for line in process.stdout:
        match = READY.search(line)
        if match:
            return match.group(1)
    raise AssertionError(f"never ready: {process.stderr.read()}")


class _Url:
    def __init__(self, url: str) -> None:
        self.url = url


async def test_sim_command_serves_an_account_given_on_the_command_line() -> None:
    process = _start("sim", "--port", "0", "--seed", "5", "--account", "desk-key:desk-secret")
    try:
        url = _wait_ready(process)
        client = binance_client(_Url(url), "desk-key", "desk-secret")
        account = await client.futures_account()
        await client.close_connection()
        assert account["totalWalletBalance"] == "100000.00000000"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sim", "--account", "no-colon"], "KEY:SECRET"),
        (["run"], "give --config PATH, or --sim"),
    ],
)
def test_bad_invocations_exit_2_with_a_reason(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "riskd.cli", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr


async def test_sim_command_reads_limits_from_the_config_file(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text("[sim.limits]\nweight_per_minute = 7\n")
    process = _start("sim", "--config", str(config), "--port", "0")
    try:
        url = _wait_ready(process)
        client = binance_client(_Url(url))
        info = await client.futures_exchange_info()
        await client.close_connection()
        weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
        assert weight["limit"] == 7
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_sim_command_reports_config_errors_by_key(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text("[sim.limits]\nweight_per_minut = 7\n")
    result = subprocess.run(
        [sys.executable, "-m", "riskd.cli", "sim", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "sim.limits.weight_per_minut: unknown key" in result.stderr


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "riskd.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "K": "k", "S": "s"},
    )


ONE_ACCOUNT = """
[[accounts]]
name = "main"
api_key_env = "K"
api_secret_env = "S"
[accounts.jobs.account_reader]
interval_ms = 1000
weight_per_minute = {weight}
egress = "10.0.0.5"
[accounts.jobs.position_risk_reader]
interval_ms = 1000
weight_per_minute = 600
egress = "10.0.0.5"
"""


def test_config_check_prints_the_plan_per_ip(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text(ONE_ACCOUNT.format(weight=300))
    result = _cli("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"10\.0\.0\.5\s+account_reader/main 300, position_risk_reader/main 600"
        r"\s+900\s+2160",
        result.stdout,
    )


def test_config_check_refuses_an_over_subscribed_ip_naming_its_jobs(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text(ONE_ACCOUNT.format(weight=1600))
    result = _cli("config", "check", str(config))
    assert result.returncode == 2
    assert "egress 10.0.0.5 is over-subscribed: 2200 weight/min > 2160 allowed" in result.stderr
    assert "account_reader/main 1600" in result.stderr


def test_db_init_creates_the_schema_then_finds_it_current(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n')
    first = _cli("db", "init", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "schema ready; created: alert_groups, alert_outbox, alerts, balance_snapshots,"
    )
    again = _cli("db", "init", "--config", str(config))
    assert "already current" in again.stdout


def test_status_without_a_running_deployment_says_so() -> None:
    result = _cli("status", "--namespace", "riskd-nowhere-" + os.urandom(3).hex())
    assert result.returncode == 2
    assert "riskd: no r" in result.stderr  # no running cluster, or no such deployment


async def test_backfill_books_the_simulators_income_with_a_progress_bar(
    sim, client, tmp_path
) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await client.futures_create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010"
    )
    config = tmp_path / "riskd.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n'
        f'[exchange]\nnetwork = "sim"\nbase_url = "{sim.url}"\n'
        '[[accounts]]\nname = "sim"\napi_key_env = "SIM_K"\napi_secret_env = "SIM_S"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "riskd.cli", "backfill", "--days", "2", "--config", str(config)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SIM_K": "sim-key", "SIM_S": "sim-secret"},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode() == "backfill sim: 1 pages, 3 income rows read, 3 new\n"
    assert "[########################################] 100% 2.0/2.0 days" in err.decode()


def test_backfill_refuses_days_beyond_binances_three_months(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n'
        '[[accounts]]\nname = "a"\napi_key_env = "K"\napi_secret_env = "S"\n'
    )
    result = _cli("backfill", "--days", "91", "--config", str(config))
    assert result.returncode == 2
    assert "argument --days: 91 is not between 1 and 90 (Binance keeps 3 months)" in result.stderr


def test_backfill_needs_the_account_named_when_there_are_several(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    accounts = "".join(
        f'[[accounts]]\nname = "{n}"\napi_key_env = "K"\napi_secret_env = "S"\n' for n in "ab"
    )
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n{accounts}')
    result = _cli("backfill", "--days", "1", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr == "riskd: --account must name one of the config's accounts: ['a', 'b']\n"
