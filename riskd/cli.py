"""The ``riskd`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from riskd.config import ConfigError, is_loopback, load_config
from riskd.sim import SimAccountConfig, SimConfig, SimServer, serve_forever


def _print_sim_ready(server: SimServer) -> None:
    accounts = ", ".join(f"{a.name} (key {a.api_key})" for a in server.config.accounts)
    print(
        f"simulator ready: REST {server.url}/fapi  user stream {server.ws_url}/ws/<listenKey>",
        flush=True,
    )
    print(f"  control API {server.url}/_sim/state   accounts: {accounts}", flush=True)
    print(f"  python-binance: client.FUTURES_URL = '{server.url}/fapi'; Ctrl-C stops.", flush=True)


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


def _run_sim(args: argparse.Namespace) -> int:
    try:
        config = _sim_config(args)
    except ConfigError as exc:
        print(f"riskd sim: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(config.host):
        print(
            f"riskd sim: warning: {config.host} is not loopback; the /_sim/ control API has "
            "no authentication.",
            file=sys.stderr,
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, _print_sim_ready))
    return 0


def _run(args: argparse.Namespace) -> int:
    if not args.sim:
        print(
            "riskd run: only --sim is available in this version (the daemon on Ray comes "
            "next); run `riskd run --sim`.",
            file=sys.stderr,
        )
        return 2
    args.config, args.host, args.port, args.seed, args.account = None, None, None, None, []
    return _run_sim(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="riskd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run riskd in the foreground")
    run.add_argument(
        "--sim",
        action="store_true",
        help="embedded defaults: the built-in Binance simulator on 127.0.0.1",
    )
    run.set_defaults(func=_run)

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
    sim.set_defaults(func=_run_sim)
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
