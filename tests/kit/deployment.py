"""Deployments on the test Ray cluster: their config, and plain-HTTP helpers to drive them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import TypeVar

import ray
from ray.actor import ActorHandle

from actors import launcher
from riskd.health import JobStatus
from riskd.plan import JobKind
from riskd.sim import SimServer
from tests.kit.sim import binance_client

T = TypeVar("T")

READY_S = 30
"""How long a deployment may take to report every job healthy."""

SECRETS_ENV = {
    "RISKD_TEST_API_KEY": "sim-key",
    "RISKD_TEST_API_SECRET": "sim-secret",
    "RISKD_TEST_ROBOT_TOKEN": "robot-token",
    "RISKD_TEST_ROBOT_B_TOKEN": "robot-b-token",
}


def job_tables(*kinds: str) -> str:
    """[accounts.jobs.*] tables that run these jobs on their defaults."""
    return "".join(f"\n[accounts.jobs.{kind}]\n" for kind in kinds)


def deployment_toml(sim_url: str, jobs: str = "", name: str | None = None) -> str:
    """A config against the simulator; *jobs* adds [accounts.jobs.*] tables, and the account
    runs only the jobs it names: each test states what it exercises, and every actor costs
    ~1 CPU-second to start (a deployment of all seven jobs ~12 on this 2-core machine)."""
    name = name or f"t-{uuid.uuid4().hex[:8]}"
    for kind in JobKind:
        if kind.per_account and f"[accounts.jobs.{kind.value}]" not in jobs:
            jobs += f"\n[accounts.jobs.{kind.value}]\nenabled = false\n"
    return f"""
[deployment]
name = "{name}"

[exchange]
network = "sim"
base_url = "{sim_url}"
request_timeout_ms = 2000

[gateway]
port = 0

[[accounts]]
name = "sim"
api_key_env = "RISKD_TEST_API_KEY"
api_secret_env = "RISKD_TEST_API_SECRET"
{jobs}
"""


LOOPBACK_JOBS = """
[accounts.jobs.account_reader]
interval_ms = 500
weight_per_minute = 300
egress = "127.0.0.2"

[accounts.jobs.position_risk_reader]
interval_ms = 500
weight_per_minute = 600
egress = "127.0.0.3"

[accounts.jobs.user_stream]
interval_ms = 500
weight_per_minute = 60
egress = "127.0.0.4"
"""

BANLIST_JOBS = LOOPBACK_JOBS + job_tables("ledger")
"""LOOPBACK_JOBS with the Ledger on its defaults: the account has a ban list."""

TRADING_JOBS = (
    LOOPBACK_JOBS
    + """
[accounts.jobs.ledger]
interval_ms = 1000

[accounts.jobs.trader]
interval_ms = 1000
egress = "127.0.0.8"
"""
)
"""LOOPBACK_JOBS with a Ledger every second and the Trader on its own IP: robots trade."""


def get_json(url: str) -> tuple[int, dict]:
    """GET *url*: (status, decoded body), for error statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def post_json(url: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST *body* as JSON to *url* (with *headers*): (status, decoded body), for error
    statuses too."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_for(predicate: Callable[[], T], timeout_s: float = READY_S, interval_s: float = 0.05) -> T:
    """Poll *predicate* until it returns something truthy or *timeout_s* passes; its last value."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(interval_s)
    return value


def wait_healthy(controller: ActorHandle, timeout_s: float = READY_S) -> list[JobStatus]:
    """Wait until every job of the deployment has succeeded once and none is late at the same
    moment (a job run every 200 ms is late after 600 ms, which a busy host reaches now and
    then); fails naming each unhealthy job's problem when that moment does not come in time."""
    deadline = time.monotonic() + timeout_s
    rows = launcher.wait_ready(controller, timeout_s)
    while (sick := [row for row in rows if not row.healthy()]) and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = ray.get(controller.status.remote())
    assert not sick, "; ".join(row.problem() for row in sick)
    return rows


def wait_health_ok(gateway: str, timeout_s: float = READY_S) -> dict:
    """``GET /v1/health`` until it answers 200 with ``ok`` (a job may be late for an instant
    on a busy host, as in :func:`wait_healthy`); fails naming its problems when it does not."""
    deadline = time.monotonic() + timeout_s
    while (answer := get_json(f"{gateway}/v1/health"))[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    status, health = answer
    assert status == 200 and health["ok"] is True, health.get("problems", health)
    return health


def fmz(
    gateway: str,
    method: str,
    params: dict,
    *,
    robot: str = "r1",
    secret: str = "robot-token",
    headers: dict[str, str] | None = None,
) -> dict:
    """One FMZ protocol call of *robot* to the gateway's ``/fmz/binance``; its JSON answer
    (the protocol answers 200, errors included)."""
    body = {
        "access_key": robot,
        "secret_key": secret,
        "method": method,
        "nonce": time.time_ns(),
        "params": params,
    }
    status, answer = post_json(f"{gateway}/fmz/binance", body, headers)
    assert status == 200
    return answer


def fmz_trade(gateway: str, side: str, amount: str, symbol: str = "BTC_USDT", **robot: str) -> dict:
    """A MARKET trade (price -1) of *amount* by *robot* (``fmz``'s robot and secret)."""
    params = {"symbol": symbol, "type": side, "price": -1, "amount": amount}
    return fmz(gateway, "trade", params, **robot)


def once_the_list_is_valid(send: Callable[[], dict]) -> dict:
    """*send*'s answer once the Trader no longer refuses it for its ban list: missing, or
    expired (the Ledger's first list expires at once while the PositionBook is not fresh)."""

    def answered() -> dict | None:
        answer = send()
        return None if "BANLIST_" in answer.get("error", "") else answer

    return wait_for(answered)


def exported_metrics(node_id: str, patterns: Mapping[str, re.Pattern[str]]) -> set[str]:
    """The names of *patterns* found in Ray's Prometheus export on node *node_id*, once all
    are (or after 60 s: Ray exports every few seconds)."""
    port = next(n["MetricsExportPort"] for n in ray.nodes() if n["NodeID"] == node_id)

    def exported() -> set[str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        return {name for name, pattern in patterns.items() if pattern.search(text)}

    wait_for(lambda: exported() == set(patterns) or None, timeout_s=60, interval_s=1)
    return exported()


def published_banlist(gateway: str, account: str = "sim") -> dict | None:
    """The account's published ban list, None until there is one."""
    status, body = get_json(f"{gateway}/v1/banlist?account={account}")
    return body if status == 200 else None


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m riskd.cli ARGS`` in a subprocess, its output captured as text."""
    command = [sys.executable, "-m", "riskd.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


async def round_trip(server: SimServer | str, symbol: str, qty: str, entry: str, exit: str) -> None:
    """Buy *qty* of *symbol* at *entry* and sell it at *exit* on the simulator (or the one at
    that URL)."""
    client = binance_client(server)
    url = server if isinstance(server, str) else server.url
    try:
        post_json(f"{url}/_sim/mark", {"symbol": symbol, "price": entry})
        await client.futures_create_order(symbol=symbol, side="BUY", type="MARKET", quantity=qty)
        post_json(f"{url}/_sim/mark", {"symbol": symbol, "price": exit})
        await client.futures_create_order(symbol=symbol, side="SELL", type="MARKET", quantity=qty)
    finally:
        await client.close_connection()
