"""The gateway actor on Ray: its tokens from the environment, requests reaching the Ledger and
the Alerter and their errors coming back as precise JSON, and a recreated actor reached again.

The routes themselves, auth on each, bodies and timeouts are tested without Ray in
``tests/gateway``; here one deployment with both tokens serves the module.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import ray
from ray.cluster_utils import Cluster
from sqlalchemy import delete

from actors import launcher
from actors.context import ConfigSource, ledger_name
from riskd.sim import SimConfig, SimulatorThread
from riskd.store.engine import make_engine
from riskd.store.schema import symbols
from tests.kit.deployment import BANLIST_JOBS, LOOPBACK_JOBS, READY_S, deployment_toml, wait_for
from tests.kit.gateway import JSON, bad_request, lock_body, silence_body, state_body

# The raylets' environment is fixed when the session's cluster starts: these two variables
# are in it (SECRETS_ENV), so they serve as the gateway's tokens.
READ_TOKEN, OPERATOR_TOKEN = "sim-key", "sim-secret"
TOKENS = """
[gateway]
port = 0
read_token_env = "RISKD_TEST_API_KEY"
operator_token_env = "RISKD_TEST_API_SECRET"
"""
READER = {"Authorization": f"Bearer {READ_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
UNLOCK = "operator=bob&reason=checked"
BIG = 2**63 - 1


class Deployment(NamedTuple):
    gateway: str  # its base URL
    namespace: str


@pytest.fixture(scope="module")
def deployment(
    ray_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One deployment with both tokens for the module."""
    simulator = SimulatorThread(SimConfig(port=0, exchange={"walk_interval_ms": 0}))
    simulator.start()
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    toml = deployment_toml(simulator.server.url, BANLIST_JOBS, namespace).replace(
        "\n[gateway]\nport = 0\n", TOKENS
    )
    source = ConfigSource(toml, "test.toml", str(tmp_path_factory.mktemp("gateway")))
    controller, info = launcher.start(source)
    try:
        launcher.wait_ready(controller, READY_S)
        yield Deployment(info["gateway"], namespace)
    finally:
        launcher.stop(controller)
        simulator.stop()


def _call(
    gateway: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPResponse, dict]:
    """One request exactly as given: (status, response, its JSON)."""
    url = urlsplit(gateway)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response, json.loads(response.read())
    finally:
        connection.close()


