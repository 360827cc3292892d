"""Every script in bench/ run as a user runs it, at a tiny size: it exits 0 and prints its
tables (their header rows and the rows they must have).

Each runs as ``sys.executable bench/<name>.py …`` in a session of its own; the benches that
drive a whole riskd start their own local Ray in that process, never the test session's.
Whatever of the session outlives the bench (a Ray process it failed to stop) is killed and
fails the test. The benches selected run BENCHES_AT_ONCE at a time, the longest first (each
waits mostly on its deployment and its clock, not on the CPU), and each test waits for its
own. ``pytest tests/bench`` or ``pytest -m bench`` runs only these.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from riskd.cli import SIM_CONFIG_TOML, SIM_ENV
from riskd.config import load_config_text

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
HELPERS = {
    "deployment",
    "fault_dependencies",
    "fault_kit",
    "fault_scenarios",
    "invariants",
    "simproc",
}
# Benches whose smoke run is elsewhere: the page bench runs on the `riskd run --sim` that
# tests/test_run_sim.py starts anyway (`--gateway`), not on one of its own.
ELSEWHERE = {"page": "tests/test_run_sim.py::test_the_page_bench_measures_the_open_page"}
TIMEOUT_S = 300.0
BENCHES_AT_ONCE = 2
# The matrix's CI subset: an exchange fault, a job killed, the Controller killed. (A stream's
# drop and an unknown placement outcome have actor tests: tests/actors/test_deployment.py,
# tests/actors/test_stop_ladder.py.)
SMOKE_FAULTS = ("http5xx", "kill_stop_ladder", "kill_controller")
# Seconds each took alone at its smoke size (2-core machine): the pool starts the longest first.
LONGEST_FIRST = {"banlist": 57, "market": 53, "soak": 50, "gateway": 48,
                 "fuzz": 26, "reaction": 37, "run_sim_first_event": 29, "footprint": 28,
                 "faults": 23, "flatten": 15}  # fmt: skip
LINGER_S = 15.0  # for the session's processes to end once the bench has exited
NUMBER = r"[\d,.]+%?"
VALUE = r"(?:-?[\d,.]+%?|nan)"  # nan: no sample of the row completed
LEGS = rf"{VALUE} / {VALUE} / {VALUE}"
FIRST, STEADY = "first after ready", "steady state"


def row(*cells: str) -> str:
    """A table line: *cells* (regular expressions) apart by spaces."""
    return r"^\s*" + r"\s+".join(cells) + r"\s*$"


def header(*names: str) -> str:
    return row(*map(re.escape, names))


def latency_rows(mode: str, *cells: str, steady: str) -> list[str]:
    """*mode*'s first-after-ready row (one sample) and steady-state row (*steady* samples):
    *cells* after the row label, then the sample count, numbers and the target's verdict."""
    return [
        row(mode, label, *cells, count, rf"(?:{VALUE}\s+)*(?:ok|MISS|-)")
        for label, count in ((FIRST, "1"), (STEADY, steady))
    ]


def sim_jobs() -> list[str]:
    """The job actors ``riskd run --sim`` runs, by name."""
    config = load_config_text(SIM_CONFIG_TOML, "riskd run --sim", ROOT, env=SIM_ENV)
    return [job.name for job in config.plan().jobs]


def sim_job_kinds() -> list[str]:
    """The kinds of job each account of ``riskd run --sim`` runs."""
    config = load_config_text(SIM_CONFIG_TOML, "riskd run --sim", ROOT, env=SIM_ENV)
    return sorted({job.kind.value for job in config.plan().jobs if job.kind.per_account})


