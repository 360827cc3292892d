"""The ``riskd`` command: run, status, stop, db init, backfill, locks, lock, unlock, state,
silences, silence, unsilence, config check, and the simulator."""

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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from riskd.backfill import MAX_BACKFILL_DAYS, BackfillResult, backfill
from riskd.config import AccountConfig, ConfigError, RiskdConfig, is_loopback, load_config
from riskd.exchange.access import BinanceAccess
from riskd.exchange.budget import WeightBudget
from riskd.exchange.client import make_client
from riskd.exchange.clock import ServerClock, wall_ms
from riskd.exchange.errors import ExchangeError
from riskd.exchange.guard import IpGuardConfig, IpGuards
from riskd.exchange.planning import OverSubscribedError
from riskd.health import JobStatus, format_status
from riskd.ledger import DAY_MS
from riskd.sim import SimAccountConfig, SimConfig, SimServer, SimulatorThread, serve_forever
from riskd.store import SqlRunner, init_schema, make_engine

# `riskd run --sim`: the simulator's default account, and every job on its own loopback IP so
# the simulator's per-IP counters show each job's weight apart.
SIM_ENV = {"RISKD_SIM_API_KEY": "sim-key", "RISKD_SIM_API_SECRET": "sim-secret"}
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
"""
READY_TIMEOUT_S = 60


def _fail(message: str) -> int:
    print(f"riskd: {message}", file=sys.stderr)
    return 2


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
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, _print_sim_ready))
    return 0


# ---------------------------------------------------------------- the daemon
# Ray is imported only by these commands (through ``actors``), never by the core.


def _config_source(args: argparse.Namespace):  # -> actors.context.ConfigSource
    from actors.context import ConfigSource

    if args.sim:
        os.environ.update(SIM_ENV)  # inherited by the local Ray workers
        return ConfigSource(SIM_CONFIG_TOML, "<riskd run --sim>", str(Path.cwd()))
    if not args.config:
        raise ConfigError("give --config PATH, or --sim for the embedded defaults")
    try:
        return ConfigSource.from_path(Path(args.config))
    except OSError as exc:
        raise ConfigError(f"{args.config}: cannot read: {exc.strerror}") from None


def _run(args: argparse.Namespace) -> int:
    try:
        source = _config_source(args)
        config = source.load()
        config.plan()
        _init_schema(config)
    except (ConfigError, OverSubscribedError) as exc:
        return _fail(str(exc))

    from actors import launcher

    simulator = SimulatorThread(config.sim) if args.sim else None

    def on_ready(rows: list[JobStatus], info: dict) -> None:
        print(format_status(rows, wall_ms()), flush=True)
        if simulator is not None:
            url = simulator.server.url
            print(
                f"simulator {url}: REST {url}/fapi, key sim-key, secret sim-secret, "
                f"state {url}/_sim/state",
                flush=True,
            )
        namespace = config.deployment.name
        print(
            f"ray {info['ray_address']}: RAY_ADDRESS={info['ray_address']} riskd status "
            f"--namespace {namespace}",
            flush=True,
        )
        print(
            f"riskd ready: gateway {info['gateway']} (GET /v1/health, /v1/positions); "
            "Ctrl-C stops.",
            flush=True,
        )

    if simulator is not None:
        try:
            simulator.start()
        except OSError as exc:
            return _fail(
                f"cannot start the simulator on {config.sim.host}:{config.sim.port}: {exc.strerror}"
            )
    try:
        launcher.run_foreground(source, READY_TIMEOUT_S, on_ready, local=args.sim)
    finally:
        if simulator is not None:
            simulator.stop()
    print("riskd stopped.", flush=True)
    return 0


def _send_ray_token_when_joining() -> None:
    """Ray 2.60 turns token auth on for the clusters it starts, but a client that joins one
    sends its token (~/.ray/auth_token, RAY_AUTH_TOKEN…) only when RAY_AUTH_MODE says so, and
    Ray reads that once, when it is imported."""
    token_given = any(os.environ.get(v) for v in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"))
    if token_given or (Path.home() / ".ray" / "auth_token").exists():
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def _namespace(args: argparse.Namespace) -> str:
    if args.namespace:
        return args.namespace
    return load_config(Path(args.config)).deployment.name if args.config else "riskd"


def _status(args: argparse.Namespace) -> int:
    _send_ray_token_when_joining()
    from actors import launcher

    try:
        rows = launcher.status(launcher.connect(_namespace(args)))
    except (LookupError, ConfigError) as exc:
        return _fail(str(exc))
    print(format_status(rows, wall_ms()))
    return 0 if all(r.healthy() for r in rows) else 1


def _stop(args: argparse.Namespace) -> int:
    _send_ray_token_when_joining()
    from actors import launcher

    try:
        launcher.stop(launcher.connect(_namespace(args)))
    except (LookupError, ConfigError) as exc:
        return _fail(str(exc))
    print("riskd stopped.")
    return 0


# ---------------------------------------------------------------- config and database


def _load(path: str | None) -> RiskdConfig:
    return load_config(Path(path)) if path else load_config()


def _config_check(args: argparse.Namespace) -> int:
    try:
        plan = load_config(Path(args.path)).plan()
    except (ConfigError, OverSubscribedError) as exc:
        return _fail(str(exc))
    print(plan.describe())
    return 0


def _init_schema(config: RiskdConfig) -> list[str]:
    engine = make_engine(config.database.resolved_url.reveal())
    try:
        return init_schema(engine, wall_ms())
    finally:
        engine.dispose()


def _db_init(args: argparse.Namespace) -> int:
    try:
        created = _init_schema(_load(args.config))
    except ConfigError as exc:
        return _fail(str(exc))
    print(f"schema ready; created: {', '.join(created) or 'nothing (already current)'}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    try:
        config = _load(args.config)
        names = [a.name for a in config.accounts]
        account = next((a for a in config.accounts if a.name == args.account), None)
        if account is None and args.account is None and len(names) == 1:
            account = config.accounts[0]
        if account is None:
            return _fail(f"--account must name one of the config's accounts: {names}")
        _init_schema(config)
        result = asyncio.run(_run_backfill(config, account, args.days, args.weight_per_minute))
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    except ExchangeError as exc:
        return _fail(f"backfill stopped (rerun it: rows booked so far stay): {exc}")
    print(
        f"backfill {account.name}: {result.pages} pages, {result.rows_read} income rows read, "
        f"{result.rows_booked} new"
    )
    if result.skipped_ms:
        return _fail(f"pages full within one ms at {list(result.skipped_ms)}: rows may be missing")
    return 0


async def _run_backfill(
    config: RiskdConfig, account: AccountConfig, days: int, weight_per_minute: int
) -> BackfillResult:
    client = make_client(config.exchange, account.api_key, account.api_secret)
    access = BinanceAccess(
        client,
        job="backfill",
        guard=IpGuards(IpGuardConfig()).for_ip("default"),
        budget=WeightBudget(weight_per_minute),
        clock=ServerClock(),
    )
    engine = make_engine(config.database.resolved_url.reveal())
    runner = SqlRunner(engine)
    try:
        await access.sync_time()
        return await backfill(
            access,
            runner,
            account.name,
            days,
            access.clock.now_ms(),
            account.ledger.income,
            _progress_bar,
        )
    finally:
        sys.stderr.write("\n")
        await client.close_connection()
        runner.close()
        engine.dispose()


def _backfill_days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= MAX_BACKFILL_DAYS:
        raise argparse.ArgumentTypeError(
            f"{days} is not between 1 and {MAX_BACKFILL_DAYS} (Binance keeps 3 months)"
        )
    return days


def _progress_bar(done_ms: int, total_ms: int, width: int = 40) -> None:
    share = done_ms / total_ms if total_ms else 1.0
    filled = round(share * width)
    days = f"{done_ms / DAY_MS:.1f}/{total_ms / DAY_MS:.1f} days"
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {share:4.0%} {days}")
    sys.stderr.flush()


def _gateway_call(args: argparse.Namespace, method: str, path: str, body: dict | None = None):
    """One request to a running riskd's gateway; its JSON answer, or SystemExit with why."""
    config = _load(args.config)
    url = args.url or f"http://{config.gateway.host}:{config.gateway.port}"
    token = config.gateway.operator_token or config.gateway.read_token
    request = urllib.request.Request(
        url.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token.reveal()}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise SystemExit(
            _fail(f"{method} {path}: {exc.code} {json.load(exc).get('error')}")
        ) from None
    except OSError as exc:
        raise SystemExit(_fail(f"no riskd gateway at {url}: {exc}")) from None


