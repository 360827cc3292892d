"""The gateway: every bad request is a precise JSON 4xx, auth, and timeouts.

The table and auth tests run against one deployment on Ray (a real gateway actor on
127.0.0.1); the error middleware and aiohttp's logging run in-process.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import socket
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest
from aiohttp import web
from ray.cluster_utils import Cluster
from sqlalchemy import delete

from actors import launcher
from actors.context import ConfigSource
from actors.gateway import gateway_runner, json_errors
from riskd.sim import SimConfig, SimulatorThread
from riskd.store import make_engine
from riskd.store.schema import symbols
from tests.kit.deployment import LOOPBACK_JOBS, READY_S, deployment_toml

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
JSON = {"Content-Type": "application/json"}
WAIT_FOR_CLOSE_S = 60.0  # generous: the gateway gives up on a head after 5 s, a body after 10


@pytest.fixture(scope="module")
def gateway(ray_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One deployment with both tokens for the module; its gateway's base URL."""
    simulator = SimulatorThread(SimConfig(port=0, exchange={"walk_interval_ms": 0}))
    simulator.start()
    toml = deployment_toml(simulator.server.url, LOOPBACK_JOBS).replace(
        "\n[gateway]\nport = 0\n", TOKENS
    )
    source = ConfigSource(toml, "test.toml", str(tmp_path_factory.mktemp("gateway")))
    controller, info = launcher.start(source)
    try:
        launcher.wait_ready(controller, READY_S)
        yield info["gateway"]
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


def _lock(**fields: object) -> bytes:
    body = {"symbol": "BTCUSDT", "reason": "test", "operator": "alice"} | fields
    return json.dumps(body).encode()


def _silence(**fields: object) -> bytes:
    body = {"matchers": ["symbol=BTCUSDT"], "minutes": 5, "created_by": "al", "comment": "c"}
    return json.dumps(body | fields).encode()


def _state(**fields: object) -> bytes:
    return json.dumps({"state": "HALTED", "operator": "alice", "reason": "test"} | fields).encode()


def _raw_silence(minutes: str) -> bytes:
    """A silence whose minutes are *minutes* as written (Infinity is not JSON)."""
    return (
        b'{"matchers":["a=b"],"minutes":' + minutes.encode() + b',"created_by":"a","comment":"c"}'
    )


def _row(
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    error: str,
    headers: dict[str, str] | None = None,
):
    headers = JSON | (headers or {})
    return pytest.param(method, path, body, headers, status, error, id=f"{method} {error}")


