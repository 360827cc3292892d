"""The `riskd` command as a user runs it: a real process, real signals."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest
from aiohttp import web

from riskd.cli import build_parser
from riskd.pnl.daily import DayFigures
from riskd.pnl.report import PnlRow
from riskd.positions import PositionKey
from riskd.protect.flatten import (
    FlattenProgress,
    FlattenRequest,
    FlattenScope,
    FlattenStep,
    SliceStatus,
    StepStatus,
)
from tests.kit.files import write_private
from tests.kit.flatten import SMALL_LOTS
from tests.kit.gateway import SAFE_KEY, FakeBackend, robot_tokens, serving
from tests.kit.imports import loaded_by
from tests.kit.sim import binance_client

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
    write_private(config, "[sim.limits]\nweight_per_minute = 7\n")
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
    write_private(config, "[sim.limits]\nweight_per_minut = 7\n")
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


def test_commands_other_than_the_backfills_and_the_simulator_load_neither() -> None:
    # python-binance and the simulator's server cost ~0.4 s of every command's start.
    assert loaded_by(["riskd.cli"], ["binance", "riskd.sim.server", "ray"]) == []


def test_config_check_prints_the_plan_per_ip(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    write_private(config, ONE_ACCOUNT.format(weight=300))
    result = _cli("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"10\.0\.0\.5\s+account_reader/main 300, position_risk_reader/main 600"
        r"\s+900\s+2160",
        result.stdout,
    )


def test_config_check_refuses_an_over_subscribed_ip_naming_its_jobs(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    write_private(config, ONE_ACCOUNT.format(weight=1600))
    result = _cli("config", "check", str(config))
    assert result.returncode == 2
    assert "egress 10.0.0.5 is over-subscribed: 2200 weight/min > 2160 allowed" in result.stderr
    assert "account_reader/main 1600" in result.stderr


def test_config_check_warns_when_sqlite_serves_many_accounts(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    jobs = ("account_reader", "position_risk_reader", "user_stream", "order_reaper")
    jobs += ("stop_ladder", "ledger", "trader")
    three = "".join(
        f'[[accounts]]\nname = "a{index}"\napi_key_env = "K"\napi_secret_env = "S"\n'
        + "".join(f'[accounts.jobs.{job}]\negress = "10.0.0.{index}"\n' for job in jobs)
        for index in range(3)
    )  # an IP per account: the plan fits
    write_private(config, three)
    result = _cli("config", "check", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("riskd: warning: database.url: SQLite serves 3 accounts")


@pytest.mark.parametrize(
    "command", [("config", "check"), ("run", "--config")], ids=["config check", "run"]
)
def test_a_config_readable_by_others_is_refused_in_one_line(tmp_path, command) -> None:
    config = write_private(tmp_path / "riskd.toml", ONE_ACCOUNT.format(weight=300))
    config.chmod(0o644)
    result = _cli(*command, str(config))
    assert (result.returncode, result.stderr) == (
        2,
        f"riskd: config: {config} is readable by group or others (mode 0644): chmod 600 {config}\n",
    )


def test_run_refuses_a_gateway_off_loopback_without_tokens(tmp_path) -> None:
    config = write_private(tmp_path / "riskd.toml", '[gateway]\nhost = "0.0.0.0"\n')
    result = _cli("run", "--config", str(config))
    assert (result.returncode, result.stderr) == (
        2,
        f"riskd: {config}: gateway.host: 0.0.0.0 is not loopback: "
        "set read_token_env and operator_token_env\n",
    )


def test_db_init_creates_the_schema_then_finds_it_current(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    write_private(config, f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n')
    first = _cli("db", "init", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        "schema ready; created: alert_groups, alert_once, alert_outbox, alerts, balance_snapshots,"
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
    write_private(
        config,
        f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n'
        f'[exchange]\nnetwork = "sim"\nbase_url = "{sim.url}"\n'
        '[[accounts]]\nname = "sim"\napi_key_env = "SIM_K"\napi_secret_env = "SIM_S"\n',
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
    write_private(
        config,
        f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n'
        '[[accounts]]\nname = "a"\napi_key_env = "K"\napi_secret_env = "S"\n',
    )
    result = _cli("backfill", "--days", "91", "--config", str(config))
    assert result.returncode == 2
    assert "argument --days: days (Binance keeps 3 months) must be between 1 and 90, not 91" in (
        result.stderr
    )


def test_backfill_needs_the_account_named_when_there_are_several(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    accounts = "".join(
        f'[[accounts]]\nname = "{n}"\napi_key_env = "K"\napi_secret_env = "S"\n' for n in "ab"
    )
    write_private(config, f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n{accounts}')
    result = _cli("backfill", "--days", "1", "--config", str(config))
    assert result.returncode == 2
    assert (
        result.stderr == "riskd: --account must name one of the deployment's accounts: ['a', 'b']\n"
    )


NO_GATEWAY = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unlock", "\u0663", "--operator", "a", "--reason", "b"], "the id must be a whole number"),
        (["unlock", "99999999999999999999", "--operator", "a", "--reason", "b"], "between 1 and"),
        (["unsilence", "-1", "--operator", "a"], "the id must be between 1 and"),
        (["silence", "a=b", "--minutes", "inf", "--operator", "a", "--comment", "c"], "above 0"),
        (["silence", "a=b", "--minutes", "nan", "--operator", "a", "--comment", "c"], "above 0"),
        (["lock", "BTCUSDT", "--minutes", "1e308", "--operator", "a", "--reason", "r"], "at most"),
        (["lock", "BTCUSDT", "--minutes", "soon", "--operator", "a", "--reason", "r"], "a number"),
        (["sim", "--port", "70000"], "the port must be between 0 and 65535"),
        (["backfill", "--days", "\u0663"], "days (Binance keeps 3 months) must be a whole number"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(args: list[str], message: str) -> None:
    result = (
        _cli(*args, "--url", NO_GATEWAY)
        if args[0] in {"unlock", "unsilence", "silence", "lock"}
        else _cli(*args)
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_sim_on_a_busy_port_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("sim", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.startswith(f"riskd: cannot serve on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path) -> None:
    config = tmp_path / "riskd.toml"
    write_private(config, '[database]\nurl_env = "DB_URL"\n')
    result = subprocess.run(
        [sys.executable, "-m", "riskd.cli", "db", "init", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DB_URL": "mysql+pymysql://root:hunter2@127.0.0.1:9/test"},
    )
    assert result.returncode == 2
    assert result.stderr.startswith("riskd: database mysql+pymysql://root:***@127.0.0.1:9/test")
    assert "Can't connect to MySQL server" in result.stderr
    assert result.stderr.count("\n") == 1 and "hunter2" not in result.stderr


class FakeGateway:
    """An aiohttp gateway on loopback that answers the lock routes and records each request's
    Authorization header."""

    def __init__(self, locks: list[dict]) -> None:
        self.locks = locks
        self.authorizations: list[str | None] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/locks", self._locks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _locks(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization"))
        return web.json_response({"locks": self.locks})


HOSTILE_LOCK = {
    "id": 7,
    "symbol": "BTCUSDT",
    "side": "both",
    "until_ms": None,
    "created_ms": 1_764_849_600_000,
    "source": "operator:\x1b[2Jmallory",
    "reason_text": "all clear\x1b]0;pwned\x07",
}


@pytest.fixture
async def gateway():
    server = FakeGateway([HOSTILE_LOCK])
    await server.start()
    yield server
    await server.stop()


async def _cli_async(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "riskd.cli", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


def _tokens_config(tmp_path, url: str):
    host, port = url.removeprefix("http://").split(":")
    config = tmp_path / "riskd.toml"
    write_private(
        config,
        f'[gateway]\nhost = "{host}"\nport = {port}\n'
        'read_token_env = "GW_READ"\noperator_token_env = "GW_OPERATOR"\n',
    )
    return config


async def test_reading_needs_only_the_read_token_and_shows_text_inert(gateway, tmp_path) -> None:
    config = _tokens_config(tmp_path, gateway.url)
    code, out, err = await _cli_async("locks", "--config", str(config), env={"GW_READ": "r-tok"})
    assert code == 0, err
    assert gateway.authorizations == ["Bearer r-tok"]
    assert "\x1b" not in out and "\x07" not in out
    assert re.search(r"7\s+BTCUSDT\s+both\s+all\s+until unlocked\s+2025-12-04 12:00:00Z", out)
    assert "operator:\\x1b[2Jmallory  all clear\\x1b]0;pwned\\x07" in out


async def test_a_change_without_the_operator_token_names_its_variable(gateway, tmp_path) -> None:
    config = _tokens_config(tmp_path, gateway.url)
    code, _out, err = await _cli_async(
        "lock", "BTCUSDT", "--operator", "a", "--reason", "r", "--config", str(config),
        env={"GW_READ": "r-tok"},
    )  # fmt: skip
    assert code == 2
    assert err == "riskd: set GW_OPERATOR: the gateway's operator token (to change)\n"
    assert gateway.authorizations == []


async def test_a_gateway_that_is_not_there_is_one_line() -> None:
    code, _out, err = await _cli_async("locks", "--url", NO_GATEWAY, env={})
    assert code == 2
    assert err.startswith(f"riskd: no riskd gateway answers at {NO_GATEWAY}: ")
    assert err.count("\n") == 1


def _sim_config(tmp_path, sim) -> str:
    config = tmp_path / "riskd.toml"
    write_private(
        config,
        f'[database]\nurl = "sqlite:///{tmp_path}/riskd.db"\n'
        f'[exchange]\nnetwork = "sim"\nbase_url = "{sim.url}"\n',
    )
    return str(config)


async def _cli_run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "riskd.cli", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, out.decode(), err.decode()


async def test_klines_backfill_stores_the_simulators_klines_without_keys(sim, tmp_path) -> None:
    config = _sim_config(tmp_path, sim)

    code, out, err = await _cli_run(
        *("klines", "backfill", "--symbol", "BTCUSDT", "--interval", "1m", "--days", "2"),
        *("--config", config),
    )

    assert code == 0, err
    assert out == "klines backfill BTCUSDT 1m: 2 pages, 2880 klines read, 2880 new\n"
    assert "[########################################] 100% 2.0/2.0 days" in err


async def test_klines_backfill_of_a_symbol_the_exchange_lacks_is_one_line(sim, tmp_path) -> None:
    config = _sim_config(tmp_path, sim)

    code, out, err = await _cli_run(
        *("klines", "backfill", "--symbol", "NOPEUSDT", "--interval", "1h", "--days", "1"),
        *("--config", config),
    )

    assert (code, out) == (2, "")
    assert err.endswith("\nriskd: argument --symbol: unknown symbol NOPEUSDT\n")


KLINES_BACKFILL = ["klines", "backfill", "--symbol", "BTCUSDT", "--interval", "1m", "--days", "1"]


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            ("--symbol", "btc\x1b[2J"),
            "argument --symbol: a symbol is 1 to 20 upper-case letters and digits, "
            "not 'btc\\\\x1b[2J'",
        ),
        (
            ("--interval", "1M"),
            "argument --interval: the interval must be one of 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, "
            "6h, 8h, 12h, 1d, 3d, 1w, not '1M'",
        ),
        (("--days", "0"), "argument --days: days must be between 1 and 3650, not 0"),
        (("--days", "3651"), "argument --days: days must be between 1 and 3650, not 3651"),
        (("--days", "\u0663"), "argument --days: days must be a whole number, not '\u0663'"),
        (
            ("--weight-per-minute", "2401"),
            "argument --weight-per-minute: the weight per minute must be between 1 and 2400, "
            "not 2401",
        ),
    ],
)
def test_klines_backfill_names_each_bad_argument(replace: tuple[str, str], message: str) -> None:
    flag, value = replace
    args = list(KLINES_BACKFILL)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]

    result = _cli(*args)

    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(message)
    assert "Traceback" not in result.stderr


async def test_pnl_prints_the_gateways_report_as_a_table() -> None:
    backend = FakeBackend()
    backend.pnl_rows["main"] = [
        PnlRow("BTCUSDT", "USDT", Decimal("5"), Decimal("-0.25"), Decimal("-2.1")),
        PnlRow("ETHUSDT", "BNB", Decimal("0"), Decimal("-0.001"), Decimal("0")),
    ]
    async with serving(backend, robot_accounts={"alpha": "main"}) as gateway:
        args = ("--by", "symbol", "--hours", "48", "--robot", "alpha")
        code, out, err = await _cli_async("pnl", "--url", gateway.url, *args, env={})
    assert code == 0, err
    assert backend.calls == [("pnl", ("main", "symbol", 48, "alpha"))]
    title, header, *rows = out.splitlines()
    assert re.fullmatch(r"PnL of main per symbol, robot alpha, \S+ \S+Z to \S+ \S+Z", title)
    assert re.fullmatch(r"symbol +asset +realized PnL +commission +funding +total", header)
    assert [row.split() for row in rows] == [
        ["BTCUSDT", "USDT", "5", "-0.25", "-2.1", "2.65"],
        ["ETHUSDT", "BNB", "0", "-0.001", "0", "-0.001"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hours", "0"), "argument --hours: hours must be between 1 and 8760, not 0"),
        (("--hours", "\u0663"), "argument --hours: hours must be a whole number, not '\u0663'"),
        (("--by", "desk"), "argument --by: invalid choice: 'desk' (choose from 'robot', 'symbol')"),
    ],
)
def test_pnl_names_each_bad_argument(args: tuple[str, str], message: str) -> None:
    result = _cli("pnl", "--url", NO_GATEWAY, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(message)
    assert "Traceback" not in result.stderr


async def test_pnl_of_an_unknown_robot_is_one_line() -> None:
    async with serving() as gateway:
        code, out, err = await _cli_async("pnl", "--url", gateway.url, "--robot", "nobody", env={})
    assert (code, out) == (2, "")
    assert err == (
        "riskd: GET /v1/pnl?by=robot&hours=24&robot=nobody: "
        "404 robot: no robot 'nobody' on account 'main'\n"
    )


async def test_report_prints_each_day_then_its_rows_and_writes_the_page(tmp_path) -> None:
    backend = FakeBackend()
    amounts = (Decimal("5"), Decimal("-0.25"), Decimal("-2.1"))
    backend.daily_rows["main"] = [
        DayFigures("2026-12-02", "", "USDT", *(Decimal(0),) * 3, 0, 0, 0),
        DayFigures("2026-12-03", "", "USDT", *amounts, 3, 2, 1, "ETHUSDT"),
        DayFigures("2026-12-03", "alpha", "USDT", *amounts, 3, 2, 1),
    ]
    page = tmp_path / "report.html"
    async with serving(backend) as gateway:
        args = ("--days", "2", "--by", "robot", "--html", str(page))
        code, out, err = await _cli_async("report", "--url", gateway.url, *args, env={})
    assert code == 0, err
    assert backend.calls == [("daily_report", ("main", "robot", 2))]
    title, header, *rows, wrote = out.splitlines()
    assert re.fullmatch(r"Daily report of main, per robot, 2 UTC days, \S+ \S+Z to \S+ \S+Z", title)
    assert header.split() == [
        "day", "robot", "asset", "realized", "PnL", "commission", "funding", "net", "trades",
        "win", "rate", "worst", "symbol",
    ]  # fmt: skip
    assert [row.split() for row in rows] == [
        ["2026-12-02", "total", "USDT", "0", "0", "0", "0", "0", "-", "-"],
        ["2026-12-03", "total", "USDT", "5", "-0.25", "-2.1", "2.65", "3", "66.67%", "ETHUSDT"],
        ["alpha", "USDT", "5", "-0.25", "-2.1", "2.65", "3", "66.67%", "-"],
    ]
    assert wrote == f"wrote {page}"
    assert page.read_text().startswith("<!doctype html>")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--days", "0"), "argument --days: days must be between 1 and 366, not 0"),
        (("--days", "x"), "argument --days: days must be a whole number, not 'x'"),
        (("--by", "desk"), "argument --by: invalid choice: 'desk' (choose from 'robot', 'symbol')"),
    ],
)
def test_report_names_each_bad_argument(args: tuple[str, str], message: str) -> None:
    result = _cli("report", "--url", NO_GATEWAY, *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(message)
    assert "Traceback" not in result.stderr


async def test_report_to_an_unwritable_page_is_one_line(tmp_path) -> None:
    async with serving() as gateway:
        html = str(tmp_path / "missing" / "report.html")
        code, _, err = await _cli_async("report", "--url", gateway.url, "--html", html, env={})
    assert (code, err) == (2, f"riskd: --html: cannot write {html}: No such file or directory\n")


class _IncompleteBackend(FakeBackend):
    """Answers every flatten with the report of one that left a rejected BTCUSDT long."""

    async def flatten(self, account: str, request: FlattenRequest) -> dict:
        progress = FlattenProgress(account, request, 1_764_849_600_000)
        progress.step(FlattenStep.STOP, StepStatus.DONE, "locked BTCUSDT")
        progress.cancels_finished()
        progress.positions_read({PositionKey("BTCUSDT", "BOTH"): Decimal("0.5")})
        (order,) = progress.next_slices({"BTCUSDT": SMALL_LOTS}, attempt=1)
        progress.attempts = 1
        progress.sending(order)
        progress.answered(order, SliceStatus.REJECTED, code=-2022, message="\x1b[2Jrejected")
        progress.closed()
        progress.positions_read({PositionKey("BTCUSDT", "BOTH"): Decimal("0.5")})
        return progress.report(1_764_849_601_500).to_dict()


async def test_flatten_prints_its_report_and_exits_0_when_flat() -> None:
    async with serving(robots=robot_tokens("r1"), robot_accounts={"r1": "main"}) as gateway:
        code, out, err = await _cli_async(
            "flatten", "--url", gateway.url, "--symbol", "btcusdt", "--robot", "r1",
            "--operator", "alice", "--reason", "drill", env={},
        )  # fmt: skip
        (call,) = gateway.backend.calls
    assert (code, err) == (0, "")
    assert call[0] == "flatten" and call[1][1].scope == FlattenScope("BTCUSDT", "r1")
    assert out.startswith("flatten (not audited) of main, robot r1 on BTCUSDT, by alice: FLAT")
    assert re.search(r"^confirm +done +the exchange reports flat$", out, re.MULTILINE)
    assert out.endswith("nothing left: the exchange reports every position in scope flat\n")


async def test_an_incomplete_flatten_shows_what_is_left_and_exits_1() -> None:
    async with serving(_IncompleteBackend()) as gateway:
        code, out, err = await _cli_async(
            "flatten", "--url", gateway.url, "--symbol", "BTCUSDT",
            "--operator", "alice", "--reason", "drill", env={},
        )  # fmt: skip
    assert (code, err) == (1, "")
    assert "INCOMPLETE after 1,500 ms" in out and "\x1b" not in out
    assert re.search(r"BTCUSDT +BOTH +SELL +0\.500 +1 +rejected +- +-2022 +\\x1b\[2Jrejected", out)
    assert re.search(r"^left open:\nsymbol +position +amount +reason +detail$", out, re.MULTILINE)
    assert re.search(r"^BTCUSDT +BOTH +0\.5 +rejected +code -2022: ", out, re.MULTILINE)


async def test_a_refused_flatten_is_one_line() -> None:
    async with serving() as gateway:
        code, out, err = await _cli_async(
            "flatten", "--url", gateway.url, "--symbol", "XRPUSDT",
            "--operator", "alice", "--reason", "drill", env={},
        )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == ("riskd: POST /v1/flatten: 404 symbol: the exchange does not list 'XRPUSDT'\n")


def test_flatten_needs_an_operator_and_a_reason() -> None:
    result = _cli("flatten", "--url", NO_GATEWAY, "--reason", "drill")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        "the following arguments are required: --operator"
    )


class _KeysBackend(FakeBackend):
    """Account b's key allows withdrawals; account c's could not be read now, said with
    control characters (as a hostile answer would)."""

    def __init__(self) -> None:
        super().__init__(["a", "b", "c"])
        self.keys["b"] = replace(SAFE_KEY, enable_withdrawals=True, ip_restrict=False)

    async def check_key(self, account: str) -> dict:
        check = await super().check_key(account)
        if account == "c":
            return check | {"ok": False, "error": "GET /sapi/…: \x1b[2Jall clear"}
        return check


async def test_keys_check_prints_each_accounts_findings_and_exits_1_when_one_is_unsafe() -> None:
    async with serving(_KeysBackend(), accounts=["a", "b", "c"]) as gateway:
        code, out, err = await _cli_async("keys", "check", "--url", gateway.url, env={})
    assert (code, err) == (1, "")
    header, *rows = out.splitlines()
    assert header.split() == ["account", "verdict", "read", "(UTC)", "severity", "finding"]
    assert re.fullmatch(r"a +SAFE +\S+ \S+Z \(\S+ ago\)", rows[0])
    assert re.fullmatch(
        r"b +UNSAFE +\S+ \S+Z \(\S+ ago\) +critical +withdrawals are enabled: .*", rows[1]
    )
    assert re.fullmatch(r" +critical +no IP restriction: the key works from any address", rows[2])
    assert "\x1b" not in out
    assert rows[3].endswith("error     the check failed: GET /sapi/…: \\x1b[2Jall clear")


async def test_keys_check_of_a_safe_account_exits_0() -> None:
    async with serving(_KeysBackend(), accounts=["a", "b", "c"]) as gateway:
        code, out, err = await _cli_async(
            "keys", "check", "--url", gateway.url, "--account", "a", env={}
        )
        calls = gateway.backend.calls
    assert (code, err, len(out.splitlines())) == (0, "", 2)
    assert calls == [("check_key", ("a",))]


async def test_keys_check_without_a_gateway_is_one_line() -> None:
    code, out, err = await _cli_async("keys", "check", "--url", NO_GATEWAY, env={})
    assert (code, out) == (2, "")
    assert err.startswith(f"riskd: no riskd gateway answers at {NO_GATEWAY}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("group", "wanted"),
    [("db", "{init}"), ("klines", "{backfill}"), ("keys", "{check}"), ("config", "{check}")],
)
def test_a_command_group_without_its_command_names_what_it_takes(
    group: str, wanted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([group])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"riskd {group}: error: the following arguments are required: {wanted}"
    )