def _query(**params: str | None) -> str:
    given = {k: v for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""


def _print_locks(locks: list[dict]) -> None:
    print(f"{'id':>5}  {'symbol':<12} {'side':<5}  {'until':<13}  source / reason")
    for lock in locks:
        until = lock["until_ms"] if lock["until_ms"] is not None else "unlocked"
        print(
            f"{lock['id']:>5}  {lock['symbol']:<12} {lock['side']:<5}  {until!s:<13}  "
            f"{lock['source']}: {lock['reason_text']}"
        )


def _locks(args: argparse.Namespace) -> int:
    _print_locks(_gateway_call(args, "GET", "/v1/locks" + _query(account=args.account))["locks"])
    return 0


def _lock(args: argparse.Namespace) -> int:
    body = {"symbol": args.symbol, "side": args.side, "reason": args.reason}
    body |= {"operator": args.operator, "account": args.account}
    if args.minutes is not None:
        body["until_ms"] = wall_ms() + round(args.minutes * 60_000)
    _print_locks([_gateway_call(args, "POST", "/v1/locks", body)])
    return 0


def _unlock(args: argparse.Namespace) -> int:
    query = _query(account=args.account, operator=args.operator, reason=args.reason)
    lock = _gateway_call(args, "DELETE", f"/v1/locks/{args.id}{query}")
    print(f"unlocked {lock['id']} ({lock['symbol']} {lock['side']})")
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
        at = datetime.fromtimestamp(record["at_ms"] / 1000, UTC).isoformat(timespec="seconds")
        print(f"{record['state']} since {at} by {record['actor']}: {record['reason']}")
    else:
        print(f"{record['state']} (never changed)")
    return 0


def _print_silences(silences: list[dict]) -> None:
    print(f"{'id':>5}  {'ends (UTC)':<20}  {'by':<12} matchers / comment")
    for silence in silences:
        ends = datetime.fromtimestamp(silence["ends_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        matchers = ", ".join(silence["matchers"])
        print(
            f"{silence['id']:>5}  {ends:<20}  {silence['created_by']:<12} "
            f"{matchers}: {silence['comment']}"
        )


def _silences(args: argparse.Namespace) -> int:
    _print_silences(_gateway_call(args, "GET", "/v1/silences")["silences"])
    return 0


def _silence(args: argparse.Namespace) -> int:
    body = {"matchers": args.matchers, "minutes": args.minutes}
    body |= {"created_by": args.operator, "comment": args.comment}
    _print_silences([_gateway_call(args, "POST", "/v1/silences", body)])
    return 0


def _unsilence(args: argparse.Namespace) -> int:
    query = _query(operator=args.operator)
    silence = _gateway_call(args, "DELETE", f"/v1/silences/{args.id}{query}")
    print(f"expired silence {silence['id']}")
    return 0


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

    for name, func, text in (
        ("status", _status, "show every job's health"),
        ("stop", _stop, "stop a running deployment"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", metavar="PATH", help="names the deployment")
        command.add_argument("--namespace", help="the deployment name (default riskd)")
        command.set_defaults(func=func)

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_init = db_commands.add_parser("init", help="create or upgrade the schema")
    db_init.add_argument("--config", metavar="PATH")
    db_init.set_defaults(func=_db_init)

    fill = commands.add_parser(
        "backfill", help="book the income history of the last N days into SQL (resumable)"
    )
    fill.add_argument("--days", type=_backfill_days, required=True, help="1 to 90")
    fill.add_argument("--account", metavar="NAME", help="needed when the config has several")
    fill.add_argument("--config", metavar="PATH", help="riskd.toml")
    fill.add_argument(
        "--weight-per-minute",
        type=int,
        default=300,
        help="REQUEST_WEIGHT budget (each page weighs 30); leave room for a running riskd",
    )
    fill.set_defaults(func=_backfill)

    def gateway_command(name: str, func, text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", metavar="PATH", help="riskd.toml (gateway and tokens)")
        command.add_argument("--url", help="the gateway, if not at the config's host and port")
        command.add_argument("--account", metavar="NAME", help="needed with several accounts")
        command.set_defaults(func=func)
        return command

    gateway_command("locks", _locks, "list the active locks of an account")
    lock = gateway_command("lock", _lock, "lock a symbol (or ALL) as an operator")
    lock.add_argument("symbol", help="a symbol, or ALL")
    lock.add_argument("--side", choices=("long", "short", "both"), default="both")
    lock.add_argument("--minutes", type=float, help="how long (default: until unlocked)")
    unlock = gateway_command("unlock", _unlock, "end a lock now (audited)")
    unlock.add_argument("id", type=int)
    for command in (lock, unlock):
        command.add_argument("--operator", required=True, help="who: kept in the audit")
        command.add_argument("--reason", required=True, help="why: kept in the audit")
    gateway_command("silences", _silences, "list the current alert silences")
    silence = gateway_command("silence", _silence, "mute the alerts the matchers all match")
    silence.add_argument("matchers", nargs="+", help='label=value, !=, =~ or !~ ("symbol=~BTC.*")')
    silence.add_argument("--minutes", type=float, required=True, help="how long")
    silence.add_argument("--operator", required=True, help="who: kept with the silence")
    silence.add_argument("--comment", required=True, help="why: kept with the silence")
    unsilence = gateway_command("unsilence", _unsilence, "end a silence now")
    unsilence.add_argument("id", type=int)
    unsilence.add_argument("--operator", required=True, help="who: kept with the silence")
    state = gateway_command("state", _state, "show or set the account's trading state")
    state.add_argument("state", nargs="?", choices=("ACTIVE", "REDUCING", "HALTED"))
    state.add_argument("--operator", help="who (to set a state): kept in the audit")
    state.add_argument("--reason", help="why (to set a state): kept in the audit")

    config = commands.add_parser("config", help="config commands")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate and print the plan per IP")
    check.add_argument("path", metavar="PATH")
    check.set_defaults(func=_config_check)

    sim = commands.add_parser("sim", help="run the Binance USDⓈ-M futures simulator")
    sim.add_argument("--config", metavar="PATH", help="read the [sim] section of this TOML")
    sim.add_argument("--host", help="default 127.0.0.1")
    sim.add_argument("--port", type=int, help="default 8765; 0 picks a free port")
    sim.add_argument("--seed", type=int, help="default 0")
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