# bench → (the arguments of a tiny run, the patterns its output must match, each a line)
RUNS: dict[str, tuple[list[str], list[str]]] = {
    "sim_throughput": (
        ["--requests", "200", "--seconds", "1", "--concurrency", "4"],
        [
            header(
                *("endpoint", "client", "requests", "concurrency", "requests/s"),
                *("p50 ms", "p99 ms", "errors"),
            ),
            *(
                row(re.escape(endpoint), re.escape(client), *[NUMBER] * 5, "0")
                for endpoint in ("GET /fapi/v2/account", "POST /fapi/v1/order")
                for client in ("python-binance", "raw aiohttp+hmac")
            ),
        ],
    ),
    "ratelimit_soak": (
        ["--jobs", "1", "--ips", "1", "--seconds", "2"],
        [
            header(
                *("side", "ip", "jobs", "budget", "demand/min", "used/min", "max/min"),
                *("util %", "429", "418"),
            ),
            row("riskd", r"127\.0\.0\.2", "1", "1000", *[NUMBER] * 4, "0", "0"),
            row("plain", r"127\.0\.0\.3", "1", "-", *[NUMBER] * 6),
            r"^riskd verdict: ",
        ],
    ),
    "run_sim_first_event": (
        ["--rounds", "2"],
        [
            row(r"riskd run --sim: ready [\d.]+ s after start"),
            header("event", "sample", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "≤ 150 ms"),
            *latency_rows(re.escape("position opened → full ladder open"), steady="1"),
            *latency_rows(re.escape("losing fill → ban listed"), steady="1"),
        ],
    ),
    "footprint": (
        ["--accounts", "1", "--settle", "0"],
        [
            header("actor", "class", "pid", "RSS MiB", "PSS MiB", "USS MiB", "pid check"),
            *(
                row(re.escape(job), r"\w+", r"\d+", *[NUMBER] * 3, r"gcs\+title\+health")
                for job in sim_jobs()
            ),
            header("role", "n", "pids", "RSS MiB", "PSS MiB", "USS MiB"),
            row(r"= Ray \+ driver", r"\d+", *[NUMBER] * 3),
            header(
                *("accounts", "actors", "ready", "schema", "ray.init", "start()"),
                *("start→ready", "to ready", "target", "host during run"),
            ),
            row("1", r"\d+", "yes", *[NUMBER] * 5, r"≤ 20: (?:ok|MISS)", "load .*"),
            header(
                *("accounts", "actors", "RSS@ready", "RSS total", "target", "PSS total"),
                *("USS total", "gcs+raylet", "agents+monitors", "actors", "idle wkrs"),
                "driver+sim",
            ),
            row("1", r"\d+", *[NUMBER] * 2, r"≤ \d+: (?:ok|MISS)", *[NUMBER] * 7),
        ],
    ),
    "reaction": (
        ["--changes", "2"],
        [
            header(
                *("mode", "sample", "changes", "completed", "timeouts"),
                *("p50 ms", "p90 ms", "p99 ms", "max ms", "target"),
            ),
            *latency_rows("stream", steady="2"),
            *latency_rows("rest", steady="2"),
            header(
                *("mode", "sample", "fill→ACCOUNT_UPDATE", "ACCOUNT_UPDATE→first NEW"),
                "first→last NEW",
            ),
            *(
                row(mode, label, *[LEGS] * 3)
                for mode in ("stream", "rest")
                for label in (FIRST, STEADY)
            ),
        ],
    ),
    "banlist": (
        [
            *("--samples", "2", "--polling-samples", "1", "--ledger-interval-ms", "2000"),
            *("--http-seconds", "0.5", "--http-rounds", "1", "--http-workers", "4"),
            *("--subscribers", "20", "--client-procs", "1", "--versions", "2"),
            *("--publish-interval-ms", "100"),
        ],
        [
            header(
                *("mode", "sample", "the Ledger learns of a fill from", "rule window"),
                *("samples", "banned", "timeouts", "expired"),
                *("p50 ms", "p90 ms", "p99 ms", "max ms", "target"),
            ),
            *latency_rows("stream", "user stream, at once", "4 s", steady="2"),
            *latency_rows("polling", "income poll every 2000 ms", "6 s", steady="1"),
            header(
                *("sample", "fill → Ledger books it", "booked → evaluation starts"),
                "evaluation → is_banned",
            ),
            *(row(label, *[LEGS] * 3) for label in (FIRST, STEADY)),
            header(
                *("server", "req/s", "of bare", "p50 ms", "p99 ms", "errors", "server CPU"),
                *("server µs/req", "client CPU", "target"),
            ),
            *(
                row(re.escape(server), *[NUMBER] * 8, r"(?:ok|MISS|-)")
                for server in (
                    "bare aiohttp",
                    "riskd routes",
                    "riskd gateway",
                    "riskd gateway 304",
                    "seed http.server",
                )
            ),
            header(
                *("subscribed", "failed", "deliveries", "missed", "p50 ms", "p99 ms"),
                *("max ms", "first→last p50 ms", "target"),
            ),
            row("20", *[NUMBER] * 7, "(?:ok|MISS)"),
        ],
    ),
    "gateway": (
        [
            *("--orders", "4", "--concurrency", "1,3"),
            *("--market-clients", "2", "--market-seconds", "1"),
            *("--subscribers", "20", "--client-procs", "1", "--publishes", "3"),
            *("--publish-hz", "20"),
        ],
        [
            header(
                *("route", "concurrency", "sample", "n", "errors"),
                *("p50 ms", "p90 ms", "p99 ms", "max ms", "target"),
            ),
            *(
                row(route, concurrency, label, count, "0", *[VALUE] * 4, "-")
                for route in ("direct", "riskd")
                for concurrency, label, count in (
                    ("1", FIRST, "1"),
                    ("1", STEADY, "4"),
                    ("3", "first burst", "3"),
                    ("3", STEADY, "3"),
                )
            ),
            *(
                row("added", concurrency, label, "-", "-", *[VALUE] * 4, verdict)
                for concurrency, label, verdict in (
                    ("1", FIRST, "-"),
                    ("1", STEADY, "(?:ok|MISS)"),
                    ("3", "first burst", "-"),
                    ("3", STEADY, "(?:ok|MISS)"),
                )
            ),
            header(
                "method", "sample", "n", "req/s", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms"
            ),
            *(
                row(method, label, count, rate, "0", *[VALUE] * 4)
                for method in ("ticker", "records", "depth")
                for label, count, rate in ((FIRST, "1", "-"), (STEADY, r"\d+", NUMBER))
            ),
            row("all", STEADY, r"\d+", NUMBER, "0", *[VALUE] * 4),
            header(
                *("sample", "publishes", "subscribed", "deliveries", "skipped"),
                *("p50 ms", "p90 ms", "p99 ms", "max ms"),
            ),
            row(FIRST, "1", "20", r"\d+", r"\d+", *[VALUE] * 4),
            row(STEADY, "3", "20", r"\d+", r"\d+", *[VALUE] * 4),
            r"^lost \(never got the last version\): 0; failed subscribers: 0;",
        ],
    ),
    # Each fault must recover with nothing lost: kill_controller is the regression test of a
    # restarted Controller adopting its deployment (it once answered status with a KeyError).
    "faults": (
        [
            *("--faults", ",".join(SMOKE_FAULTS)),
            *("--fault-s", "2", "--recover-s", "60"),
        ],
        [
            header(
                *("fault", "recovered", "ms to recover", "lost", "duplicates", "orphans"),
                *("bare", "stale", "notes", "left"),
            ),
            *(  # then the fault's notes, if any
                row(fault, "yes", r"\d+", "0", "0", "0", "0", r"0(?:\s+\S.*)?")
                for fault in SMOKE_FAULTS
            ),
        ],
    ),
    "flatten": (
        ["--sizes", "1,2", "--rounds", "1"],
        [
            header(
                *("positions", "sample", "n", "slices", "p50 ms", "p90 ms", "p99 ms"),
                *("max ms", "riskd p50 ms", "flat"),
            ),
            row("1", FIRST, "1", "1", *[VALUE] * 5, "1/1"),
            row("1", STEADY, "1", "1", *[VALUE] * 5, "1/1"),
            row("2", STEADY, "1", "2", *[VALUE] * 5, "1/1"),
        ],
    ),
    # Two accounts, one deployment: --capacity names only the soak's own count (a further
    # round would be a second deployment; tests/bench/test_soak.py covers the search).
    "soak": (
        [
            *("--accounts", "2", "--symbols", "5", "--robots", "2", "--subscribers", "5"),
            *("--minutes", "0.2", "--sample-s", "3", "--capacity", "2", "--quiet-wait-s", "0"),
        ],
        [
            row("process", "pids", r"(?:\d+ s\s+)+growth", "verdict"),
            *(
                row(
                    re.escape(name),
                    r"\d+",
                    r"[\d.]+(?:\s+[\d.]+)*",
                    r"[+-][\d.]+ %",
                    "(?:flat|grew)",
                )
                for name in [*sim_jobs(), *(f"{job}:sim2" for job in sim_job_kinds())]
            ),
            row("= Ray processes", r"[\d.]+(?:\s+[\d.]+)*", r"[+-][\d.]+ %", "(?:flat|grew)"),
            header("process", "CPU s", "CPU %"),
            row("= Ray processes", NUMBER, NUMBER),
            header(
                *("measure", "sample", "n", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms"),
                "target",
            ),
            *(
                row(measure, label, count, failed, *[VALUE] * 4, verdict)
                for measure in ("ladder reaction", "gate latency", "ban-list push")
                for label, count, failed, verdict in (
                    (FIRST, "1" if measure != "ban-list push" else r"\d+", r"(?:\d+|-)", "-"),
                    (STEADY, r"\d+", r"\d+", "(?:ok|MISS|-)"),
                )
            ),
            header(
                *("IPs of", "n", "budget/min", "heaviest min", "mean min", "of budget"),
                *("429", "418"),
            ),
            *(row(kind, "2", NUMBER, NUMBER, r"\S+", r"\S+", "0", "0") for kind in sim_job_kinds()),
            row(re.escape("new orders (−1015), per account"), "2", *["-"] * 4, "0", "-"),
            row("= all", r"\d+", "0", "0"),
            r"^429 \+ 418: 0 \(target 0: ok\)",
            header(
                *("accounts", "run", "minutes", "changes", "failed", "p50 ms", "p99 ms"),
                *("max ms", "429+418", "≤ 100 ms"),
            ),
            row("2", "soak", "0.2", r"\d+", r"\d+", *[VALUE] * 3, "0", "(?:ok|MISS)"),
            r"^capacity: (?:at least 2|fewer than 2) account\(s\) on this \d+-core host",
        ],
    ),
    # Whatever the size, a round runs schemathesis's coverage phase: over 1,000 cases.
    "fuzz": (
        ["--cases", "1"],
        [
            header(
                *("sample", "requests", "cases", "failures", "5xx"),
                *("p50 ms", "p90 ms", "p99 ms", "max ms"),
            ),
            row(FIRST, "1", "-", "-", "0", *[VALUE] * 4),
            row(STEADY, r"\d+", r"\d+", "0", "0", *[VALUE] * 4),
            header("store", "before", "after", "added", "accepted", "verdict"),
            *(
                row(re.escape(store), r"(?:\d+|-)", r"(?:\d+|-)", r"\d+", r"≤ \d+", "ok")
                for store in ("SQL locks", "SQL silences", "SQL flattens", "exchange orders")
            ),
            r"^fuzz verdict: ok \(0 failures, 0 5xx, no refused request wrote\)$",
        ],
    ),
    "market": (
        [
            *("--robots", "2", "--symbols", "2", "--duration-s", "3"),
            *("--age-seconds", "2", "--readers", "1", "--insert-rows", "200"),
        ],
        [
            header(
                *("robots", "symbols", "demanded req/s", "achieved req/s", "of demand"),
                *("ticks due", "late", "skipped", "200", "503", "other", "robots CPU"),
                "gateway CPU",
            ),
            row("2", "2", *[VALUE] * 11),
            header("route", "sample", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "target"),
            *latency_rows("klines", steady=r"\d+"),
            *latency_rows("ticker", steady=r"\d+"),
            header("source", "requests/min", "weight/min", "saved", "target"),
            row(re.escape("robots direct, as demanded"), NUMBER, NUMBER, VALUE, "-"),
            row(re.escape("robots direct, as achieved"), NUMBER, NUMBER, VALUE, "(?:ok|MISS)"),
            row(re.escape("riskd feed with the cache (measured)"), "-", NUMBER, "-", "-"),
            header("request", "endpoint_weight", "simulator charged", "match"),
            *(
                row(re.escape(f"GET /fapi/v1/{request}"), weight, weight, "yes")
                for request, weight in (
                    ("klines?symbol=BTCUSDT&interval=1m&limit=2", "1"),
                    ("ticker/bookTicker?symbol=BTCUSDT", "2"),
                )
            ),
            header(
                *("source", "sample", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"),
                *("expected p50 ms", "≈ 1/N"),
            ),
            *(
                row(re.escape(source), label, count, *[VALUE] * 5, "(?:ok|MISS|-)")
                for source in ("book, 1 in slots",)
                for label, count in ((FIRST, "1"), (STEADY, r"\d+"))
            ),
            *(
                row("WebSocket", label, count, *[VALUE] * 4, "-", "-")
                for label, count in ((FIRST, "1"), (STEADY, r"\d+"))
            ),
            header(
                *("database", "batch", "sample", "batches", "rows", "rows/s"),
                *("p50 ms/batch", "p99 ms/batch", "max ms/batch"),
            ),
            *(
                row("SQLite", batch, label, *[VALUE] * 6)
                for batch in ("1", "20", "500")
                for label in (FIRST, STEADY)
            ),
        ],
    ),
}


def session_members(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process of session *sid*."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            members.append((int(entry.name), cmdline.strip()))
    return members


@pytest.fixture(scope="module")
def bench_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[tuple[int, str]]]]:
    """Every selected bench's run (its exit code and output), started at once in a pool."""
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == "test_bench_runs_and_prints_its_tables"
    }
    folder = tmp_path_factory.mktemp("benches")
    order = sorted(selected, key=lambda name: (-LONGEST_FIRST.get(name, 0), name))
    with ThreadPoolExecutor(BENCHES_AT_ONCE) as pool:
        yield {
            name: pool.submit(run_bench, name, RUNS[name][0], folder / f"{name}.out")
            for name in order
        }


