"""Schemathesis fuzzes the whole gateway from its own ``/openapi.json`` (tests/kit/fuzz.py):
every operation, and the stateful scenarios the document's links make, with tokens configured
and sent as its security schemes say. No answer may be a 5xx or stray from the document, every
4xx is a JSON error naming the problem, and a refused request changes nothing in riskd: no
lock, state, silence or channel, and no call of the Trader (no order). The gateway serves in a
thread of its own, on a fake riskd, with market data for every symbol it carries; bench/fuzz.py
runs the full size against a whole riskd."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import Case, Response

from riskd.gateway.app import GatewayServer
from riskd.gateway.openapi import openapi_document
from riskd.market.config import MarketConfig
from tests.kit.clock import FrozenClock
from tests.kit.fuzz import FuzzTokens, fuzz_config, refused
from tests.kit.gateway import (
    JSON,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    FakeBackend,
    gateway_config,
    lock_body,
    robot_token,
    robot_tokens,
    serving,
    state_body,
)
from tests.kit.market import NOW_MS, book, kline, mark, ticker
from tests.kit.samples import banlist, lock

ACCOUNTS = ("main", "spare")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
MARKET = MarketConfig(intervals=("1m", "5m"))
TOKENS = FuzzTokens(READ_TOKEN, OPERATOR_TOKEN, robot_token("r1"))
EXAMPLES = 25  # per operation: about 1,000 requests in all
STATEFUL = settings(
    max_examples=15,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True, slots=True)
class Fuzzed:
    """The gateway serving on its own event loop (*loop*, in a thread) from *backend*."""

    server: GatewayServer
    backend: FakeBackend
    loop: asyncio.AbstractEventLoop
    url: str

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)

    def changes(self) -> tuple[int, int]:
        """How many changes riskd carried out (locks, states, silences, orders, flattens: the
        SQL rows and exchange orders of a real riskd), and how many channels it holds."""
        return len(self.backend.writes), len(self.server.channels)


async def _served(server: GatewayServer) -> str:
    url = await server.url()
    for account in ACCOUNTS:
        server.publish_banlist(banlist(3, lock(), account=account).to_json())
    server.set_market_symbols(SYMBOLS)
    server.publish_market(
        record
        for symbol in SYMBOLS
        for record in (
            book(symbol=symbol),
            mark(symbol=symbol),
            ticker(symbol=symbol),
            *(kline(NOW_MS, symbol=symbol, interval=interval) for interval in MARKET.intervals),
        )
    )
    return url


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed gateway", daemon=True)
    thread.start()
    backend = FakeBackend(ACCOUNTS)
    backend.equity_points["main"] = [[NOW_MS, "1000.5"]]
    server = GatewayServer(
        gateway_config(READ_TOKEN, OPERATOR_TOKEN),
        ACCOUNTS,
        backend,
        market=MARKET,
        robots=robot_tokens("r1"),
        robot_accounts={"r1": "main"},
        clock=FrozenClock(NOW_MS + 1_000),
    )
    gateway = Fuzzed(server, backend, loop, "")
    try:
        yield Fuzzed(server, backend, loop, gateway.run(_served(server)))
    finally:
        gateway.run(server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


# The document the gateway serves (the first test checks it is), loaded when pytest collects
# the operations; each case is sent to the gateway that the fixture starts.
schema = schemathesis.openapi.from_dict(
    openapi_document(ACCOUNTS, MARKET),
    config=schemathesis.Config.from_str(
        fuzz_config(TOKENS, max_examples=EXAMPLES, coverage=False, max_steps=6)
    ),
)


def test_the_fuzzed_document_is_the_one_the_gateway_serves(fuzzed: Fuzzed) -> None:
    with urllib.request.urlopen(
        urllib.request.Request(f"{fuzzed.url}/openapi.json", headers=READER), timeout=30
    ) as served:
        assert json.load(served) == json.loads(json.dumps(schema.raw_schema))


@schema.parametrize()
def test_each_operation_answers_as_documented_and_a_refusal_changes_nothing(
    case: Case, fuzzed: Fuzzed
) -> None:
    before = fuzzed.changes()
    response = case.call(base_url=fuzzed.url)
    case.validate_response(response)
    if refused(case, response):
        assert fuzzed.changes() == before, f"{case.method} {case.formatted_path} changed riskd"


def test_linked_operations_answer_as_documented_and_a_refusal_changes_nothing(
    fuzzed: Fuzzed,
) -> None:
    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Case) -> None:
            self.before = fuzzed.changes()

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": fuzzed.url}

        def validate_response(self, response: Response, case: Case, **kwargs: Any) -> None:
            super().validate_response(response, case, **kwargs)
            if refused(case, response):
                assert fuzzed.changes() == self.before, f"{case.method} {case.path} changed riskd"

    run_state_machine_as_test(Scenario, settings=STATEFUL)


# What the fuzz found, each kept as it is now answered (the document's side: test_openapi.py).
FLATTEN = b'{"operator": "al", "reason": "r", "account": "main"}'
FLATTEN_ALL = b'{"operator": "al", "reason": "r", "account": "main", "symbol": null}'
FOUND = [
    # A change whose body names the account took any query: a query naming none is refused.
    ("POST", "/v1/state?account=AAA", state_body(account="main"), 404),
    ("POST", "/v1/locks?account=AAA", lock_body(account="main"), 404),
    ("POST", "/v1/flatten?account=AAA", FLATTEN, 404),
    # An account of null in the body names none, as leaving it out does: the query's is taken.
    ("POST", "/v1/state?account=main", state_body(account=None), 200),
    ("POST", "/v1/state?account=AAA", state_body(account=None), 404),
    # A lock of robot "" (every robot) and a flatten of symbol null (every symbol) are taken.
    ("POST", "/v1/locks?account=main", lock_body(robot=""), 201),
    (
        "POST",
        "/v1/flatten",
        b'{"operator": "al", "reason": "r", "account": "main", "symbol": null}',
        200,
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), FOUND)
async def test_what_the_fuzz_found_is_answered_as_documented(
    method: str, path: str, body: bytes, status: int
) -> None:
    async with serving(accounts=ACCOUNTS) as gateway:
        answered, _, answer = await gateway.call(method, path, body, JSON)
        assert answered == status, answer
        assert len(gateway.backend.writes) == (answered < 400)
