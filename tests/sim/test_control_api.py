"""The /_sim/ control API and the REST faults it injects."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from binance.exceptions import BinanceAPIException, BinanceRequestException


async def _post(sim, path: str, body: object) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sim.url}{path}", json=body) as response,
    ):
        return response.status, await response.json()


async def test_mark_sets_mark_and_last(sim, control) -> None:
    answer = await control(
        "POST", "/_sim/mark", {"symbol": "ETHUSDT", "price": "3100.5", "last": "3101"}
    )
    assert answer == {"mark": "3100.5", "last": "3101"}


async def test_a_mark_below_one_tick_trades_at_one_tick_and_the_ticker_still_answers(
    sim, client, control
) -> None:
    answer = await control("POST", "/_sim/mark", {"symbol": "DOGEUSDT", "price": "0.000001"})
    assert (answer["mark"], Decimal(answer["last"])) == ("0.000001", Decimal("0.00001"))
    ticker = await client.futures_ticker(symbol="DOGEUSDT")
    assert Decimal(ticker["lastPrice"]) == Decimal("0.00001")


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/_sim/mark", {"symbol": "NOPE", "price": "1"}, "unknown symbol"),
        ("/_sim/mark", {"symbol": "BTCUSDT", "price": "-1"}, "positive"),
        ("/_sim/mark", {"symbol": "BTCUSDT"}, "positive"),
        ("/_sim/fault", {"path": "/fapi/v2/account", "kind": "explode"}, "kind must be"),
        ("/_sim/fault", {"path": "fapi", "kind": "delay", "ms": 5}, "path must be"),
        ("/_sim/fault", {"path": "*", "kind": "delay"}, "needs ms"),
        ("/_sim/fault", {"path": "*", "kind": "http5xx", "count": 0}, "count must be"),
        ("/_sim/fault", {"path": "*", "kind": "http5xx", "extra": 1}, "unknown field"),
        ("/_sim/fault", [1, 2], "JSON object"),
        ("/_sim/fault", {"path": "*", "kind": "duplicate_ws"}, "duplicate_ws needs ms"),
        ("/_sim/fault", {"path": "*", "kind": "reorder_ws", "ms": -1}, "ms must be"),
        ("/_sim/ip", {"ip": "10.0.0", "kind": "ban", "ms": 1}, "ip must be an IP address"),
        ("/_sim/ip", {"kind": "ban", "ms": 1}, "ip must be an IP address"),
        ("/_sim/ip", {"ip": "127.0.0.1", "kind": "slow", "ms": 1}, "kind must be one of"),
        ("/_sim/ip", {"ip": "127.0.0.1", "kind": "ban"}, "ms must be a positive integer"),
        ("/_sim/ip", {"ip": "127.0.0.1", "kind": "limit", "ms": 0}, "ms must be a positive"),
        ("/_sim/ip", {"ip": "127.0.0.1", "kind": "ban", "ms": True}, "ms must be a positive"),
        ("/_sim/ip", {"ip": "127.0.0.1", "kind": "ban", "ms": 1, "until": 2}, "unknown field"),
        ("/_sim/ip", [1, 2], "JSON object"),
        ("/_sim/clock", {"advance_ms": -5}, "advance_ms"),
    ],
)
async def test_bad_control_requests_get_400_with_a_reason(sim, path, body, message) -> None:
    status, answer = await _post(sim, path, body)
    assert status == 400 and message in answer["error"]


async def test_state_reports_positions_orders_income_and_counters(sim, client) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    async with aiohttp.ClientSession() as session, session.get(f"{sim.url}/_sim/state") as response:
        state = await response.json()
    account = state["accounts"]["sim"]
    assert account["positions"][0]["positionAmt"] == "0.01"
    assert [r["incomeType"] for r in account["income"]] == ["COMMISSION"]
    assert state["rate_limits"]["ips"]["127.0.0.1"]["used_weight_1m"] == 0
    assert state["rate_limits"]["order_counts"]["sim"] == {"10s": 1, "1m": 1}
    assert "sim-secret" not in await response.text()


async def test_reset_restores_the_seeded_start(sim, client, control) -> None:
    await client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    await control("POST", "/_sim/reset")
    state = await control("GET", "/_sim/state")
    assert state["accounts"]["sim"]["positions"] == []
    assert state["rate_limits"]["ips"] == {}


async def test_same_seed_gives_same_ids(make_sim) -> None:
    from tests.kit.sim import binance_client

    ids = []
    for _ in range(2):
        sim = await make_sim(seed=7)
        client = binance_client(sim)
        order = await client.futures_create_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010", newClientOrderId="x"
        )
        key = await client.futures_stream_get_listen_key()
        ids.append((order["orderId"], key))
        await client.close_connection()
    assert ids[0] == ids[1]


async def test_fault_html503_is_an_html_body(sim, client, control) -> None:
    await control("POST", "/_sim/fault", {"path": "/fapi/v2/account", "kind": "html503"})
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account()
    assert info.value.status_code == 503 and info.value.code == 0
    assert "503 Service Temporarily Unavailable" in await info.value.response.text()
    assert (await client.futures_account())["assets"]  # count 1: the next one is fine


async def test_fault_http5xx_answers_502(sim, client, control) -> None:
    await control("POST", "/_sim/fault", {"path": "*", "kind": "http5xx", "count": 2})
    for _ in range(2):
        with pytest.raises(BinanceAPIException) as info:
            await client.futures_time()
        assert info.value.status_code == 502
    assert await client.futures_time()


async def test_pending_faults_are_dropped_on_delete(sim, client, control) -> None:
    await control("POST", "/_sim/fault", {"path": "*", "kind": "http5xx", "count": 5})
    with pytest.raises(BinanceAPIException):
        await client.futures_time()
    assert await control("DELETE", "/_sim/fault") == {"cleared": 4}
    assert await client.futures_time()
    assert await control("DELETE", "/_sim/fault") == {"cleared": 0}


async def test_fault_malformed_truncates_a_200_body(sim, client, control) -> None:
    await control("POST", "/_sim/fault", {"path": "/fapi/v3/positionRisk", "kind": "malformed"})
    with pytest.raises(BinanceRequestException):
        await client.futures_position_information()


async def test_fault_unknown503_executes_the_order_but_hides_the_outcome(
    sim, client, control
) -> None:
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/order", "kind": "unknown503"})
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="59000",
            newClientOrderId="maybe-1",
        )
    assert (info.value.status_code, info.value.code) == (503, -1000)
    assert info.value.message.startswith("Unknown error")
    placed = await client.futures_get_order(symbol="BTCUSDT", origClientOrderId="maybe-1")
    assert placed["status"] == "NEW"


async def test_fault_delay_holds_the_answer(sim, client, control) -> None:
    await control("POST", "/_sim/fault", {"path": "/fapi/v1/time", "kind": "delay", "ms": 300})
    client.REQUEST_TIMEOUT = 0.1
    with pytest.raises(TimeoutError):
        await client.futures_time()
    state = await control("GET", "/_sim/state")
    assert state["faults"]["applied"] == {"delay": 1} and state["faults"]["pending"] == []
