"""Every bad request gets a precise JSON 4xx naming what is wrong: the gateway as it serves,
on a fake riskd (slow and oversized clients: test_limits.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.gateway import (
    Served,
    bad_request,
    lock_body,
    raw_silence_body,
    serving,
    silence_body,
    state_body,
)

UNLOCK = "operator=bob&reason=checked"
NOPE = {"Content-Type": "application/json; charset=nope"}
TEXT = {"Content-Type": "text/plain"}
GZIP = {"Content-Encoding": "gzip"}  # on a body that is not gzip
BROTLI = {"Content-Encoding": "br"}
BIG = 2**63 - 1
TABLE = [
    # POST /v1/locks: the inputs that gave a 500, and their neighbours.
    bad_request("POST", "/v1/locks", lock_body(side=["long"]), 400, "side: must be long, short"),
    bad_request("POST", "/v1/locks", lock_body(side={"long": 1}), 400, "side: must be long, sh"),
    bad_request("POST", "/v1/locks", lock_body(side="LONG"), 400, "side: must be long, short"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=10**30), 400, "until_ms: must be a num"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=2**63), 400, "until_ms: must be a numb"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=BIG), 400, "until_ms: must be an integ"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=True), 400, "until_ms: must be an inte"),
    bad_request("POST", "/v1/locks", lock_body(until_ms=1.0), 400, "until_ms: must be an integ"),
    bad_request("POST", "/v1/locks", lock_body(symbol="BTC\u0000USDT"), 400, "symbol: must not"),
    bad_request("POST", "/v1/locks", lock_body(symbol="../../etc/passwd"), 400, "symbol: '../"),
    bad_request("POST", "/v1/locks", lock_body(symbol="btc usdt"), 400, "symbol: 'btc usdt' is"),
    bad_request("POST", "/v1/locks", lock_body(symbol="btcusdt"), 400, "symbol: 'btcusdt' is n"),
    bad_request("POST", "/v1/locks", lock_body(symbol="X" * 33), 400, "symbol: at most 32 char"),
    bad_request("POST", "/v1/locks", lock_body(symbol=5), 400, "symbol: must be a non-empty"),
    bad_request("POST", "/v1/locks", lock_body(operator="a\x1b[2J"), 400, "operator: must not"),
    bad_request("POST", "/v1/locks", lock_body(operator="a" * 65), 400, "operator: at most 64"),
    bad_request("POST", "/v1/locks", lock_body(reason="a\u202eb"), 400, "reason: must not hold"),
    bad_request("POST", "/v1/locks", lock_body(reason="r" * 513), 400, "reason: at most 512"),
    bad_request("POST", "/v1/locks", lock_body(account=["sim"]), 404, "account: unknown accou"),
    bad_request("POST", "/v1/locks", lock_body(account="nobody"), 404, "account: unknown accou"),
    bad_request("POST", "/v1/locks", lock_body(pwd=1), 400, "unknown fields: ['pwd']"),
    bad_request("POST", "/v1/locks", b'{"symbol":"A","symbol":"B"}', 400, "'symbol': given mo"),
    bad_request("POST", "/v1/locks", b'{"reason":"\\ud800"}', 400, "reason: must not hold"),
    # Bodies, whatever the route.
    bad_request("POST", "/v1/locks", b"{", 400, "the body is not JSON"),
    bad_request("POST", "/v1/locks", b"[]", 400, "the body must be a JSON object"),
    bad_request("POST", "/v1/locks", b'{"reason":"\xff"}', 400, "the body is not UTF-8"),
    bad_request("POST", "/v1/locks", b"[" * 100_000, 413, "the body is larger than 65536 bytes"),
    bad_request("POST", "/v1/locks", b"[" * 1_000, 400, "nests arrays and objects more than 8"),
    bad_request("POST", "/v1/locks", b'{"n":' + b"7" * 5000 + b"}", 400, "an integer of 5000"),
    bad_request("POST", "/v1/locks", lock_body(reason="r" * 70_000), 413, "the body is larger"),
    bad_request("POST", "/v1/locks", lock_body(), 415, "charset must be utf-8, not 'nope'", NOPE),
    bad_request("POST", "/v1/locks", lock_body(), 415, "Content-Type: must be application", TEXT),
    bad_request("POST", "/v1/locks", lock_body(), 415, "Content-Encoding: send the JSON as", GZIP),
    bad_request("POST", "/v1/locks", lock_body(), 415, "Content-Encoding: send the JSON", BROTLI),
    # DELETE /v1/locks/{id}: ids are ASCII digits from 1 to 2**63 - 1.
    bad_request("DELETE", f"/v1/locks/{'9' * 20}?{UNLOCK}", None, 400, "lock id: must be a num"),
    bad_request("DELETE", f"/v1/locks/%D9%A3?{UNLOCK}", None, 400, "lock id: must be a number"),
    bad_request("DELETE", f"/v1/locks/%EF%BC%93?{UNLOCK}", None, 400, "lock id: must be a numb"),
    bad_request("DELETE", f"/v1/locks/{'9' * 5000}?{UNLOCK}", None, 400, "lock id: must be a "),
    bad_request("DELETE", f"/v1/locks/0?{UNLOCK}", None, 400, "lock id: must be a number"),
    bad_request("DELETE", f"/v1/locks/-1?{UNLOCK}", None, 400, "lock id: must be a number"),
    bad_request("DELETE", f"/v1/locks/1_0?{UNLOCK}", None, 400, "lock id: must be a number"),
    bad_request("DELETE", f"/v1/locks/%2B1?{UNLOCK}", None, 400, "lock id: must be a number"),
    bad_request("DELETE", f"/v1/locks/{BIG}?{UNLOCK}", None, 404, f"no lock {BIG}"),
    bad_request("DELETE", "/v1/locks/1?reason=x", None, 400, "operator: must be a non-empty"),
    bad_request("DELETE", "/v1/locks/1?operator=b&reason=a%00b", None, 400, "reason: must not"),
    bad_request("DELETE", f"/v1/locks/1?operator={'b' * 65}&reason=x", None, 400, "operator: at"),
    # Silences.
    bad_request("DELETE", f"/v1/silences/{'9' * 20}?operator=b", None, 400, "silence id: must"),
    bad_request("DELETE", "/v1/silences/%D9%A3?operator=b", None, 400, "silence id: must be a"),
    bad_request("DELETE", f"/v1/silences/{BIG}?operator=b", None, 404, "no silence"),
    bad_request("DELETE", "/v1/silences/5?operator=%1B%5B2J", None, 400, "operator: must not"),
    bad_request("DELETE", "/v1/silences/5", None, 400, "operator: must be a non-empty string"),
    bad_request("POST", "/v1/silences", raw_silence_body("Infinity"), 400, "minutes: must be"),
    bad_request("POST", "/v1/silences", raw_silence_body("-Infinity"), 400, "minutes: must be"),
    bad_request("POST", "/v1/silences", raw_silence_body("NaN"), 400, "minutes: must be a num"),
    bad_request("POST", "/v1/silences", raw_silence_body("1e308"), 400, "minutes: must be a nu"),
    bad_request("POST", "/v1/silences", raw_silence_body("1e400"), 400, "minutes: must be a nu"),
    bad_request("POST", "/v1/silences", silence_body(minutes=10**15), 400, "at most 30 days"),
    bad_request("POST", "/v1/silences", silence_body(minutes=True), 400, "minutes: must be a p"),
    bad_request("POST", "/v1/silences", silence_body(comment="a\nb"), 400, "comment: must not"),
    bad_request("POST", "/v1/silences", silence_body(matchers=["a=\x07"]), 400, "matchers[0]:"),
    # Trading state: exactly ACTIVE, REDUCING or HALTED.
    bad_request("POST", "/v1/state", state_body(state="act\u0131ve"), 400, "state: must be ACT"),
    bad_request("POST", "/v1/state", state_body(state="halted"), 400, "state: must be ACTIVE,"),
    bad_request("POST", "/v1/state", state_body(state=["HALTED"]), 400, "state: must be ACTIV"),
    # Routes, and the reads' parameters.
    bad_request("GET", "/v1/nowhere", None, 404, "Not Found: GET '/v1/nowhere'"),
    bad_request("PUT", "/v1/locks", lock_body(), 405, "Method Not Allowed: PUT '/v1/locks'"),
    bad_request("GET", "/v1/banlist?version=%D9%A3", None, 400, "version: must be a number"),
    bad_request("GET", "/v1/banlist?version=1&wait=%D9%A3", None, 400, "wait: must be seconds"),
    bad_request("GET", "/v1/banlist?version=1&wait=1_0", None, 400, "wait: must be seconds"),
    bad_request("GET", "/v1/positions?account=nobody", None, 404, "account: unknown account 'n"),
    bad_request("GET", "/v1/locks?account=nobody", None, 404, "account: unknown account 'nobo"),
]


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[Served]:
    async with serving(accounts=["sim"]) as served:
        yield served


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "error"), TABLE)
async def test_a_bad_request_gets_a_json_4xx_naming_what_is_wrong(
    gateway: Served,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    error: str,
) -> None:
    got, response_headers, answer = await gateway.call(method, path, body, headers)
    assert got == status
    assert response_headers["Content-Type"].startswith("application/json")
    assert error in answer["error"]
