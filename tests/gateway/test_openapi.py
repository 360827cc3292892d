"""The gateway's OpenAPI document (``GET /openapi.json``): a valid OpenAPI 3.1 document that
documents exactly the routes the app serves, with the tokens ``riskd.gateway.auth`` asks for,
every error as JSON ``{"error": string}``, and the answers the gateway gives in its schemas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from riskd.gateway.openapi import (
    CHANGE,
    ERROR,
    IN_BODY,
    PUBLIC,
    READ,
    ROBOT_WRITE,
    Access,
    openapi_document,
)
from riskd.market.config import MarketConfig
from riskd.pnl.report import PnlRow
from tests.kit.clock import FrozenClock
from tests.kit.gateway import (
    JSON,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    Served,
    as_robot,
    gateway_config,
    robot_tokens,
    serving,
)
from tests.kit.market import NOW_MS, book, kline, mark, ticker
from tests.kit.samples import banlist, lock

ACCOUNTS = ("main", "spare")
MARKET = MarketConfig(intervals=("1m", "5m"))
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# The changes robots make (``written_by_robots``), and the FMZ docker's, whose token is in
# the body; every other route takes the token of its kind (``riskd.gateway.auth``).
SPECIAL_ACCESS = {
    ("PUT", "/v1/channels/{id}"): ROBOT_WRITE,
    ("POST", "/fmz/{label}"): IN_BODY,
    ("GET", "/"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
}
# Answers with the health's body or, when an actor is down, the error.
HEALTH_OR_ERROR = {("GET", "/v1/health", "503")}

Operation = tuple[str, str, dict[str, Any]]


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every ``(METHOD, path, operation)`` the document holds."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for method, path, _ in operations(document)}


def served(routes: list[str]) -> set[tuple[str, str]]:
    """``GatewayServer.routes()`` (every route the app serves, HEAD left out) as pairs."""
    return {(method, path) for method, path in (route.split(" ", 1) for route in routes)}


@pytest.mark.parametrize("market", [None, MARKET], ids=["no market", "market"])
def test_the_document_is_valid_openapi_3_1(market: MarketConfig | None) -> None:
    document = openapi_document(ACCOUNTS, market)
    validate(document)  # raises, naming what is wrong
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize("market", [None, MARKET], ids=["no market", "market"])
async def test_the_document_served_covers_exactly_the_routes_served(
    market: MarketConfig | None,
) -> None:
    async with serving(accounts=ACCOUNTS, market=market) as gateway:
        status, headers, document = await gateway.call("GET", "/openapi.json")
        routes = served(await gateway.server.routes())
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert document == json.loads(json.dumps(openapi_document(ACCOUNTS, market)))
    assert ("GET", "/openapi.json") in routes
    assert routes - documented(document) == set(), "served but not documented"
    assert documented(document) - routes == set(), "documented but not served"
    assert any(path.startswith("/v1/market/") for _, path in routes) == (market is not None)


async def test_the_document_is_read_with_the_read_token_when_tokens_are_configured() -> None:
    config = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with serving(config=config) as gateway:
        status, headers, body = await gateway.call("GET", "/openapi.json")
        assert (status, headers["WWW-Authenticate"], body["error"]) == (
            401,
            "Bearer",
            "Authorization: send 'Bearer <token>'",
        )
        status, _, document = await gateway.call("GET", "/openapi.json", headers=READER)
        assert (status, document["info"]["title"]) == (200, "riskd gateway")


def test_every_route_takes_the_token_auth_asks_for() -> None:
    for method, path, operation in operations(openapi_document(ACCOUNTS, MARKET)):
        access: Access = SPECIAL_ACCESS.get((method, path), READ if method == "GET" else CHANGE)
        where = f"{method} {path}"
        assert operation["security"] == access.security(), where
        refused = {status for status, _ in access.errors}
        assert refused <= {int(status) for status in operation["responses"]}, where
        assert ("401" in operation["responses"]) == bool(access.schemes), where


def test_every_error_answer_is_json_error() -> None:
    document = openapi_document(ACCOUNTS, MARKET)
    either = set()
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            assert list(answer["content"]) == ["application/json"], (method, path, status)
            schema = answer["content"]["application/json"]["schema"]
            if schema != ERROR:
                assert ERROR in schema["anyOf"], (method, path, status)
                either.add((method, path, status))
    assert either == HEALTH_OR_ERROR
    error = Draft202012Validator({**ERROR, "components": document["components"]})
    assert error.is_valid({"error": "wrong bearer token"})
    assert error.is_valid({"error": "account: unknown account 'x'", "accounts": ["main"]})
    assert not error.is_valid({})
    assert not error.is_valid({"error": 1})


def test_the_parameters_hold_what_the_routes_take() -> None:
    document = openapi_document(ACCOUNTS, MARKET)
    klines = document["paths"]["/v1/market/klines"]["get"]["parameters"]
    by_name = {parameter["name"]: parameter for parameter in klines}
    assert by_name["interval"]["schema"]["enum"] == ["1m", "5m"]
    assert by_name["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1500}
    locks = document["paths"]["/v1/locks"]["get"]["parameters"]
    assert locks[0]["schema"]["enum"] == list(ACCOUNTS)
    wait = next(
        parameter
        for parameter in document["paths"]["/v1/banlist"]["get"]["parameters"]
        if parameter["name"] == "wait"
    )
    taken = Draft202012Validator(wait["schema"])
    assert all(taken.is_valid(s) for s in ("0", "60", "060.000", "59.999", "005", "1.5"))
    assert not any(taken.is_valid(s) for s in ("60.001", "61", "100", "-1", "1e1", "1.", ""))


def answer_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    """A validator of what *method path* answers with *status*, as the document says."""
    answer = document["paths"][path][method.lower()]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


# (method, the documented path, the path sent, the body, the status answered)
ANSWERS = [
    ("GET", "/v1/health", "/v1/health", None, 200),
    ("GET", "/v1/banlist", "/v1/banlist?account=main", None, 200),
    ("GET", "/v1/banlist", "/v1/banlist?account=spare", None, 503),
    ("GET", "/v1/banlist", "/v1/banlist", None, 400),
    ("GET", "/v1/locks", "/v1/locks?account=nope", None, 404),
    ("GET", "/v1/market/klines", "/v1/market/klines?symbol=BTCUSDT&interval=1m&limit=2", None, 200),
    ("GET", "/v1/market/klines", "/v1/market/klines?symbol=BTCUSDT&interval=1h", None, 400),
    ("GET", "/v1/market/ticker", "/v1/market/ticker?symbol=BTCUSDT", None, 200),
    ("GET", "/v1/market/ticker", "/v1/market/ticker?symbol=XRPUSDT", None, 404),
    ("GET", "/v1/market/mark", "/v1/market/mark?symbol=BTCUSDT", None, 200),
    ("GET", "/v1/market/mark", "/v1/market/mark?symbol=ETHUSDT", None, 503),
    ("GET", "/v1/market/stats", "/v1/market/stats?robot=r1", None, 200),
    ("PUT", "/v1/channels/{id}", "/v1/channels/c1", b'{"signal":1}', 200),
    ("PUT", "/v1/channels/{id}", "/v1/channels/c1", b'"' + b"x" * 1100 + b'"', 413),
    ("GET", "/v1/channels/{id}", "/v1/channels/c1", None, 200),
    ("GET", "/v1/channels/{id}", "/v1/channels/c2", None, 404),
    ("GET", "/v1/channels/{id}", "/v1/channels/c!", None, 400),
    ("GET", "/v1/banlist/stream", "/v1/banlist/stream?account=main", None, 426),
    ("GET", "/v1/market/stream", "/v1/market/stream?symbols=BTCUSDT,ETHUSDT", None, 426),
    ("GET", "/v1/channels/{id}/stream", "/v1/channels/c1/stream", None, 426),
    ("DELETE", "/v1/silences/{id}", "/v1/silences/7?operator=al", None, 404),
    ("GET", "/v1/pnl", "/v1/pnl?account=main&by=symbol&hours=2", None, 200),
    ("GET", "/v1/pnl", "/v1/pnl?account=main&robot=r9", None, 404),
    ("GET", "/v1/pnl", "/v1/pnl?account=main&hours=0", None, 400),
    ("POST", "/v1/keys/check", "/v1/keys/check", None, 200),
    ("POST", "/v1/keys/check", "/v1/keys/check?account=nope", None, 404),
]


@pytest.fixture
async def gateway() -> AsyncIterator[Served]:
    async with serving(
        accounts=ACCOUNTS,
        market=MARKET,
        robots=robot_tokens("r1"),
        clock=FrozenClock(NOW_MS + 1_000),
    ) as served:
        served.server.publish_banlist(banlist(3, lock()).to_json())
        served.server.set_market_symbols(["BTCUSDT", "ETHUSDT"])
        served.server.publish_market([book(), mark(), ticker(), kline(NOW_MS)])
        served.backend.pnl_rows["main"] = [PnlRow("r1", "USDT", Decimal(1), Decimal(0), Decimal(0))]
        yield served


async def test_answers_are_as_documented(gateway: Served) -> None:
    document = openapi_document(ACCOUNTS, MARKET)
    for method, path, target, body, status in ANSWERS:
        headers = JSON | as_robot("r1") if body is not None else {}
        answered, _, content = await gateway.call(method, target, body, headers)
        assert answered == status, (method, target, content)
        validator = answer_schema(document, method, path, status)
        assert [error.message for error in validator.iter_errors(content)] == [], (method, target)


def test_an_account_is_required_where_the_gateway_serving_several_needs_one() -> None:
    def account(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
        parameters = document["paths"][path][method]["parameters"]
        return next(parameter for parameter in parameters if parameter["name"] == "account")

    several, one = openapi_document(ACCOUNTS, MARKET), openapi_document(["main"], MARKET)
    for method, path in (("get", "/v1/locks"), ("delete", "/v1/locks/{id}"), ("get", "/v1/pnl")):
        assert account(several, method, path)["required"], path
        assert not account(one, method, path)["required"], path
    # Every account's without it, or a change whose body may name the account.
    for method, path in (("get", "/v1/positions"), ("post", "/v1/locks"), ("post", "/v1/flatten")):
        assert not account(several, method, path)["required"], path


@pytest.mark.parametrize(
    ("schema", "body", "valid"),
    [
        ("LockRequest", {"symbol": "ALL", "reason": "r", "operator": "o", "robot": ""}, True),
        ("LockRequest", {"symbol": "ALL", "reason": "r", "operator": "o", "robot": "a b"}, False),
        ("FlattenRequest", {"operator": "o", "reason": "r", "symbol": None, "robot": None}, True),
        (
            "SilenceRequest",
            {"matchers": [""], "created_by": "a", "comment": "c", "minutes": 1},
            False,
        ),
        (
            "SilenceRequest",
            {"matchers": ["a=~b"], "created_by": "a", "comment": "c", "minutes": 1},
            True,
        ),
        ("EquityPoint", [1_700_000_000_000, "1.5"], True),
        ("EquityPoint", [1_700_000_000_000, "1.5", 3], False),
    ],
)
def test_the_bodies_the_document_takes_are_those_the_gateway_takes(
    schema: str, body: object, valid: bool
) -> None:
    document = openapi_document(ACCOUNTS, MARKET)
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{schema}", **document})
    assert validator.is_valid(body) == valid


def test_streams_and_long_polls_document_their_429() -> None:
    document = openapi_document(ACCOUNTS, MARKET)
    streams = [path for path in document["paths"] if path.endswith("/stream")]
    assert len(streams) == 4
    for path in [*streams, "/v1/banlist"]:
        assert "429" in document["paths"][path]["get"]["responses"], path


def test_answers_link_to_what_they_make() -> None:
    links = openapi_document(ACCOUNTS, MARKET)["paths"]["/v1/locks"]["post"]["responses"]
    assert links["201"]["links"]["EndTheLock"] == {
        "operationRef": "#/paths/~1v1~1locks~1{id}/delete",
        "parameters": {"path.id": "$response.body#/id", "query.account": "$response.body#/account"},
    }
