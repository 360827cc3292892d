"""Hostile input at full size: schemathesis fuzzes the whole gateway of a real riskd from its
own ``/openapi.json``, and nothing it sends that is refused may leave a row in SQL or an order
on the exchange.

The deployment is what ``riskd run --sim`` deploys (``riskd.cli.SIM_CONFIG_TOML`` read as data,
as bench/footprint.py does: the account ``sim``, its robot ``sim-robot``, the market feed), in a
fresh local Ray, against the simulator in this process; only the simulator (a free port
instead of 8765), the gateway (a free port instead of 8780, a read and an operator token) and
the SQLite file (``fuzz.db`` in a temporary folder) differ, so nothing on this host collides
with it, and the Trader's weight budget is 2,000/min instead of 600 (each of the fuzz's
flattens reads the exchange). ``--gateway URL`` attaches to a running gateway instead (its
tokens as flags); the checks of SQL and the exchange then need ``--database`` and ``--sim``.

The fuzz is the schemathesis CLI (``tests/kit/fuzz.py``: the same configuration, checks and
hooks as tests/gateway/test_fuzz.py) on the document the gateway serves, every phase:
coverage (each parameter's boundary and negative values), fuzzing, and the stateful scenarios
of the document's links, one request at a time. It runs in rounds of a new seed each until
``--cases`` test cases were generated. The flatten and the key check, which spend exchange
weight, get at most 20 cases a phase: the budgets pace them (a flatten waits for weight up to
its 30 s timeout). Checks: no 5xx, every answer as documented (status,
content type, headers, schema), schema-violating requests refused, tokens enforced, every 4xx
a JSON error naming the problem.

Latency: every request's time as schemathesis's HAR report gives it (sent → answer read); the
first request after ready on its own row. Before and after: the rows operators' changes write
(operator locks, operator trading states, silences, flattens, the gate's decisions), each at
most what the accepted changes could write, and the simulator's account (orders, algo orders,
positions, income) unchanged: no robot's token is in the document, so no order may reach it.

    python bench/fuzz.py [--cases 10000]
    python bench/fuzz.py --gateway URL --read-token T --operator-token T --robot-token T
        [--sim URL] [--database sqlite:///…/riskd-sim.db]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deployment import FIRST, STEADY, bench_simulator, latency_cells, local_deployment, table
from footprint import sim_accounts, sim_deployment, sim_toml
from sqlalchemy import func, select

from actors.context import ConfigSource
from riskd.store.engine import make_engine
from riskd.store.schema import flattens, locks, order_decisions, silences, trading_states

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # the repo root, for tests.kit (the CLI imports it too: hooks)
from tests.kit.fuzz import FuzzTokens, fuzz_config  # noqa: E402

TOKENS = FuzzTokens("fuzz-read-token", "fuzz-operator-token", "sim-robot-token")
TOKEN_ENV = {"RISKD_FUZZ_READ_TOKEN": TOKENS.read, "RISKD_FUZZ_OPERATOR_TOKEN": TOKENS.operator}
ROUND_TIMEOUT_S = 3600
# Operations that spend the account's exchange weight (a flatten reads the open orders and the
# positions, a key check the key's permissions) at most this many cases a phase: the budgets
# pace them, and the rest of the gateway is what the ≥ 10,000 cases are for.
WEIGHED = ("POST /v1/flatten", "POST /v1/keys/check")
WEIGHED_EXAMPLES = 20
TRADER_WEIGHT_PER_MINUTE = 2000  # of the 2,160 its own IP has: the flattens' reads
REQUEST_TIMEOUT_S = 90  # a flatten answers once it ended: within its timeout (30 s), then audit
MIN_EXAMPLES = 5
# Changes (method, path) → the status accepting them, and the tables they may add a row to.
WRITES = {
    ("POST", "/v1/locks"): (201, ("locks",)),
    ("POST", "/v1/state"): (200, ("trading_states",)),
    ("POST", "/v1/silences"): (201, ("silences",)),
    ("POST", "/v1/flatten"): (200, ("flattens", "locks", "trading_states")),
}
NOT_ANSWERED = 0  # HAR's status of a request that timed out: it may have been carried out
TABLES = {
    "locks": select(func.count()).select_from(locks).where(locks.c.source.like("operator:%")),
    "trading_states": select(func.count())
    .select_from(trading_states)
    .where(trading_states.c.actor.like("operator:%")),
    "silences": select(func.count()).select_from(silences),
    "flattens": select(func.count()).select_from(flattens),
    "order_decisions": select(func.count()).select_from(order_decisions),
}


@dataclass
class Fuzzed:
    """What the rounds sent and found."""

    cases: int = 0
    failures: int = 0
    rounds: int = 0
    answers: list[tuple[float, int]] = field(default_factory=list)
    """Each request's (seconds, status), in the order sent."""
    accepted: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def fetch_document(gateway: str, tokens: FuzzTokens, folder: Path) -> Path:
    """The document *gateway* serves, read with the read token, as a file."""
    request = urllib.request.Request(
        f"{gateway}/openapi.json", headers={"Authorization": f"Bearer {tokens.read}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        document = json.load(answer)
    path = folder / "openapi.json"
    path.write_text(json.dumps(document))
    return path


def operations(document: Path) -> int:
    methods = {"get", "put", "post", "delete", "patch"}
    paths = json.loads(document.read_text())["paths"].values()
    return sum(1 for item in paths for method in item if method in methods)


def one_round(
    gateway: str, tokens: FuzzTokens, document: Path, folder: Path, examples: int, seed: int
) -> Path:
    """One schemathesis run of *examples* per operation and phase; its report folder."""
    reports = folder / f"round-{seed}"
    config = folder / "schemathesis.toml"
    config.write_text(
        fuzz_config(tokens, max_examples=examples, coverage=True, max_steps=10)
        + "".join(
            f'\n[[operations]]\ninclude-name = "{name}"\n'
            f"generation.max-examples = {min(examples, WEIGHED_EXAMPLES)}\n"
            for name in WEIGHED
        )
    )
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        *(str(document), "--url", gateway, "--workers", "1", "--seed", str(seed)),
        *("--report", "json,har", "--no-color"),
        *("--report-json-path", str(reports / "report.json")),
        *("--report-har-path", str(reports / "requests.har")),
        *("--request-timeout", str(REQUEST_TIMEOUT_S), "--suppress-health-check", "all"),
    ]
    with (reports.with_suffix(".out")).open("w") as output:
        subprocess.run(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, timeout=ROUND_TIMEOUT_S
        )
    return reports


def read_round(reports: Path, fuzzed: Fuzzed) -> None:
    """Add a round's cases, failures and requests (from its JSON and HAR reports)."""
    report = json.loads((reports / "report.json").read_text())
    if "test_cases" not in report:
        raise SystemExit(f"schemathesis did not run:\n{reports.with_suffix('.out').read_text()}")
    cases = report["test_cases"]
    fuzzed.cases += cases["generated"]
    fuzzed.failures += cases["unique_failures"] + cases["errored"]
    if report["failures"] or report["errors"]:  # schemathesis's own account of them
        output = reports.with_suffix(".out").read_text()
        start = min(output.find(h) for h in ("= ERRORS =", "= FAILURES =") if h in output)
        fuzzed.problems.append(output[start : output.find("= SUMMARY =")].rstrip())
    har = json.loads((reports / "requests.har").read_text())
    entries = sorted(har["log"]["entries"], key=lambda entry: entry["startedDateTime"])
    for entry in entries:
        status = entry["response"]["status"]
        fuzzed.answers.append((entry["time"] / 1000, status))
        method, url = entry["request"]["method"], entry["request"]["url"]
        path = "/" + url.split("/", 3)[3].split("?")[0]
        accepting, tables = WRITES.get((method, path), (None, ()))
        if status in (accepting, NOT_ANSWERED):
            fuzzed.accepted.update(tables)
        is_fmz_data = path.startswith("/fmz/") and '"data"' in entry["response"].get(
            "content", {}
        ).get("text", "")
        fuzzed.accepted["order_decisions"] += is_fmz_data
    fuzzed.rounds += 1


def fuzz(gateway: str, tokens: FuzzTokens, cases: int, folder: Path) -> Fuzzed:
    """Rounds of a new seed each until *cases* test cases were generated."""
    document = fetch_document(gateway, tokens, folder)
    fuzzed = Fuzzed()
    while fuzzed.cases < cases:
        examples = max(MIN_EXAMPLES, math.ceil((cases - fuzzed.cases) / operations(document)))
        started = time.monotonic()
        reports = one_round(gateway, tokens, document, folder, examples, fuzzed.rounds + 1)
        read_round(reports, fuzzed)
        print(
            f"  round {fuzzed.rounds}: {examples} examples per operation; {fuzzed.cases} cases, "
            f"{len(fuzzed.answers)} requests so far, {time.monotonic() - started:.0f} s",
            flush=True,
        )
    return fuzzed


@dataclass(frozen=True, slots=True)
class Stores:
    """Where refused requests must have left nothing: the SQL database and the simulator."""

    database_url: str | None
    sim_url: str | None

    def rows(self) -> dict[str, int | None]:
        if self.database_url is None:
            return dict.fromkeys(TABLES)
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return {name: connection.execute(query).scalar() for name, query in TABLES.items()}
        finally:
            engine.dispose()

    def exchange(self) -> str | None:
        """The simulator's accounts: orders, algo orders, positions and income, as JSON."""
        if self.sim_url is None:
            return None
        with urllib.request.urlopen(f"{self.sim_url}/_sim/state", timeout=30) as answer:
            state = json.load(answer)
        kept = ("open_orders", "open_algo_orders", "done_algo_orders", "positions", "income")
        accounts = {
            name: {key: account[key] for key in kept} for name, account in state["accounts"].items()
        }
        return json.dumps(accounts, sort_keys=True)


def report(fuzzed: Fuzzed, before: dict, after: dict, exchange: tuple) -> str:
    """The tables: the fuzz, then what refused requests left behind."""
    statuses = Counter(status for _, status in fuzzed.answers)
    five_xx = sum(n for status, n in statuses.items() if status >= 500)
    rows = [
        [
            *(label, len(answers), cases, failures),
            sum(status >= 500 for _, status in answers),
            *latency_cells([seconds for seconds, _ in answers]),
        ]
        for label, answers, cases, failures in (
            (FIRST, fuzzed.answers[:1], "-", "-"),
            (STEADY, fuzzed.answers[1:], fuzzed.cases, fuzzed.failures),
        )
    ]
    fuzz_table = table(
        ["sample", "requests", "cases", "failures", "5xx", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        rows,
        left={0},
    )
    store_rows, wrote = [], False
    for name in TABLES:
        added = None if before[name] is None else after[name] - before[name]
        allowed = fuzzed.accepted[name]
        verdict = "-" if added is None else "ok" if added <= allowed else "WROTE"
        wrote |= verdict == "WROTE"
        store_rows.append(
            [f"SQL {name}", before[name], after[name], added, f"≤ {allowed}", verdict]
        )
    exchange_before, exchange_after = exchange
    changed = exchange_before != exchange_after
    verdict = "-" if exchange_before is None else "WROTE" if changed else "ok"
    wrote |= verdict == "WROTE"
    store_rows.append(["exchange orders", "-", "-", "changed" if changed else 0, "≤ 0", verdict])
    store_table = table(
        ["store", "before", "after", "added", "accepted", "verdict"], store_rows, {0}
    )
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    ok = not (fuzzed.failures or five_xx or wrote)
    lines = [
        f"\n=== schemathesis on the gateway: {fuzzed.cases} cases in {fuzzed.rounds} round(s), "
        f"one request at a time (HAR times: sent → answer read) ===",
        fuzz_table,
        f"answers by status: {by_status}",
        *fuzzed.problems,
        "\n=== what refused requests left behind (rows added ≤ what accepted changes write) ===",
        store_table,
        f"fuzz verdict: {'ok' if ok else 'FAILED'} ({fuzzed.failures} failures, {five_xx} 5xx, "
        f"{'a refused request wrote' if wrote else 'no refused request wrote'})",
    ]
    return "\n".join(lines)


def measured(gateway: str, tokens: FuzzTokens, stores: Stores, cases: int, folder: Path) -> str:
    before, exchange_before = stores.rows(), stores.exchange()
    fuzzed = fuzz(gateway, tokens, cases, folder)
    return report(fuzzed, before, stores.rows(), (exchange_before, stores.exchange()))


@contextlib.contextmanager
def fuzz_deployment(folder: Path) -> Iterator[tuple[str, Stores]]:
    """``riskd run --sim``'s deployment (free ports, tokens, SQLite in *folder*): its gateway."""
    data, env = sim_deployment(1)
    data["gateway"] = {
        "read_token_env": "RISKD_FUZZ_READ_TOKEN",
        "operator_token_env": "RISKD_FUZZ_OPERATOR_TOKEN",
    }
    data["accounts"][0]["jobs"]["trader"]["weight_per_minute"] = TRADER_WEIGHT_PER_MINUTE
    database_url = f"sqlite:///{folder / 'fuzz.db'}"
    data["database"]["url"] = database_url
    os.environ.update(env | TOKEN_ENV)  # before ray.init: the raylet passes it to the actors
    accounts = [account.model_dump() for account in sim_accounts(data, env)]
    errors: list[str] = []
    with bench_simulator(accounts=accounts) as simulator:
        source = ConfigSource(sim_toml(data, simulator.server.url), "<fuzz>", str(folder))
        with local_deployment(source, "riskd", errors) as (_, info):
            yield info["gateway"], Stores(database_url, simulator.server.url)
    for error in errors:
        print(error, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="test cases, at least")
    parser.add_argument("--gateway", help="a running gateway's URL (default: start riskd)")
    parser.add_argument("--read-token", default=TOKENS.read)
    parser.add_argument("--operator-token", default=TOKENS.operator)
    parser.add_argument("--robot-token", default=TOKENS.robot)
    parser.add_argument("--sim", help="with --gateway: the simulator's URL, for its orders")
    parser.add_argument("--database", help="with --gateway: riskd's database URL, for its rows")
    args = parser.parse_args()
    if args.cases < 1:
        parser.error("--cases must be ≥ 1")
    tokens = FuzzTokens(args.read_token, args.operator_token, args.robot_token)
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as name:
        folder = Path(name)
        if args.gateway:
            stores = Stores(args.database, args.sim)
            text = measured(args.gateway, tokens, stores, args.cases, folder)
        else:
            with fuzz_deployment(folder) as (gateway, stores):
                text = measured(gateway, TOKENS, stores, args.cases, folder)
    print(text)


if __name__ == "__main__":
    main()