def run_bench(name: str, args: list[str], output: Path) -> tuple[int, str]:
    """Run bench *name* as a user would; its exit code and output. Fails (after killing them)
    if it outlives TIMEOUT_S or a process of its session outlives it."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"PYTHONUNBUFFERED": "1"}
    with output.open("w") as sink:  # a file, not a pipe: a leftover cannot hold it open
        process = subprocess.Popen(
            [sys.executable, str(BENCH / f"{name}.py"), *args],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        code: int | None = process.wait(TIMEOUT_S)
    except subprocess.TimeoutExpired:
        code = None
    deadline = time.monotonic() + (LINGER_S if code is not None else 0)
    while (left := session_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid, _ in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    text = output.read_text(errors="replace")
    assert code is not None, f"{name} did not end within {TIMEOUT_S:g} s:\n{text}"
    assert not left, f"{name} left processes behind: {left}\n{text}"
    return code, text


@pytest.mark.parametrize("name", sorted(RUNS))
def test_bench_runs_and_prints_its_tables(
    name: str, bench_runs: dict[str, Future[tuple[int, str]]]
) -> None:
    _, patterns = RUNS[name]
    code, text = bench_runs[name].result()
    assert code == 0, text
    missing = [p for p in patterns if not re.search(p, text, re.MULTILINE)]
    assert not missing, f"{name}: no line matches {missing}:\n{text}"


def test_every_bench_has_a_smoke_run() -> None:
    assert {path.stem for path in BENCH.glob("*.py")} - HELPERS == set(RUNS) | set(ELSEWHERE)


def test_footprint_gives_each_job_of_further_accounts_an_ip_of_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    footprint = importlib.import_module("footprint")
    data, env = footprint.sim_deployment(5)
    toml = footprint.sim_toml(data, "http://127.0.0.1:1")
    config = load_config_text(toml, "footprint", tmp_path, env=env)
    sim = load_config_text(SIM_CONFIG_TOML, "riskd run --sim", tmp_path, env=SIM_ENV)
    jobs, sim_plan = config.plan().jobs, sim.plan().jobs  # no IP over-subscribed
    assert config.accounts[0] == sim.accounts[0]
    assert len(config.accounts) == 5
    # Each further account copies the first's jobs, the Trader too (every account runs one).
    copied = [job for job in sim_plan if job.kind.per_account]
    assert len(jobs) == len(sim_plan) + 4 * len(copied)
    egress = [job.config.egress for job in jobs if job.kind.per_account and job.account != "sim"]
    assert len(set(egress)) == len(egress)
    assert not set(egress) & {"127.0.0.1", *(job.config.egress for job in sim_plan)}