UNLOCK = "operator=bob&reason=checked"
NOPE = {"Content-Type": "application/json; charset=nope"}
TEXT = {"Content-Type": "text/plain"}
GZIP = {"Content-Encoding": "gzip"}  # on a body that is not gzip
BROTLI = {"Content-Encoding": "br"}
TABLE = [
    # POST /v1/locks: the inputs that gave a 500, and their neighbours.
    _row("POST", "/v1/locks", _lock(side=["long"]), 400, "side: must be long, short or both"),
    _row("POST", "/v1/locks", _lock(side={"long": 1}), 400, "side: must be long, short or both"),
    _row("POST", "/v1/locks", _lock(side="LONG"), 400, "side: must be long, short or both"),
    _row("POST", "/v1/locks", _lock(until_ms=10**30), 400, "until_ms: must be a number from"),
    _row("POST", "/v1/locks", _lock(until_ms=2**63), 400, "until_ms: must be a number from"),
    _row("POST", "/v1/locks", _lock(until_ms=2**63 - 1), 400, "until_ms: must be an integer"),
    _row("POST", "/v1/locks", _lock(until_ms=True), 400, "until_ms: must be an integer"),
    _row("POST", "/v1/locks", _lock(until_ms=1.0), 400, "until_ms: must be an integer"),
    _row("POST", "/v1/locks", _lock(until_ms=1), 400, "the lock would end at 1, not after now"),
    _row("POST", "/v1/locks", _lock(symbol="BTC\u0000USDT"), 400, "symbol: must not hold"),
    _row("POST", "/v1/locks", _lock(symbol="../../etc/passwd"), 400, "symbol: '../../etc/"),
    _row("POST", "/v1/locks", _lock(symbol="btc usdt"), 400, "symbol: 'btc usdt' is not a"),
    _row("POST", "/v1/locks", _lock(symbol="btcusdt"), 400, "symbol: 'btcusdt' is not a"),
    _row("POST", "/v1/locks", _lock(symbol="BTCUSD"), 400, "symbol: the exchange does not list"),
    _row("POST", "/v1/locks", _lock(symbol="X" * 33), 400, "symbol: at most 32 characters"),
    _row("POST", "/v1/locks", _lock(symbol=5), 400, "symbol: must be a non-empty string"),
    _row("POST", "/v1/locks", _lock(operator="a\x1b[2J"), 400, "operator: must not hold"),
    _row("POST", "/v1/locks", _lock(operator="a" * 65), 400, "operator: at most 64"),
    _row("POST", "/v1/locks", _lock(reason="a\u202eb"), 400, "reason: must not hold"),
    _row("POST", "/v1/locks", _lock(reason="r" * 513), 400, "reason: at most 512"),
    _row("POST", "/v1/locks", _lock(account=["sim"]), 404, "account: unknown account ['sim']"),
    _row("POST", "/v1/locks", _lock(account="nobody"), 404, "account: unknown account"),
    _row("POST", "/v1/locks", _lock(pwd=1), 400, "unknown fields: ['pwd']"),
    _row("POST", "/v1/locks", b'{"symbol":"A","symbol":"B"}', 400, "'symbol': given more than"),
    _row("POST", "/v1/locks", b'{"reason":"\\ud800"}', 400, "reason: must not hold"),
    # Bodies, whatever the route.
    _row("POST", "/v1/locks", b"{", 400, "the body is not JSON"),
    _row("POST", "/v1/locks", b"[]", 400, "the body must be a JSON object"),
    _row("POST", "/v1/locks", b'{"reason":"\xff"}', 400, "the body is not UTF-8"),
    _row("POST", "/v1/locks", b"[" * 100_000, 413, "the body is larger than 65536 bytes"),
    _row("POST", "/v1/locks", b"[" * 1_000, 400, "nests arrays and objects more than 8 deep"),
    _row("POST", "/v1/locks", b'{"n":' + b"7" * 5000 + b"}", 400, "an integer of 5000 digits"),
    _row("POST", "/v1/locks", _lock(reason="r" * 70_000), 413, "the body is larger than"),
    _row("POST", "/v1/locks", _lock(), 415, "charset must be utf-8, not 'nope'", NOPE),
    _row("POST", "/v1/locks", _lock(), 415, "Content-Type: must be application/json", TEXT),
    _row("POST", "/v1/locks", _lock(), 415, "Content-Encoding: send the JSON as it", GZIP),
    _row("POST", "/v1/locks", _lock(), 415, "Content-Encoding: send the JSON as it", BROTLI),
    # DELETE /v1/locks/{id}: ids are ASCII digits from 1 to 2**63 - 1.
    _row("DELETE", f"/v1/locks/{'9' * 20}?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/%D9%A3?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/%EF%BC%93?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/{'9' * 5000}?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/0?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/-1?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/1_0?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/%2B1?{UNLOCK}", None, 400, "lock id: must be a number"),
    _row("DELETE", f"/v1/locks/{2**63 - 1}?{UNLOCK}", None, 404, f"has no lock {2**63 - 1}"),
    _row("DELETE", "/v1/locks/1?reason=x", None, 400, "operator: must be a non-empty string"),
    _row("DELETE", "/v1/locks/1?operator=b&reason=a%00b", None, 400, "reason: must not hold"),
    _row("DELETE", f"/v1/locks/1?operator={'b' * 65}&reason=x", None, 400, "operator: at most"),
    # Silences.
    _row("DELETE", f"/v1/silences/{'9' * 20}?operator=b", None, 400, "silence id: must be a"),
    _row("DELETE", "/v1/silences/%D9%A3?operator=b", None, 400, "silence id: must be a"),
    _row("DELETE", f"/v1/silences/{2**63 - 1}?operator=b", None, 404, "no silence"),
    _row("DELETE", "/v1/silences/5?operator=%1B%5B2J", None, 400, "operator: must not hold"),
    _row("DELETE", "/v1/silences/5", None, 400, "operator: must be a non-empty string"),
    _row("POST", "/v1/silences", _raw_silence("Infinity"), 400, "minutes: must be a number"),
    _row("POST", "/v1/silences", _raw_silence("-Infinity"), 400, "minutes: must be a number"),
    _row("POST", "/v1/silences", _raw_silence("NaN"), 400, "minutes: must be a number"),
    _row("POST", "/v1/silences", _raw_silence("1e308"), 400, "minutes: must be a number"),
    _row("POST", "/v1/silences", _raw_silence("1e400"), 400, "minutes: must be a number"),
    _row("POST", "/v1/silences", _silence(minutes=10**15), 400, "at most 30 days"),
    _row("POST", "/v1/silences", _silence(minutes=True), 400, "minutes: must be a positive"),
    _row("POST", "/v1/silences", _silence(comment="a\nb"), 400, "comment: must not hold"),
    _row("POST", "/v1/silences", _silence(matchers=["a=\x07"]), 400, "matchers[0]: must not"),
    # Trading state: exactly ACTIVE, REDUCING or HALTED.
    _row("POST", "/v1/state", _state(state="act\u0131ve"), 400, "state: must be ACTIVE, REDUC"),
    _row("POST", "/v1/state", _state(state="halted"), 400, "state: must be ACTIVE, REDUCING"),
    _row("POST", "/v1/state", _state(state=["HALTED"]), 400, "state: must be ACTIVE, REDUCI"),
    # Routes, and the reads' parameters.
    _row("GET", "/v1/nowhere", None, 404, "Not Found: GET '/v1/nowhere'"),
    _row("PUT", "/v1/locks", _lock(), 405, "Method Not Allowed: PUT '/v1/locks'"),
    _row("GET", "/v1/banlist?version=%D9%A3", None, 400, "version: must be a number from 0"),
    _row("GET", "/v1/banlist?version=1&wait=%D9%A3", None, 400, "wait: must be seconds"),
    _row("GET", "/v1/banlist?version=1&wait=1_0", None, 400, "wait: must be seconds"),
    _row("GET", "/v1/positions?account=nobody", None, 404, "account: unknown account 'nobody'"),
    _row("GET", "/v1/locks?account=nobody", None, 404, "account: unknown account 'nobody'"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "error"), TABLE)
