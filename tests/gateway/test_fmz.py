"""POST /fmz/{label}: the FMZ protocol's envelope, its robots' keys, market methods from the
cache and account methods handed to the account's Trader."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from riskd.core.secrets import Secret
from riskd.gateway.robots import RobotTokens
from riskd.market.config import MarketConfig
from tests.kit.fmz import ROBOT, TOKEN, fmz_body
from tests.kit.gateway import OPERATOR_TOKEN, READ_TOKEN, Served, gateway_config, serving
from tests.kit.market import NOW_MS, book, kline, ticker

ROBOTS = RobotTokens({ROBOT: Secret(TOKEN)})


@pytest.fixture
async def gateway() -> AsyncIterator[Served]:
    config = gateway_config(READ_TOKEN, OPERATOR_TOKEN)  # the protocol needs no bearer token
    async with serving(
        config=config,
        market=MarketConfig(),
        robots=ROBOTS,
        robot_accounts={ROBOT: "main"},
        clock=lambda: NOW_MS,
    ) as served:
        hub = served.server.market_hub
        assert hub is not None
        hub.set_symbols(["BTCUSDT"])
        hub.publish([book(NOW_MS), ticker(update_ms=NOW_MS), kline(NOW_MS - 60_000, closed=True)])
        yield served


async def _ask(gateway: Served, body: bytes, **headers: str) -> dict:
    status, _, answer = await gateway.call("POST", "/fmz/binance", body, headers)
    assert status == 200  # the protocol's errors are answers too
    return answer


async def test_ticker_comes_from_the_cache_with_no_backend_call(gateway: Served) -> None:
    answer = await _ask(gateway, fmz_body("ticker", {"symbol": "BTC_USDT"}))
    assert answer["data"]["symbol"] == "BTC_USDT"
    assert answer["data"]["buy"] == "70459.4"
    assert gateway.backend.calls == []


async def test_records_and_depth_come_from_the_cache(gateway: Served) -> None:
    records = await _ask(gateway, fmz_body("records", {"symbol": "BTC_USDT", "period": 1}))
    assert records["data"][0][0] == (NOW_MS - 60_000) // 1000
    depth = await _ask(gateway, fmz_body("depth", {"symbol": "BTC_USDT.swap"}))
    assert depth["data"]["bids"][0][0] == 70459.4 and len(depth["data"]["asks"]) == 1


async def test_account_methods_go_to_the_robots_account(gateway: Served) -> None:
    answer = await _ask(gateway, fmz_body("accounts"))
    assert answer == {"data": {"account": "main", "robot": ROBOT, "method": "accounts"}}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "JSON"),
        (fmz_body("ticker", {"symbol": "BTC_USDT"}, secret_key="wrong"), "robot"),
        (fmz_body("ticker", {"symbol": "BTC_USDT"}, access_key="other"), "robot"),
        (fmz_body("nosuchmethod"), "method"),
        (fmz_body("ticker", {"symbol": "ETH_USDT"}), "ETH_USDT"),
        (fmz_body("trades", {"symbol": "BTC_USDT"}), "trades"),
        (fmz_body("records", {"symbol": "BTC_USDT", "period": 5}), "period"),
        (
            fmz_body("trade", {"symbol": "BTC_USDT", "type": "buy", "price": -1, "amount": "x"}),
            "amount",
        ),
    ],
)
async def test_bad_requests_are_answered_with_an_error_and_send_nothing(
    gateway: Served, body: bytes, named: str
) -> None:
    answer = await _ask(gateway, body)
    assert set(answer) == {"error"} and named in answer["error"], answer
    assert gateway.backend.calls == []


async def test_the_token_never_appears_in_an_answer(gateway: Served) -> None:
    answer = await _ask(gateway, fmz_body("nosuchmethod", secret_key="s3cr3t-value"))
    assert "s3cr3t-value" not in json.dumps(answer)