# What the Ledger and the Alerter refuse, raised in them and answered across Ray.
REFUSED_BY_ACTORS = [
    bad_request("POST", "/v1/locks", lock_body(side=["long"]), 400, "side: must be long, short"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=1), 400, "the lock would end at 1, not"),
    bad_request("POST", "/v1/locks", lock_body(symbol="BTCUSD"), 400, "symbol: the exchange doe"),
    bad_request("POST", "/v1/locks", lock_body(reason=""), 400, "reason: must be a non-empty"),
    bad_request("DELETE", f"/v1/locks/{BIG}?{UNLOCK}", None, 404, f"has no lock {BIG}"),
    bad_request("DELETE", "/v1/locks/1?reason=x", None, 400, "operator: must be a non-empty"),
    bad_request("POST", "/v1/state", state_body(state="halted"), 400, "state: must be ACTIVE,"),
    bad_request("POST", "/v1/silences", silence_body(minutes=10**15), 400, "at most 30 days"),
    bad_request("POST", "/v1/silences", silence_body(matchers=["symbol=~["]), 400, "is not a reg"),
    bad_request("DELETE", f"/v1/silences/{BIG}?operator=b", None, 404, f"no silence {BIG}"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error"), REFUSED_BY_ACTORS
)
def test_what_an_actor_refuses_is_a_json_4xx_in_its_words(
    deployment: Deployment,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    got, response, answer = _call(deployment.gateway, method, path, body, OPERATOR | headers)
    assert got == status
    assert response.getheader("Content-Type").startswith("application/json")
    assert error in answer["error"]


def test_the_gateway_asks_for_the_tokens_its_environment_holds(deployment: Deployment) -> None:
    assert _call(deployment.gateway, "GET", "/v1/locks", headers=READER)[0] == 200
    status, response, answer = _call(deployment.gateway, "GET", "/v1/locks")
    assert (status, answer["error"]) == (401, "Authorization: send 'Bearer <token>'")
    assert response.getheader("WWW-Authenticate") == "Bearer"
    changed = _call(deployment.gateway, "POST", "/v1/state", state_body(), JSON | READER)
    assert (changed[0], changed[2]["error"]) == (403, "changes need the operator's token")


def test_reads_reach_the_controller_the_books_and_the_alerter(deployment: Deployment) -> None:
    def health() -> dict | None:
        answer = _call(deployment.gateway, "GET", "/v1/health", headers=READER)[2]
        return answer if "last_round_ms" in answer["alerting"] else None  # the Alerter answered

    answer = wait_for(health, timeout_s=READY_S)
    assert answer is not None
    assert {(job["job"], job["account"]) for job in answer["jobs"]} >= {("ledger", "sim")}
    positions = _call(deployment.gateway, "GET", "/v1/positions", headers=READER)[2]
    assert [view["account"] for view in positions["accounts"]] == ["sim"]
    assert _call(deployment.gateway, "GET", "/v1/alerts", headers=READER)[0] == 200


def _active_ids(gateway: str) -> list[int]:
    return [lock["id"] for lock in _call(gateway, "GET", "/v1/locks", headers=READER)[2]["locks"]]


def test_an_operator_locks_and_unlocks(deployment: Deployment) -> None:
    gateway = deployment.gateway
    body = lock_body(symbol="DOGEUSDT", side="long")
    status, _response, lock = _call(gateway, "POST", "/v1/locks", body, JSON | OPERATOR)
    assert (status, lock["symbol"], lock["side"]) == (201, "DOGEUSDT", "long")
    assert lock["id"] in _active_ids(gateway)
    path = f"/v1/locks/{lock['id']}?{UNLOCK}"
    status, _response, ended = _call(gateway, "DELETE", path, headers=OPERATOR)
    assert (status, ended["id"], ended["active"]) == (200, lock["id"], False)
    assert lock["id"] not in _active_ids(gateway)


def test_an_operator_silences_and_ends_the_silence(deployment: Deployment) -> None:
    gateway = deployment.gateway
    status, _response, silence = _call(
        gateway, "POST", "/v1/silences", silence_body(), JSON | OPERATOR
    )
    assert status == 201
    path = f"/v1/silences/{silence['id']}?operator=bob"
    status, _response, ended = _call(gateway, "DELETE", path, headers=OPERATOR)
    assert (status, ended["id"]) == (200, silence["id"])


# A Ledger whose symbols are always due for a refresh, and which makes one pass only.
SYMBOLS_DUE = """
[accounts.ledger]
symbols_refresh_ms = 1

[accounts.jobs.ledger]
interval_ms = 600000
"""


def test_an_unknown_symbol_refreshes_the_list_once_and_an_empty_list_is_503(
    deploy, simulator, tmp_path
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS + SYMBOLS_DUE))
    launcher.wait_ready(controller, READY_S)
    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")

    def forget_symbols() -> None:
        with engine.begin() as connection:
            connection.execute(delete(symbols))

    forget_symbols()
    body = lock_body(symbol="DOGEUSDT")
    status, _response, lock = _call(info["gateway"], "POST", "/v1/locks", body, JSON)
    assert (status, lock["symbol"]) == (201, "DOGEUSDT")  # exchangeInfo, asked once
    forget_symbols()
    status, _response, answer = _call(info["gateway"], "POST", "/v1/locks", body, JSON)
    engine.dispose()
    assert status == 503 and "riskd has no list of symbols" in answer["error"]


def test_a_ledger_the_controller_recreates_is_reached_again(deployment: Deployment) -> None:
    """Last: it kills the module deployment's Ledger."""

    def locks() -> tuple[int, dict]:
        status, _response, answer = _call(deployment.gateway, "GET", "/v1/locks", headers=READER)
        return status, answer

    def refused() -> tuple[int, dict] | None:
        answer = locks()
        return answer if answer[0] != 200 else None

    assert locks()[0] == 200  # the gateway now holds the Ledger's handle
    ledger = ray.get_actor(ledger_name("sim"), namespace=deployment.namespace)
    ray.kill(ledger, no_restart=True)
    refusal = wait_for(refused, timeout_s=READY_S)  # the held handle: its actor died
    assert refusal == (503, {"error": "a riskd actor this needs is not running; try again"})
    assert wait_for(lambda: locks()[0] == 200, timeout_s=READY_S)