def test_a_bad_request_gets_a_json_4xx_naming_what_is_wrong(
    gateway: str,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    got, response, answer = _call(gateway, method, path, body, OPERATOR | headers)
    assert got == status
    assert response.getheader("Content-Type").startswith("application/json")
    assert error in answer["error"]


def test_reads_need_the_read_token_and_take_it_with_the_scheme_in_any_case(gateway: str) -> None:
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"Authorization": f"{scheme} {READ_TOKEN}"}
        assert _call(gateway, "GET", "/v1/locks", headers=headers)[0] == 200
    assert _call(gateway, "GET", "/v1/locks", headers=OPERATOR)[0] == 200  # it may read too
    for authorization, error in [
        (None, "Authorization: send 'Bearer <token>'"),
        (READ_TOKEN, "Authorization: send 'Bearer <token>'"),  # no scheme
        (f"Basic {READ_TOKEN}", "Authorization: send 'Bearer <token>'"),
        ("Bearer ", "Authorization: send 'Bearer <token>'"),
        ("Bearer wrong", "wrong bearer token"),
        (f"Bearer {READ_TOKEN}x", "wrong bearer token"),
    ]:
        headers = {} if authorization is None else {"Authorization": authorization}
        status, response, answer = _call(gateway, "GET", "/v1/locks", headers=headers)
        assert (status, answer["error"]) == (401, error), authorization
        assert response.getheader("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "Authorization: send 'Bearer <token>'"),
        ({"Authorization": OPERATOR_TOKEN}, "Authorization: send 'Bearer <token>'"),
        (READER, "changes need the operator's token"),
    ],
)
def test_changes_need_the_operator_token(gateway: str, headers: dict[str, str], error: str) -> None:
    status, _response, answer = _call(gateway, "POST", "/v1/state", _state(), JSON | headers)
    assert (status, answer["error"]) == (401, error)


