"""The ``riskd`` command: run, status, stop, db init, backfill, klines backfill, locks, lock,
unlock, state, silences, silence, unsilence, pnl, report, flatten, keys check, config check, and
the simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from riskd import runs
from riskd.config import AccountConfig, ConfigError, RiskdConfig, load_config
from riskd.core.clock import DAY_MS, wall_ms
from riskd.core.display import printable, printable_lines, since, table, until, utc
from riskd.core.net import is_loopback
from riskd.exchange.budget import WeightBudget
from riskd.exchange.clock import ServerClock
from riskd.exchange.errors import ExchangeError
from riskd.exchange.guard import IpGuardConfig, IpGuards
from riskd.exchange.planning import OverSubscribedError
from riskd.gateway.config import GatewayConfig
from riskd.health import JobStatus, format_status
from riskd.market.kline_backfill import (
    MAX_KLINE_BACKFILL_DAYS,
    KlineBackfillResult,
    UnknownSymbol,
    backfill_klines,
)
from riskd.market.kline_store import KlineStore
from riskd.market.records import INTERVAL_MS, SYMBOL_PATTERN
from riskd.pnl.daily import DEFAULT_DAYS, MAX_DAYS
from riskd.pnl.report import MAX_HOURS, PnlGrouping
from riskd.pnl.report_html import daily_report_html
from riskd.risk.backfill import MAX_BACKFILL_DAYS, BackfillResult, backfill
from riskd.sim import SimAccountConfig, SimConfig
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.errors import error_line
from riskd.store.schema import init_schema

if TYPE_CHECKING:
    from binance import AsyncClient

    from riskd.exchange.access import BinanceAccess
    from riskd.sim import SimServer

# `riskd run --sim`: the simulator's default account, and every job on its own loopback IP so
# the simulator's per-IP counters show each job's weight apart.
SIM_ENV = {
    "RISKD_SIM_API_KEY": "sim-key",
    "RISKD_SIM_API_SECRET": "sim-secret",
    "RISKD_SIM_ROBOT_TOKEN": "sim-robot-token",
}
# Ray takes the loopback address for its node only when it runs no cluster (the mode meant
# for laptops), and then binds every server of the --sim run to 127.0.0.1. Read when ray is
# imported, so set before.
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
SIM_CONFIG_TOML = """\
[deployment]
name = "riskd-sim"

[database]
url = "sqlite:///riskd-sim.db"

[exchange]
network = "sim"
base_url = "http://127.0.0.1:8765"

[[accounts]]
name = "sim"
api_key_env = "RISKD_SIM_API_KEY"
api_secret_env = "RISKD_SIM_API_SECRET"

[accounts.jobs.account_reader]
interval_ms = 2000
weight_per_minute = 300
egress = "127.0.0.2"

[accounts.jobs.position_risk_reader]
interval_ms = 1000
weight_per_minute = 600
egress = "127.0.0.3"

[accounts.jobs.user_stream]
egress = "127.0.0.4"

[accounts.jobs.order_reaper]
egress = "127.0.0.5"

[accounts.jobs.stop_ladder]
egress = "127.0.0.7"

[accounts.jobs.heartbeat]
enabled = true
egress = "127.0.0.6"

[accounts.jobs.trader]
egress = "127.0.0.14"

# A robot that trades through riskd on the simulator's account (POST /fmz/…, channels).
[[robots]]
name = "sim-robot"
account = "sim"
token_env = "RISKD_SIM_ROBOT_TOKEN"

# The shared market feed for the simulator's symbols: hub and WebSocket from one address, each
# REST reader group from its own.
[market]
egress = "127.0.0.8"

[market.readers.klines]
egress = ["127.0.0.9"]

[market.readers.hot_klines]
egress = ["127.0.0.10"]

[market.readers.book]
egress = ["127.0.0.11"]

[market.readers.mark]
egress = ["127.0.0.12"]

