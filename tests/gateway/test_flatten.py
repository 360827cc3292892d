"""POST /v1/flatten: the operator's token, the request handed to the account's Trader, the
report answered as the OpenAPI document says, and a precise 4xx for every bad input."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from riskd.gateway.openapi import openapi_document
from riskd.gateway.ports import BackendUnavailable
from riskd.protect.flatten import FlattenBusy, FlattenScope
from tests.kit.flatten import flatten_body
from tests.kit.gateway import (
    JSON,
    OPERATOR,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    gateway_config,
    robot_tokens,
    serving,
)

ACCOUNTS = ("main", "spare")
ROBOT_ACCOUNTS = {"r1": "main", "r9": "spare"}


def _served(**kwargs: object):
    return serving(
        accounts=ACCOUNTS,
        robots=robot_tokens("r1", "r9"),
        robot_accounts=ROBOT_ACCOUNTS,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_a_flatten_reaches_the_accounts_trader_and_answers_its_report() -> None:
    async with _served() as gateway:
        body = flatten_body(account="main", symbol="BTCUSDT", robot="r1")
        status, _, report = await gateway.call("POST", "/v1/flatten", body, JSON)
        (call,) = gateway.backend.calls
    assert status == 200
    assert call[0] == "flatten" and call[1][0] == "main"
    wanted = call[1][1]
    assert (wanted.scope, wanted.operator, wanted.reason) == (
        FlattenScope("BTCUSDT", "r1"),
        "alice",
        "drill",
    )
    assert report["outcome"] == "flat" and report["scope"] == "robot r1 on BTCUSDT"
    document = openapi_document(ACCOUNTS)
    answer = document["paths"]["/v1/flatten"]["post"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    assert [error.message for error in validator.iter_errors(report)] == []


async def test_the_account_may_be_the_query_s_and_the_only_one_may_be_left_out() -> None:
    async with _served() as gateway:
        status, _, report = await gateway.call(
            "POST", "/v1/flatten?account=spare", flatten_body(), JSON
        )
        assert (status, report["account"], report["scope"]) == (200, "spare", "account")
    async with serving() as gateway:
        status, _, report = await gateway.call("POST", "/v1/flatten", flatten_body(), JSON)
        assert (status, report["account"]) == (200, "main")


async def test_a_flatten_takes_the_operators_token() -> None:
    config = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with _served(config=config) as gateway:
        body = flatten_body(account="main")
        none, _, _ = await gateway.call("POST", "/v1/flatten", body, JSON)
        read, _, refused = await gateway.call("POST", "/v1/flatten", body, JSON | READER)
        robot, _, _ = await gateway.call(
            "POST", "/v1/flatten", body, JSON | {"Authorization": "Bearer r1-robot-token"}
        )
        assert gateway.backend.calls == []
        done, _, _ = await gateway.call("POST", "/v1/flatten", body, JSON | OPERATOR)
    assert (none, read, robot, done) == (401, 403, 401, 200)
    assert refused == {"error": "changes need the operator's token"}


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/v1/flatten", flatten_body(), 400, "account: required, this gateway serves several"),
        ("/v1/flatten", flatten_body(account="other"), 404, "account: unknown account 'other'"),
        ("/v1/flatten?account=x", flatten_body(), 404, "account: unknown account 'x'"),
        ("/v1/flatten", flatten_body(account=1), 404, "account: unknown account 1"),
        (
            "/v1/flatten",
            flatten_body(account="main", robot="r7"),
            404,
            "robot: no robot 'r7' trades on account main",
        ),
        (
            "/v1/flatten",
            flatten_body(account="main", robot="r9"),  # spare's robot
            404,
            "robot: no robot 'r9' trades on account main",
        ),
        ("/v1/flatten", flatten_body(account="main", robot="r 1"), 400, "robot: 'r 1' is not"),
        (
            "/v1/flatten",
            flatten_body(account="main", symbol="XRPUSDT"),
            404,
            "symbol: the exchange does not list 'XRPUSDT'",
        ),
        ("/v1/flatten", flatten_body(account="main", symbol="ALL"), 400, "symbol: leave it out"),
        ("/v1/flatten", flatten_body(account="main", symbol="btc"), 400, "symbol: 'btc' is not"),
        (
            "/v1/flatten",
            flatten_body(account="main", operator=""),
            400,
            "operator: must be a non-empty",
        ),
        ("/v1/flatten", b'{"account":"main","operator":"a"}', 400, "reason: must be a non-empty"),
        ("/v1/flatten", b'{"account":"main","reason":"r"}', 400, "operator: must be a non-empty"),
        ("/v1/flatten", flatten_body(account="main", side="long"), 400, "unknown fields: ['side']"),
        ("/v1/flatten", b'{"account":"main",', 400, ""),
        ("/v1/flatten", b"[]", 400, "the body must be a JSON object"),
    ],
)
async def test_each_bad_input_is_a_4xx_naming_the_field(
    path: str, body: bytes, status: int, error: str
) -> None:
    async with _served() as gateway:
        answered, headers, answer = await gateway.call("POST", path, body, JSON)
    assert answered == status
    assert headers["Content-Type"].startswith("application/json")
    assert error in answer["error"]


async def test_not_json_is_415_and_nothing_reaches_the_trader() -> None:
    async with _served() as gateway:
        status, _, answer = await gateway.call("POST", "/v1/flatten", flatten_body())
        assert gateway.backend.calls == []
    assert status == 415 and answer["error"].startswith("Content-Type: must be application/json")


@pytest.mark.parametrize(
    ("failure", "status", "error"),
    [
        (FlattenBusy("a flatten of account main is running"), 409, "is running"),
        (BackendUnavailable("trader:main is not running"), 503, "trader:main is not running"),
    ],
)
async def test_a_busy_or_missing_trader_says_so(
    failure: Exception, status: int, error: str
) -> None:
    async with _served() as gateway:
        gateway.backend.fail["flatten"] = failure
        answered, _, answer = await gateway.call(
            "POST", "/v1/flatten", flatten_body(account="main"), JSON
        )
    assert answered == status and error in answer["error"]