def _active_ids(gateway: str) -> list[int]:
    return [lock["id"] for lock in _call(gateway, "GET", "/v1/locks", headers=READER)[2]["locks"]]


def test_an_operator_locks_and_unlocks_and_other_digits_name_no_lock(gateway: str) -> None:
    operator = {"Authorization": f"bearer {OPERATOR_TOKEN}"}
    body = _lock(symbol="DOGEUSDT", side="long")
    status, _response, lock = _call(gateway, "POST", "/v1/locks", body, JSON | operator)
    assert (status, lock["symbol"], lock["side"]) == (201, "DOGEUSDT", "long")

    arabic_indic = quote("".join(chr(0x660 + int(digit)) for digit in str(lock["id"])))
    status, _response, answer = _call(
        gateway, "DELETE", f"/v1/locks/{arabic_indic}?{UNLOCK}", headers=operator
    )
    assert status == 400 and answer["error"].startswith("lock id: must be a number from 1")
    assert lock["id"] in _active_ids(gateway)

    status, _response, ended = _call(
        gateway, "DELETE", f"/v1/locks/{lock['id']}?{UNLOCK}", headers=operator
    )
    assert (status, ended["id"], ended["active"]) == (200, lock["id"], False)
    assert lock["id"] not in _active_ids(gateway)


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
    body = _lock(symbol="DOGEUSDT")
    status, _response, lock = _call(info["gateway"], "POST", "/v1/locks", body, JSON)
    assert (status, lock["symbol"]) == (201, "DOGEUSDT")  # exchangeInfo, asked once
    forget_symbols()
    status, _response, answer = _call(info["gateway"], "POST", "/v1/locks", body, JSON)
    engine.dispose()
    assert status == 503 and "riskd has no list of symbols" in answer["error"]


def test_a_half_sent_request_head_is_cut_off(gateway: str) -> None:
    url = urlsplit(gateway)
    with socket.create_connection((url.hostname, url.port), timeout=WAIT_FOR_CLOSE_S) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: riskd\r\nX-Slow: ")
        assert _closed_by_peer(sock)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closes *sock* (within its timeout) without answering."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_a_body_that_does_not_arrive_in_time_is_408(gateway: str) -> None:
    url = urlsplit(gateway)
    head = (
        "POST /v1/state HTTP/1.1\r\nHost: riskd\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {OPERATOR_TOKEN}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=WAIT_FOR_CLOSE_S) as sock:
        sock.sendall(head.encode() + b'{"state":')
        answer = sock.makefile("rb").readline()
    assert answer.startswith(b"HTTP/1.1 408 "), answer


# --- in-process: the error middleware and aiohttp's own errors log one line -----------------


async def _serve(handler) -> tuple[web.AppRunner, int]:
    app = web.Application(middlewares=[json_errors])
    app.router.add_post("/boom", handler)
    runner = gateway_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_an_unexpected_error_is_a_json_500_and_one_log_line(caplog) -> None:
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("something\nbroke")

    runner, port = await _serve(boom)
    try:
        with caplog.at_level(logging.INFO, logger="actors.gateway"):
            answer = await _exchange(
                port, b"POST /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
    finally:
        await runner.cleanup()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500 ") and b"application/json" in head
    assert json.loads(body) == {"error": "the gateway failed (RuntimeError); see its log"}
    (record,) = [r for r in caplog.records if r.name.startswith("actors.gateway")]
    assert record.getMessage() == "POST '/boom' failed: RuntimeError: something broke"
    assert record.exc_info is None


async def test_a_request_aiohttp_cannot_parse_logs_one_line_without_traceback(caplog) -> None:
    async def never(_request: web.Request) -> web.Response:
        raise AssertionError("not reached")

    runner, port = await _serve(never)
    try:
        with caplog.at_level(logging.INFO, logger="actors.gateway"):
            answer = await _exchange(port, b"POST /boom HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n")
    finally:
        await runner.cleanup()
    assert answer.startswith(b"HTTP/1.1 400 ") or answer.startswith(b"HTTP/1.0 400 ")
    records = [r for r in caplog.records if r.name.startswith("actors.gateway")]
    assert len(records) == 1 and records[0].exc_info is None
    assert "\n" not in records[0].getMessage()