[market.readers.ticker]
egress = ["127.0.0.13"]
"""
SIM_CONFIG_NAME = "<riskd run --sim>"
READY_TIMEOUT_S = 60
MAX_MINUTES = 10 * 365 * 24 * 60
MAX_WEIGHT_PER_MINUTE = 2400  # Binance's REQUEST_WEIGHT limit per IP


def _fail(message: str) -> int:
    """Say what is wrong in one line on stderr; the exit code for a refused command."""
    print(f"riskd: {printable(message)}", file=sys.stderr)
    return 2


def _say(text: str = "") -> None:
    """Print to stdout, every line made printable (reasons and names come from users)."""
    print(printable_lines(text), flush=True)


# ---------------------------------------------------------------- the simulator


def _print_sim_ready(server: SimServer) -> None:
    accounts = ", ".join(f"{a.name} (key {a.api_key})" for a in server.config.accounts)
    print(
        f"simulator ready: REST {server.url}/fapi  user stream {server.ws_url}/ws/<listenKey>",
        flush=True,
    )
    print(f"  control API {server.url}/_sim/state   accounts: {accounts}", flush=True)


def _sim_config(args: argparse.Namespace) -> SimConfig:
    """The [sim] section of --config (or the defaults), overridden by explicit flags."""
    base = load_config(Path(args.config)).sim if args.config else SimConfig()
    overrides: dict = {
        name: value
        for name, value in (("host", args.host), ("port", args.port), ("seed", args.seed))
        if value is not None
    }
    if args.account:
        overrides["accounts"] = tuple(SimAccountConfig.parse(spec) for spec in args.account)
    return SimConfig.model_validate({**base.model_dump(), **overrides})


def _warn_if_exposed(config: SimConfig) -> None:
    if not is_loopback(config.host):
        print(
            f"riskd sim: warning: {config.host} is not loopback; the /_sim/ control API has "
            "no authentication.",
            file=sys.stderr,
        )


def _sim(args: argparse.Namespace) -> int:
    try:
        config = _sim_config(args)
    except ConfigError as exc:
        return _fail(str(exc))
    _warn_if_exposed(config)
    from riskd.sim import serve_forever  # the server (aiohttp) only for the commands serving it

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(config, _print_sim_ready))
    except OSError as exc:
        return _fail(f"cannot serve on {config.host}:{config.port}: {exc.strerror}")
    return 0


# ---------------------------------------------------------------- the daemon
# Ray is imported only by these commands (through ``actors``), never by the core.


def _config_source(args: argparse.Namespace):  # -> actors.context.ConfigSource
    if args.sim:
        # Before Ray is imported; inherited by the local Ray workers.
        os.environ.update(SIM_ENV | RAY_LOOPBACK_ENV)
    from actors.context import ConfigSource

    if args.sim:
        return ConfigSource(SIM_CONFIG_TOML, SIM_CONFIG_NAME, str(Path.cwd()))
    if not args.config:
        raise ConfigError("give --config PATH, or --sim for the embedded defaults")
    return ConfigSource.from_path(Path(args.config))


def _fresh_sim_database(config: RiskdConfig) -> None:
    """``--sim`` starts a fresh exchange, so it starts a fresh database too: the last run's
    fills and locks would belong to another exchange."""
    path = Path(config.database.resolved_url.reveal().removeprefix("sqlite:///"))
    removed = False
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()
            removed = True
    _say(f"database {path}: {'replaced by a fresh one' if removed else 'created'}")


def _run(args: argparse.Namespace) -> int:
    try:
        source = _config_source(args)
        config = source.load()
        config.plan()
    except (ConfigError, OverSubscribedError) as exc:
        return _fail(str(exc))
    _warn_about_load(config)

    from actors import launcher
    from riskd.sim import SimulatorThread

    simulator = SimulatorThread(config.sim) if args.sim else None
    if simulator is not None:
        try:
            simulator.start()
        except OSError as exc:
            return _fail(
                f"cannot start the simulator on {config.sim.host}:{config.sim.port}: "
                f"{exc.strerror} (is another riskd run --sim running?)"
            )
        _say(f"simulator {simulator.server.url}: a fresh exchange (seed {config.sim.seed})")
        _fresh_sim_database(config)
    try:
        _init_schema(config)
    except _DatabaseUnavailable as exc:
        if simulator is not None:
            simulator.stop()
        return _fail(str(exc))

    def on_ready(rows: list[JobStatus], info: dict) -> None:
        _say(format_status(rows, wall_ms()))
        if simulator is not None:
            url = simulator.server.url
            _say(
                f"simulator {url}: REST {url}/fapi, key sim-key, secret sim-secret, "
                f"state {url}/_sim/state"
            )
        _say(
            f"ray {info['ray_address']}, namespace {config.deployment.name}: riskd status, "
            "locks, lock, unlock, state, silences, backfill, klines backfill and stop find it "
            "without flags"
        )
        _say(f"gateway {info['gateway']} serves:")
        for route in info["routes"]:
            _say(f"  {route}")
        gateway = info["gateway"]
        _say(f"riskd ready: gateway {gateway} (status page: {gateway}/); Ctrl-C stops riskd.")

    try:
        launcher.run_foreground(source, READY_TIMEOUT_S, on_ready, _say, local=args.sim)
    finally:
        if simulator is not None:
            simulator.stop()
    _say("riskd stopped.")
    return 0


def _send_ray_token_when_joining() -> None:
    """Ray 2.60 turns token auth on for the clusters it starts, but a client that joins one
    sends its token (~/.ray/auth_token, RAY_AUTH_TOKEN…) only when RAY_AUTH_MODE says so, and
    Ray reads that once, when it is imported."""
    token_given = any(os.environ.get(v) for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"))
    if token_given or (Path.home() / ".ray" / "auth_token").exists():
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def _connect(args: argparse.Namespace):  # -> tuple[str, ray.actor.ActorHandle]
    """The running deployment's Controller: the one ``--namespace`` or ``--config`` names,
    else the only one running. LookupError or ConfigError say why not."""
    _send_ray_token_when_joining()
    namespace = getattr(args, "namespace", None)
    if namespace is None and args.config:
        namespace = _load(args.config).deployment.name
    run = None if os.environ.get("RAY_ADDRESS") else runs.find(namespace)
    if run is not None and is_loopback(run.ray_address.rpartition(":")[0]):
        os.environ.update(RAY_LOOPBACK_ENV)  # a --sim run's Ray, on loopback (before import)
    from actors import launcher

    if run is None:
        return launcher.connect(namespace)
    return launcher.connect(run.namespace, run.ray_address)


def _status(args: argparse.Namespace) -> int:
    try:
        _namespace, controller = _connect(args)
        from actors import launcher  # after _connect, which sets Ray's environment

        rows = launcher.status(controller)
    except (LookupError, ConfigError) as exc:
        return _fail(str(exc))
    _say(format_status(rows, wall_ms()))
    return 0 if all(r.healthy() for r in rows) else 1


def _stop(args: argparse.Namespace) -> int:
    try:
        namespace, controller = _connect(args)
        from actors import launcher  # after _connect, which sets Ray's environment

        launcher.stop(controller)
    except (LookupError, ConfigError) as exc:
        return _fail(str(exc))
    _say(f"riskd {namespace} stopped.")
    return 0


def _running_config(
    args: argparse.Namespace,
) -> tuple[Callable[[Iterable[str]], RiskdConfig], str]:
    """How to load the config of ``--config`` (resolving only the secrets named) and its
    gateway's URL; without ``--config``, the running deployment's, as its Controller has it."""
    if args.config:
        path = Path(args.config)
        gateway = load_config(path, secrets=()).gateway
        url = f"http://{gateway.host}:{gateway.port}"
        return lambda secrets: load_config(path, secrets=secrets), url
    _namespace, controller = _connect(args)
    from actors import launcher  # after _connect, which sets Ray's environment

    source, gateway_url = launcher.describe(controller)
    launcher.disconnect()
    return source.load, gateway_url


# ---------------------------------------------------------------- config and database


def _load(path: str) -> RiskdConfig:
    """The config at *path* without its secrets: each command resolves only what it uses."""
    return load_config(Path(path), secrets=())


def _config_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.path), secrets=())
        plan = config.plan()
    except (ConfigError, OverSubscribedError) as exc:
        return _fail(str(exc))
    _say(plan.describe())
    _warn_about_load(config)
    return 0


def _warn_about_load(config: RiskdConfig) -> None:
    """Warn (stderr) of what this config runs but should not."""
    warning = config.database.load_warning(len(config.accounts))
    if warning is not None:
        print(f"riskd: warning: {printable(warning)}", file=sys.stderr, flush=True)


class _DatabaseUnavailable(Exception):
    """The database refused or could not be reached; the message is one safe line."""


def _init_schema(config: RiskdConfig) -> list[str]:
    engine = make_engine(config.database.resolved_url.reveal())
    try:
        return init_schema(engine, wall_ms())
    except SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise _DatabaseUnavailable(f"database {where}: {error_line(exc)}") from None
    finally:
        engine.dispose()


def _db_init(args: argparse.Namespace) -> int:
    try:
        path = Path(args.config) if args.config else None
        created = _init_schema(load_config(path, secrets={"database"}))
    except (ConfigError, _DatabaseUnavailable) as exc:
        return _fail(str(exc))
    _say(f"schema ready; created: {', '.join(created) or 'nothing (already current)'}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    try:
        load, _gateway_url = _running_config(args)
        config = load(())
        if config.exchange.network == "sim":
            for name, value in SIM_ENV.items():
                os.environ.setdefault(name, value)
        names = [a.name for a in config.accounts]
        if args.account is None and len(names) == 1:
            args.account = names[0]
        if args.account not in names:
            return _fail(f"--account must name one of the deployment's accounts: {names}")
        config = load({"database", f"account:{args.account}"})
        account = next(a for a in config.accounts if a.name == args.account)
        _init_schema(config)
        result = asyncio.run(_run_backfill(config, account, args.days, args.weight_per_minute))
    except (ConfigError, LookupError, ValueError, _DatabaseUnavailable) as exc:
        return _fail(str(exc))
    except ExchangeError as exc:
        return _fail(f"backfill stopped (rerun it: rows booked so far stay): {exc}")
    _say(
        f"backfill {account.name}: {result.pages} pages, {result.rows_read} income rows read, "
        f"{result.rows_booked} new"
    )
    if result.skipped_ms:
        return _fail(f"pages full within one ms at {list(result.skipped_ms)}: rows may be missing")
    return 0


async def _run_backfill(
    config: RiskdConfig, account: AccountConfig, days: int, weight_per_minute: int
) -> BackfillResult:
    from riskd.exchange.client import make_client  # python-binance: see _backfill_session

    client = make_client(config.exchange, account.api_key, account.api_secret)
    async with _backfill_session(config, client, "backfill", weight_per_minute) as (access, runner):
        return await backfill(
            access,
            runner,
            account.name,
            days,
            access.clock.now_ms(),
            account.ledger.income,
            _progress_bar,
        )


def _klines_backfill(args: argparse.Namespace) -> int:
    try:
        load, _gateway_url = _running_config(args)
        config = load({"database"})
        _init_schema(config)
        result = asyncio.run(_run_klines_backfill(config, args))
    except UnknownSymbol as exc:
        return _fail(f"argument --symbol: {exc}")
    except (ConfigError, LookupError, ValueError, _DatabaseUnavailable) as exc:
        return _fail(str(exc))
    except ExchangeError as exc:
        return _fail(f"klines backfill stopped (rerun it: klines stored so far stay): {exc}")
    _say(
        f"klines backfill {args.symbol} {args.interval}: {result.pages} pages, "
        f"{result.rows_read} klines read, {result.rows_new} new"
    )
    return 0


async def _run_klines_backfill(
    config: RiskdConfig, args: argparse.Namespace
) -> KlineBackfillResult:
    from riskd.exchange.client import make_client  # python-binance: see _backfill_session

    client = make_client(config.exchange)  # klines are public: no keys
    session = _backfill_session(config, client, "klines_backfill", args.weight_per_minute)
    async with session as (access, runner):
        return await backfill_klines(
            access,
            KlineStore(runner),
            args.symbol,
            args.interval,
            args.days,
            access.clock.now_ms(),
            _progress_bar,
        )


@contextlib.asynccontextmanager
async def _backfill_session(
    config: RiskdConfig, client: AsyncClient, job: str, weight_per_minute: int
) -> AsyncIterator[tuple[BinanceAccess, SqlRunner]]:
    """The exchange, within *weight_per_minute*, and the database, for one backfill (whose
    progress bar ends its line when the backfill ends).

    python-binance is imported only by the backfills, which use it: every other command
    starts ~0.3 s sooner."""
    from riskd.exchange.access import BinanceAccess

    access = BinanceAccess(
        client,
        job=job,
        guard=IpGuards(IpGuardConfig()).for_ip("default"),
        budget=WeightBudget(weight_per_minute),
        clock=ServerClock(),
    )
    engine = make_engine(config.database.resolved_url.reveal())
    runner = SqlRunner(engine)
    try:
        await access.sync_time()
        yield access, runner
    finally:
        sys.stderr.write("\n")
        await client.close_connection()
        runner.close()
        engine.dispose()


def _ascii_int(text: str, what: str, low: int, high: int) -> int:
    """*text* as an int in [low, high]: ASCII digits only (``int`` would take "٣" for 3)."""
    if not (text.isascii() and text.lstrip("-").isdigit() and len(text) <= 20):
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {printable(text)!r}")
    value = int(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be between {low} and {high}, not {value}")
    return value


def _backfill_days(text: str) -> int:
    return _ascii_int(text, "days (Binance keeps 3 months)", 1, MAX_BACKFILL_DAYS)


def _kline_days(text: str) -> int:
    return _ascii_int(text, "days", 1, MAX_KLINE_BACKFILL_DAYS)


def _weight_per_minute(text: str) -> int:
    return _ascii_int(text, "the weight per minute", 1, MAX_WEIGHT_PER_MINUTE)


def _symbol(text: str) -> str:
    if not SYMBOL_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"a symbol is 1 to 20 upper-case letters and digits, not {printable(text)!r}"
        )
    return text


def _interval(text: str) -> str:
    if text not in INTERVAL_MS:
        raise argparse.ArgumentTypeError(
            f"the interval must be one of {', '.join(INTERVAL_MS)}, not {printable(text)!r}"
        )
    return text


def _hours(text: str) -> int:
    return _ascii_int(text, "hours", 1, MAX_HOURS)


def _days(text: str) -> int:
    return _ascii_int(text, "days", 1, MAX_DAYS)


def _record_id(text: str) -> int:
    return _ascii_int(text, "the id", 1, 2**63 - 1)


def _positive_int(text: str) -> int:
    return _ascii_int(text, "the value", 1, 2**31 - 1)


def _non_negative_int(text: str) -> int:
    return _ascii_int(text, "the value", 0, 2**31 - 1)


def _port(text: str) -> int:
    return _ascii_int(text, "the port", 0, 65535)


def _minutes(text: str) -> float:
    """A positive, finite number of minutes, at most ten years."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"minutes must be a number, not {printable(text)!r}"
        ) from None
    if not 0 < minutes <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"minutes must be above 0 and at most {MAX_MINUTES}")
    return minutes


