"""REQUEST_WEIGHT per source IP, order counts per account, and the 429 → 418 escalation."""

from __future__ import annotations

import contextlib

import pytest
from binance.exceptions import BinanceAPIException

from riskd.core.clock import MINUTE_MS
from tests.kit.sim import binance_client

TINY = {"weight_per_minute": 20, "requests_while_limited_before_ban": 3, "first_ban_ms": 120_000}


async def test_used_weight_header_counts_endpoint_weights(sim, client) -> None:
    await client.futures_account()  # 5
    await client.futures_position_information()  # 5
    await client.futures_income_history()  # 30
    await client.futures_get_open_orders()  # 40 without symbol
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "80"


async def test_order_endpoints_report_order_counts_and_no_ip_weight(sim, client) -> None:
    await client.futures_time()
    await client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.002",
        price="59000",
    )
    headers = client.response.headers
    assert headers["X-MBX-USED-WEIGHT-1M"] == "1"
    assert (headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")


async def test_over_limit_answers_429_with_retry_after(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    for _ in range(4):
        await client.futures_account()  # 4 x 5 = 20: at the limit, still fine
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_account()
    await client.close_connection()
    response = info.value.response
    assert (info.value.status_code, info.value.code) == (429, -1003)
    assert "current limit of IP(127.0.0.1) is 20 requests per minute" in info.value.message
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_hammering_while_limited_escalates_to_418_ban(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    statuses = []
    for _ in range(10):
        try:
            await client.futures_account()
            statuses.append(200)
        except BinanceAPIException as exc:
            statuses.append(exc.status_code)
            last = exc
    await client.close_connection()
    assert statuses == [200] * 4 + [429] * 3 + [418] * 3
    assert "banned until" in last.message
    assert int(last.response.headers["Retry-After"]) == 120
    state = sim.limiter.state()["ips"]["127.0.0.1"]
    assert (state["responses_429"], state["responses_418"], state["bans"]) == (3, 3, 1)


async def test_ban_blocks_even_zero_weight_calls_until_it_ends(make_sim, control) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    for _ in range(8):
        with contextlib.suppress(BinanceAPIException):
            await client.futures_account()
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_ping()
    assert info.value.status_code == 418
    sim.clock.advance(120_001)
    assert await client.futures_ping() == {}
    await client.close_connection()


async def test_second_ban_lasts_longer(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)

    async def hammer() -> BinanceAPIException:
        for _ in range(10):
            try:
                await client.futures_account()
            except BinanceAPIException as exc:
                if exc.status_code == 418:
                    return exc
        raise AssertionError("no ban")

    first = await hammer()
    sim.clock.advance(121_000)
    second = await hammer()
    await client.close_connection()
    assert int(first.response.headers["Retry-After"]) == 120
    assert int(second.response.headers["Retry-After"]) == 240


async def test_weight_is_counted_per_source_ip(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    first = binance_client(sim, local_addr="127.0.0.1")
    second = binance_client(sim, local_addr="127.0.0.2")
    for _ in range(4):
        await first.futures_account()
    await second.futures_account()
    assert second.response.headers["X-MBX-USED-WEIGHT-1M"] == "5"
    with pytest.raises(BinanceAPIException):
        await first.futures_account()
    await second.futures_account()
    await first.close_connection()
    await second.close_connection()
    ips = sim.limiter.state()["ips"]
    assert ips["127.0.0.1"]["responses_429"] == 1
    assert ips["127.0.0.2"]["responses_429"] == 0


async def test_weight_window_resets_each_minute(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    for _ in range(4):
        await client.futures_account()
    sim.clock.advance(60_000)
    client.timestamp_offset = 60_000
    await client.futures_account()
    assert client.response.headers["X-MBX-USED-WEIGHT-1M"] == "5"
    await client.close_connection()
    assert sim.limiter.state()["ips"]["127.0.0.1"]["weight_history"]


async def test_too_many_orders_in_10s_is_1015(make_sim) -> None:
    sim = await make_sim(limits={"orders_per_10s": 3})
    client = binance_client(sim)
    for price in ("50000", "50001", "50002"):
        await client.futures_create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price=price,
        )
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.002",
            price="50003",
        )
    await client.close_connection()
    assert (info.value.status_code, info.value.code) == (429, -1015)
    assert "300" not in info.value.message and "3 orders per 10 SECOND" in info.value.message
    state = sim.limiter.state()
    assert state["order_counts"]["sim"]["10s"] == 4
    # Counted apart from the IPs' 429s: the ORDERS limit is the account's.
    assert (state["order_responses_429"], state["responses_429"]) == ({"sim": 1}, 0)


async def test_a_finished_minute_stays_in_the_history_while_the_ip_is_idle(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    await client.futures_account()
    await client.close_connection()
    sim.clock.advance(60_000)
    ip = sim.limiter.state()["ips"]["127.0.0.1"]
    assert ip["used_weight_1m"] == 0
    assert list(ip["weight_history"].values()) == [5]
    assert ip["max_weight_per_minute"] == 5


def _early_in_a_minute(sim, client) -> None:
    """The simulator's clock 1 s into its next minute window (a test's requests share it), and
    *client* signing by it."""
    now = sim.clock.now_ms()
    sim.clock.advance(MINUTE_MS - now % MINUTE_MS + 1_000)
    client.timestamp_offset = sim.clock.offset_ms


async def test_an_ip_whose_weight_others_used_up_gets_429s_until_the_minute_ends(
    sim, client, control
) -> None:
    _early_in_a_minute(sim, client)
    answer = await control("POST", "/_sim/ip", {"ip": "127.0.0.1", "kind": "limit", "ms": 4_000})
    assert answer == {"ip": "127.0.0.1", "kind": "limit", "until": answer["until"]}
    assert await client.futures_create_order(  # weight 0: not limited
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    with pytest.raises(BinanceAPIException) as info:
        await client.futures_ping()
    assert (info.value.status_code, info.value.code) == (429, -1003)
    assert info.value.message == (
        "Too many requests; current limit of IP(127.0.0.1) is 2400 requests per minute. "
        "Please use the websocket for live updates to avoid polling the API."
    )
    headers = info.value.response.headers
    assert (headers["X-MBX-USED-WEIGHT-1M"], headers["Retry-After"]) == ("2401", "59")
    other = binance_client(sim, local_addr="127.0.0.2")
    assert await other.futures_ping() == {}
    await other.close_connection()
    sim.clock.advance(10_000)  # the other clients stopped; their weight stays in the minute
    with pytest.raises(BinanceAPIException):
        await client.futures_ping()
    sim.clock.advance(MINUTE_MS - 11_000)
    assert await client.futures_ping() == {}
    state = await control("GET", "/_sim/state")
    assert state["rate_limits"]["ips"]["127.0.0.1"]["responses_429"] == 2
    assert state["errors_by_code"] == {"-1003": 2}


async def test_hammering_an_ip_others_used_up_escalates_to_a_ban(make_sim) -> None:
    sim = await make_sim(limits=TINY)
    client = binance_client(sim)
    _early_in_a_minute(sim, client)
    sim.limiter.use_up("127.0.0.1", sim.clock.now_ms() + 1_000)
    statuses = []
    for _ in range(5):
        with pytest.raises(BinanceAPIException) as info:
            await client.futures_ping()
        statuses.append(info.value.status_code)
    await client.close_connection()
    assert statuses == [429] * 3 + [418] * 2


async def test_a_banned_ip_gets_418s_until_the_ban_ends(sim, client, control) -> None:
    answer = await control("POST", "/_sim/ip", {"ip": "127.0.0.2", "kind": "ban", "ms": 4_000})
    banned = binance_client(sim, local_addr="127.0.0.2")
    with pytest.raises(BinanceAPIException) as info:
        await banned.futures_ping()
    assert (info.value.status_code, info.value.code) == (418, -1003)
    assert info.value.message == (
        f"Way too many requests; IP(127.0.0.2) banned until {answer['until']}. "
        "Please use the websocket for live updates to avoid bans."
    )
    assert info.value.response.headers["Retry-After"] == "4"
    assert await client.futures_ping() == {}  # another IP
    sim.clock.advance(4_000)
    assert await banned.futures_ping() == {}
    await banned.close_connection()
    ip = sim.limiter.state()["ips"]["127.0.0.2"]
    assert (ip["responses_418"], ip["bans"], ip["banned_until"]) == (1, 1, answer["until"])