def _progress_bar(done_ms: int, total_ms: int, width: int = 40) -> None:
    share = done_ms / total_ms if total_ms else 1.0
    filled = round(share * width)
    days = f"{done_ms / DAY_MS:.1f}/{total_ms / DAY_MS:.1f} days"
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {share:4.0%} {days}")
    sys.stderr.flush()


def _token(gateway: GatewayConfig, change: bool) -> str | None:
    """The bearer token a request needs: the operator's for a change; for a read the read
    token, or the operator's. None when the gateway has no tokens (it is then on loopback)."""
    names = (
        [gateway.operator_token_env]
        if change
        else [
            gateway.read_token_env,
            gateway.operator_token_env,
        ]
    )
    configured = [name for name in names if name]
    for name in configured:
        if os.environ.get(name):
            return os.environ[name]
    if configured:
        what = "operator token (to change)" if change else "read or operator token"
        raise ConfigError(f"set {' or '.join(configured)}: the gateway's {what}")
    return None


def _gateway_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict | None = None,
    timeout_s: float = 30,
):
    """One request to a running riskd's gateway; its JSON answer, or SystemExit with why."""
    try:
        if args.url and not args.config:  # a gateway named alone: on loopback, no token
            url, token = args.url, None
        else:
            load, url = _running_config(args)
            url = args.url or url
            token = _token(load(()).gateway, change=method != "GET")
    except (ConfigError, LookupError) as exc:
        raise SystemExit(_fail(str(exc))) from None
    request = urllib.request.Request(
        url.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise SystemExit(_fail(f"{method} {path}: {exc.code} {_error_of(exc)}")) from None
    except (OSError, ValueError) as exc:  # ValueError: an answer that is not JSON
        raise SystemExit(_fail(f"no riskd gateway answers at {url}: {exc}")) from None


def _error_of(answer: urllib.error.HTTPError) -> str:
    """The gateway's ``error`` text of a refused request (or the HTTP reason)."""
    try:
        return str(json.load(answer).get("error", answer.reason))
    except (ValueError, AttributeError):
        return str(answer.reason)


def _query(**params: str | None) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""


def _print_locks(locks: list[dict]) -> None:
    now_ms = wall_ms()
    _say(
        table(
            ("id", "symbol", "side", "robot", "until (UTC)", "since (UTC)", "source", "reason"),
            [
                (
                    lock["id"],
                    lock["symbol"],
                    lock["side"],
                    lock.get("robot") or "all",
                    until(lock["until_ms"], now_ms),
                    since(lock["created_ms"], now_ms),
                    lock["source"],
                    lock["reason_text"],
                )
                for lock in locks
            ],
        )
    )


def _locks(args: argparse.Namespace) -> int:
    locks = _gateway_call(args, "GET", "/v1/locks" + _query(account=args.account))["locks"]
    if locks:
        _print_locks(locks)
    else:
        _say("no active locks")
    return 0


def _lock(args: argparse.Namespace) -> int:
    symbol = args.symbol.upper() if args.symbol.isascii() else args.symbol
    body = {"symbol": symbol, "side": args.side, "reason": args.reason}
    body |= {"operator": args.operator, "account": args.account}
    if args.robot is not None:
        body["robot"] = args.robot
    if args.minutes is not None:
        body["until_ms"] = wall_ms() + round(args.minutes * 60_000)
    _print_locks([_gateway_call(args, "POST", "/v1/locks", body)])
    return 0


def _unlock(args: argparse.Namespace) -> int:
    query = _query(account=args.account, operator=args.operator, reason=args.reason)
    lock = _gateway_call(args, "DELETE", f"/v1/locks/{args.id}{query}")
    _say(f"unlocked {lock['id']} ({lock['symbol']} {lock['side']})")
    return 0


def _state(args: argparse.Namespace) -> int:
    if args.state is None:
        record = _gateway_call(args, "GET", "/v1/state" + _query(account=args.account))
    else:
        if not (args.operator and args.reason):
            return _fail("setting a state needs --operator and --reason")
        body = {"state": args.state, "operator": args.operator, "reason": args.reason}
        body |= {"account": args.account}
        record = _gateway_call(args, "POST", "/v1/state", body)
    if record["actor"]:
        at = since(record["at_ms"], wall_ms())
        _say(f"{record['state']} since {at} by {record['actor']}: {record['reason']}")
    else:
        _say(f"{record['state']} (never changed)")
    return 0


def _print_silences(silences: list[dict]) -> None:
    now_ms = wall_ms()
    _say(
        table(
            ("id", "ends (UTC)", "by", "matchers", "comment"),
            [
                (
                    silence["id"],
                    until(silence["ends_ms"], now_ms),
                    silence["created_by"],
                    ", ".join(silence["matchers"]),
                    silence["comment"],
                )
                for silence in silences
            ],
        )
    )


def _silences(args: argparse.Namespace) -> int:
    silences = _gateway_call(args, "GET", "/v1/silences")["silences"]
    if silences:
        _print_silences(silences)
    else:
        _say("no silences")
    return 0


def _silence(args: argparse.Namespace) -> int:
    body = {"matchers": args.matchers, "minutes": args.minutes}
    body |= {"created_by": args.operator, "comment": args.comment}
    _print_silences([_gateway_call(args, "POST", "/v1/silences", body)])
    return 0


def _unsilence(args: argparse.Namespace) -> int:
    query = _query(operator=args.operator)
    silence = _gateway_call(args, "DELETE", f"/v1/silences/{args.id}{query}")
    _say(f"expired silence {silence['id']}")
    return 0


def _pnl(args: argparse.Namespace) -> int:
    query = _query(account=args.account, by=args.by, hours=str(args.hours), robot=args.robot)
    report = _gateway_call(args, "GET", "/v1/pnl" + query)
    of = f", robot {report['robot']}" if report["robot"] else ""
    window = f"{utc(report['start_ms'])} to {utc(report['end_ms'])}"
    _say(f"PnL of {report['account']} per {report['by']}{of}, {window}")
    columns = ("realized_pnl", "commission", "funding", "total")
    rows = [
        (row["key"], row["asset"], *(row[column] for column in columns)) for row in report["rows"]
    ]
    if rows:
        _say(table((report["by"], "asset", "realized PnL", "commission", "funding", "total"), rows))
    else:
        _say("no realized PnL, commission or funding in the window")
    return 0


def _percent(ratio: str | None) -> str:
    """A decimal ratio ("0.6667") as a percentage ("66.67%"); "-" for None."""
    return "-" if ratio is None else f"{(Decimal(ratio) * 100).normalize():f}%"


def _report(args: argparse.Namespace) -> int:
    query = _query(account=args.account, by=args.by, days=str(args.days))
    report = _gateway_call(args, "GET", "/v1/report/daily" + query)
    per = f", per {report['by']}" if report["by"] else ""
    window = f"{utc(report['start_ms'])} to {utc(report['end_ms'])}"
    _say(f"Daily report of {report['account']}{per}, {report['days']} UTC days, {window}")
    columns = ("realized_pnl", "commission", "funding", "net", "trades")
    rows = [
        (
            "" if row["key"] else row["day"],
            row["key"] or "total",
            row["asset"],
            *(row[column] for column in columns),
            _percent(row["win_rate"]),
            row["worst_symbol"] or "-",
        )
        for row in report["rows"]
    ]
    header = ("day", report["by"] or "", "asset", "realized PnL", "commission", "funding", "net")
    _say(table((*header, "trades", "win rate", "worst symbol"), rows))
    if args.html:
        try:
            Path(args.html).write_text(daily_report_html(report, wall_ms()), encoding="utf-8")
        except OSError as exc:
            return _fail(f"--html: cannot write {printable(args.html)}: {exc.strerror or exc}")
        _say(f"wrote {printable(args.html)}")
    return 0


# The Trader ends a flatten by its own timeout (at most 10 min): wait a little longer.
FLATTEN_WAIT_S = 660


def _flatten(args: argparse.Namespace) -> int:
    """Exit 0 when the exchange confirmed the scope flat, 1 when the flatten is incomplete."""
    body: dict[str, object] = {"operator": args.operator, "reason": args.reason}
    if args.account is not None:
        body["account"] = args.account
    if args.symbol is not None:
        body["symbol"] = args.symbol.upper() if args.symbol.isascii() else args.symbol
    if args.robot is not None:
        body["robot"] = args.robot
    report = _gateway_call(args, "POST", "/v1/flatten", body, timeout_s=FLATTEN_WAIT_S)
    took_ms = report["ended_ms"] - report["started_ms"]
    flat = report["outcome"] == "flat"
    _say(
        f"flatten {report['id'] or '(not audited)'} of {report['account']}, {report['scope']}, "
        f"by {report['operator']}: {report['outcome'].upper()} after {took_ms:,} ms"
    )
    steps = [(s["step"], s["status"], s["detail"]) for s in report["steps"]]
    _say(table(("step", "status", "detail"), steps))
    if report["cancelled"]:
        _say()
        rows = [
            (
                c["symbol"],
                c["client_id"],
                c["order_id"],
                "conditional" if c["algo"] else "order",
                "cancelled" if c["cancelled"] else c["error"],
            )
            for c in report["cancelled"]
        ]
        _say(table(("symbol", "client id", "order id", "kind", "result"), rows))
    if report["slices"]:
        _say()
        rows = [
            (
                s["symbol"],
                s["position_side"],
                s["side"],
                s["quantity"],
                s["attempt"],
                s["status"],
                s["filled_qty"] or "-",
                "" if s["code"] is None else s["code"],
                s["message"],
            )
            for s in report["slices"]
        ]
        headers = ("symbol", "position", "side", "quantity", "round", "status", "filled")
        _say(table((*headers, "code", "message"), rows))
    _say()
    if report["left"]:
        rows = [
            (p["symbol"], p["position_side"], p["amount"], p["reason"], p["detail"])
            for p in report["left"]
        ]
        _say("left open:")
        _say(table(("symbol", "position", "amount", "reason", "detail"), rows))
    elif flat:
        _say("nothing left: the exchange reports every position in scope flat")
    else:
        _say("no position is known to be left; see the steps for what failed")
    return 0 if flat else 1


def _keys_check(args: argparse.Namespace) -> int:
    """Exit 0 when every key checked is safe, 1 when one is not or could not be read now."""
    answer = _gateway_call(args, "POST", "/v1/keys/check" + _query(account=args.account))
    now_ms = wall_ms()
    rows = []
    for check in answer["accounts"]:
        lines = [(finding["severity"], finding["text"]) for finding in check["findings"]]
        if check["error"]:
            lines.append(("error", f"the check failed: {check['error']}"))
        for index, (severity, text) in enumerate(lines or [("", "")]):
            first = index == 0
            rows.append(
                (
                    check["account"] if first else "",
                    check["verdict"].upper() if first else "",
                    since(check["checked_ms"], now_ms) if first else "",
                    severity,
                    text,
                )
            )
    _say(table(("account", "verdict", "read (UTC)", "severity", "finding"), rows))
    return 0 if answer["ok"] else 1


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run riskd in the foreground (Ctrl-C stops it)")
    run.add_argument("--config", metavar="PATH", help="riskd.toml")
    run.add_argument(
        "--sim",
        action="store_true",
        help="embedded defaults: local Ray, the simulator, SQLite, 127.0.0.1",
    )
    run.set_defaults(func=_run)

    def deployment_command(name: str, func, text: str, group=commands) -> argparse.ArgumentParser:
        """A command on a running deployment: the only one running, unless named."""
        command = group.add_parser(name, help=text)
        command.add_argument("--config", metavar="PATH", help="riskd.toml: names the deployment")
        command.add_argument("--namespace", help="the deployment's name, when several are running")
        command.set_defaults(func=func)
        return command

    deployment_command("status", _status, "show every job's health")
    deployment_command("stop", _stop, "stop a running deployment")

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", metavar="{init}", required=True)
    db_init = db_commands.add_parser("init", help="create or upgrade the schema")
    db_init.add_argument("--config", metavar="PATH")
    db_init.set_defaults(func=_db_init)

    fill = deployment_command(
        "backfill",
        _backfill,
        "book the income history of the last N days into SQL (resumable)",
    )
    fill.add_argument("--days", type=_backfill_days, required=True, help="1 to 90")
    fill.add_argument("--account", metavar="NAME", help="needed when there are several")
    fill.add_argument(
        "--weight-per-minute",
        type=_positive_int,
        default=300,
        help="REQUEST_WEIGHT budget (each page weighs 30); leave room for a running riskd",
    )

    klines = commands.add_parser("klines", help="kline commands")
    klines_commands = klines.add_subparsers(
        dest="klines_command", metavar="{backfill}", required=True
    )
    klines_fill = deployment_command(
        "backfill",
        _klines_backfill,
        "store a symbol's closed klines of the last N days in SQL (resumable)",
        klines_commands,
    )
    klines_fill.add_argument("--symbol", type=_symbol, required=True, help="e.g. BTCUSDT")
    klines_fill.add_argument(
        "--interval", type=_interval, required=True, help=", ".join(INTERVAL_MS)
    )
    klines_fill.add_argument(
        "--days", type=_kline_days, required=True, help=f"1 to {MAX_KLINE_BACKFILL_DAYS}"
    )
    klines_fill.add_argument(
        "--weight-per-minute",
        type=_weight_per_minute,
        default=300,
        help="REQUEST_WEIGHT budget (a page of 1500 weighs 10); leave room for a running riskd",
    )

    def gateway_command(
        name: str,
        func,
        text: str,
        group=commands,
        account_help: str = "needed with several accounts",
    ) -> argparse.ArgumentParser:
        """A request to the running deployment's gateway (tokens from the config's env vars)."""
        command = deployment_command(name, func, text, group)
        command.add_argument("--url", help="the gateway, if not where the deployment says")
        command.add_argument("--account", metavar="NAME", help=account_help)
        return command

    gateway_command("locks", _locks, "list the active locks of an account")
    lock = gateway_command("lock", _lock, "lock a symbol (or ALL) as an operator")
    lock.add_argument("symbol", help="a symbol, or ALL")
    lock.add_argument("--side", choices=("long", "short", "both"), default="both")
    lock.add_argument("--minutes", type=_minutes, help="how long (default: until unlocked)")
    lock.add_argument("--robot", help="lock this robot only (default: every robot)")
    unlock = gateway_command("unlock", _unlock, "end a lock now (audited)")
    unlock.add_argument("id", type=_record_id)
    for command in (lock, unlock):
        command.add_argument("--operator", required=True, help="who: kept in the audit")
        command.add_argument("--reason", required=True, help="why: kept in the audit")
    gateway_command("silences", _silences, "list the current alert silences")
    silence = gateway_command("silence", _silence, "mute the alerts the matchers all match")
    silence.add_argument("matchers", nargs="+", help='label=value, !=, =~ or !~ ("symbol=~BTC.*")')
    silence.add_argument("--minutes", type=_minutes, required=True, help="how long")
    silence.add_argument("--operator", required=True, help="who: kept with the silence")
    silence.add_argument("--comment", required=True, help="why: kept with the silence")
    unsilence = gateway_command("unsilence", _unsilence, "end a silence now")
    unsilence.add_argument("id", type=_record_id)
    unsilence.add_argument("--operator", required=True, help="who: kept with the silence")
    pnl = gateway_command("pnl", _pnl, "realized PnL, commission and funding per robot or symbol")
    pnl.add_argument("--robot", help="one robot's (or unattributed)")
    pnl.add_argument("--hours", type=_hours, default=24, help=f"the last N hours, 1 to {MAX_HOURS}")
    groupings = [grouping.value for grouping in PnlGrouping]
    pnl.add_argument("--by", choices=groupings, default="robot")
    report = gateway_command("report", _report, "realized PnL, fees, funding, trades per UTC day")
    report.add_argument(
        "--days",
        type=_days,
        default=DEFAULT_DAYS,
        help=f"the last N days (today too), 1 to {MAX_DAYS}",
    )
    report.add_argument("--by", choices=groupings, help="rows per robot or symbol under each day")
    report.add_argument(
        "--html", metavar="FILE", help="also write the report as a page with charts"
    )
    flatten = gateway_command(
        "flatten",
        _flatten,
        "emergency: stop new risk, cancel the orders in scope (the stop ladder's stay), close "
        "the positions at market and confirm flat (exit 1 when something is left)",
    )
    flatten.add_argument("--symbol", help="only this symbol (default: every one, and HALTED)")
    flatten.add_argument("--robot", help="only this robot's orders and positions (a robot lock)")
    flatten.add_argument("--operator", required=True, help="who: kept in the audit")
    flatten.add_argument("--reason", required=True, help="why: kept in the audit")
    state = gateway_command("state", _state, "show or set the account's trading state")
    state.add_argument("state", nargs="?", choices=("ACTIVE", "REDUCING", "HALTED"))
    state.add_argument("--operator", help="who (to set a state): kept in the audit")
    state.add_argument("--reason", help="why (to set a state): kept in the audit")

    keys = commands.add_parser("keys", help="API key commands")
    gateway_command(
        "check",
        _keys_check,
        "read now what each account's API key may do: withdrawals, IP restriction, futures, "
        "the trading authority's end (exit 1 when a key is not safe)",
        keys.add_subparsers(dest="keys_command", metavar="{check}", required=True),
        "only this account's (default: every account's)",
    )

    config = commands.add_parser("config", help="config commands")
    config_commands = config.add_subparsers(dest="config_command", metavar="{check}", required=True)
    check = config_commands.add_parser("check", help="validate and print the plan per IP")
    check.add_argument("path", metavar="PATH")
    check.set_defaults(func=_config_check)

    sim = commands.add_parser("sim", help="run the Binance USDⓈ-M futures simulator")
    sim.add_argument("--config", metavar="PATH", help="read the [sim] section of this TOML")
    sim.add_argument("--host", help="default 127.0.0.1")
    sim.add_argument("--port", type=_port, help="default 8765; 0 picks a free port")
    sim.add_argument("--seed", type=_non_negative_int, help="default 0")
    sim.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="KEY:SECRET",
        help="an account (repeatable); default sim-key:sim-secret",
    )
    sim.set_defaults(func=_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        parser.error(str(exc))
    return 2


if __name__ == "__main__":
    sys.exit(main())
